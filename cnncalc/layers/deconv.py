"""Transposed convolution and the locally-connected layer: conv's relatives."""

from __future__ import annotations

from math import prod

from ..conventions import ACTIVATION_FLOPS
from ..declare import Bool, Choice, Int, Padding, Pair, frozen, setting
from ..errors import SettingError
from .activation import ACTIVATIONS
from .base import check_groups, Counts, Layer, axes_text, kernel_text, padding_suffix, register
from .geometry import Field, Window, exact, window
from .shape import Shape


@register
@frozen
class Deconv(Layer):
    type_name = "deconv"
    summary = ("transposed convolution (PyTorch ConvTranspose2d): out = (H-1)S - 2P + D(F-1) "
               "+ output_padding + 1")
    example = "- {type: deconv, filters: 64, kernel: 2, stride: 2}"

    filters: int = setting(Int(), "number of output channels K")
    kernel: tuple = setting(Pair(), "filter size F, or [height, width]")
    stride: tuple = setting(Pair(), "upsampling step S, or [height, width]", (1, 1))
    padding: tuple = setting(Pair(min=0), "P rows/columns removed from each border", (0, 0))
    output_padding: tuple = setting(Pair(min=0), "extra rows/columns added at the bottom/right",
                                    (0, 0))
    dilation: tuple = setting(Pair(), "spacing of kernel taps; 1 = contiguous", (1, 1))
    groups: int = setting(Int(), "split channels into groups", 1)
    bias: bool = setting(Bool(), "one bias per output channel", True)
    activation: str | None = setting(Choice(ACTIVATIONS), "activation fused into this row", None)

    def validate(self):
        for axis in (0, 1):
            if self.output_padding[axis] >= max(self.stride[axis], self.dilation[axis]):
                raise SettingError(
                    "output_padding must be smaller than the stride or the dilation (PyTorch)",
                    key="output_padding", received=axes_text(self.output_padding))
        if self.filters % self.groups:
            raise SettingError(f"groups ({self.groups}) must divide filters ({self.filters})",
                               key="groups", inconsistent=True)

    def shape(self, x: Shape) -> Shape:
        check_groups(self.groups, x.c, 'the input channels')
        if x.rank != len(self.kernel):
            raise SettingError(f"the kernel has {len(self.kernel)} axes but the input {x} has "
                               f"{x.rank} spatial axes", key="kernel", inconsistent=True)
        size = tuple((n - 1) * s - 2 * p + d * (k - 1) + op + 1  # PyTorch's ConvTranspose rule
                     for n, s, p, d, k, op in zip(x.spatial, self.stride, self.padding,
                                                  self.dilation, self.kernel, self.output_padding))
        if min(size) < 1:
            raise SettingError(f"the output would be {'x'.join(map(str, size))}: padding too "
                               "large", key="padding", inconsistent=True)
        return Shape(size, self.filters)

    def counts(self, x: Shape, y: Shape) -> Counts:
        weights = x.c * (self.filters // self.groups) * prod(self.kernel)
        biases = self.filters if self.bias else 0
        macs = x.positions * weights  # every input value meets every weight of its group once
        act = ACTIVATION_FLOPS * y.size if self.activation else 0
        return Counts(params=weights + biases,
                      connections=macs + y.positions * biases,  # one link per product, + bias
                      macs=macs, flops=2 * macs + y.positions * biases + act)

    def describe(self) -> str:
        text = f"{kernel_text(self.kernel)}/{axes_text(self.stride)}"
        if any(self.padding):
            text += f" p{axes_text(self.padding)}"
        if any(self.output_padding):
            text += f" op{axes_text(self.output_padding)}"
        if any(d != 1 for d in self.dilation):
            text += f" d{axes_text(self.dilation)}"
        return text + (f" g{self.groups}" if self.groups != 1 else "")

    def explain_counts(self, inputs, out, t):
        x = inputs[0]
        taps = kernel_text(self.kernel)
        group = f"{x.c} x {self.filters}" if self.groups == 1 else \
            f"{x.c} x ({self.filters}/{self.groups})"
        size = ", ".join(f"({n} - 1) x {s} - 2 x {p} + {d} x ({k} - 1) + {op} + 1 = {o}"
                         for n, s, p, d, k, op, o in zip(x.spatial, self.stride, self.padding,
                                                         self.dilation, self.kernel,
                                                         self.output_padding, out.spatial))
        params = f"{taps} x {group}" + (f" + {self.filters}" if self.bias else "")
        return [f"output size per axis: (H - 1) S - 2P + D(F - 1) + output_padding + 1: {size}",
                f"params: {params} = {t.params:,}",
                f"MACs: {x.spatial_text()} inputs x {taps} x {group} = {t.macs:,} (every input "
                "meets every weight of its group once)",
                f"FLOPs: 2 x {t.macs:,} + {t.flops - 2 * t.macs:,} = {t.flops:,}"]

    def scratch(self, inputs, out) -> tuple[int, int]:
        """The input dilated by the stride, padded by the dilated kernel less one, its column
        matrix C x kernel x (full output), and the full output before cropping."""
        x = inputs[0]
        dilated = [(n - 1) * s + 1 for n, s in zip(x.spatial, self.stride)]
        effective = [d * (k - 1) + 1 for d, k in zip(self.dilation, self.kernel)]
        padded = [n + 2 * (e - 1) + op for n, e, op in zip(dilated, effective,
                                                         self.output_padding)]
        full = [n - e + 1 for n, e in zip(padded, effective)]
        return (x.c * (prod(dilated) + prod(padded) + prod(self.kernel) * prod(full))
                + out.c * prod(full)), 0

    def receptive(self, fields, inputs, out) -> Field:
        """The adjoint of a conv: input unit i sits at output i S - P + (k-1)/2."""
        f = fields[0]
        size, jump, start = [], [], []
        for r, j, s, k, st, d, p in zip(f.size, f.jump, f.start, self.kernel, self.stride,
                                         self.dilation, self.padding):
            k_eff = d * (k - 1) + 1
            taps = -(-k_eff // st)  # inputs one output reads, at most
            size.append(r + (taps - 1) * j)
            jump.append(exact(j, st))
            start.append(s + exact((2 * p - k_eff + 1) * jump[-1], 2))
        return Field(tuple(size), tuple(jump), tuple(start))

    def weight_shapes(self, x: Shape) -> dict:
        shapes = {"weight": (x.c, self.filters // self.groups, *self.kernel)}  # PyTorch's
        if self.bias:
            shapes["bias"] = (self.filters,)
        return shapes

    def pre(self, x, w):
        from ..compute.kernels import conv_transpose
        z = conv_transpose(x, w["weight"], self.stride, self.padding, self.output_padding,
                           self.dilation, self.groups)
        return z + w["bias"][None, :, None, None] if self.bias else z

    def forward(self, xs, w):
        return self.fused(self.pre(xs[0], w))

    def backward(self, xs, w, y, dy):
        import numpy as np

        from ..compute.kernels import conv2d, pad4, windows
        x = xs[0]
        dz = self.fused_grad(self.pre(x, w), y, dy) if self.activation else dy
        ph, pw = self.padding
        # the adjoint of a transposed conv is a conv with the same weight, stride and padding
        dx = conv2d(dz, w["weight"], None, self.stride, (ph, ph, pw, pw), self.dilation,
                    self.groups)[:, :, :x.shape[2], :x.shape[3]]
        win = windows(pad4(dz, ph, ph, pw, pw), self.kernel, self.stride, self.dilation,
                      x.shape[2:])  # N, Cout, H, W, kh, kw
        c_group, o_group = x.shape[1] // self.groups, self.filters // self.groups
        dw = np.empty(w["weight"].shape, dtype=x.dtype)
        for g in range(self.groups):
            dw[g * c_group:(g + 1) * c_group] = np.einsum(
                "nihw,nohwab->ioab", x[:, g * c_group:(g + 1) * c_group],
                win[:, g * o_group:(g + 1) * o_group], optimize=True)
        grads = {"weight": dw}
        if self.bias:
            grads["bias"] = dz.sum(axis=(0, 2, 3))
        return [dx], grads


    # --- PyTorch export ---
    def torch_code(self, inputs, out):
        from .torch_code import TorchCode, dims, ints, keyword_args
        x = inputs[0]
        ones, zeros = (1,) * x.rank, (0,) * x.rank
        options = keyword_args(
            stride=ints(self.stride) if self.stride != ones else None,
            padding=ints(self.padding) if self.padding != zeros else None,
            output_padding=ints(self.output_padding) if self.output_padding != zeros else None,
            groups=self.groups if self.groups != 1 else None,
            bias=None if self.bias else False,
            dilation=ints(self.dilation) if self.dilation != ones else None)
        return TorchCode(self.torch_fused("{m}({0})"),
                         f"nn.ConvTranspose{dims(x.rank, 'a transposed convolution')}({x.c}, "
                         f"{self.filters}, {ints(self.kernel)}{options})")


@register
@frozen
class Local(Layer):
    type_name = "local"
    summary = "locally-connected: a conv whose weights are not shared between positions"
    example = "- {type: local, filters: 96, kernel: 11, stride: 4}"

    filters: int = setting(Int(), "number of output maps K")
    kernel: tuple = setting(Pair(), "window size F, or [height, width]")
    stride: tuple = setting(Pair(), "step S between windows", (1, 1))
    padding: object = setting(Padding(), "zeros added at the borders", ((0, 0), (0, 0)))
    bias: bool = setting(Bool(), "one bias per output unit", True)
    activation: str | None = setting(Choice(ACTIVATIONS), "activation fused into this row", None)

    def window(self, x: Shape) -> Window:
        return window(x, self.kernel, self.stride, self.padding)

    def shape(self, x: Shape) -> Shape:
        return self.window(x).output(self.filters)

    def counts(self, x: Shape, y: Shape) -> Counts:
        fan_in = x.c * self.window(x).taps  # weights of one output unit
        weights = y.size * fan_in  # every output unit has its own
        biases = y.size if self.bias else 0  # and its own bias
        act = ACTIVATION_FLOPS * y.size if self.activation else 0
        return Counts(params=weights + biases, connections=weights + biases, macs=weights,
                      flops=2 * weights + biases + act)

    def describe(self) -> str:
        return f"{kernel_text(self.kernel)}/{axes_text(self.stride)}" + padding_suffix(self.padding)

    def workspace(self, inputs, out) -> int:
        return inputs[0].c * self.window(inputs[0]).taps * out.positions  # the unrolled windows

    def explain_counts(self, inputs, out, t):
        fan = f"{kernel_text(self.kernel)}x{inputs[0].c}"
        bias = " + 1" if self.bias else ""
        return [f"params: ({fan}{bias}) x {out} outputs (no sharing: one set per position) "
                f"= {t.params:,}",
                f"connections: {t.connections:,} (every weight and bias is one link)",
                f"MACs: {out} outputs x {fan} = {t.macs:,}",
                f"FLOPs: 2 x {t.macs:,} + {t.flops - 2 * t.macs:,} = {t.flops:,}"]

    def filter_kernel(self):
        return self.kernel

    def weight_shapes(self, x: Shape) -> dict:
        y = self.shape(x)
        shapes = {"weight": (*y.spatial, self.filters, x.c, *self.kernel)}  # one per position
        if self.bias:
            shapes["bias"] = (self.filters, *y.spatial)
        return shapes

    def fan_in(self, key, shape):
        return prod(shape[3:]) if key == "weight" else None  # C x kh x kw of one unit

    def columns(self, x):
        from ..compute.kernels import pad4, starts, windows
        pads = self.window(Shape(tuple(x.shape[2:]), x.shape[1])).flat_pads
        xp = pad4(x, *pads)
        out = (starts(xp.shape[2], self.kernel[0], self.stride[0]),
               starts(xp.shape[3], self.kernel[1], self.stride[1]))
        win = windows(xp, self.kernel, self.stride, (1, 1), out)  # N, C, OH, OW, kh, kw
        return win.transpose(0, 2, 3, 1, 4, 5).reshape(x.shape[0], *out, -1), pads, xp.shape

    def pre(self, x, w):
        import numpy as np
        cols, _, _ = self.columns(x)
        weight = w["weight"].reshape(*w["weight"].shape[:3], -1)
        z = np.einsum("nijc,ijkc->nkij", cols, weight, optimize=True)
        return z + w["bias"][None] if self.bias else z

    def forward(self, xs, w):
        return self.fused(self.pre(xs[0], w))

    def backward(self, xs, w, y, dy):
        import numpy as np
        x = xs[0]
        dz = self.fused_grad(self.pre(x, w), y, dy) if self.activation else dy
        cols, pads, padded = self.columns(x)
        weight = w["weight"].reshape(*w["weight"].shape[:3], -1)
        grads = {"weight": np.einsum("nkij,nijc->ijkc", dz, cols,
                                     optimize=True).reshape(w["weight"].shape)}
        if self.bias:
            grads["bias"] = dz.sum(axis=0)
        dcols = np.einsum("nkij,ijkc->nijc", dz, weight, optimize=True)
        dcols = dcols.reshape(*dcols.shape[:3], x.shape[1], *self.kernel)
        grad = np.zeros(padded, dtype=x.dtype)
        oh, ow = dz.shape[2:]
        for a in range(self.kernel[0]):  # col2im: a loop over kernel taps only
            for b in range(self.kernel[1]):
                grad[:, :, a:a + (oh - 1) * self.stride[0] + 1:self.stride[0],
                     b:b + (ow - 1) * self.stride[1] + 1:self.stride[1]] += \
                    dcols[..., a, b].transpose(0, 3, 1, 2)
        top, _, left, _ = pads
        return [grad[:, :, top:top + x.shape[2], left:left + x.shape[3]]], grads

    # --- PyTorch export ---
    def torch_code(self, inputs, out):
        from .torch_code import TorchCode, padded
        x = inputs[0]
        pads = self.window(x).pads
        module = (f"Local({x.c}, {self.filters}, {tuple(self.kernel)}, {tuple(self.stride)}, "
                  f"{tuple(out.spatial)}" + ("" if self.bias else ", bias=False") + ")")
        return TorchCode(self.torch_fused("{m}(" + padded(pads) + ")"), module,
                         (("Local", LOCAL),))


LOCAL = '''
class Local(nn.Module):
    """A locally-connected layer: a convolution whose weights are not shared, one filter
    bank per output position. weight [*out, filters, in, *kernel], bias [filters, *out]."""

    def __init__(self, in_channels, filters, kernel_size, stride, out_size, bias=True):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride
        self.weight = nn.Parameter(torch.empty(*out_size, filters, in_channels, *kernel_size))
        fan_in = self.weight[(0,) * (len(out_size) + 1)].numel()  # in x kernel of one unit
        nn.init.normal_(self.weight, std=(2 / fan_in) ** 0.5)
        self.bias = nn.Parameter(torch.zeros(filters, *out_size)) if bias else None

    def forward(self, x):
        for axis, (k, s) in enumerate(zip(self.kernel_size, self.stride)):
            x = x.unfold(2 + axis, k, s)  # windows: [N, C, *out, *kernel]
        rank = len(self.kernel_size)
        out, taps = "hwd"[:rank], "ijk"[:rank]
        y = torch.einsum(f"nc{out}{taps},{out}oc{taps}->no{out}", x, self.weight)
        return y if self.bias is None else y + self.bias
'''
