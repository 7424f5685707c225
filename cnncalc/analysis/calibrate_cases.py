"""What `cnncalc calibrate` measures and how: the cases of each kernel kind (sizes from a
tiny one to a large one), the clock, cold caches, malloc kept from returning memory, and the
Calibration the measurements make. Both measuring paths (calibrate.py with PyTorch,
calibrate_numpy.py without) read these."""

from __future__ import annotations

import time
from statistics import median

from .calibration import Calibration, machine_id, measured_points

# (batch, in channels, out channels, side, kernel, stride, groups): torchvision's shapes
CONV_CASES = {  # each kind from small to large work, so the rate is known across sizes
    "conv": [(1, 8, 8, 8, 3, 1, 1), (1, 32, 32, 28, 3, 1, 1), (1, 64, 64, 28, 3, 1, 1),
             (1, 128, 128, 28, 3, 1, 1), (1, 256, 256, 28, 3, 1, 1), (1, 256, 256, 56, 3, 1, 1)],
    "conv1x1": [(1, 16, 16, 8, 1, 1, 1), (1, 128, 128, 14, 1, 1, 1), (1, 256, 256, 14, 1, 1, 1),
                (1, 256, 64, 56, 1, 1, 1), (1, 1024, 256, 28, 1, 1, 1), (8, 256, 64, 56, 1, 1, 1)],
    "strided": [(1, 8, 8, 16, 3, 2, 1), (1, 64, 64, 28, 3, 2, 1), (1, 128, 128, 28, 3, 2, 1),
                (1, 128, 128, 56, 3, 2, 1), (1, 3, 64, 224, 7, 2, 1), (1, 256, 256, 56, 3, 2, 1)],
    "stem": [(1, 1, 6, 32, 5, 1, 1), (1, 3, 16, 112, 3, 2, 1), (1, 3, 32, 224, 3, 2, 1),
             (8, 3, 16, 224, 3, 2, 1), (8, 3, 64, 224, 7, 2, 1)],
    "depthwise_strided": [(1, 24, 24, 16, 3, 2, 24), (1, 24, 24, 56, 3, 2, 24),
                          (1, 116, 116, 56, 3, 2, 116), (1, 96, 96, 112, 3, 2, 96),
                          (8, 96, 96, 112, 3, 2, 96)],
    "depthwise_large": [(1, 72, 72, 8, 5, 1, 72), (1, 1152, 1152, 7, 5, 1, 1152),
                        (1, 240, 240, 28, 5, 1, 240), (1, 144, 144, 56, 5, 2, 144),
                        (8, 240, 240, 28, 5, 1, 240)],
    "depthwise": [(1, 16, 16, 8, 3, 1, 16), (1, 32, 32, 28, 3, 1, 32),
                  (1, 144, 144, 28, 3, 1, 144), (1, 32, 32, 112, 3, 1, 32),
                  (1, 144, 144, 56, 3, 1, 144), (8, 144, 144, 56, 3, 1, 144)],
    "grouped": [(1, 64, 64, 4, 3, 1, 32), (1, 128, 128, 14, 3, 1, 32),
                (1, 256, 256, 14, 3, 1, 32), (1, 128, 128, 56, 3, 1, 32),
                (1, 512, 512, 28, 3, 1, 32), (8, 128, 128, 56, 3, 1, 32)],
}
# (batch, in channels, out channels, depth, side, kernel, stride) of a 3-D conv (R3D-18's and
# the 3-D U-Net's 3x3x3)
CONV_3D_CASES = [(1, 8, 8, 4, 8, 3, 1), (1, 32, 32, 8, 16, 3, 1), (1, 128, 128, 4, 14, 3, 1),
                 (1, 64, 64, 8, 28, 3, 1), (1, 64, 128, 16, 56, 3, 2)]
# (in channels, out channels, kernel) of a conv with one output position (the input the
# kernel's size, batch 1): the time oneDNN takes to lay its weights out, keyed by their count
# (LeNet-5's C5; VGG's and ResNet's widest layers)
WEIGHT_CASES = [(8, 8, 3), (16, 120, 5), (64, 64, 3), (256, 256, 3), (512, 512, 3)]
# (rows, inputs, outputs) of a fully-connected layer: one row (a matrix-vector product that
# streams the weights: "gemv", keyed by the weights' count), then rows of a batch ("gemm",
# keyed by FLOPs); an fc layer takes the longer of the two
GEMM_CASES = [(1, 64, 10), (1, 512, 1000), (1, 4096, 4096), (1, 25088, 4096), (8, 64, 10),
              (8, 512, 1000), (8, 4096, 4096), (64, 4096, 4096), (8, 25088, 4096)]
# (batch, rows, inner, columns) of a batched matrix product between activations: attention's
# q k^T and attention x v (MobileViT's heads x patch offsets, 64-1024 tokens), its maps over
# the tokens (batch 1: a token matrix times a weight)
MATMUL_CASES = [(4, 16, 16, 16), (16, 64, 16, 64), (16, 256, 16, 256), (16, 256, 256, 16),
                (1, 1024, 96, 288), (64, 256, 32, 256), (1, 4096, 192, 576)]
ELEMENTWISE_SIZES = [2**12, 2**15, 2**18, 2**21, 2**24]  # float32 values per pass
# float32 values of a softmax over the last axis of [values / 256, 256] (attention's scores)
SOFTMAX_SIZES = [2**12, 2**16, 2**20, 2**22]
# (batch, channels, side) of a global average pool (squeeze-and-excitation's, the head's)
GLOBAL_POOL_CASES = [(1, 64, 7), (1, 96, 56), (1, 32, 112), (8, 32, 112)]
# (batch, channels, length) of a 1-D max pool, window 4 stride 4 (M5's)
POOL_1D_CASES = [(1, 32, 256), (1, 128, 2000), (1, 128, 8000), (8, 128, 8000)]
# (batch, channels, side) of AlexNet's local response normalisation (size 5): by bytes moved
LRN_CASES = [(1, 16, 8), (1, 256, 13), (1, 96, 55), (8, 96, 55)]
# (batch, channels, side) of a 3x3/2 max pool and of a batch norm: keyed by the bytes moved
PASS_CASES = [(1, 16, 8), (1, 64, 28), (1, 64, 56), (1, 64, 112), (8, 64, 112)]
SECONDS_PER_CASE = 0.07  # repeats stop after this (at least MIN_REPEATS of them), per round
MIN_REPEATS = 5


def cases() -> int:
    return (sum(map(len, CONV_CASES.values())) + len(CONV_3D_CASES) + len(WEIGHT_CASES)
            + len(GEMM_CASES)
            + len(MATMUL_CASES)
            + 2 * len(ELEMENTWISE_SIZES) + len(SOFTMAX_SIZES) + len(POOL_1D_CASES)
            + len(LRN_CASES) + len(GLOBAL_POOL_CASES)
            + 4 * len(PASS_CASES) + len(ELEMENTWISE_SIZES) + 1)


CLOCKS = {"wall": time.perf_counter, "cpu": time.thread_time}
CLOCK = {"now": time.perf_counter}  # the clock of this measurement (measure sets it)
FLUSH_BYTES = 64 * 2**20  # written between repeats: caches as cold as inside a network
FLUSH: list = []  # the buffer's writer (measure sets it)
COLD_ABOVE = 2**20  # bytes: a case touching more runs on cold caches (a small one stays warm)
COLD = {"now": True, "input": None}  # whether the case flushes; its input (set per case)


def touching(*tensors) -> None:
    """Set whether the next case runs cold: its tensors (x.numel() or .size) over COLD_ABOVE.
    The first is its input, read again after the flush: inside a network the layer before
    has just written it, while the weights come from memory."""
    values = sum(t.numel() if hasattr(t, "numel") else t.size for t in tensors)
    COLD["now"] = 4 * values > COLD_ABOVE
    COLD["input"] = tensors[0]


def timed(run, budget: float = SECONDS_PER_CASE) -> float:
    """Median seconds of `run()` after two warm-ups, repeated for about `budget` seconds and
    at least MIN_REPEATS times: a case now and then runs several times slower for a few calls
    (a 3x3x3 conv: 20 ms, then three calls of 114-137 ms, then 20 ms again), which the
    median of five outlasts."""
    now = CLOCK["now"]
    run()
    run()
    times, start = [], time.perf_counter()
    while len(times) < MIN_REPEATS or (time.perf_counter() - start < budget and
                                       len(times) < 50):
        if COLD["now"]:
            for flush in FLUSH:
                flush()
            COLD["input"].sum()  # the input back in cache, as the layer before left it
        t0 = now()
        run()
        times.append(now() - t0)
    return median(times)


def conv_flops(batch, cin, cout, side, kernel, stride, groups) -> tuple[int, int]:
    """(forward FLOPs = 2 x MACs, output side) of one case."""
    out = (side + 2 * (kernel // 2) - kernel) // stride + 1
    macs = batch * out * out * cout * (cin // groups) * kernel * kernel  # per output: its taps
    return 2 * macs, out


M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4  # mallopt's parameters (glibc's malloc.h)


def keep_freed_memory() -> bool:
    """Make malloc keep what a process frees for its next allocations, as a caching allocator
    does (jemalloc and tcmalloc, which PyTorch's CPU tuning guide recommends; PyTorch's own on
    CUDA): glibc's default returns large blocks to the system and trims its heap, and every
    page given back is zeroed again on first touch, which costs a step 0-45% more on this
    machine (docs/time.md). glibc only (mallopt: no mmap'd blocks, no trimming); False where
    it cannot."""
    import ctypes
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, 2**31 - 1))


def fc_curve(rows: int, inputs: int, outputs: int) -> tuple[str, int]:
    """An fc case's curve and its work: one row is a matrix-vector product, keyed by its
    weights ("gemv"); a batch of rows a GEMM, keyed by FLOPs."""
    return ("gemv", inputs * outputs) if rows == 1 else ("gemm", 2 * rows * inputs * outputs)


def record(forward: dict, backward: dict, kind: str, work, seconds: float, back: float):
    """One measured case: (work, seconds) on the kind's forward and backward curves."""
    forward.setdefault(kind, []).append((work, seconds))
    backward.setdefault(kind, []).append((work, back))


def finish(forward, backward, elementwise, overhead, threads, backend,
            backward_overhead=None, step_overhead=0.0) -> Calibration:
    from .. import __version__
    return Calibration({k: measured_points(v) for k, v in forward.items()},
                       {k: measured_points(v) for k, v in backward.items()}, measured_points(elementwise),
                       overhead, backward_overhead or overhead, threads, backend,
                       machine_id(), __version__,
                       time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), step_overhead)


def clock_note() -> str:
    return ", thread CPU time" if CLOCK["now"] is time.thread_time else ""
