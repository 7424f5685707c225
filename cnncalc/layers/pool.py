"""Pooling: a fixed reduction over each window (max, avg, min, L2), and LeNet-5's subsampling."""

from __future__ import annotations

from dataclasses import dataclass

from ..conventions import POOL_FLOPS
from ..declare import Bool, Choice, Padding, Pair, setting
from ..errors import SettingError
from .base import Counts, Layer, kernel_text, padding_text, pair_text, register
from .geometry import Shape, slide2d, tiling_warnings


@register
@dataclass(frozen=True)
class Pool(Layer):
    type_name = "pool"
    summary = "pooling: max, avg, min or L2 norm over each window, per channel; no parameters"
    example = "- {type: pool, mode: max, kernel: 2, stride: 2}"

    mode: str = setting(Choice(("max", "avg", "min", "l2")), "the reduction", "max")
    kernel: tuple | None = setting(Pair(), "window size F, or [height, width]", None)
    stride: tuple | None = setting(Pair(), "step between windows; default: the kernel", None)
    padding: object = setting(Padding(), "padding at the borders (at most half the kernel)",
                              (0, 0, 0, 0))
    ceil_mode: bool = setting(Bool(), "round the output size up (PyTorch's rule)", False)
    global_: bool = setting(Bool(), "the window is the whole input", False, key="global")
    output: tuple | None = setting(Pair(), "adaptive pooling to [height, width] with PyTorch's "
                                   "bins", None)

    def validate(self):
        if self.output is not None:
            if self.kernel is not None or self.stride is not None or self.global_:
                raise SettingError("adaptive pooling (`output`) takes no kernel, stride or "
                                   "global", key="output")
            return
        if self.global_:
            if self.kernel is not None or self.stride is not None:
                raise SettingError("a global pool takes no kernel or stride",
                                   key="kernel" if self.kernel is not None else "stride")
            return
        if self.kernel is None:
            raise SettingError("pool needs 'kernel' (or `global: true`)")
        if self.padding != "same":
            top, bottom, left, right = self.padding
            if max(top, bottom) * 2 > self.kernel[0] or max(left, right) * 2 > self.kernel[1]:
                raise SettingError(
                    f"pool padding must be at most half the kernel ({pair_text(self.kernel)}), "
                    "as in PyTorch", key="padding", received=padding_text(self.padding))

    def window(self, x: Shape):
        """kernel, stride, padding actually used on input x."""
        if self.global_:
            return (x.h, x.w), (1, 1), (0, 0, 0, 0)
        return self.kernel, self.stride or self.kernel, self.padding

    def shape(self, x: Shape) -> Shape:
        if self.output is not None:
            return Shape(self.output[0], self.output[1], x.c)
        kernel, stride, padding = self.window(x)
        rows, cols = slide2d(x, kernel, stride, padding, ceil_mode=self.ceil_mode)
        return Shape(rows.out, cols.out, x.c)

    def counts(self, x: Shape, y: Shape) -> Counts:
        if self.output is not None:
            rows, cols = adaptive_bins(x.h, y.h), adaptive_bins(x.w, y.w)
            taps = sum(rows) * sum(cols)  # inputs read by all windows of one channel
            flops = sum(POOL_FLOPS[self.mode](r * c) for r in rows for c in cols)
            return Counts(connections=x.c * taps, flops=x.c * flops)
        kernel, _, _ = self.window(x)
        taps = kernel[0] * kernel[1]  # inputs in one window
        return Counts(connections=y.size * taps,  # each output reads its window; no bias
                      flops=y.size * POOL_FLOPS[self.mode](taps))

    def describe(self) -> str:
        if self.output is not None:
            return f"{self.mode} adaptive {self.output[0]}x{self.output[1]}"
        if self.global_:
            return f"{self.mode} global"
        kernel, stride, padding = self.window(None)
        text = f"{self.mode} {kernel_text(kernel)}/{pair_text(stride)}"
        if padding != (0, 0, 0, 0):
            text += f" p{padding_text(padding)}"
        return text + (" ceil" if self.ceil_mode else "")

    def advice(self, x: Shape) -> list[str]:
        if self.global_ or self.ceil_mode or self.output is not None:
            return []
        kernel, stride, padding = self.window(x)
        return tiling_warnings(x, kernel, stride, padding)

    def geometry(self, x_shape):
        """kernel, stride, (top, bottom, left, right) on an NCHW array shape."""
        from .geometry import Shape, resolve_padding
        kernel, stride, padding = self.window(Shape(x_shape[2], x_shape[3], x_shape[1]))
        return kernel, stride, resolve_padding(padding, x_shape[2], x_shape[3], kernel, stride)

    def forward(self, xs, w):
        from ..compute.kernels import adaptive_pool, pool2d
        if self.output is not None:
            return adaptive_pool(xs[0], self.mode, self.output)
        return pool2d(xs[0], self.mode, *self.geometry(xs[0].shape), self.ceil_mode)

    def backward(self, xs, w, y, dy):
        from ..compute.kernels import adaptive_pool, pool2d_grad
        if self.output is not None:
            return [adaptive_pool(xs[0], self.mode, self.output, grad=dy, y=y)], {}
        return [pool2d_grad(xs[0], y, dy, self.mode, *self.geometry(xs[0].shape),
                            self.ceil_mode)], {}


def adaptive_bins(size: int, out: int) -> list[int]:
    """PyTorch's adaptive pooling: bin i spans floor(i*size/out) to ceil((i+1)*size/out)."""
    return [-(-(i + 1) * size // out) - (i * size // out) for i in range(out)]


@register
@dataclass(frozen=True)
class Subsample(Layer):
    type_name = "subsample"
    summary = ("LeNet-5's trainable subsampling: window sum x one coefficient + one bias, "
               "per map")
    example = "- {type: subsample, kernel: 2, activation: sigmoid}"

    kernel: tuple = setting(Pair(), "window size, or [height, width]")
    stride: tuple | None = setting(Pair(), "step between windows; default: the kernel", None)
    padding: object = setting(Padding(), "padding at the borders", (0, 0, 0, 0))
    activation: str | None = setting(Choice(("sigmoid", "tanh", "relu")),
                                     "activation fused into this row", None)

    def shape(self, x: Shape) -> Shape:
        rows, cols = slide2d(x, self.kernel, self.stride or self.kernel, self.padding)
        return Shape(rows.out, cols.out, x.c)

    def counts(self, x: Shape, y: Shape) -> Counts:
        taps = self.kernel[0] * self.kernel[1]  # inputs summed per output
        return Counts(
            params=2 * x.c,  # one coefficient and one bias per map
            connections=y.size * (taps + 1),  # window inputs + bias, per output unit
            macs=y.size,  # coefficient x window sum, accumulated onto the bias
            flops=y.size * (taps - 1) + 2 * y.size + (y.size if self.activation else 0),
        )

    def describe(self) -> str:
        text = f"{kernel_text(self.kernel)}/{pair_text(self.stride or self.kernel)}"
        if self.padding != (0, 0, 0, 0):
            text += f" p{padding_text(self.padding)}"
        return text + (f" +{self.activation}" if self.activation else "")

    def advice(self, x: Shape) -> list[str]:
        return tiling_warnings(x, self.kernel, self.stride or self.kernel, self.padding)

    def weight_shapes(self, x: Shape) -> dict:
        return {"weight": (x.c,), "bias": (x.c,)}  # one coefficient and one bias per map

    def pads(self, x_shape) -> tuple:
        from .geometry import resolve_padding
        return resolve_padding(self.padding, x_shape[2], x_shape[3], self.kernel,
                               self.stride or self.kernel)

    def window_sum(self, x):
        from ..compute.kernels import pool2d
        taps = self.kernel[0] * self.kernel[1]
        return pool2d(x, "avg", self.kernel, self.stride or self.kernel, self.pads(x.shape),
                      False) * taps

    def forward(self, xs, w):
        z = self.window_sum(xs[0]) * w["weight"][None, :, None, None] + \
            w["bias"][None, :, None, None]
        return self.fused(z)

    def backward(self, xs, w, y, dy):
        from ..compute.kernels import pool2d_grad
        s = self.window_sum(xs[0])
        z = s * w["weight"][None, :, None, None] + w["bias"][None, :, None, None]
        dz = self.fused_grad(z, y, dy)
        taps = self.kernel[0] * self.kernel[1]
        ds = dz * w["weight"][None, :, None, None] * taps  # the window sum spreads evenly
        dx = pool2d_grad(xs[0], None, ds, "avg", self.kernel, self.stride or self.kernel,
                         self.pads(xs[0].shape), False)
        return [dx], {"weight": (dz * s).sum(axis=(0, 2, 3)), "bias": dz.sum(axis=(0, 2, 3))}
