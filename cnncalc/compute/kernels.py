"""NumPy kernels for the forward and backward passes (arrays N, C, then 1, 2 or 3 spatial
axes: NCL, NCHW, NCDHW). Imported only by `run` and `validate --forward`, never on the
summarize/validate path.

Output sizes here are counted from the arrays themselves (window starts that fit), not taken
from the shape rules in layers/, so a run checks the prediction independently.
"""

from __future__ import annotations

from itertools import product
from math import prod

import numpy as np
from numpy.lib.stride_tricks import as_strided


def pad_axes(x, *pads, value=0.0):
    """Pad the spatial axes: pads are (before, after) of every axis in turn, flat
    ((top, bottom, left, right) in 2-D)."""
    if not any(pads):
        return x
    pairs = [(pads[2 * i], pads[2 * i + 1]) for i in range(x.ndim - 2)]
    return np.pad(x, ((0, 0), (0, 0), *pairs), constant_values=value)


pad4 = pad_axes  # the 2-D name


def starts(size: int, effective: int, stride: int, ceil_mode=False, limit=None) -> int:
    """How many windows: starts 0, S, 2S... whose window fits in `size` (ceil_mode: which
    overlap it by at least one cell and start before `limit`, the end of the input and left
    padding, as PyTorch)."""
    if not ceil_mode:
        return len(range(0, size - effective + 1, stride)) if size >= effective else 0
    last = min(size - effective + stride - 1, limit - 1)  # the largest start allowed
    return len(range(0, last + 1, stride)) if last >= 0 else 0


def windows(xp, kernel, stride, dilation, out):
    """A view [N, C, *out, *kernel] of every window (no copy: stride tricks)."""
    s = xp.strides
    spatial = s[2:]
    return as_strided(xp, (*xp.shape[:2], *out, *kernel),
                      (s[0], s[1], *(a * b for a, b in zip(spatial, stride)),
                       *(a * b for a, b in zip(spatial, dilation))), writeable=False)


def _columns(win, rank):
    """Windows [N, C, *out, *kernel] -> im2col's X_col: (C x kernel) rows by (N x out)."""
    order = (1, *range(2 + rank, 2 + 2 * rank), 0, *range(2, 2 + rank))
    return win.transpose(order).reshape(win.shape[1] * prod(win.shape[2 + rank:]), -1)


# Columns per im2col tile: enough for BLAS to run at its rate, few enough that a tile's X_col
# stays a few MiB rather than the whole batch's (925 MB for VGG16's conv1_2 at batch 8, a
# fresh allocation on every call), and enough tiles to share out between threads.
TILE_BYTES = 4 << 20
TILE_MIN_COLUMNS = 512


def tiles(n, out, rows, itemsize):
    """The im2col tiles of a conv output [n, *out] whose X_col has `rows` rows: (images,
    slice of the first output axis). Large maps: one image, a band of the first axis per tile;
    small maps: several whole images per tile."""
    positions, rest = prod(out), prod(out[1:])
    columns = max(TILE_MIN_COLUMNS, TILE_BYTES // max(rows * itemsize, 1))
    if positions >= columns:
        band = max(1, columns // max(rest, 1))
        return [(slice(i, i + 1), slice(r, r + band)) for i in range(n)
                for r in range(0, out[0], band)]
    images = max(1, columns // max(positions, 1))
    return [(slice(i, i + images), slice(None)) for i in range(0, n, images)]


def conv(x, w, b, stride, pads, dilation, groups):
    """Cross-correlation as PyTorch's conv1d/2d/3d: im2col by stride tricks, tile by tile (the
    tiles shared out between threads, compute/parallel.py), one BLAS matmul per tile and
    group written into the output, the bias added to the tile while it is in cache.
    w: [K, C/groups, *kernel]; pads: (before, after) of every axis, flat."""
    from .parallel import run_all
    k_out, c_group, *kernel = w.shape
    rank = len(kernel)
    xp = pad_axes(x, *pads)
    eff = [d * (k - 1) + 1 for d, k in zip(dilation, kernel)]
    out = tuple(starts(n, e, s) for n, e, s in zip(xp.shape[2:], eff, stride))
    win = windows(xp, kernel, stride, dilation, out)
    k_group = k_out // groups
    y = np.empty((x.shape[0], k_out, *out), dtype=x.dtype)
    if 0 in y.shape:
        return y
    w_rows = [w[g * k_group:(g + 1) * k_group].reshape(k_group, -1) for g in range(groups)]
    bias = None if b is None else b.reshape(-1, *([1] * rank)).astype(y.dtype, copy=False)

    def tile(piece):
        images, band = piece
        for g, wg in enumerate(w_rows):  # W_row of the group
            # im2col: X_col is (Cg x kernel) rows by (images x band) columns, as in the notes
            cols = _columns(win[images, g * c_group:(g + 1) * c_group, band], rank)
            target = y[images, g * k_group:(g + 1) * k_group, band]
            if target.shape[0] == 1:  # one image: the matmul writes into the output
                np.matmul(wg, cols, out=target[0].reshape(k_group, -1))
            else:
                target[...] = (wg @ cols).reshape(k_group, target.shape[0], *target.shape[2:]) \
                    .swapaxes(0, 1)
            if bias is not None:
                target += bias[g * k_group:(g + 1) * k_group]

    run_all(tile, tiles(x.shape[0], out, w_rows[0].shape[1], y.itemsize))
    return y


conv2d = conv  # the 2-D name


def linear(x, w, b):
    """x @ w.T + b, PyTorch's Linear (x: [N, in], w: [out, in]): the output units in pieces
    shared out between threads (compute/parallel.py), as the conv's tiles."""
    from .parallel import run_all
    y = np.empty((x.shape[0], w.shape[0]), dtype=np.result_type(x, w))
    units = max(64, -(-w.shape[0] // 8))

    def piece(part):
        np.matmul(x, w[part].T, out=y[:, part])
        if b is not None:
            y[:, part] += b[part]

    run_all(piece, [slice(i, i + units) for i in range(0, w.shape[0], units)])
    return y


def conv_weight_grad(x, dy, w_shape, stride, pads, dilation, groups):
    """The notes: the weight gradient is the delta convolved with the input."""
    k_out, c_group, *kernel = w_shape
    rank = len(kernel)
    xp = pad_axes(x, *pads)
    win = windows(xp, kernel, stride, dilation, dy.shape[2:])
    k_group = k_out // groups
    dw = np.empty(w_shape, dtype=dy.dtype)
    for g in range(groups):
        cols = _columns(win[:, g * c_group:(g + 1) * c_group], rank)
        d = dy[:, g * k_group:(g + 1) * k_group].transpose(1, 0, *range(2, 2 + rank)) \
            .reshape(k_group, -1)
        dw[g * k_group:(g + 1) * k_group] = (d @ cols.T).reshape(k_group, c_group, *kernel)
    return dw


def dilate(x, stride):
    """Insert stride-1 zeros between neighbouring cells of every spatial axis."""
    if all(s == 1 for s in stride):
        return x
    sizes = [(n - 1) * s + 1 for n, s in zip(x.shape[2:], stride)]
    out = np.zeros((*x.shape[:2], *sizes), dtype=x.dtype)
    out[(slice(None), slice(None), *(slice(None, None, s) for s in stride))] = x
    return out


def flipped(w, groups):
    """ConvTranspose weight [in, out/g, *kernel] -> the conv weight [out, in/g, *kernel] that
    correlates with the kernel rotated 180 degrees (reversed on every axis)."""
    c_in, o_group, *kernel = w.shape
    i_group = c_in // groups
    w = w.reshape(groups, i_group, o_group, *kernel).swapaxes(1, 2)
    w = w.reshape(groups * o_group, i_group, *kernel)
    return w[(slice(None), slice(None), *(slice(None, None, -1) for _ in kernel))]


def conv_transpose(x, w, stride, padding, extra, dilation, groups):
    """PyTorch's conv_transpose1d/2d/3d (w: [in, out/g, *kernel]), as the notes compute a
    conv's input gradient: dilate by the stride, pad by the dilated kernel less one, correlate
    with the flipped kernel; then remove `padding` from each side and add `extra` cells (the
    output padding) at the end of each axis."""
    kernel = w.shape[2:]
    eff = [d * (k - 1) + 1 for d, k in zip(dilation, kernel)]
    pads = [p for e, op in zip(eff, extra) for p in (e - 1, e - 1 + op)]
    xd = pad_axes(dilate(x, stride), *pads)
    full = conv(xd, np.ascontiguousarray(flipped(w, groups)), None, (1,) * len(kernel),
                (0,) * len(pads), dilation, groups)
    cut = tuple(slice(p, n - p) for p, n in zip(padding, full.shape[2:]))
    return full[(slice(None), slice(None), *cut)]


def conv_input_grad(dy, w, x_shape, stride, pads, dilation, groups):
    """The notes: the input gradient is the flipped kernel over the zero-padded delta."""
    rank = len(x_shape) - 2
    padded = [n + pads[2 * i] + pads[2 * i + 1] for i, n in enumerate(x_shape[2:])]
    full = conv_transpose(dy, w, stride, (0,) * rank, (0,) * rank, dilation, groups)
    grad = np.zeros((dy.shape[0], x_shape[1], *padded), dtype=dy.dtype)
    grad[(slice(None), slice(None), *(slice(0, n) for n in full.shape[2:]))] = full
    return grad[inside(x_shape, pads)]  # unread cells got no gradient


def inside(x_shape, pads):
    """The index of the input within its padded array."""
    return (slice(None), slice(None), *(slice(pads[2 * i], pads[2 * i] + n)
                                        for i, n in enumerate(x_shape[2:])))


POOL_FILL = {"max": -np.inf, "min": np.inf, "avg": 0.0, "l2": 0.0}


def pool_geometry(shape, kernel, stride, pads, ceil_mode):
    """(out size, extra cells at the end for ceil overhang, avg divisor per output position)."""
    out, extra, counts = [], [], []
    for i, (n, k, s) in enumerate(zip(shape[2:], kernel, stride)):
        before, after = pads[2 * i], pads[2 * i + 1]
        padded = n + before + after
        o = starts(padded, k, s, ceil_mode, n + before)
        out.append(o)
        extra.append(max((o - 1) * s + k - padded, 0))
        # PyTorch's avg divisor (count_include_pad): window cells inside [-pad, size + pad)
        first = np.arange(o) * s
        counts.append(np.minimum(first + k, padded) - first)
    divisor = counts[0]
    for c in counts[1:]:
        divisor = np.multiply.outer(divisor, c)
    return tuple(out), tuple(extra), divisor


def _padded(x, pads, extra, value=0.0):
    return pad_axes(x, *(p + (extra[i // 2] if i % 2 else 0) for i, p in enumerate(pads)),
                    value=value)


def padding_dominates(x_shape, pads, extra) -> bool:
    """More than 4 padded cells per input cell: windows are then reduced over their part of
    the input (`clipped_pool`) instead of over a padded copy (kernel 20,000 and padding
    10,000 on 8x8 made a 4.8 GB copy)."""
    sizes = x_shape[2:]
    padded = prod(n + pads[2 * i] + pads[2 * i + 1] + extra[i] for i, n in enumerate(sizes))
    return padded > 4 * prod(sizes)


def window_regions(x_shape, kernel, stride, pads, out):
    """Per output cell: (its index, the part of the input its window covers, as slices)."""
    ranges = [[slice(max(i * s - pads[2 * a], 0), min(i * s - pads[2 * a] + k, n))
               for i in range(o)]
              for a, (n, k, s, o) in enumerate(zip(x_shape[2:], kernel, stride, out))]
    for cell in product(*(range(o) for o in out)):
        yield cell, tuple(ranges[a][i] for a, i in enumerate(cell))


def clipped_pool(x, mode, kernel, stride, pads, out, divisor, grad=None, y=None):
    """`pool` (or, with `grad`, `pool_grad`) reducing each window over the input cells it
    covers: padding adds nothing to a max, min, sum or sum of squares (an empty window gives
    the fill value); the average's divisor still counts it (count_include_pad)."""
    axes = tuple(range(2, x.ndim))
    n, c = x.shape[:2]
    result = np.zeros(x.shape, np.float64) if grad is not None else \
        np.full((n, c, *out), POOL_FILL[mode], dtype=np.float64)
    for cell, region in window_regions(x.shape, kernel, stride, pads, out):
        part = x[(slice(None), slice(None), *region)]
        at = (slice(None), slice(None), *cell)
        if part.size == 0:
            continue
        if grad is None:
            result[at] = {"max": np.max, "min": np.min, "avg": np.sum}.get(
                mode, lambda v, axis: np.sqrt((v.astype(np.float64) ** 2).sum(axis=axis)))(
                part, axis=axes) / (divisor[cell] if mode == "avg" else 1)
            continue
        g = grad[at].reshape(n, c, *[1] * len(kernel))
        where = (slice(None), slice(None), *region)
        if mode == "avg":
            result[where] += g / divisor[cell]
        elif mode == "l2":
            result[where] += g * part / np.where(y[at] == 0, 1, y[at]).reshape(g.shape)
        else:  # to the first arg-max (arg-min), as PyTorch
            flat = part.reshape(n, c, -1)
            pick = flat.argmax(-1) if mode == "max" else flat.argmin(-1)
            mask = np.zeros_like(flat, dtype=np.float64)
            np.put_along_axis(mask, pick[:, :, None], 1.0, axis=-1)
            result[where] += g * mask.reshape(part.shape)
    return result.astype(x.dtype)


def pool(x, mode, kernel, stride, pads, ceil_mode):
    """Max, min, average (PyTorch's count_include_pad) or L2 norm over every window: one
    strided slice per kernel cell folded into the output (a reduction over the windows' small
    trailing axes of a stride-tricks view runs at a fraction of memory speed)."""
    out, extra, divisor = pool_geometry(x.shape, kernel, stride, pads, ceil_mode)
    if 0 in out:
        return np.empty((*x.shape[:2], *out), dtype=x.dtype)
    if padding_dominates(x.shape, pads, extra):
        return clipped_pool(x, mode, kernel, stride, pads, out, divisor)
    xp = _padded(x, pads, extra, POOL_FILL[mode])
    if mode == "l2":
        xp = xp.astype(np.float64) ** 2
    fold = {"max": np.maximum, "min": np.minimum}.get(mode, np.add)
    y = None
    for cell in product(*(range(k) for k in kernel)):  # the window's cells, in turn
        part = xp[(slice(None), slice(None),
                   *(slice(c, c + s * (o - 1) + 1, s) for c, s, o in zip(cell, stride, out)))]
        if y is None:
            y = part.copy()
        else:
            fold(y, part, out=y)
    if mode == "avg":
        y /= divisor.astype(y.dtype)
    elif mode == "l2":
        y = np.sqrt(y)
    return y.astype(x.dtype, copy=False)


pool2d = pool  # the 2-D name


def pool_grad(x, y, dy, mode, kernel, stride, pads, ceil_mode):
    """Max/min: to the arg-max (first, as PyTorch); avg: spread by 1/(window size); l2: x/y."""
    out, extra, divisor = pool_geometry(x.shape, kernel, stride, pads, ceil_mode)
    if padding_dominates(x.shape, pads, extra):
        return clipped_pool(x, mode, kernel, stride, pads, out, divisor, grad=dy, y=y)
    rank = len(kernel)
    n, c = x.shape[:2]
    padded = [size + pads[2 * i] + pads[2 * i + 1] + extra[i] for i, size in enumerate(x.shape[2:])]
    grad = np.zeros((n, c, *padded), dtype=np.float64)
    if mode in ("max", "min"):
        xp = _padded(x, pads, extra, POOL_FILL[mode])
        win = windows(xp, kernel, stride, (1,) * rank, out).reshape(n, c, *out, -1)
        pick = win.argmax(axis=-1) if mode == "max" else win.argmin(axis=-1)
        offsets = np.unravel_index(pick, kernel)  # the tap chosen, per axis
        index = [np.arange(n).reshape(n, *[1] * (rank + 1)),
                 np.arange(c).reshape(1, c, *[1] * rank)]
        for axis, (o, s) in enumerate(zip(out, stride)):
            first = (np.arange(o) * s).reshape(*[1] * (2 + axis), o, *[1] * (rank - axis - 1))
            index.append(first + offsets[axis])
        np.add.at(grad, tuple(index), dy)
    else:
        if mode == "avg":
            share = dy / divisor
        else:
            xp = _padded(x, pads, extra)
            share = dy / np.where(y == 0, 1, y)
        for taps in product(*(range(k) for k in kernel)):  # a loop over kernel taps only
            cells = (slice(None), slice(None), *(slice(t, t + (o - 1) * s + 1, s)
                                                 for t, o, s in zip(taps, out, stride)))
            grad[cells] += share if mode == "avg" else share * xp[cells]
    return grad[inside(x.shape, pads)].astype(x.dtype)


pool2d_grad = pool_grad  # the 2-D name


def adaptive_bins(size: int, out: int):
    return [(i * size // out, -(-(i + 1) * size // out)) for i in range(out)]


def adaptive_pool(x, mode, out, grad=None, y=None):
    """PyTorch's adaptive pooling bins; with `grad`, the input gradient instead."""
    reduce = {"max": np.max, "min": np.min, "avg": np.mean}
    bins = [adaptive_bins(n, o) for n, o in zip(x.shape[2:], out)]
    result = np.zeros_like(x) if grad is not None else \
        np.empty(x.shape[:2] + tuple(out), dtype=x.dtype)
    axes = tuple(range(2, x.ndim))
    one = (slice(None), slice(None)) + (None,) * len(out)
    for cell_index in product(*(range(o) for o in out)):  # a loop over output bins
        region = (slice(None), slice(None), *(slice(*bins[a][i])
                                              for a, i in enumerate(cell_index)))
        at = (slice(None), slice(None), *cell_index)
        cell = x[region]
        if grad is None:
            result[at] = np.sqrt((cell ** 2).sum(axis=axes)) if mode == "l2" \
                else reduce[mode](cell, axis=axes)
            continue
        g = grad[at][one]
        if mode == "avg":
            result[region] += g / cell[0, 0].size
        elif mode == "l2":
            result[region] += g * cell / np.where(y[at] == 0, 1, y[at])[one]
        else:
            flat = cell.reshape(cell.shape[0], cell.shape[1], -1)
            pick = flat.argmax(-1) if mode == "max" else flat.argmin(-1)
            mask = np.zeros_like(flat)
            np.put_along_axis(mask, pick[:, :, None], 1.0, axis=-1)
            result[region] += g * mask.reshape(cell.shape)
    return result


def along_axes(x, matrices, transpose=False):
    """Apply one matrix per spatial axis (out x in, or its transpose): y = A_1 x A_2^T ... in
    2-D; separable interpolation in any rank."""
    for axis, matrix in enumerate(matrices):
        along = matrix.T if transpose else matrix
        x = np.moveaxis(np.tensordot(along, x, axes=([1], [2 + axis])), 0, 2 + axis)
    return x


def channelwise(v, ndim):
    """A per-channel vector shaped to broadcast over [N, C, *spatial]."""
    return v.reshape(1, -1, *([1] * (ndim - 2)))
