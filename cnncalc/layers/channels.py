"""Layers that move values between channels and positions, or scale channels: channel shuffle,
pixel shuffle and unshuffle (sub-pixel convolution), and a learned per-channel scale."""

from __future__ import annotations

from ..declare import Int, Pair, frozen, setting
from ..errors import SettingError
from .base import check_groups, VIEW, Backward, Counts, Layer, register
from .geometry import Field, exact
from .shape import Shape
from .stepmem import VIEW_OP, Op


@register
@frozen
class ChannelShuffle(Layer):
    type_name = "channel_shuffle"
    summary = "interleave the channels of `groups` groups (ShuffleNet); no parameters"
    example = "- {type: channel_shuffle, groups: 2}"

    groups: int = setting(Int(), "number of channel groups", 2)

    def shape(self, x: Shape) -> Shape:
        check_groups(self.groups, x.c)
        return x  # a permutation of the channels: no arithmetic, no connections

    def describe(self) -> str:
        return f"g{self.groups}"

    def forward(self, xs, w):
        x = xs[0]
        n, c = x.shape[:2]
        rest = x.shape[2:]
        return x.reshape(n, self.groups, c // self.groups, *rest).swapaxes(1, 2).reshape(x.shape)

    def backward(self, xs, w, y, dy):
        n, c = dy.shape[:2]
        rest = dy.shape[2:]
        return [dy.reshape(n, c // self.groups, self.groups, *rest).swapaxes(1, 2)
                .reshape(dy.shape)], {}

    # --- PyTorch export ---
    def torch_code(self, inputs, out):
        from .torch_code import TorchCode
        # as torchvision's ShuffleNetV2 writes it (nn.ChannelShuffle does not export to ONNX)
        return TorchCode(f"{{0}}.unflatten(1, ({self.groups}, -1)).transpose(1, 2).flatten(1, 2)")


@register
@frozen
class PixelShuffle(Layer):
    type_name = "pixel_shuffle"
    summary = "C x r^2 channels of HxW -> C channels of rH x rW (sub-pixel convolution)"
    example = "- {type: pixel_shuffle, factor: 2}"

    factor: int = setting(Int(), "upscale factor r")

    def shape(self, x: Shape) -> Shape:
        area = self.factor ** x.rank  # r^2 in 2-D
        if x.c % area:
            raise SettingError(f"the channels ({x.c}) must divide by factor^{x.rank} ({area})",
                               key="factor", inconsistent=True)
        return Shape(tuple(n * self.factor for n in x.spatial), x.c // area)

    def describe(self) -> str:
        return f"x{self.factor}"

    def receptive(self, fields, inputs, out) -> Field:
        f = fields[0]  # r output cells come from one input cell
        return Field(f.size, tuple(exact(j, self.factor) for j in f.jump), f.start)

    def forward(self, xs, w):
        x, r = xs[0], self.factor
        n, c, *sides = x.shape
        k = len(sides)  # PyTorch's order in 2-D: channel c r^2 + i r + j -> (h r + i, w r + j)
        order = (0, 1, *(a for i in range(k) for a in (2 + k + i, 2 + i)))
        return x.reshape(n, c // r ** k, *[r] * k, *sides).transpose(order).reshape(
            n, c // r ** k, *(side * r for side in sides))

    def backward(self, xs, w, y, dy):
        return [PixelUnshuffle(self.factor).forward([dy], {})], {}

    # --- PyTorch export ---
    def torch_code(self, inputs, out):
        from .torch_code import TorchCode
        if inputs[0].rank != 2:
            raise SettingError("PyTorch's pixel shuffle is 2-D only", inconsistent=True)
        return TorchCode("{m}({0})", f"nn.PixelShuffle({self.factor})")


@register
@frozen
class PixelUnshuffle(Layer):
    type_name = "pixel_unshuffle"
    summary = "C channels of rH x rW -> C x r^2 channels of HxW (the inverse of pixel_shuffle)"
    example = "- {type: pixel_unshuffle, factor: 2}"

    factor: int = setting(Int(), "downscale factor r")

    def shape(self, x: Shape) -> Shape:
        if any(n % self.factor for n in x.spatial):
            raise SettingError(f"the sides of {x} must divide by the factor ({self.factor})",
                               key="factor", inconsistent=True)
        return Shape(tuple(n // self.factor for n in x.spatial),
                     x.c * self.factor ** x.rank)

    def describe(self) -> str:
        return f"/{self.factor}"

    def receptive(self, fields, inputs, out) -> Field:
        f = fields[0]  # one output cell gathers r x r input cells
        r = self.factor
        return Field(tuple(s + (r - 1) * j for s, j in zip(f.size, f.jump)),
                     tuple(j * r for j in f.jump),
                     tuple(s + exact((r - 1) * j, 2) for s, j in zip(f.start, f.jump)))

    def forward(self, xs, w):
        x, r = xs[0], self.factor
        n, c, *sides = x.shape
        k = len(sides)
        order = (0, 1, *range(3, 2 + 2 * k, 2), *range(2, 2 + 2 * k, 2))
        split = [a for side in sides for a in (side // r, r)]
        return x.reshape(n, c, *split).transpose(order).reshape(
            n, c * r ** k, *(side // r for side in sides))

    def backward(self, xs, w, y, dy):
        return [PixelShuffle(self.factor).forward([dy], {})], {}

    # --- PyTorch export ---
    def torch_code(self, inputs, out):
        from .torch_code import TorchCode
        if inputs[0].rank != 2:
            raise SettingError("PyTorch's pixel unshuffle is 2-D only", inconsistent=True)
        return TorchCode("{m}({0})", f"nn.PixelUnshuffle({self.factor})")


@register
@frozen
class Scale(Layer):
    type_name = "scale"
    summary = "a learned multiplier per channel (ConvNeXt's layer scale): C params, no MACs"
    example = "- scale"

    def counts(self, x: Shape, y: Shape) -> Counts:
        return Counts(params=x.c,  # one multiplier per channel
                      flops=y.size)  # one multiply per value

    def backward_counts(self, inputs, out, needs_input_grad, needs_weight_grad) -> Backward:
        return Backward(flops=(out.size if needs_input_grad[0] else 0)  # dx = dy x gamma
                        + (2 * out.size if needs_weight_grad else 0))  # dgamma: sum of dy x x

    def weight_shapes(self, x: Shape) -> dict:
        return {"weight": (x.c,)}

    def step_ops(self, inputs, out, ctx, in_place=False):
        """x * gamma: mul saves both factors (derivatives.yaml); its backward reduces the
        weight gradient from an input-sized product."""
        return [Op("mul", output=ctx.values(out), saves_input=True,
                   backward_transient=ctx.values(out))]

    def forward(self, xs, w):
        return xs[0] * w["weight"].reshape(1, -1, *([1] * (xs[0].ndim - 2)))

    def backward(self, xs, w, y, dy):
        gamma = w["weight"].reshape(1, -1, *([1] * (dy.ndim - 2)))
        axes = (0, *range(2, dy.ndim))
        return [dy * gamma], {"weight": (dy * xs[0]).sum(axis=axes)}

    # --- PyTorch export ---
    def torch_code(self, inputs, out):
        from .torch_code import TorchCode
        return TorchCode("{m}({0})", f"Scale({inputs[0].c})", (("Scale", SCALE),))


SCALE = '''
class Scale(nn.Module):
    """A learned multiplier per channel (ConvNeXt's layer scale). weight [C]."""

    def __init__(self, channels):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))

    def forward(self, x):
        return x * self.weight.view((1, -1) + (1,) * (x.dim() - 2))
'''


@register
@frozen
class Slice(Layer):
    type_name = "slice"
    summary = "channels [start, end) of the input, a view (ShuffleNetV2's channel split)"
    example = "- {type: slice, channels: [0, 16]}"
    memory = VIEW

    channels: tuple = setting(Pair(min=0, names=("start", "end")),
                              "[start, end): the channels kept, counted from 0")

    def validate(self):
        if self.channels[0] >= self.channels[1]:
            raise SettingError("slice needs start < end", key="channels",
                               received=list(self.channels))

    def shape(self, x: Shape) -> Shape:
        start, end = self.channels
        if end > x.c:
            raise SettingError(f"channels {start} to {end} lie outside the input's {x.c}",
                               key="channels", inconsistent=True)
        return x.with_channels(end - start)

    def describe(self) -> str:
        return f"[{self.channels[0]}:{self.channels[1]}]"

    def step_ops(self, inputs, out, ctx, in_place=False):
        """A view forward; SliceBackward writes the gradient into a zeroed input-sized one."""
        return [Op("slice", held=VIEW_OP)]

    def forward(self, xs, w):
        return xs[0][:, self.channels[0]:self.channels[1]]

    def backward(self, xs, w, y, dy):
        import numpy as np
        dx = np.zeros_like(xs[0])
        dx[:, self.channels[0]:self.channels[1]] = dy
        return [dx], {}

    # --- PyTorch export ---
    def torch_code(self, inputs, out):
        from .torch_code import TorchCode
        return TorchCode(f"{{0}}[:, {self.channels[0]}:{self.channels[1]}]")
