"""NumPy multi-head self-attention over spatial positions: layers/attention.py's forward and
backward, on [N, C, *spatial] arrays (tokens in the positions' row-major order)."""

from __future__ import annotations

import numpy as np


def tokens(x):
    """[n, C, *spatial] -> [n, positions, C]."""
    return x.reshape(x.shape[0], x.shape[1], -1).transpose(0, 2, 1)


def group(t, spatial, patch, areas=1):
    """[n, positions, h, d] -> [n, P, h, L, d]: the tokens at each patch offset (or in each
    of `areas` consecutive runs) together."""
    n, r = t.shape[0], len(spatial)
    if areas > 1:
        return t.reshape(n, areas, -1, *t.shape[2:]).transpose(0, 1, 3, 2, 4)
    split = [v for size, p in zip(spatial, patch) for v in (size // p, p)]
    t = t.reshape(n, *split, *t.shape[2:])
    order = [0, *(2 + 2 * i for i in range(r)), 1 + 2 * r, *(1 + 2 * i for i in range(r)),
             2 + 2 * r]
    t = t.transpose(order)
    return t.reshape(n, -1, t.shape[1 + r], int(np.prod(t.shape[2 + r:2 + 2 * r])), t.shape[-1])


def ungroup(t, spatial, patch, areas=1):
    """[n, P, h, L, d] -> [n, positions, h, d]: the inverse of group."""
    n, r = t.shape[0], len(spatial)
    if areas > 1:
        return t.transpose(0, 1, 3, 2, 4).reshape(n, -1, t.shape[2], t.shape[-1])
    grid = [size // p for size, p in zip(spatial, patch)]
    t = t.reshape(n, *patch, t.shape[2], *grid, t.shape[-1])
    order = [0, *(k for i in range(r) for k in (r + 2 + i, 1 + i)), r + 1, 2 * r + 2]
    return t.transpose(order).reshape(n, -1, t.shape[r + 1], t.shape[-1])


def relative_index(grid) -> list:
    """Per axis i, [L, L] indices b_i - a_i + S_i - 1 of token b seen from token a."""
    coords = np.indices(grid).reshape(len(grid), -1)
    return [coords[i][None, :] - coords[i][:, None] + size - 1 for i, size in enumerate(grid)]


def split(z, s, layout):
    """q, k, v [n, positions, h, d] from the stacked channels z [n, positions, h (2 d_k + d_v)]."""
    n, count, h = z.shape[0], z.shape[1], s.heads
    if layout == "per_head":
        z = z.reshape(n, count, h, -1)
        return z[..., :s.key], z[..., s.key:2 * s.key], z[..., 2 * s.key:]
    q, k, v = np.split(z, [h * s.key, 2 * h * s.key], axis=-1)
    return (t.reshape(n, count, h, -1) for t in (q, k, v))


def joined(dq, dk, dv, layout):
    """The inverse of split: [n, positions, h, d] each -> [n, positions, channels]."""
    n, count = dq.shape[:2]
    if layout == "per_head":
        return np.concatenate([dq, dk, dv], axis=-1).reshape(n, count, -1)
    return np.concatenate([t.reshape(n, count, -1) for t in (dq, dk, dv)], axis=-1)


def forward(layer, s, x, w):
    """(output [n, h d_v, *spatial], the intermediates backward reads); s: layer.sizes."""
    spatial = x.shape[2:]
    patch = layer.at(len(spatial)).patch
    xt = tokens(x)
    z = xt @ w["qkv_weight"].T + w.get("qkv_bias", 0) if layer.qkv else xt
    q, k, v = (group(t, spatial, patch, layer.areas) for t in split(z, s, layer.layout))
    logits = (q @ k.swapaxes(-1, -2)) * s.key ** -0.5
    indices = relative_index(s.grid) if layer.position == "relative" else []
    for i, index in enumerate(indices):
        table = q @ w[f"relative_{i}"].T  # [n, P, h, L, 2 S - 1]
        logits = logits + np.take_along_axis(
            table, np.broadcast_to(index, (*table.shape[:-1], index.shape[1])), axis=-1)
    a = np.exp(logits - logits.max(axis=-1, keepdims=True))
    a /= a.sum(axis=-1, keepdims=True)
    o = ungroup(a @ v, spatial, patch, layer.areas).reshape(x.shape[0], xt.shape[1], -1)
    y = o @ w["proj_weight"].T + w.get("proj_bias", 0) if layer.out else o
    out = y.transpose(0, 2, 1).reshape(x.shape[0], -1, *spatial).astype(x.dtype)
    return out, {"patch": patch, "x": xt, "q": q, "k": k, "v": v, "a": a, "o": o,
                 "indices": indices}


def backward(layer, s, x, w, dy):
    """([dx], weight gradients) from the output gradient dy."""
    _, c = forward(layer, s, x, w)
    spatial, patch = x.shape[2:], c["patch"]
    dy = tokens(dy)
    grads = {}
    if layer.out:
        grads["proj_weight"] = np.einsum("nti,ntj->ij", dy, c["o"])
        if layer.bias:
            grads["proj_bias"] = dy.sum(axis=(0, 1))
        dy = dy @ w["proj_weight"]
    q, k, v, a = c["q"], c["k"], c["v"], c["a"]
    do = group(dy.reshape(*dy.shape[:2], s.heads, s.value), spatial, patch, layer.areas)
    da = do @ v.swapaxes(-1, -2)
    dv = a.swapaxes(-1, -2) @ do
    dlogits = a * (da - (da * a).sum(axis=-1, keepdims=True))  # through the softmax
    dq = (dlogits @ k) * s.key ** -0.5
    dk = (dlogits.swapaxes(-1, -2) @ q) * s.key ** -0.5
    for i, index in enumerate(c["indices"]):
        table = w[f"relative_{i}"]
        onehot = (index[..., None] == np.arange(table.shape[0])).astype(dlogits.dtype)
        dtable = np.einsum("...ab,abr->...ar", dlogits, onehot)  # [n, P, h, L, 2 S - 1]
        grads[f"relative_{i}"] = np.einsum("bar,bad->rd", dtable.reshape(-1, *dtable.shape[-2:]),
                                           q.reshape(-1, *q.shape[-2:]))
        dq = dq + dtable @ table
    dz = joined(*(ungroup(t, spatial, patch, layer.areas) for t in (dq, dk, dv)),
               layer.layout)
    if layer.qkv:
        grads["qkv_weight"] = np.einsum("nti,ntj->ij", dz, c["x"])
        if layer.bias:
            grads["qkv_bias"] = dz.sum(axis=(0, 1))
        dz = dz @ w["qkv_weight"]
    dx = dz.transpose(0, 2, 1).reshape(x.shape).astype(x.dtype)
    return [dx], {key: g.astype(x.dtype) for key, g in grads.items()}
