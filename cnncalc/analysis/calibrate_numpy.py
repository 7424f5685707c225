"""`cnncalc calibrate` without PyTorch: each kind measured with NumPy (im2col products for
the convs, shifted planes for depthwise ones)."""

from __future__ import annotations

from .calibrate_cases import (
    CONV_3D_CASES, CONV_CASES, ELEMENTWISE_SIZES, FLUSH, FLUSH_BYTES, GEMM_CASES, GLOBAL_POOL_CASES,
    LRN_CASES, MATMUL_CASES, POOL_1D_CASES, SOFTMAX_SIZES, WEIGHT_CASES, cases, clock_note,
    conv_flops, fc_curve, finish, record, timed, touching)
from .calibration import Calibration


def measure_numpy(progress) -> Calibration:
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
        record(forward, backward, *fc_curve(rows, inputs, outputs), seconds, back)
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
        record(forward, backward, "matmul", 2 * batch * rows * inner * columns, seconds, back)
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
    return finish(forward, backward, elementwise, overhead, threads,
                   f"numpy {np.__version__}" + clock_note())
