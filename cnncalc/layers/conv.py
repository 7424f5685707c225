"""Convolution: shared weights slid over the input."""

from __future__ import annotations

from dataclasses import dataclass

from ..conventions import ACTIVATION_FLOPS
from ..declare import Bool, Choice, Int, Padding, Pair, Table, setting
from ..errors import SettingError
from .activation import ACTIVATIONS
from .base import Counts, Layer, kernel_text, padding_text, pair_text, register
from .geometry import Shape, slide2d, tiling_warnings


@register
@dataclass(frozen=True)
class Conv(Layer):
    type_name = "conv"
    summary = "2-D convolution: K filters of F x F x (C/groups) slid with stride S over padded input"
    example = "- {type: conv, filters: 64, kernel: 3, padding: 1, activation: relu}"

    filters: int = setting(Int(), "number of filters K (output channels)")
    kernel: tuple = setting(Pair(), "filter size F, or [height, width]")
    stride: tuple = setting(Pair(), "step S between windows, or [height, width]", (1, 1))
    padding: object = setting(Padding(), "zeros added at the borders: P, [h, w], "
                              "[top, bottom, left, right], same or valid", (0, 0, 0, 0))
    dilation: tuple = setting(Pair(), "spacing of kernel taps; 1 = contiguous", (1, 1))
    groups: int = setting(Int(), "split channels into groups convolved separately", 1)
    bias: bool = setting(Bool(), "one bias per filter", True)
    connections: tuple | None = setting(
        Table(), "for each output map, the input maps it reads (LeNet-5's C3)", None)
    activation: str | None = setting(Choice(ACTIVATIONS), "activation fused into this row", None)

    def validate(self):
        if self.filters % self.groups:
            raise SettingError(f"groups ({self.groups}) must divide filters ({self.filters})",
                               key="groups", inconsistent=True)
        if self.connections is not None:
            if self.groups != 1:
                raise SettingError("a connection table cannot be combined with groups",
                                   key="connections")
            if len(self.connections) != self.filters:
                raise SettingError(f"the connection table has {len(self.connections)} rows but "
                                   f"there are {self.filters} filters", key="connections")

    def shape(self, x: Shape) -> Shape:
        if x.c % self.groups:
            raise SettingError(f"groups ({self.groups}) must divide the input channels ({x.c})",
                               key="groups", inconsistent=True)
        if self.connections is not None:
            highest = max(max(row) for row in self.connections)
            if highest >= x.c:
                raise SettingError(f"the connection table reads input map {highest} but the "
                                   f"input has {x.c} maps (0 to {x.c - 1})",
                                   key="connections", inconsistent=True)
        rows, cols = slide2d(x, self.kernel, self.stride, self.padding, self.dilation)
        return Shape(rows.out, cols.out, self.filters)

    def weights(self, x: Shape) -> int:
        taps = self.kernel[0] * self.kernel[1]  # one weight per kernel position...
        if self.connections is not None:
            return taps * sum(len(row) for row in self.connections)  # ...per input map read
        return taps * (x.c // self.groups) * self.filters  # ...per input channel of the group

    def counts(self, x: Shape, y: Shape) -> Counts:
        weights = self.weights(x)  # shared by every output position
        biases = self.filters if self.bias else 0  # one per filter
        positions = y.h * y.w  # where each filter is applied
        macs = positions * weights  # every weight is used once per position
        act = ACTIVATION_FLOPS * y.size if self.activation else 0  # fused activation
        return Counts(
            params=weights + biases,
            connections=positions * (weights + biases),  # inputs read + bias, per output unit
            macs=macs,
            flops=2 * macs + positions * biases + act,  # multiply + add per MAC, bias adds
        )

    def describe(self) -> str:
        text = f"{kernel_text(self.kernel)}/{pair_text(self.stride)}"
        if self.padding != (0, 0, 0, 0):
            text += f" p{padding_text(self.padding)}"
        if self.dilation != (1, 1):
            text += f" d{pair_text(self.dilation)}"
        if self.groups != 1:
            text += f" g{self.groups}"
        if self.connections is not None:
            text += " table"
        if not self.bias:
            text += " nobias"
        if self.activation:
            text += f" +{self.activation}"
        return text

    def advice(self, x: Shape) -> list[str]:
        return tiling_warnings(x, self.kernel, self.stride, self.padding, self.dilation)

    def weight_shapes(self, x: Shape) -> dict:
        cin = x.c if self.connections is not None else x.c // self.groups
        shapes = {"weight": (self.filters, cin, *self.kernel)}
        if self.bias:
            shapes["bias"] = (self.filters,)
        return shapes

    def pads(self, x_shape) -> tuple:
        from .geometry import resolve_padding
        return resolve_padding(self.padding, x_shape[2], x_shape[3], self.kernel, self.stride,
                               self.dilation)

    def mask(self, weight):
        """A connection table as a 0/1 mask over the dense [out, in, kh, kw] weight."""
        if self.connections is None:
            return weight
        import numpy as np
        mask = np.zeros(weight.shape[:2], dtype=weight.dtype)
        for out, row in enumerate(self.connections):
            mask[out, list(row)] = 1
        return weight * mask[:, :, None, None]

    def forward(self, xs, w):
        from ..compute.kernels import conv2d
        z = conv2d(xs[0], self.mask(w["weight"]), w.get("bias"), self.stride,
                   self.pads(xs[0].shape), self.dilation, self.groups)
        return self.fused(z)

    def backward(self, xs, w, y, dy):
        from ..compute.kernels import conv2d, conv_input_grad, conv_weight_grad
        x, weight, pads = xs[0], self.mask(w["weight"]), self.pads(xs[0].shape)
        if self.activation:
            z = conv2d(x, weight, w.get("bias"), self.stride, pads, self.dilation, self.groups)
            dy = self.fused_grad(z, y, dy)
        grads = {"weight": self.mask(conv_weight_grad(x, dy, weight.shape, self.stride, pads,
                                                      self.dilation, self.groups))}
        if self.bias:
            grads["bias"] = dy.sum(axis=(0, 2, 3))  # the notes: the sum of the delta
        dx = conv_input_grad(dy, weight, x.shape, self.stride, pads, self.dilation, self.groups)
        return [dx], grads
