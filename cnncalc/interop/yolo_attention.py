"""The YOLO modules with spatial self-attention (Ultralytics' Attention, PSABlock, C2PSA, PSA)
written with the `attention` layer: the qkv 1x1 ConvBN holds each head's q, k and v side by
side (`qkv: false, layout: per_head`), the heads' outputs go on without a linear map
(`out: false`), and the positional 3x3 depthwise ConvBN on v and the 1x1 ConvBN projection
are spec layers around it."""

from __future__ import annotations

from .yolo_modules import Unsupported, arg, base, bottleneck_args, conv_call, split_concat


def attention(model, c: int, heads: int, ratio: float = 0.5, pe: int = 3, area: int = 1) -> dict:
    """Attention(dim=c, num_heads, attn_ratio) (pe 3x3), or YOLO12's AAttn (ratio 1, pe 7x7,
    `area` groups of tokens): x = attn(q, k, v) + pe(v); proj(x)."""
    if heads < 1 or c % heads:
        raise Unsupported(f"{heads} attention heads do not divide {c} channels")
    head_dim = c // heads
    key_dim = int(head_dim * ratio)
    width = 2 * key_dim + head_dim  # one head's q, k, v
    attend = {"name": "attend", "type": "attention", "heads": heads, "key_dim": key_dim,
              "qkv": False, "out": False, "layout": "per_head"}
    if area > 1:  # AAttn: consecutive runs of N / area positions attend apart
        attend["areas"] = area
    layers = [conv_call(model, heads * width, act=False, name="qkv"), attend]
    # v of every head, gathered (v.reshape(B, C, H, W) copies the strided split)
    vs = [{"name": f"v{h}", "type": "slice", "inputs": ["qkv"],
           "channels": [h * width + 2 * key_dim, (h + 1) * width]} for h in range(heads)]
    layers += vs
    if heads > 1:
        layers.append({"name": "v", "type": "concat", "inputs": [v["name"] for v in vs]})
    layers.append(conv_call(model, c, pe, g=c, act=False, name="pe"))
    layers.append({"name": "sum", "type": "add", "inputs": ["attend", "pe"]})
    layers.append(conv_call(model, c, act=False, name="proj"))
    return {"layers": layers}


def psa_body(model, c: int, heads: int, source: str, shortcut: bool = True,
             hidden: int | None = None, **attn) -> list[dict]:
    """PSABlock's (and ABlock's) body: x = x + attn(x); x = x + ffn(x), ffn a Conv c -> hidden
    (2c; ABlock: int(c * mlp_ratio)) and a ConvBN back to c."""
    attn = {"name": "attn", **attention(model, c, heads, **attn), "inputs": source}
    ffn = {"name": "ffn", "layers": [conv_call(model, hidden or 2 * c, name="cv1"),
                                     conv_call(model, c, act=False, name="cv2")]}
    if not shortcut:
        return [attn, ffn]
    return [attn, {"name": "x1", "type": "add", "inputs": [source, "attn"]},
            ffn, {"name": "x2", "type": "add", "inputs": ["x1", "ffn"]}]


def c2psa(model, row, c1s, srcs):
    """C2PSA(c1, c2, n, e=0.5): a, b = cv1(x).split(c); cv2(cat(a, PSABlocks(b)))."""
    c1, c2, rest = base(model, row, c1s)
    e = rest[0] if rest and not isinstance(rest[0], bool) else 0.5
    if c1 != c2:
        raise Unsupported(f"C2PSA keeps its channels (c1 {c1} != c2 {c2})")
    c = int(c1 * e)
    layers = [conv_call(model, 2 * c, name="cv1"),
              {"name": "a", "type": "slice", "channels": [0, c]},
              {"name": "b", "type": "slice", "channels": [c, 2 * c], "inputs": ["cv1"]}]
    source = "b"
    for i in range(row.n):
        layers.append({"name": f"m{i}", "layers": psa_body(model, c, c // 64, source)})
        source = f"m{i}"
    layers += [{"name": "cat", "type": "concat", "inputs": ["a", source]},
               conv_call(model, c1, name="cv2")]
    return {"layers": layers}, c2


def psa(model, row, c1s, srcs):
    """PSA(c1, c2, e=0.5) (YOLOv10): C2PSA's shape with one PSABlock."""
    c1, c2, rest = base(model, row, c1s)
    e = rest[0] if rest else 0.5
    if c1 != c2 or row.n > 1:
        raise Unsupported(f"PSA keeps its channels, once (received c2 {c2}, {row.n} repeats)")
    c = int(c1 * e)
    layers = [conv_call(model, 2 * c, name="cv1"),
              {"name": "a", "type": "slice", "channels": [0, c]},
              {"name": "b", "type": "slice", "channels": [c, 2 * c], "inputs": ["cv1"]},
              {"name": "m", "layers": psa_body(model, c, c // 64, "b")},
              {"name": "cat", "type": "concat", "inputs": ["a", "m"]},
              conv_call(model, c1, name="cv2")]
    return {"layers": layers}, c2


def c3k2_attention(model, c: int, c2: int, n: int, shortcut, g) -> dict:
    """C3k2(attn=True) (YOLO26): each unit a Bottleneck, then a PSABlock (c // 64 heads)."""
    units = []
    for _ in range(n):
        units.append({"layers": [
            {"name": "b", "block": "Bottleneck",
             **bottleneck_args(model, c, c, shortcut, g, [3, 3], 0.5)},
            {"name": "psa", "layers": psa_body(model, c, max(c // 64, 1), "b")}]})
    return split_concat(model, c, c2, units)


def c3k2(model, row, c1s, srcs):
    """C3k2: C2f whose units are C3k (a C3 of two 3x3 Bottlenecks) or Bottleneck (e=0.5)."""
    _c1, c2_, rest = base(model, row, c1s)
    c3k, e, attn, g, shortcut = (arg(rest, i, v) for i, v in
                                 enumerate((False, 0.5, False, 1, True)))
    model.legacy = False
    if model.scale in {"m", "l", "x"}:
        c3k = True  # parse_model: args[3:4] = [True] for M/L/X
    c = int(c2_ * e)
    if attn:
        return c3k2_attention(model, c, c2_, row.n, shortcut, g), c2_
    if c3k:
        h = int(c * 0.5)
        unit = {"block": "C3", "n": 2, **bottleneck_args(model, h, h, shortcut, g, [3, 3], 1.0),
                "c2": c, "c_": h}
    else:
        unit = {"block": "Bottleneck", **bottleneck_args(model, c, c, shortcut, g, [3, 3], 0.5)}
    return split_concat(model, c, c2_, [unit] * row.n), c2_



def a2c2f(model, row, c1s, srcs):
    """A2C2f (YOLO12): y = [cv1(x)] + [m(y[-1]) for m in ms]; cv2(cat(y)), each m two ABlocks
    (area attention, c_ // 32 heads) or a C3k; with `residual`, x + gamma * that."""
    _c1, c2_, rest = base(model, row, c1s)
    a2, area, residual, mlp, e, g, shortcut = (arg(rest, i, v) for i, v in enumerate(
        (True, 1, False, 2.0, 0.5, 1, True)))
    model.legacy = False
    if model.scale in {"l", "x"}:  # parse_model: args.extend((True, 1.2)) for L/X
        residual, mlp = True, 1.2
    c_ = int(c2_ * e)
    if c_ % 32:
        raise Unsupported(f"ABlock's width {c_} is not a multiple of 32")
    layers = [conv_call(model, c_, name="cv1")]
    source = "cv1"
    for i in range(row.n):
        if a2:
            blocks = []
            for j, inner in enumerate((f"{source}", "a0")):
                blocks.append({"name": f"a{j}", "layers": psa_body(
                    model, c_, c_ // 32, inner, hidden=int(c_ * mlp), ratio=1.0, pe=7,
                    area=area)})
            unit = {"layers": blocks}
        else:
            h = int(c_ * 0.5)
            unit = {"block": "C3", "n": 2, **bottleneck_args(model, h, h, shortcut, g, [3, 3], 1.0),
                    "c2": c_, "c_": h}
        layers.append({"name": f"m{i}", **unit})
        source = f"m{i}"
    layers += [{"name": "cat", "type": "concat",
                "inputs": ["cv1", *(f"m{i}" for i in range(row.n))]},
               conv_call(model, c2_, name="cv2")]
    if a2 and residual:  # x + gamma * y: gamma, one learned value per channel
        layers += [{"name": "gamma", "type": "scale"},
                   {"name": "out", "type": "add", "inputs": [srcs[0], "gamma"]}]
    return {"layers": layers}, c2_


MODULES = {"C2PSA": c2psa, "PSA": psa, "C3k2": c3k2, "A2C2f": a2c2f}
