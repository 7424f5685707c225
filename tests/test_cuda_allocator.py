"""The CUDA caching allocator's rules (analysis/cuda_allocator.py) on allocation sequences
traced by hand from c10/cuda/CUDACachingAllocator.cpp (no GPU here: unmeasured). Sizes are
written from the source's constants: 512 B blocks, 1 MiB small requests, 2 MiB small
segments, 20 MiB segments for 1-10 MiB requests, 2 MiB rounding above."""

from cnncalc.analysis.cuda_allocator import allocation_size, replay, round_size

KiB, MiB = 1024, 1024 * 1024


def test_round_size_is_512_bytes_at_least():
    assert round_size(1) == 512
    assert round_size(512) == 512
    assert round_size(513) == 1024
    assert round_size(1000 * 1000) == 1954 * 512  # ceil(10^6 / 512) blocks


def test_segment_sizes_by_request():
    assert allocation_size(512) == 2 * MiB  # small pool: kSmallBuffer
    assert allocation_size(1 * MiB) == 2 * MiB  # 1 MiB is still small
    assert allocation_size(1 * MiB + 512) == 20 * MiB  # 1-10 MiB: kLargeBuffer
    assert allocation_size(10 * MiB - 512) == 20 * MiB
    assert allocation_size(10 * MiB) == 10 * MiB  # from kMinLargeAlloc: rounded to 2 MiB
    assert allocation_size(11 * MiB) == 12 * MiB


def test_small_requests_share_one_2_mib_segment():
    # three 100 KB tensors: one 2 MiB segment split three times; allocated = their rounding
    a = replay([("alloc", i, 100_000) for i in range(3)])
    assert a.reserved == 2 * MiB
    assert a.allocated == 3 * round_size(100_000)


def test_a_4_mib_request_takes_a_20_mib_segment_and_splits_it():
    # 4 MiB from a fresh 20 MiB segment: remaining 16 MiB > 1 MiB, so it is split; a second
    # 4 MiB request reuses the remainder (no new cudaMalloc)
    a = replay([("alloc", "x", 4 * MiB), ("alloc", "y", 4 * MiB)])
    assert (a.allocated, a.reserved) == (8 * MiB, 20 * MiB)


def test_large_block_not_split_when_remainder_is_1_mib_or_less():
    # 11 MiB -> a 12 MiB segment; the 1 MiB left is not > kSmallSize: the block is taken
    # whole, and allocated counts 12 MiB
    a = replay([("alloc", "x", 11 * MiB)])
    assert (a.allocated, a.reserved) == (12 * MiB, 12 * MiB)


def test_freed_block_is_reused_best_fit_and_merged():
    # 30 MiB and 40 MiB segments; free both; a 30 MiB request takes the 30 MiB block
    # (best fit), not the 40; peak reserved 70 MiB
    a = replay([("alloc", "a", 30 * MiB), ("alloc", "b", 40 * MiB), ("free", "a"),
                ("free", "b"), ("alloc", "c", 30 * MiB)])
    assert (a.allocated, a.reserved, a.peak_reserved) == (30 * MiB, 70 * MiB, 70 * MiB)
    assert a.live["c"].segment.size == 30 * MiB


def test_split_halves_merge_back_when_freed():
    # 12 MiB in a 20 MiB segment (4 MiB request + 8 MiB request), both freed: the segment is
    # one free 20 MiB block again, so an 18 MiB request fits it without a new segment
    a = replay([("alloc", "a", 4 * MiB), ("alloc", "b", 8 * MiB), ("free", "a"),
                ("free", "b"), ("alloc", "c", 18 * MiB)])
    assert a.reserved == 20 * MiB


def test_fragmentation_needs_a_new_segment():
    # two 8 MiB requests in one 20 MiB segment: the first 8 MiB splits off 12 MiB, the
    # second takes 8 of those, 4 MiB remain; free the first: 8 MiB + 4 MiB free but not
    # adjacent, so a 10 MiB request needs a new 10 MiB segment
    a = replay([("alloc", "a", 8 * MiB), ("alloc", "b", 8 * MiB), ("free", "a"),
                ("alloc", "c", 10 * MiB)])
    assert a.reserved == 20 * MiB + 10 * MiB
    assert a.peak_allocated == 8 * MiB + 10 * MiB  # b and c (c's 10 MiB segment unsplit)


def test_max_split_size_keeps_small_requests_off_big_blocks():
    # max_split_size_mb:20: a freed 40 MiB block is not used for a 4 MiB request (below
    # max_split_size), which gets its own 20 MiB segment
    events = [("alloc", "a", 40 * MiB), ("free", "a"), ("alloc", "b", 4 * MiB)]
    assert replay(events).reserved == 40 * MiB
    assert replay(events, max_split_size=20 * MiB).reserved == 40 * MiB + 20 * MiB


def test_max_split_size_large_request_takes_block_within_20_mib():
    # with max_split_size 20 MiB, a 30 MiB request may take a cached 48 MiB block (< 30 + 20)
    # but not a 52 MiB one
    ok = [("alloc", "a", 48 * MiB), ("free", "a"), ("alloc", "b", 30 * MiB)]
    no = [("alloc", "a", 52 * MiB), ("free", "a"), ("alloc", "b", 30 * MiB)]
    assert replay(ok, max_split_size=20 * MiB).reserved == 48 * MiB
    assert replay(no, max_split_size=20 * MiB).reserved == 52 * MiB + 30 * MiB


def test_expandable_segment_grows_by_pages():
    # expandable: 30 MiB maps two 20 MiB pages (40 MiB); 30 MiB more extends the free 10 MiB
    # tail by one page (20 MiB): 60 MiB reserved instead of 30 + 30 segments
    a = replay([("alloc", "a", 30 * MiB), ("alloc", "b", 30 * MiB)], expandable=True)
    assert a.reserved == 60 * MiB
    assert replay([("alloc", "a", 30 * MiB), ("alloc", "b", 30 * MiB)]).reserved == 60 * MiB
    # a 1-10 MiB request: one 20 MiB page, not a 20 MiB segment per request size class
    b = replay([("alloc", "a", 11 * MiB), ("alloc", "b", 11 * MiB)], expandable=True)
    assert b.reserved == 40 * MiB  # 22 MiB rounded up to pages of 20
    assert replay([("alloc", "a", 11 * MiB), ("alloc", "b", 11 * MiB)]).reserved == 24 * MiB


def test_capacity_releases_cached_segments_before_failing():
    # capacity 50 MiB: a freed 40 MiB segment is released (cudaFree) to make room for a
    # 44 MiB request that does not fit it; no out-of-memory
    a = replay([("alloc", "a", 40 * MiB), ("free", "a"), ("alloc", "b", 44 * MiB)],
               capacity=50 * MiB)
    assert (a.reserved, a.out_of_memory) == (44 * MiB, False)
    b = replay([("alloc", "a", 40 * MiB), ("alloc", "b", 44 * MiB)], capacity=50 * MiB)
    assert b.out_of_memory
