"""Each Ultralytics module of a YOLO row (heads: yolo_heads.py; attention: yolo_attention.py)
written as spec items, with the channels it passes on.

An emitter takes (model, row, input channels, input names) and returns (one spec item, c2):
a call of a block of yolo_blocks.yaml where the block language says the module, else a group
written here (a concat of every copy of a repeated module: C2f, C2fCIB; CBFuse; ResNetLayer).
Arguments are read as Ultralytics' constructors read them, defaults included."""

from __future__ import annotations

from math import gcd

from ..errors import Span, fail, show


class Unsupported(Exception):
    """A module's form that cnncalc does not write (the message names it)."""


ACTIVATIONS = {"nn.SiLU()": "silu", "nn.ReLU()": "relu", "nn.ReLU6()": "relu6",
               "nn.Hardswish()": "hardswish", "nn.Sigmoid()": "sigmoid", "nn.Tanh()": "tanh",
               "nn.GELU()": "gelu", "nn.ELU()": "elu"}


def activation(text, span: Span):
    """The YAML's `activation:` (Python text, never evaluated) as a spec layer."""
    spelled = "".join(str(text).split()).replace("torch.nn.", "nn.")
    if spelled in ACTIVATIONS:
        return ACTIVATIONS[spelled]
    if spelled.startswith("nn.LeakyReLU(") and spelled.endswith(")"):
        inner = spelled[len("nn.LeakyReLU("):-1].split(",")[0].removeprefix("negative_slope=")
        try:
            slope = float(inner) if inner else 0.01
        except ValueError:
            slope = None
        if slope is not None:
            return {"type": "leaky_relu", "negative_slope": slope}
    raise fail(span, "activation: cnncalc reads nn.SiLU(), nn.ReLU(), nn.LeakyReLU(slope), "
               "nn.ReLU6(), nn.Hardswish(), nn.Sigmoid(), nn.Tanh(), nn.GELU(), nn.ELU()",
               show(text))


def pad(k, p=None, d=1):
    """Ultralytics' autopad: 'same' padding for an odd kernel unless p is given."""
    if p is not None:
        return p
    if d > 1:
        k = d * (k - 1) + 1 if isinstance(k, int) else [d * (x - 1) + 1 for x in k]
    return k // 2 if isinstance(k, int) else [x // 2 for x in k]


def arg(args: list, index: int, default):
    return args[index] if len(args) > index else default


def whole(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise Unsupported(f"{what} must be a positive integer (received {show(value)})")
    return value


def base(model, row, c1s) -> tuple[int, int, list]:
    """A base module's c1, scaled c2 and its remaining arguments (after c2)."""
    if row.many:
        raise Unsupported("reads one earlier row, not a list")
    return c1s[0], model.scaled(whole(row.args[0], "c2")), row.args[1:]


def act_of(model, flag=True):
    """Conv's act argument: True is the model's activation, False none."""
    if flag is True:
        return model.act
    if flag is False or flag is None:
        return None
    raise Unsupported(f"act must be true or false (received {show(flag)})")


def conv_call(model, c2, k=1, s=1, p=None, g=1, d=1, act=True, name=None):
    """A Conv block call (ConvBN without an activation)."""
    layer = act_of(model, act)
    item = {"block": "Conv" if layer else "ConvBN", "c2": c2, "k": k, "s": s,
            "p": pad(k, p, d), "g": g, "d": d, "act": layer or "silu"}
    return {"name": name, **item} if name else item


def repeated(item: dict, n: int) -> dict:
    return {**item, "repeat": n} if n > 1 else item


def conv(model, row, c1s, srcs):
    _c1, c2, rest = base(model, row, c1s)
    k, s, p, g, d, a = (arg(rest, i, v) for i, v in enumerate((1, 1, None, 1, 1, True)))
    return repeated(conv_call(model, c2, k, s, p, g, d, a), row.n), c2


def dwconv(model, row, c1s, srcs):
    c1, c2, rest = base(model, row, c1s)
    k, s, d, a = (arg(rest, i, v) for i, v in enumerate((1, 1, 1, True)))
    return repeated(conv_call(model, c2, k, s, None, gcd(c1, c2), d, a), row.n), c2


def conv_transpose(model, row, c1s, srcs):
    """nn.ConvTranspose2d(c1, c2, k, s, p, output_padding, groups, bias=True)."""
    _c1, c2, rest = base(model, row, c1s)
    k, s, p, op, g, bias = (arg(rest, i, v) for i, v in enumerate((1, 1, 0, 0, 1, True)))
    return repeated({"type": "deconv", "filters": c2, "kernel": k, "stride": s, "padding": p,
                     "output_padding": op, "groups": g, "bias": bool(bias)}, row.n), c2


def bottleneck_args(model, c1, c2, shortcut, g, k, e) -> dict:
    k1, k2 = k
    return {"c2": c2, "c_": int(c2 * e), "k1": k1, "p1": pad(k1), "k2": k2, "p2": pad(k2),
            "g": g, "add": bool(shortcut) and c1 == c2, "act": model.act}


def bottleneck(model, row, c1s, srcs):
    c1, c2, rest = base(model, row, c1s)
    shortcut, g, k, e = (arg(rest, i, v) for i, v in enumerate((True, 1, (3, 3), 0.5)))
    item = {"block": "Bottleneck", **bottleneck_args(model, c1, c2, shortcut, g, list(k), e)}
    return repeated(item, row.n), c2


def c3(model, row, c1s, srcs, k=((1, 1), (3, 3))):
    """C3 and C3x (k (1, 3) then (3, 1)): args c2, [n], shortcut, g, e."""
    _c1, c2, rest = base(model, row, c1s)
    shortcut, g, e = (arg(rest, i, v) for i, v in enumerate((True, 1, 0.5)))
    c_ = int(c2 * e)
    inner = bottleneck_args(model, c_, c_, shortcut, g, list(k), 1.0)
    return {"block": "C3", "c2": c2, "n": row.n, **{**inner, "c2": c2, "c_": c_}}, c2


def c3x(model, row, c1s, srcs):
    return c3(model, row, c1s, srcs, k=([1, 3], [3, 1]))


def c2(model, row, c1s, srcs):
    _c1, c2_, rest = base(model, row, c1s)
    shortcut, g, e = (arg(rest, i, v) for i, v in enumerate((True, 1, 0.5)))
    c = int(c2_ * e)
    return {"block": "C2", "c2": c2_, "c": c, "n": row.n, "g": g, "add": bool(shortcut),
            "act": model.act}, c2_


def split_concat(model, c, c2, units: list[dict]) -> dict:
    """C2f's pattern: y = cv1(x).chunk(2); y += [m(y[-1]) for m in ms]; cv2(cat(y))."""
    layers = [conv_call(model, 2 * c, name="cv1"),
              {"name": "y0", "type": "slice", "channels": [0, c]},
              {"name": "y1", "type": "slice", "channels": [c, 2 * c], "inputs": ["cv1"]}]
    for i, unit in enumerate(units):
        layers.append({"name": f"m{i}", **unit})
    layers.append({"name": "cat", "type": "concat",
                   "inputs": ["y0", "y1", *(f"m{i}" for i in range(len(units)))]})
    layers.append(conv_call(model, c2, name="cv2"))
    return {"layers": layers}


def c2f(model, row, c1s, srcs):
    _c1, c2_, rest = base(model, row, c1s)
    shortcut, g, e = (arg(rest, i, v) for i, v in enumerate((False, 1, 0.5)))
    c = int(c2_ * e)
    unit = {"block": "Bottleneck", **bottleneck_args(model, c, c, shortcut, g, [3, 3], 1.0)}
    return split_concat(model, c, c2_, [unit] * row.n), c2_


def c2fcib(model, row, c1s, srcs):
    """C2fCIB (YOLOv10): C2f whose units are CIB(c, c, shortcut, e=1.0, lk)."""
    _c1, c2_, rest = base(model, row, c1s)
    shortcut, lk, _g, e = (arg(rest, i, v) for i, v in enumerate((False, False, 1, 0.5)))  # CIB takes no g
    model.legacy = False
    c = int(c2_ * e)
    unit = {"block": "CIB", "c1": c, "c2": c, "c_": c, "lk": bool(lk), "add": bool(shortcut),
            "act": model.act}
    return split_concat(model, c, c2_, [unit] * row.n), c2_


def ghostconv(model, row, c1s, srcs):
    _c1, c2_, rest = base(model, row, c1s)
    k, s, g, a = (arg(rest, i, v) for i, v in enumerate((1, 1, 1, True)))
    layer = act_of(model, a)
    return repeated({"block": "GhostConv", "c2": c2_, "k": k, "s": s, "g": g,
                     "cv": "Conv" if layer else "ConvBN", "act": layer or "silu"}, row.n), c2_


def c3ghost(model, row, c1s, srcs):
    _c1, c2_, rest = base(model, row, c1s)
    e = arg(rest, 2, 0.5)
    return {"block": "C3Ghost", "c2": c2_, "c_": int(c2_ * e), "n": row.n,
            "act": model.act}, c2_


def elan(model, row, c1s, srcs, rep=True):
    """RepNCSPELAN4(c2, c3, c4, n) and ELAN1(c2, c3, c4) (YOLOv9; c3 and c4 not scaled)."""
    _c1, c2_, rest = base(model, row, c1s)
    c3_, c4_ = whole(rest[0], "c3"), whole(rest[1], "c4")
    n = arg(rest, 2, 1) if rep else 1
    return repeated({"block": "RepNCSPELAN4", "c2": c2_, "c3": c3_, "c4": c4_, "n": n,
                     "rep": rep, "act": model.act}, row.n), c2_


def elan1(model, row, c1s, srcs):
    return elan(model, row, c1s, srcs, rep=False)


def adown(model, row, c1s, srcs):
    c1, c2_, _rest = base(model, row, c1s)
    return repeated({"block": "ADown", "c1": c1, "c2": c2_, "act": model.act}, row.n), c2_


def aconv(model, row, c1s, srcs):
    _c1, c2_, _rest = base(model, row, c1s)
    return repeated({"block": "AConv", "c2": c2_, "act": model.act}, row.n), c2_


def sppelan(model, row, c1s, srcs):
    _c1, c2_, rest = base(model, row, c1s)
    return repeated({"block": "SPPELAN", "c2": c2_, "c3": whole(rest[0], "c3"),
                     "k": arg(rest, 1, 5), "act": model.act}, row.n), c2_


def cblinear(model, row, c1s, srcs):
    """CBLinear(c1, c2s, k, s, p, g): one conv (with bias) to sum(c2s), split by CBFuse."""
    c2s = [whole(c, "c2s") for c in row.args[0]]
    k, s, p, g = (arg(row.args, i, v) for i, v in enumerate((1, 1, None, 1), start=1))
    return {"type": "conv", "filters": sum(c2s), "kernel": k, "stride": s, "padding": pad(k, p),
            "groups": g}, c2s


def cbfuse(model, row, c1s, srcs):
    """CBFuse(idx): the idx-th part of each CBLinear, resized (nearest) to the last input, summed."""
    idx = row.args[0]
    if not row.many or len(idx) != len(srcs) - 1:
        raise Unsupported("CBFuse reads one CBLinear per index, then its target")
    layers = []
    for i, (parts, src, j) in enumerate(zip(c1s, srcs, idx)):
        if not isinstance(parts, list):
            raise Unsupported("CBFuse reads CBLinear rows")
        start = sum(parts[:j])
        layers += [{"name": f"part{i}", "type": "slice", "channels": [start, start + parts[j]],
                    "inputs": [src]},
                   {"name": f"up{i}", "type": "upsample", "mode": "nearest",
                    "inputs": [f"part{i}", srcs[-1]]}]
    layers.append({"name": "sum", "type": "add",
                   "inputs": [*(f"up{i}" for i in range(len(idx))), srcs[-1]]})
    return {"layers": layers}, c1s[-1]


def resnet_layer(model, row, c1s, srcs):
    """ResNetLayer(c1, c2, s, is_first, n, e=4): a 7x7/2 Conv and max pool, or n ResNetBlocks
    (relu(cv3(cv2(cv1(x))) + shortcut(x)), a ConvBN shortcut when the shape changes)."""
    c1, c2_, s, first, n, e = (arg(row.args, i, v) for i, v in
                               enumerate((None, None, 1, False, 1, 4)))
    c1, c2_ = whole(c1, "c1"), whole(c2_, "c2")
    if first:
        return {"layers": [conv_call(model, c2_, 7, 2, 3, name="conv"),
                           {"name": "pool", "type": "pool", "mode": "max", "kernel": 3,
                            "stride": 2, "padding": 1}]}, c2_
    c3_, layers = e * c2_, []
    if whole(n, "n") > 10_000:
        raise Unsupported(f"{n} blocks: at most 10,000")
    for b in range(n):
        cin, stride = (c1, s) if b == 0 else (c3_, 1)
        body = [conv_call(model, c2_, name="cv1"), conv_call(model, c2_, 3, stride, 1, name="cv2"),
                conv_call(model, c3_, act=False, name="cv3")]
        shortcut = [conv_call(model, c3_, 1, stride, act=False, name="sc")] \
            if stride != 1 or cin != c3_ else []
        layers.append({"name": f"b{b}", "layers": [
            {"name": "res", "residual": {"body": body, "shortcut": shortcut}}, "relu"]})
    return {"layers": layers}, c3_


def identity(model, row, c1s, srcs):
    """nn.Identity: no layer; the row's name stands for what it reads."""
    return None, c1s[0]


def spp(model, row, c1s, srcs):
    c1, c2_, rest = base(model, row, c1s)
    ks = list(arg(rest, 0, (5, 9, 13)))
    if len(ks) != 3:
        raise Unsupported(f"cnncalc writes SPP with three pools (received {show(ks)})")
    return repeated({"block": "SPP", "c2": c2_, "c_": c1 // 2, "k1": ks[0], "k2": ks[1],
                     "k3": ks[2], "act": model.act}, row.n), c2_


def sppf(model, row, c1s, srcs):
    """SPPF: the block for its usual form; n pools or a shortcut (YOLO26) as a group."""
    c1, c2_, rest = base(model, row, c1s)
    k, n, shortcut = (arg(rest, i, v) for i, v in enumerate((5, 3, False)))
    legacy = len(row.args) <= 2  # parse_model: rows of [c2, k] keep cv1's activation
    if n == 3 and not shortcut:
        return repeated({"block": "SPPF", "c2": c2_, "c_": c1 // 2, "k": k,
                         "cv1": "Conv" if legacy else "ConvBN", "act": model.act}, row.n), c2_
    if row.n > 1:
        raise Unsupported("a repeated SPPF with a shortcut or other than three pools")
    pool = {"type": "pool", "mode": "max", "kernel": k, "stride": 1, "padding": k // 2}
    layers = [conv_call(model, c1 // 2, act=legacy, name="cv1")]
    layers += [{"name": f"m{i}", **pool} for i in range(whole(n, "n"))]
    layers += [{"name": "cat", "type": "concat", "inputs": ["cv1", *(f"m{i}" for i in range(n))]},
               conv_call(model, c2_, name="cv2")]
    if shortcut and c1 == c2_:  # y + x
        layers.append({"name": "add", "type": "add", "inputs": [srcs[0], "cv2"]})
    return {"layers": layers}, c2_


def scdown(model, row, c1s, srcs):
    _c1, c2_, rest = base(model, row, c1s)
    k, s = rest[0], rest[1]
    return repeated({"block": "SCDown", "c2": c2_, "k": k, "s": s, "act": model.act}, row.n), c2_


def concat(model, row, c1s, srcs):
    if arg(row.args, 0, 1) != 1:
        raise Unsupported("cnncalc concatenates along the channels (dimension 1) only")
    if len(srcs) < 2:
        raise Unsupported("Concat reads two or more rows")
    return {"type": "concat", "inputs": srcs}, sum(c1s)


def upsample(model, row, c1s, srcs):
    size, scale, mode = (arg(row.args, i, v) for i, v in enumerate((None, None, "nearest")))
    if size is not None or scale is None:
        raise Unsupported("cnncalc writes nn.Upsample with a scale_factor, not a size")
    if mode not in ("nearest", "bilinear"):
        raise Unsupported(f"mode {show(mode)}: cnncalc has nearest and bilinear")
    return repeated({"type": "upsample", "scale": scale, "mode": mode}, row.n), c1s[0]


def maxpool(model, row, c1s, srcs):
    k = row.args[0]
    s, p = arg(row.args, 1, k), arg(row.args, 2, 0)
    return repeated({"type": "pool", "mode": "max", "kernel": k, "stride": s, "padding": p},
                    row.n), c1s[0]


def zeropad(model, row, c1s, srcs):
    p = row.args[0]
    left, right, top, bottom = [p] * 4 if isinstance(p, int) else p  # torch's order
    return repeated({"type": "zeropad", "padding": [top, bottom, left, right]}, row.n), c1s[0]


MODULES = {
    "Conv": conv, "DWConv": dwconv, "Bottleneck": bottleneck, "C3": c3, "C3x": c3x, "C2": c2,
    "C2f": c2f, "C2fCIB": c2fcib, "SPP": spp, "SPPF": sppf, "SCDown": scdown, "Concat": concat,
    "nn.Upsample": upsample, "nn.MaxPool2d": maxpool, "nn.ZeroPad2d": zeropad,
    "nn.ConvTranspose2d": conv_transpose,
    "GhostConv": ghostconv, "C3Ghost": c3ghost, "RepNCSPELAN4": elan, "ELAN1": elan1,
    "ADown": adown, "AConv": aconv, "SPPELAN": sppelan, "CBLinear": cblinear, "CBFuse": cbfuse,
    "nn.Identity": identity, "ResNetLayer": resnet_layer,
}
