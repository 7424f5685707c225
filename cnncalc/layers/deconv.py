"""Transposed convolution and the locally-connected layer: conv's relatives."""

from __future__ import annotations

from dataclasses import dataclass

from ..conventions import ACTIVATION_FLOPS
from ..declare import Bool, Choice, Int, Padding, Pair, setting
from ..errors import SettingError
from .activation import ACTIVATIONS
from .base import Counts, Layer, kernel_text, padding_text, pair_text, register
from .geometry import Shape, slide2d, tiling_warnings


@register
@dataclass(frozen=True)
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
                    key="output_padding", received=pair_text(self.output_padding))
        if self.filters % self.groups:
            raise SettingError(f"groups ({self.groups}) must divide filters ({self.filters})",
                               key="groups", inconsistent=True)

    def shape(self, x: Shape) -> Shape:
        if x.c % self.groups:
            raise SettingError(f"groups ({self.groups}) must divide the input channels ({x.c})",
                               key="groups", inconsistent=True)
        size = [(n - 1) * s - 2 * p + d * (k - 1) + op + 1
                for n, s, p, d, k, op in zip((x.h, x.w), self.stride, self.padding,
                                             self.dilation, self.kernel, self.output_padding, strict=False)]
        if min(size) < 1:
            raise SettingError(f"the output would be {size[0]}x{size[1]}: padding too large",
                               key="padding", inconsistent=True)
        return Shape(size[0], size[1], self.filters)

    def counts(self, x: Shape, y: Shape) -> Counts:
        weights = x.c * (self.filters // self.groups) * self.kernel[0] * self.kernel[1]
        biases = self.filters if self.bias else 0
        macs = x.h * x.w * weights  # every input value meets every weight of its group once
        act = ACTIVATION_FLOPS * y.size if self.activation else 0
        return Counts(params=weights + biases,
                      connections=macs + y.h * y.w * biases,  # one link per product, + bias
                      macs=macs, flops=2 * macs + y.h * y.w * biases + act)

    def describe(self) -> str:
        text = f"{kernel_text(self.kernel)}/{pair_text(self.stride)}"
        if self.padding != (0, 0):
            text += f" p{pair_text(self.padding)}"
        if self.output_padding != (0, 0):
            text += f" op{pair_text(self.output_padding)}"
        if self.dilation != (1, 1):
            text += f" d{pair_text(self.dilation)}"
        return text + (f" g{self.groups}" if self.groups != 1 else "")

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


@register
@dataclass(frozen=True)
class Local(Layer):
    type_name = "local"
    summary = "locally-connected: a conv whose weights are not shared between positions"
    example = "- {type: local, filters: 96, kernel: 11, stride: 4}"

    filters: int = setting(Int(), "number of output maps K")
    kernel: tuple = setting(Pair(), "window size F, or [height, width]")
    stride: tuple = setting(Pair(), "step S between windows", (1, 1))
    padding: object = setting(Padding(), "zeros added at the borders", (0, 0, 0, 0))
    bias: bool = setting(Bool(), "one bias per output unit", True)
    activation: str | None = setting(Choice(ACTIVATIONS), "activation fused into this row", None)

    def shape(self, x: Shape) -> Shape:
        rows, cols = slide2d(x, self.kernel, self.stride, self.padding)
        return Shape(rows.out, cols.out, self.filters)

    def counts(self, x: Shape, y: Shape) -> Counts:
        fan_in = x.c * self.kernel[0] * self.kernel[1]  # weights of one output unit
        weights = y.size * fan_in  # every output unit has its own
        biases = y.size if self.bias else 0  # and its own bias
        act = ACTIVATION_FLOPS * y.size if self.activation else 0
        return Counts(params=weights + biases, connections=weights + biases, macs=weights,
                      flops=2 * weights + biases + act)

    def describe(self) -> str:
        text = f"{kernel_text(self.kernel)}/{pair_text(self.stride)}"
        return text + (f" p{padding_text(self.padding)}" if self.padding != (0, 0, 0, 0) else "")

    def advice(self, x: Shape) -> list[str]:
        return tiling_warnings(x, self.kernel, self.stride, self.padding)

    def weight_shapes(self, x: Shape) -> dict:
        y = self.shape(x)
        shapes = {"weight": (y.h, y.w, self.filters, x.c, *self.kernel)}  # one set per position
        if self.bias:
            shapes["bias"] = (self.filters, y.h, y.w)
        return shapes

    def columns(self, x):
        from ..compute.kernels import pad4, starts, windows
        pads = self.padding if self.padding != "same" else (0, 0, 0, 0)
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
