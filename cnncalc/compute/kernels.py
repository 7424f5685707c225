"""NumPy kernels for the forward and backward passes (NCHW arrays). Imported only by `run` and
`validate --forward`, never on the summarize/validate path.

Output sizes here are counted from the arrays themselves (window starts that fit), not taken
from the shape rules in `shapes.py`, so a run checks the prediction independently.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided


def pad4(x, top, bottom, left, right, value=0.0):
    if not (top or bottom or left or right):
        return x
    return np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=value)


def starts(size: int, effective: int, stride: int, ceil_mode=False, limit=None) -> int:
    """How many windows: starts 0, S, 2S... whose window fits in `size` (ceil_mode: which
    overlap it by at least one cell and start before `limit`, the end of the input and left
    padding, as PyTorch)."""
    if not ceil_mode:
        return len(range(0, size - effective + 1, stride)) if size >= effective else 0
    last = min(size - effective + stride - 1, limit - 1)  # the largest start allowed
    return len(range(0, last + 1, stride)) if last >= 0 else 0


def windows(xp, kernel, stride, dilation, out):
    """A view [N, C, OH, OW, kh, kw] of every window (no copy: stride tricks)."""
    n, c, _, _ = xp.shape
    s = xp.strides
    return as_strided(xp, (n, c, out[0], out[1], kernel[0], kernel[1]),
                      (s[0], s[1], s[2] * stride[0], s[3] * stride[1],
                       s[2] * dilation[0], s[3] * dilation[1]), writeable=False)


def conv2d(x, w, b, stride, pads, dilation, groups):
    """Cross-correlation as PyTorch's conv2d: im2col by stride tricks, one BLAS matmul per
    group. w: [K, C/groups, kh, kw]; pads: (top, bottom, left, right)."""
    k_out, c_group, kh, kw = w.shape
    xp = pad4(x, *pads)
    eff = [d * (k - 1) + 1 for d, k in zip(dilation, (kh, kw))]
    out = (starts(xp.shape[2], eff[0], stride[0]), starts(xp.shape[3], eff[1], stride[1]))
    win = windows(xp, (kh, kw), stride, dilation, out)
    n = x.shape[0]
    k_group = k_out // groups
    y = np.empty((n, k_out, out[0], out[1]), dtype=x.dtype)
    for g in range(groups):
        # im2col: X_col is (Cg x kh x kw) rows by (N x OH x OW) columns, as in the notes
        cols = win[:, g * c_group:(g + 1) * c_group].transpose(1, 4, 5, 0, 2, 3)
        cols = cols.reshape(c_group * kh * kw, -1)
        wg = w[g * k_group:(g + 1) * k_group].reshape(k_group, -1)  # W_row
        y[:, g * k_group:(g + 1) * k_group] = (wg @ cols).reshape(
            k_group, n, out[0], out[1]).transpose(1, 0, 2, 3)
    if b is not None:
        y += b.reshape(1, -1, 1, 1)
    return y


def conv_weight_grad(x, dy, w_shape, stride, pads, dilation, groups):
    """The notes: the weight gradient is the delta convolved with the input."""
    k_out, c_group, kh, kw = w_shape
    xp = pad4(x, *pads)
    out = dy.shape[2:]
    win = windows(xp, (kh, kw), stride, dilation, out)
    k_group = k_out // groups
    dw = np.empty(w_shape, dtype=dy.dtype)
    for g in range(groups):
        cols = win[:, g * c_group:(g + 1) * c_group].transpose(1, 4, 5, 0, 2, 3)
        cols = cols.reshape(c_group * kh * kw, -1)
        d = dy[:, g * k_group:(g + 1) * k_group].transpose(1, 0, 2, 3).reshape(k_group, -1)
        dw[g * k_group:(g + 1) * k_group] = (d @ cols.T).reshape(k_group, c_group, kh, kw)
    return dw


def dilate(x, stride):
    """Insert stride-1 zeros between rows and columns."""
    if stride == (1, 1):
        return x
    n, c, h, w = x.shape
    out = np.zeros((n, c, (h - 1) * stride[0] + 1, (w - 1) * stride[1] + 1), dtype=x.dtype)
    out[:, :, ::stride[0], ::stride[1]] = x
    return out


def flipped(w, groups):
    """ConvTranspose weight [in, out/g, kh, kw] -> the conv weight [out, in/g, kh, kw] that
    correlates with the 180-degree rotated kernel."""
    c_in, o_group, kh, kw = w.shape
    i_group = c_in // groups
    w = w.reshape(groups, i_group, o_group, kh, kw).transpose(0, 2, 1, 3, 4)
    return w.reshape(groups * o_group, i_group, kh, kw)[:, :, ::-1, ::-1]


def conv_transpose(x, w, stride, padding, extra, dilation, groups):
    """PyTorch's conv_transpose2d (w: [in, out/g, kh, kw]), as the notes compute a conv's input
    gradient: dilate by the stride, pad by the dilated kernel less one, correlate with the
    flipped kernel; then remove `padding` from each side and add `extra` rows/columns (the
    output padding) at the bottom/right."""
    kh, kw = w.shape[2:]
    eff = [d * (k - 1) + 1 for d, k in zip(dilation, (kh, kw))]
    xd = pad4(dilate(x, stride), eff[0] - 1, eff[0] - 1 + extra[0], eff[1] - 1,
              eff[1] - 1 + extra[1])
    full = conv2d(xd, np.ascontiguousarray(flipped(w, groups)), None, (1, 1), (0, 0, 0, 0),
                  dilation, groups)
    h = full.shape[2] - extra[0]
    wd = full.shape[3] - extra[1]
    return full[:, :, padding[0]:h - padding[0] + extra[0],
                padding[1]:wd - padding[1] + extra[1]]


def conv_input_grad(dy, w, x_shape, stride, pads, dilation, groups):
    """The notes: the input gradient is the flipped kernel over the zero-padded delta."""
    _, _, h, wd = x_shape
    top, bottom, left, right = pads
    hp, wp = h + top + bottom, wd + left + right
    full = conv_transpose(dy, w, stride, (0, 0), (0, 0), dilation, groups)
    grad = np.zeros((dy.shape[0], x_shape[1], hp, wp), dtype=dy.dtype)
    grad[:, :, :full.shape[2], :full.shape[3]] = full  # unread rows get no gradient
    return grad[:, :, top:top + h, left:left + wd]


POOL_FILL = {"max": -np.inf, "min": np.inf, "avg": 0.0, "l2": 0.0}


def pool_geometry(shape, kernel, stride, pads, ceil_mode):
    """(out size, padded input incl. ceil overhang, avg divisor per output position)."""
    _, _, h, w = shape
    top, bottom, left, right = pads
    out = (starts(h + top + bottom, kernel[0], stride[0], ceil_mode, h + top),
           starts(w + left + right, kernel[1], stride[1], ceil_mode, w + left))
    need_h = (out[0] - 1) * stride[0] + kernel[0]
    need_w = (out[1] - 1) * stride[1] + kernel[1]
    extra = (max(need_h - (h + top + bottom), 0), max(need_w - (w + left + right), 0))
    # PyTorch's avg divisor (count_include_pad): cells of the window inside [-pad, size + pad)
    rows = np.minimum(np.arange(out[0]) * stride[0] + kernel[0], h + top + bottom) \
        - np.arange(out[0]) * stride[0]
    cols = np.minimum(np.arange(out[1]) * stride[1] + kernel[1], w + left + right) \
        - np.arange(out[1]) * stride[1]
    return out, extra, np.outer(rows, cols)


def pool2d(x, mode, kernel, stride, pads, ceil_mode):
    out, extra, divisor = pool_geometry(x.shape, kernel, stride, pads, ceil_mode)
    top, bottom, left, right = pads
    xp = pad4(x, top, bottom + extra[0], left, right + extra[1], POOL_FILL[mode])
    win = windows(xp, kernel, stride, (1, 1), out)
    if mode == "max":
        return win.max(axis=(4, 5))
    if mode == "min":
        return win.min(axis=(4, 5))
    if mode == "avg":
        return (win.sum(axis=(4, 5)) / divisor).astype(x.dtype)
    return np.sqrt((win.astype(np.float64) ** 2).sum(axis=(4, 5))).astype(x.dtype)


def pool2d_grad(x, y, dy, mode, kernel, stride, pads, ceil_mode):
    """Max/min: to the arg-max (first, as PyTorch); avg: spread by 1/(m n); l2: x / y."""
    out, extra, divisor = pool_geometry(x.shape, kernel, stride, pads, ceil_mode)
    top, bottom, left, right = pads
    n, c, h, w = x.shape
    hp, wp = h + top + bottom + extra[0], w + left + right + extra[1]
    grad = np.zeros((n, c, hp, wp), dtype=np.float64)
    rows = np.arange(out[0]) * stride[0]
    cols = np.arange(out[1]) * stride[1]
    if mode in ("max", "min"):
        xp = pad4(x, top, bottom + extra[0], left, right + extra[1], POOL_FILL[mode])
        win = windows(xp, kernel, stride, (1, 1), out).reshape(n, c, out[0], out[1], -1)
        pick = win.argmax(axis=-1) if mode == "max" else win.argmin(axis=-1)
        r = rows[None, None, :, None] + pick // kernel[1]
        q = cols[None, None, None, :] + pick % kernel[1]
        ni, ci = np.meshgrid(np.arange(n), np.arange(c), indexing="ij")
        np.add.at(grad, (ni[:, :, None, None], ci[:, :, None, None], r, q), dy)
    else:
        if mode == "avg":
            share = dy / divisor
        else:
            xp = pad4(x, top, bottom + extra[0], left, right + extra[1])
            share = dy / np.where(y == 0, 1, y)
        for i in range(kernel[0]):  # a loop over kernel taps, vectorised over everything else
            for j in range(kernel[1]):
                r = slice(i, i + (out[0] - 1) * stride[0] + 1, stride[0])
                q = slice(j, j + (out[1] - 1) * stride[1] + 1, stride[1])
                grad[:, :, r, q] += share if mode == "avg" else share * xp[:, :, r, q]
    return grad[:, :, top:top + h, left:left + w].astype(x.dtype)


def adaptive_bins(size: int, out: int):
    return [(i * size // out, -(-(i + 1) * size // out)) for i in range(out)]


def adaptive_pool(x, mode, out, grad=None, y=None):
    """PyTorch's adaptive pooling bins; with `grad`, the input gradient instead."""
    reduce = {"max": np.max, "min": np.min, "avg": np.mean}
    rows, cols = adaptive_bins(x.shape[2], out[0]), adaptive_bins(x.shape[3], out[1])
    result = np.zeros_like(x) if grad is not None else \
        np.empty(x.shape[:2] + tuple(out), dtype=x.dtype)
    for i, (r0, r1) in enumerate(rows):  # a loop over output bins, vectorised inside
        for j, (q0, q1) in enumerate(cols):
            cell = x[:, :, r0:r1, q0:q1]
            if grad is None:
                result[:, :, i, j] = np.sqrt((cell ** 2).sum(axis=(2, 3))) if mode == "l2" \
                    else reduce[mode](cell, axis=(2, 3))
                continue
            g = grad[:, :, i, j][:, :, None, None]
            if mode == "avg":
                result[:, :, r0:r1, q0:q1] += g / cell[0, 0].size
            elif mode == "l2":
                result[:, :, r0:r1, q0:q1] += g * cell / np.where(y[:, :, i, j] == 0, 1,
                                                                   y[:, :, i, j])[:, :, None, None]
            else:
                flat = cell.reshape(cell.shape[0], cell.shape[1], -1)
                pick = flat.argmax(-1) if mode == "max" else flat.argmin(-1)
                mask = np.zeros_like(flat)
                np.put_along_axis(mask, pick[:, :, None], 1.0, axis=-1)
                result[:, :, r0:r1, q0:q1] += g * mask.reshape(cell.shape)
    return result
