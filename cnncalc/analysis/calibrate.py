"""Measure this machine for `--device cpu`: the achieved rate of each kernel kind (conv 1x1,
kxk, strided, depthwise, grouped, GEMM) across sizes, forward and backward; the elementwise
bandwidth across sizes; the per-op overhead. PyTorch when installed, else NumPy. The caller
gets progress through a callback (the core never prints)."""

from __future__ import annotations

import time
from functools import partial
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
SECONDS_PER_CASE = 0.15  # repeats stop after this (at least 3 of them)


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
    """Median seconds of `run()` after one warm-up, repeated for about `budget` seconds."""
    now = CLOCK["now"]
    run()
    times, start = [], time.perf_counter()
    while len(times) < 3 or (time.perf_counter() - start < budget and len(times) < 50):
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


def backend_name() -> str:
    """What `measure` will use: torch when it imports, else numpy."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return "numpy"
    return "torch"


def measure(progress=None, threads: int | None = None, clock: str = "wall") -> Calibration:
    """Every case, with PyTorch if it imports, else NumPy; `threads` fixes PyTorch's thread
    count (None: its default). clock "cpu" times the calling thread's CPU time instead of the
    wall: on a busy shared machine with one thread it is the work, not the share of the CPU
    this process got."""
    CLOCK["now"] = CLOCKS[clock]
    keep_freed_memory()  # the kernels' own time, memory reused (docs/time.md)
    if backend_name() == "numpy":
        return _measure_numpy(progress or (lambda *a: None))
    import torch
    if threads:
        torch.set_num_threads(threads)
    buffer = torch.zeros(FLUSH_BYTES // 4)
    FLUSH[:] = [buffer.sum]  # a read: evicts without leaving dirty lines to write back
    return _measure_torch(torch, progress or (lambda *a: None))


def _finish(forward, backward, elementwise, overhead, threads, backend,
            backward_overhead=None, step_overhead=0.0) -> Calibration:
    from .. import __version__
    return Calibration({k: measured_points(v) for k, v in forward.items()},
                       {k: measured_points(v) for k, v in backward.items()}, measured_points(elementwise),
                       overhead, backward_overhead or overhead, threads, backend,
                       machine_id(), __version__,
                       time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), step_overhead)


def _measure_torch(torch, progress) -> Calibration:
    import torch.nn.functional as F
    forward, backward, elementwise = {}, {}, []
    step = 0
    for kind, shapes in CONV_CASES.items():
        for batch, cin, cout, side, kernel, stride, groups in shapes:
            step += 1
            progress(f"{kind} {cin}->{cout} {side}x{side} k{kernel}", step, cases())
            flops, _ = conv_flops(batch, cin, cout, side, kernel, stride, groups)
            x = torch.randn(batch, cin, side, side, requires_grad=cin > 3)
            # the module the exported networks call (its Python call included)
            conv = torch.nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups,
                                   bias=False)
            w = conv.weight
            with torch.no_grad():
                touching(x, w, conv(x))
                seconds = timed(partial(conv, x))
            y = conv(x)
            dy = torch.ones_like(y)
            back = timed(partial(torch.autograd.grad, y, [t for t in (x, w) if t.requires_grad],
                                 dy, retain_graph=True))
            forward.setdefault(kind, []).append((flops, seconds))
            backward.setdefault(kind, []).append((flops, back))
    for batch, cin, cout, depth, side, kernel, stride in CONV_3D_CASES:
        step += 1
        progress(f"conv_3d {cin}->{cout} {depth}x{side}x{side} k{kernel}", step, cases())
        x = torch.randn(batch, cin, depth, side, side, requires_grad=True)
        w = torch.randn(cout, cin, kernel, kernel, kernel, requires_grad=True)
        y = F.conv3d(x.detach(), w.detach(), None, stride, kernel // 2)
        touching(x, w, y)
        with torch.no_grad():
            seconds = timed(partial(F.conv3d, x, w, None, stride, kernel // 2))
        y = F.conv3d(x, w, None, stride, kernel // 2)
        back = timed(partial(torch.autograd.grad, y, (x, w), torch.ones_like(y),
                             retain_graph=True))
        flops = 2 * y.numel() * cin * kernel ** 3  # per output value: its taps
        forward.setdefault("conv_3d", []).append((flops, seconds))
        backward.setdefault("conv_3d", []).append((flops, back))
    for cin, cout, kernel in WEIGHT_CASES:
        step += 1
        progress(f"conv weights {cin}->{cout} k{kernel}", step, cases())
        x = torch.randn(1, cin, kernel, kernel, requires_grad=True)
        w = torch.randn(cout, cin, kernel, kernel, requires_grad=True)
        touching(x, w)
        with torch.no_grad():
            seconds = timed(partial(F.conv2d, x, w))
        y = F.conv2d(x, w)
        back = timed(partial(torch.autograd.grad, y, (x, w), torch.ones_like(y),
                             retain_graph=True))
        forward.setdefault("conv_weights", []).append((w.numel(), seconds))
        backward.setdefault("conv_weights", []).append((w.numel(), back))
    for rows, inputs, outputs in GEMM_CASES:
        step += 1
        progress(f"gemm {rows}x{inputs}x{outputs}", step, cases())
        x = torch.randn(rows, inputs, requires_grad=True)
        linear = torch.nn.Linear(inputs, outputs)  # as exported: with its bias
        w = linear.weight
        touching(x, w, torch.empty(rows, outputs))
        with torch.no_grad():
            seconds = timed(partial(linear, x))
        y = linear(x)
        dy = torch.ones_like(y)
        back = timed(partial(torch.autograd.grad, y, (x, w), dy, retain_graph=True))
        kind, work = ("gemv", inputs * outputs) if rows == 1 else \
            ("gemm", 2 * rows * inputs * outputs)
        forward.setdefault(kind, []).append((work, seconds))
        backward.setdefault(kind, []).append((work, back))
    for batch, rows, inner, columns in MATMUL_CASES:
        step += 1
        progress(f"matmul {batch}x{rows}x{inner}x{columns}", step, cases())
        a = torch.randn(batch, rows, inner, requires_grad=True)
        b = torch.randn(batch, inner, columns, requires_grad=True)
        touching(a, b, torch.empty(batch, rows, columns))
        with torch.no_grad():
            seconds = timed(partial(torch.matmul, a, b))
        y = torch.matmul(a, b)
        back = timed(partial(torch.autograd.grad, y, (a, b), torch.ones_like(y),
                             retain_graph=True))
        flops = 2 * batch * rows * inner * columns
        forward.setdefault("matmul", []).append((flops, seconds))
        backward.setdefault("matmul", []).append((flops, back))
    for values in SOFTMAX_SIZES:
        step += 1
        progress(f"softmax {values:,} values", step, cases())
        x = torch.randn(values // 256, 256, requires_grad=True)
        touching(x, x)
        with torch.no_grad():
            seconds = timed(partial(torch.softmax, x, -1))
        y = torch.softmax(x, -1)
        back = timed(partial(torch.autograd.grad, y, x, torch.ones_like(y), retain_graph=True))
        forward.setdefault("softmax", []).append((2 * 4 * values, seconds))  # read, write
        backward.setdefault("softmax", []).append((2 * 4 * values, back))
    for batch, channels, length in POOL_1D_CASES:
        step += 1
        progress(f"pool_1d {batch}x{channels}x{length}", step, cases())
        x = torch.randn(batch, channels, length)
        touching(x, x)
        with torch.no_grad():
            seconds = timed(partial(F.max_pool1d, x, 4, 4))
        forward.setdefault("pool_1d", []).append((4 * x.numel() * 5 // 4, seconds))
    for batch, channels, side in GLOBAL_POOL_CASES:
        step += 1
        progress(f"global pool {batch}x{channels}x{side}x{side}", step, cases())
        x = torch.randn(batch, channels, side, side, requires_grad=True)
        touching(x, x)
        pool = torch.nn.AdaptiveAvgPool2d(1)
        with torch.no_grad():
            seconds = timed(partial(pool, x))
        y = pool(x)
        back = timed(partial(torch.autograd.grad, y, x, torch.ones_like(y), retain_graph=True))
        moved = 4 * (x.numel() + y.numel())
        forward.setdefault("pool_global", []).append((moved, seconds))
        backward.setdefault("pool_global", []).append((moved, back))
    for batch, channels, side in LRN_CASES:
        step += 1
        progress(f"lrn {batch}x{channels}x{side}x{side}", step, cases())
        x = torch.randn(batch, channels, side, side, requires_grad=True)
        touching(x, x)
        lrn = torch.nn.LocalResponseNorm(5, 1e-4, 0.75, 2.0)
        with torch.no_grad():
            seconds = timed(partial(lrn, x))
        y = lrn(x)
        back = timed(partial(torch.autograd.grad, y, x, torch.ones_like(y), retain_graph=True))
        forward.setdefault("lrn", []).append((2 * 4 * x.numel(), seconds))  # in and out
        backward.setdefault("lrn", []).append((2 * 4 * x.numel(), back))
    for values in ELEMENTWISE_SIZES:
        step += 1
        progress(f"elementwise {values:,} values", step, cases())
        x = torch.randn(values, requires_grad=True)
        touching(x, x)
        relu = torch.nn.ReLU()
        with torch.no_grad():
            seconds = timed(partial(relu, x))  # reads x, writes a new tensor
        y = relu(x)
        dy = torch.ones_like(y)
        back = timed(partial(torch.autograd.grad, y, x, dy, retain_graph=True))
        moved = 2 * 4 * values  # float32 read + write
        elementwise.append((moved, seconds))
        backward.setdefault("elementwise", []).append((moved, back))
    for values in ELEMENTWISE_SIZES:  # an activation with an exp per value: SiLU
        step += 1
        progress(f"elementwise (exp) {values:,} values", step, cases())
        x = torch.randn(values, requires_grad=True)
        touching(x, x)
        silu = torch.nn.SiLU()
        with torch.no_grad():
            seconds = timed(partial(silu, x))
        y = silu(x)
        back = timed(partial(torch.autograd.grad, y, x, torch.ones_like(y), retain_graph=True))
        forward.setdefault("elementwise_exp", []).append((2 * 4 * values, seconds))
        backward.setdefault("elementwise_exp", []).append((2 * 4 * values, back))
    for values in ELEMENTWISE_SIZES:  # an optimizer's in-place update: p -= lr x g
        step += 1
        progress(f"in-place update {values:,} values", step, cases())
        p, g = torch.randn(values), torch.randn(values)
        touching(torch.zeros(1), p, g)  # both cold: the step reads what backward left behind
        with torch.no_grad():
            forward.setdefault("update", []).append(
                (3 * 4 * values, timed(partial(p.add_, g, alpha=-1e-3))))  # read 2, write 1
    for batch, channels, side in PASS_CASES:
        x = torch.randn(batch, channels, side, side, requires_grad=True)
        touching(x, x)
        norm, layer_norm = torch.nn.BatchNorm2d(channels), torch.nn.LayerNorm(channels)

        def channels_last_norm(x, layer_norm=layer_norm):  # as the exported ChannelLayerNorm
            return layer_norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        # the modules the exported networks call, in eval mode (the norm: running statistics)
        # and, for the backward, in train mode (the norm: the batch's statistics)
        for kind, run in (("pool", torch.nn.MaxPool2d(3, 2, 1)),
                          ("pool_tiled", torch.nn.MaxPool2d(2, 2)),
                          ("norm", norm), ("layernorm", channels_last_norm)):
            step += 1
            progress(f"{kind} {batch}x{channels}x{side}x{side}", step, cases())
            norm.eval()
            with torch.no_grad():
                seconds = timed(partial(run, x))
                y = run(x)
            moved = 4 * (x.numel() + y.numel())  # float32 in and out
            norm.train()
            y = run(x)
            back = timed(partial(torch.autograd.grad, y, x, torch.ones_like(y),
                                 retain_graph=True))
            forward.setdefault(kind, []).append((moved, seconds))
            backward.setdefault(kind, []).append((moved, back))
            if kind == "norm":  # training: the batch's mean and variance first, the running
                # statistics updated (several passes, not eval's one)
                forward.setdefault("norm_train", []).append((moved, timed(partial(run, x))))
                backward.setdefault("norm_train", []).append((moved, back))
    step += 1
    progress("per-op overhead", step, cases())
    module, tiny = torch.nn.ReLU(), torch.ones(1, requires_grad=True)
    touching(tiny)
    with torch.no_grad():
        overhead = timed(lambda: module(tiny), 0.1)  # a module call: how networks run
    y = module(tiny)
    back = timed(lambda: torch.autograd.grad(y, tiny, retain_graph=True), 0.1)
    # a whole training step of a one-weight model: its fixed cost beyond the layers' kernels
    layer = torch.nn.Linear(1, 1)
    sgd, one = torch.optim.SGD(layer.parameters(), lr=1e-3), torch.ones(1, 1)

    def step():
        sgd.zero_grad(set_to_none=True)
        layer(one).float().mean().backward()
        sgd.step()
    fixed = timed(step, 0.1)
    return _finish(forward, backward, elementwise, overhead, torch.get_num_threads(),
                   f"torch {torch.__version__}" + _clock_note(), back, fixed)


def _measure_numpy(progress) -> Calibration:
    """Without PyTorch: each conv kind as the matrix products of its im2col form (grouped:
    one per group; depthwise: one multiply-add of shifted planes per tap); backward as the
    two products of the input and weight gradients."""
    import numpy as np
    buffer = np.zeros(FLUSH_BYTES // 4, dtype=np.float32)
    FLUSH[:] = [buffer.sum]  # a read: evicts without leaving dirty lines to write back
    forward, backward, elementwise = {}, {}, []
    step = 0
    rng = np.random.default_rng(0)
    for kind, shapes in CONV_CASES.items():
        for batch, cin, cout, side, kernel, stride, groups in shapes:
            step += 1
            progress(f"{kind} {cin}->{cout} {side}x{side} k{kernel}", step, cases())
            flops, out = conv_flops(batch, cin, cout, side, kernel, stride, groups)
            taps = kernel * kernel
            if groups == cin and groups > 1:  # depthwise: a multiply-add per tap
                x = rng.standard_normal((batch, cin, out, out), dtype=np.float32)
                k = rng.standard_normal((cin, 1, 1), dtype=np.float32)
                touching(x, x)
                def run(x=x, k=k, taps=taps):
                    acc = x * k
                    for _ in range(taps - 1):
                        acc += x * k
                    return acc
                seconds = timed(run)
                back = 2 * seconds
            else:
                cols = rng.standard_normal((groups, cin // groups * taps, batch * out * out),
                                           dtype=np.float32)
                w = rng.standard_normal((groups, cout // groups, cin // groups * taps),
                                        dtype=np.float32)
                touching(cols, w)
                seconds = timed(lambda w=w, cols=cols: np.matmul(w, cols))
                dy = np.matmul(w, cols)
                back = timed(lambda w=w, cols=cols, dy=dy: (
                    np.matmul(w.transpose(0, 2, 1), dy), np.matmul(dy, cols.transpose(0, 2, 1))))
            forward.setdefault(kind, []).append((flops, seconds))
            backward.setdefault(kind, []).append((flops, back))
    step += len(CONV_3D_CASES) + len(WEIGHT_CASES)  # 3-D convs take the 2-D kxk rate;
    # NumPy's im2col products lay no weights out
    for rows, inputs, outputs in GEMM_CASES:
        step += 1
        progress(f"gemm {rows}x{inputs}x{outputs}", step, cases())
        x = rng.standard_normal((rows, inputs), dtype=np.float32)
        w = rng.standard_normal((inputs, outputs), dtype=np.float32)
        touching(x, w)
        seconds = timed(lambda x=x, w=w: x @ w)
        dy = x @ w
        back = timed(lambda x=x, w=w, dy=dy: (dy @ w.T, x.T @ dy))
        kind, work = ("gemv", inputs * outputs) if rows == 1 else \
            ("gemm", 2 * rows * inputs * outputs)
        forward.setdefault(kind, []).append((work, seconds))
        backward.setdefault(kind, []).append((work, back))
    for batch, rows, inner, columns in MATMUL_CASES:
        step += 1
        progress(f"matmul {batch}x{rows}x{inner}x{columns}", step, cases())
        a = rng.standard_normal((batch, rows, inner), dtype=np.float32)
        b = rng.standard_normal((batch, inner, columns), dtype=np.float32)
        touching(a, b)
        seconds = timed(lambda a=a, b=b: np.matmul(a, b))
        dy = np.matmul(a, b)
        back = timed(lambda a=a, b=b, dy=dy: (np.matmul(dy, b.transpose(0, 2, 1)),
                                              np.matmul(a.transpose(0, 2, 1), dy)))
        forward.setdefault("matmul", []).append((2 * batch * rows * inner * columns, seconds))
        backward.setdefault("matmul", []).append((2 * batch * rows * inner * columns, back))
    for values in SOFTMAX_SIZES:
        step += 1
        progress(f"softmax {values:,} values", step, cases())
        x = rng.standard_normal((values // 256, 256), dtype=np.float32)
        touching(x, x)

        def softmax(x=x):
            e = np.exp(x - x.max(axis=-1, keepdims=True))
            return e / e.sum(axis=-1, keepdims=True)
        seconds = timed(softmax)
        y, dy = softmax(), np.ones_like(x)
        back = timed(lambda y=y, dy=dy: y * (dy - (dy * y).sum(axis=-1, keepdims=True)))
        forward.setdefault("softmax", []).append((2 * 4 * values, seconds))
        backward.setdefault("softmax", []).append((2 * 4 * values, back))
    # no NumPy pools or LRN: 1-D and global pools and LRN fall back to the elementwise rate
    step += len(POOL_1D_CASES) + len(LRN_CASES) + len(GLOBAL_POOL_CASES)
    for values in ELEMENTWISE_SIZES:
        step += 1
        progress(f"elementwise {values:,} values", step, cases())
        x = rng.standard_normal(values, dtype=np.float32)
        touching(x, x)
        seconds = timed(lambda x=x: np.maximum(x, 0))
        back = timed(lambda x=x: np.where(x > 0, x, 0))
        elementwise.append((2 * 4 * values, seconds))
        backward.setdefault("elementwise", []).append((2 * 4 * values, back))
    for values in ELEMENTWISE_SIZES:  # SiLU: an exp per value
        step += 1
        progress(f"elementwise (exp) {values:,} values", step, cases())
        x = rng.standard_normal(values, dtype=np.float32)
        touching(x, x)
        seconds = timed(lambda x=x: x / (1 + np.exp(-x)))
        back = timed(lambda x=x: (lambda s: s * (1 + x * (1 - s)))(1 / (1 + np.exp(-x))))
        forward.setdefault("elementwise_exp", []).append((2 * 4 * values, seconds))
        backward.setdefault("elementwise_exp", []).append((2 * 4 * values, back))
    for values in ELEMENTWISE_SIZES:  # an optimizer's in-place update: p -= lr x g
        step += 1
        progress(f"in-place update {values:,} values", step, cases())
        p, g = (rng.standard_normal(values, dtype=np.float32) for _ in range(2))
        touching(np.zeros(1, dtype=np.float32), p, g)  # both cold, as in a step
        forward.setdefault("update", []).append(
            (3 * 4 * values, timed(lambda p=p, g=g: np.subtract(p, 1e-3 * g, out=p))))
    step += 1
    progress("per-op overhead", step, cases())
    tiny = np.ones(1, dtype=np.float32)
    touching(tiny)
    overhead = timed(lambda: np.maximum(tiny, 0), 0.1)
    try:
        from threadpoolctl import threadpool_info
        threads = max((p.get("num_threads", 1) for p in threadpool_info()), default=1)
    except ImportError:
        import os
        threads = os.cpu_count() or 1
    return _finish(forward, backward, elementwise, overhead, threads,
                   f"numpy {np.__version__}" + _clock_note())


def _clock_note() -> str:
    return ", thread CPU time" if CLOCK["now"] is time.thread_time else ""
