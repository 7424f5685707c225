"""PyTorch's CUDA caching allocator, replayed over a step's allocations (unmeasured: no GPU).

What `torch.cuda.max_memory_allocated()` and `max_memory_reserved()` report comes from
c10/cuda/CUDACachingAllocator.cpp (DeviceCachingAllocator) with the constants of
c10/core/AllocatorConfig.h (c10::CachingAllocator). The rules, each with its place there:

- `round_size`: every request is rounded up to a multiple of kMinBlockSize = 512 B (a request
  under 512 B takes 512 B).
- `get_pool`: a rounded size <= kSmallSize (1 MiB) goes to the small pool, larger ones to the
  large pool; a block is never lent across pools.
- `get_free_block`: the smallest cached free block of the pool at least as large (a std::set
  ordered by stream, size, address: best fit, lowest address on a tie). With
  max_split_size_mb set: a request below max_split_size never takes a block of
  max_split_size or more, and a request of max_split_size or more takes a block no larger
  than the request + kLargeBuffer (20 MiB).
- `get_allocation_size`: with no fitting block, cudaMalloc a new segment of kSmallBuffer
  (2 MiB) for a small request, kLargeBuffer (20 MiB) for a request below kMinLargeAlloc
  (10 MiB), else the request rounded up to kRoundLarge (2 MiB).
- `should_split`: the block found is split when what remains is >= 512 B (small pool, or any
  pool with expandable segments), or > kSmallSize (1 MiB) in the large pool when the request
  is below max_split_size; otherwise the request takes the whole block (and `allocated`
  counts the whole block).
- `free_block` / `try_merge_blocks`: a freed block merges with free neighbours of its segment;
  segments stay reserved (cached) until empty_cache.
- `alloc_block` failing, then `release_cached_blocks`: when cudaMalloc would pass the device's
  capacity, the cached segments with nothing allocated are released (cudaFree) and the
  malloc retried; if it still does not fit, the step runs out of memory.
- expandable_segments:True (`ExpandableSegment`): one segment per pool whose mapped size
  grows in pages (kSmallBuffer for the small pool, kLargeBuffer for the large one) when no
  free block fits; a trailing free block is extended rather than a new segment made.
"""

from __future__ import annotations

from dataclasses import dataclass, field

K_MIN_BLOCK = 512  # kMinBlockSize
K_SMALL_SIZE = 1 << 20  # kSmallSize: largest "small" request, 1 MiB
K_SMALL_BUFFER = 2 << 20  # kSmallBuffer: small pool segments, 2 MiB
K_LARGE_BUFFER = 20 << 20  # kLargeBuffer: segments for 1-10 MiB requests, 20 MiB
K_MIN_LARGE_ALLOC = 10 << 20  # kMinLargeAlloc: 10 MiB
K_ROUND_LARGE = 2 << 20  # kRoundLarge: large segments rounded to 2 MiB
NO_LIMIT = 2**63  # max_split_size when unset (SIZE_MAX)


def round_size(nbytes: int) -> int:
    """CUDACachingAllocator.cpp round_size: up to a multiple of 512 B, at least 512 B."""
    return K_MIN_BLOCK if nbytes < K_MIN_BLOCK else -(-nbytes // K_MIN_BLOCK) * K_MIN_BLOCK


def allocation_size(size: int) -> int:
    """get_allocation_size: the segment cudaMalloc'ed for a request with no cached block."""
    if size <= K_SMALL_SIZE:
        return K_SMALL_BUFFER
    if size < K_MIN_LARGE_ALLOC:
        return K_LARGE_BUFFER
    return -(-size // K_ROUND_LARGE) * K_ROUND_LARGE


@dataclass
class Block:
    segment: Segment
    offset: int
    size: int
    free: bool = True


@dataclass
class Segment:
    small: bool
    size: int
    blocks: list = field(default_factory=list)  # Blocks in address order
    number: int = 0


@dataclass
class CachingAllocator:
    """One device's allocator: malloc/free by id, with allocated and reserved and their
    peaks as the statistics `torch.cuda.memory_stats()` keeps."""

    max_split_size: int = NO_LIMIT  # max_split_size_mb x 2^20
    expandable: bool = False  # expandable_segments:True
    capacity: int | None = None  # bytes the allocator may reserve (None: unlimited)
    segments: list = field(default_factory=list)
    live: dict = field(default_factory=dict)  # id -> Block
    allocated: int = 0
    reserved: int = 0
    peak_allocated: int = 0
    peak_reserved: int = 0
    out_of_memory: bool = False
    made: int = 0  # segments made so far (their order: cudaMalloc's addresses rise)

    # --- the rules --------------------------------------------------------------------
    def should_split(self, block: Block, size: int) -> bool:
        remaining = block.size - size
        if block.segment.small or self.expandable:
            return remaining >= K_MIN_BLOCK
        return size < self.max_split_size and remaining > K_SMALL_SIZE

    def free_block_for(self, size: int, small: bool) -> Block | None:
        """get_free_block: best fit in the pool (size, then segment and address)."""
        best = None
        for segment in self.segments:
            if segment.small != small:
                continue
            for block in segment.blocks:
                if not block.free or block.size < size:
                    continue
                if size < self.max_split_size <= block.size:
                    continue  # no oversized block for a small request
                if size >= self.max_split_size and block.size >= size + K_LARGE_BUFFER:
                    continue  # nor a much larger one for a large request
                key = (block.size, segment.number, block.offset)
                if best is None or key < best[0]:
                    best = (key, block)
        return best[1] if best else None

    # --- malloc and free ----------------------------------------------------------------
    def malloc(self, key, nbytes: int) -> None:
        size = round_size(nbytes)
        small = size <= K_SMALL_SIZE
        block = self.free_block_for(size, small)
        if block is None:
            block = self.expand(size, small) if self.expandable else self.new_segment(size,
                                                                                      small)
        if self.should_split(block, size):
            rest = Block(block.segment, block.offset + size, block.size - size)
            blocks = block.segment.blocks
            blocks.insert(blocks.index(block) + 1, rest)
            block.size = size
        block.free = False
        self.live[key] = block
        self.allocated += block.size
        self.peak_allocated = max(self.peak_allocated, self.allocated)

    def free(self, key) -> None:
        block = self.live.pop(key, None)
        if block is None:
            return
        self.allocated -= block.size
        block.free = True
        blocks = block.segment.blocks
        i = blocks.index(block)
        if i + 1 < len(blocks) and blocks[i + 1].free:  # try_merge_blocks with the next
            block.size += blocks.pop(i + 1).size
        if i > 0 and blocks[i - 1].free:  # and the previous
            blocks[i - 1].size += blocks.pop(i).size

    def reserve(self, nbytes: int) -> None:
        """cudaMalloc (or mapping pages): past the capacity, release_cached_blocks first."""
        if self.capacity is not None and self.reserved + nbytes > self.capacity:
            self.release_cached()
            if self.reserved + nbytes > self.capacity:
                self.out_of_memory = True
        self.reserved += nbytes
        self.peak_reserved = max(self.peak_reserved, self.reserved)

    def new_segment(self, size: int, small: bool) -> Block:
        segment_size = allocation_size(size)
        self.reserve(segment_size)
        self.made += 1
        segment = Segment(small, segment_size, number=self.made)
        segment.blocks.append(Block(segment, 0, segment_size))
        self.segments.append(segment)
        return segment.blocks[0]

    def expand(self, size: int, small: bool) -> Block:
        """ExpandableSegment::map: grow the pool's one segment by whole pages."""
        page = K_SMALL_BUFFER if small else K_LARGE_BUFFER
        segment = next((s for s in self.segments if s.small == small), None)
        if segment is None:
            self.made += 1
            segment = Segment(small, 0, number=self.made)
            self.segments.append(segment)
        tail = segment.blocks[-1] if segment.blocks and segment.blocks[-1].free else None
        need = size - (tail.size if tail else 0)
        grow = -(-need // page) * page
        self.reserve(grow)
        segment.size += grow
        if tail:
            tail.size += grow
            return tail
        block = Block(segment, segment.size - grow, grow)
        segment.blocks.append(block)
        return block

    def release_cached(self) -> None:
        """release_cached_blocks: cudaFree every segment with nothing allocated in it."""
        keep = []
        for segment in self.segments:
            if all(b.free for b in segment.blocks):
                self.reserved -= segment.size
            else:
                keep.append(segment)
        self.segments = keep


def replay(events, max_split_size: int = NO_LIMIT, expandable: bool = False,
           capacity: int | None = None) -> CachingAllocator:
    """Run ("alloc", key, bytes) and ("free", key) events through a fresh allocator."""
    allocator = CachingAllocator(max_split_size, expandable, capacity)
    for event in events:
        if event[0] == "alloc":
            allocator.malloc(event[1], event[2])
        else:
            allocator.free(event[1])
    return allocator


__all__ = ["CachingAllocator", "allocation_size", "replay", "round_size"]
