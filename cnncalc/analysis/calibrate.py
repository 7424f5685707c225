"""Measure this machine for `--device cpu`: the achieved rate of each kernel kind (conv 1x1,
kxk, strided, depthwise, grouped, GEMM) across sizes, forward and backward; the elementwise
bandwidth across sizes; the per-op overhead. PyTorch when installed, else NumPy. The caller
gets progress through a callback (the core never prints)."""

from __future__ import annotations

from dataclasses import replace
from functools import partial

from .calibrate_cases import (
    CLOCK, CLOCKS, CONV_3D_CASES, CONV_CASES, ELEMENTWISE_SIZES, FLUSH, FLUSH_BYTES, GEMM_CASES,
    GLOBAL_POOL_CASES, LRN_CASES, MATMUL_CASES, PASS_CASES, POOL_1D_CASES, SOFTMAX_SIZES,
    WEIGHT_CASES, cases, clock_note, conv_flops, fc_curve, finish, keep_freed_memory, record,
    timed, touching)
from .calibrate_numpy import measure_numpy
from .calibration import Calibration


def pass_case(torch, module, x) -> tuple[float, float]:
    """A module's forward over x (no gradients) and the backward of its output: seconds."""
    with torch.no_grad():
        seconds = timed(partial(module, x))
    y = module(x)
    return seconds, timed(partial(torch.autograd.grad, y, x, torch.ones_like(y),
                                  retain_graph=True))


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
        return measure_numpy(progress or (lambda *a: None))
    import torch
    if threads:
        torch.set_num_threads(threads)
    buffer = torch.zeros(FLUSH_BYTES // 4)
    FLUSH[:] = [buffer.sum]  # a read: evicts without leaving dirty lines to write back
    report = progress or (lambda *a: None)
    # two rounds, each case's faster median kept: a case that hit a slow spell (a few calls
    # several times slower) in one round is measured again a whole round later
    rounds = [_measure_torch(torch, partial(_in_round, report, number)) for number in (0, 1)]
    return faster(*rounds)


def _in_round(progress, number: int, text: str, step: int, total: int) -> None:
    progress(text, number * total + step, 2 * total)


def faster(first: Calibration, second: Calibration) -> Calibration:
    """Each measured point at the smaller of its two times (the same cases in both)."""
    def merge(a: list, b: list) -> list:
        return [(w, min(t, u)) for (w, t), (_, u) in zip(a, b)]
    return replace(first, forward={k: merge(v, second.forward[k]) for k, v in first.forward.items()},
                   backward={k: merge(v, second.backward[k]) for k, v in first.backward.items()},
                   elementwise=merge(first.elementwise, second.elementwise),
                   overhead=min(first.overhead, second.overhead),
                   backward_overhead=min(first.backward_overhead, second.backward_overhead),
                   step_overhead=min(first.step_overhead, second.step_overhead))


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
        record(forward, backward, *fc_curve(rows, inputs, outputs), seconds, back)
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
        record(forward, backward, "matmul", 2 * batch * rows * inner * columns, seconds, back)
    for values in SOFTMAX_SIZES:
        step += 1
        progress(f"softmax {values:,} values", step, cases())
        x = torch.randn(values // 256, 256, requires_grad=True)
        touching(x, x)
        record(forward, backward, "softmax", 2 * 4 * values,  # read, write
               *pass_case(torch, partial(torch.softmax, dim=-1), x))
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
        record(forward, backward, "pool_global", 4 * (x.numel() + batch * channels),  # in, out
               *pass_case(torch, torch.nn.AdaptiveAvgPool2d(1), x))
    for batch, channels, side in LRN_CASES:
        step += 1
        progress(f"lrn {batch}x{channels}x{side}x{side}", step, cases())
        x = torch.randn(batch, channels, side, side, requires_grad=True)
        touching(x, x)
        record(forward, backward, "lrn", 2 * 4 * x.numel(),  # in and out
               *pass_case(torch, torch.nn.LocalResponseNorm(5, 1e-4, 0.75, 2.0), x))
    for values in ELEMENTWISE_SIZES:
        step += 1
        progress(f"elementwise {values:,} values", step, cases())
        x = torch.randn(values, requires_grad=True)
        touching(x, x)
        seconds, back = pass_case(torch, torch.nn.ReLU(), x)  # reads x, writes a new tensor
        moved = 2 * 4 * values  # float32 read + write
        elementwise.append((moved, seconds))
        backward.setdefault("elementwise", []).append((moved, back))
    for values in ELEMENTWISE_SIZES:  # an activation with an exp per value: SiLU
        step += 1
        progress(f"elementwise (exp) {values:,} values", step, cases())
        x = torch.randn(values, requires_grad=True)
        touching(x, x)
        record(forward, backward, "elementwise_exp", 2 * 4 * values,
               *pass_case(torch, torch.nn.SiLU(), x))
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
    return finish(forward, backward, elementwise, overhead, torch.get_num_threads(),
                   f"torch {torch.__version__}" + clock_note(), back, fixed)
