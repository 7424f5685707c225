"""Layers that change height and width without weights: upsample, zeropad, crop."""

from __future__ import annotations

from ..declare import Axes, Choice, Padding, frozen, setting
from ..errors import SettingError
from .base import Backward, Counts, Layer, axes_text, padding_text, register
from .geometry import Field, exact
from .shape import Shape
from .stepmem import Op

def linear_flops(rank: int) -> int:
    """Per output value of (bi/tri)linear interpolation: a weighted sum of the 2^rank
    neighbours, 2^rank multiplies and 2^rank - 1 adds (7 in 2-D)."""
    return 2 ** (rank + 1) - 1


@register
@frozen
class Upsample(Layer):
    type_name = "upsample"
    also_called = ("upsampling1d", "upsampling2d", "upsampling3d", "interpolate", "resize",
                   "upsamplingnearest2d", "upsamplingbilinear2d")
    summary = ("repeat (nearest) or interpolate (bilinear; linear in 1-D, trilinear in 3-D) by "
               "an integer scale, or, with a second input, to that layer's height and width "
               "(DeepLab's pooling branch)")
    example = "- {type: upsample, scale: 2, mode: nearest}"
    arity = (1, 2)
    gradient_inputs = 1  # a second input gives only the size
    axis_settings = ("scale",)

    scale: tuple = setting(Axes(), "factor, or one per axis ([height, width])", 2)
    mode: str = setting(Choice(("nearest", "bilinear")), "how new values are made: nearest, "
                        "or linear along every axis", "nearest")

    def sizes(self, inputs) -> tuple:
        """The output's spatial sizes: the second input's, or the input's times the scale."""
        if len(inputs) == 2:
            if inputs[1].rank != inputs[0].rank:
                raise SettingError(f"cannot resize {inputs[0]} to the size of {inputs[1]}: "
                                   "the ranks differ", key="inputs", inconsistent=True)
            return inputs[1].spatial
        return tuple(n * s for n, s in zip(inputs[0].spatial, self.at(inputs[0].rank).scale))

    def infer(self, inputs) -> Shape:
        return Shape(self.sizes(inputs), inputs[0].c)

    def counts(self, x: Shape, y: Shape) -> Counts:
        return Counts(flops=linear_flops(x.rank) * y.size if self.mode == "bilinear" else 0)

    def backward_counts(self, inputs, out, needs_input_grad, needs_weight_grad) -> Backward:
        """Each output's dy goes back to the input(s) it was made from: nearest, one add per
        output value; linear, times each of its 2^rank weights and added: 2^(rank+1)."""
        if not needs_input_grad[0]:
            return Backward()
        per_value = 2 ** (inputs[0].rank + 1) if self.mode == "bilinear" else 1
        return Backward(flops=per_value * out.size)

    def describe(self) -> str:
        return f"x{axes_text(self.scale)} {self.mode}"

    def described(self, inputs) -> str:
        """To another layer's size: the sizes, not a scale it does not use (33x33 -> 520x520)."""
        if len(inputs) == 2:
            return (f"{inputs[0].spatial_text()} -> {inputs[1].spatial_text()} {self.mode}")
        return super().described(inputs)

    def step_ops(self, inputs, out, ctx, in_place=False):
        """upsample saves only sizes; the CPU kernels make an input- and an output-sized
        temporary (measured). A second input gives only a size: no gradient."""
        temps = ctx.values(inputs[0]) + ctx.values(out) if ctx.backend == "cpu" else 0
        return [Op("upsample", output=ctx.values(out), forward_transient=temps,
                   grad_count=1)]

    def receptive(self, fields, inputs, out) -> Field:
        f = fields[0]
        extra = 1 if self.mode == "bilinear" else 0  # bilinear reads two neighbours
        return Field(tuple(r + extra * j for r, j in zip(f.size, f.jump)),
                     tuple(exact(j * n, m) for j, n, m in zip(f.jump, inputs[0].spatial,
                                                            out.spatial)), f.start)

    def scratch(self, inputs, out) -> tuple[int, int]:
        """One dense out x in interpolation matrix per axis (not per sample), and the
        half-interpolated array (at most the output)."""
        return out.size, sum(m * n for n, m in zip(inputs[0].spatial, out.spatial))

    def matrices(self, sizes_in, sizes_out, dtype):
        """One interpolation matrix per axis, y = A_h x A_w^T in 2-D (PyTorch, align_corners=False:
        source = (target + 0.5) x in/out - 0.5 for bilinear, floor(target x in/out) nearest)."""
        import numpy as np

        def along(size, target):
            out = np.zeros((target, size), dtype=dtype)
            rows = np.arange(target)
            if self.mode == "nearest":
                out[rows, np.minimum(rows * size // target, size - 1)] = 1
                return out
            src = np.maximum((rows + 0.5) * size / target - 0.5, 0)
            low = np.minimum(np.floor(src).astype(int), size - 1)
            high = np.minimum(low + 1, size - 1)
            frac = src - low
            np.add.at(out, (rows, low), 1 - frac)
            np.add.at(out, (rows, high), frac)
            return out
        return [along(n, m) for n, m in zip(sizes_in, sizes_out)]

    def targets(self, xs) -> tuple:
        return tuple(xs[1].shape[2:]) if len(xs) == 2 else \
            tuple(n * s for n, s in zip(xs[0].shape[2:], self.at(xs[0].ndim - 2).scale))

    def forward(self, xs, w):
        from ..compute.kernels import along_axes
        return along_axes(xs[0], self.matrices(xs[0].shape[2:], self.targets(xs), xs[0].dtype))

    def backward(self, xs, w, y, dy):
        import numpy as np

        from ..compute.kernels import along_axes
        matrices = self.matrices(xs[0].shape[2:], self.targets(xs), dy.dtype)
        return [along_axes(dy, matrices, transpose=True),
                *(np.zeros_like(x) for x in xs[1:])], {}

    # --- PyTorch export ---
    def torch_code(self, inputs, out):
        from .torch_code import TorchCode, ints
        mode = "nearest" if self.mode == "nearest" else \
            {1: "linear", 2: "bilinear", 3: "trilinear"}.get(inputs[0].rank, "bilinear")
        corners = "" if mode == "nearest" else ", align_corners=False"
        if len(inputs) == 2:  # to the second input's size
            return TorchCode(f"F.interpolate({{0}}, size={{1}}.shape[2:], mode={mode!r}{corners})")
        return TorchCode("{m}({0})", f"nn.Upsample(scale_factor={ints(self.at(inputs[0].rank).scale)}, "
                                     f"mode={mode!r}{corners})")


@register
@frozen
class ZeroPad(Layer):
    type_name = "zeropad"
    also_called = ("zeropad2d", "zeropadding1d", "zeropadding2d", "zeropadding3d", "constantpad2d",
                   "pad")
    summary = "add zeros at the borders of every spatial axis (rows and columns in 2-D)"
    example = "- {type: zeropad, padding: [1, 2]}"
    pad_settings = ("padding",)

    padding: tuple = setting(Padding(), "P, one per axis ([h, w]), [top, bottom, left, right] "
                             "or a [before, after] pair per axis")

    def validate(self):
        if self.padding == "same":
            raise SettingError("zeropad takes explicit padding, not 'same'", key="padding",
                               received="'same'")

    def shape(self, x: Shape) -> Shape:
        pads = self.at(x.rank).padding
        return Shape(tuple(n + b + a for n, (b, a) in zip(x.spatial, pads)), x.c)

    def describe(self) -> str:
        return padding_text(self.padding)

    def receptive(self, fields, inputs, out) -> Field:
        return fields[0].shifted([-b for b, _ in self.at(inputs[0].rank).padding])

    def flat_pads(self, x) -> tuple:
        return tuple(p for pair in self.at(x.ndim - 2).padding for p in pair)

    def forward(self, xs, w):
        from ..compute.kernels import pad_axes
        return pad_axes(xs[0], *self.flat_pads(xs[0]))

    def backward(self, xs, w, y, dy):
        from ..compute.kernels import inside
        return [dy[inside(xs[0].shape, self.flat_pads(xs[0]))]], {}

    # --- PyTorch export ---
    def torch_code(self, inputs, out):
        from .torch_code import TorchCode, dims
        pads = self.at(inputs[0].rank).padding
        flat = ", ".join(f"{b}, {a}" for b, a in reversed(tuple(pads)))  # last axis first
        return TorchCode("{m}({0})", f"nn.ZeroPad{dims(inputs[0].rank, 'zero padding')}(({flat}))")


@register
@frozen
class Crop(Layer):
    type_name = "crop"
    summary = ("cut borders: `amount` [top, bottom, left, right], a centred `size` [h, w], or, "
               "with two inputs, the first centred to the second's size (U-Net skips)")
    example = "- {type: crop, size: [56, 56]}"
    arity = (1, 2)
    gradient_inputs = 1  # a second input gives only the size
    axis_settings = ("size",)
    pad_settings = ("amount",)

    amount: tuple | None = setting(Padding(), "cells removed: P, one per axis ([h, w]), "
                                   "[top, bottom, left, right] or a [before, after] pair per "
                                   "axis", None)
    size: tuple | None = setting(Axes(), "centred crop to this size per axis ([height, width])",
                                 None)

    def validate(self):
        if self.amount == "same":
            raise SettingError("crop takes an explicit amount", key="amount", received="'same'")
        if self.amount is not None and self.size is not None:
            raise SettingError("crop takes `amount` or `size`, not both", key="size")

    def borders(self, x: Shape, target: tuple | None) -> tuple[tuple[int, int], ...]:
        """(before, after) cut per axis."""
        if target is None and self.amount is not None:
            return self.at(x.rank).amount
        if target is None:
            raise SettingError("crop needs `amount`, `size`, or a second input to match")
        if len(target) != x.rank:
            raise SettingError(f"cannot crop {x} to {'x'.join(map(str, target))}: the ranks "
                               "differ", inconsistent=True)
        cuts = [n - t for n, t in zip(x.spatial, target)]
        if min(cuts) < 0:
            raise SettingError(f"cannot crop {x} to {'x'.join(map(str, target))}: it is smaller",
                               inconsistent=True)
        return tuple((d // 2, d - d // 2) for d in cuts)  # centred; the odd cell after

    def infer(self, inputs):
        if len(inputs) == 2 and (self.amount is not None or self.size is not None):
            raise SettingError("with two inputs, crop matches the second; drop amount/size",
                               key="inputs")
        x = inputs[0]
        target = inputs[1].spatial if len(inputs) == 2 else self.at(x.rank).size
        cuts = self.borders(x, target)
        if any(b + a >= n for (b, a), n in zip(cuts, x.spatial)):
            removed = "x".join(str(b + a) for b, a in cuts)
            raise SettingError(f"cropping {removed} leaves nothing of {x}", key="amount",
                               inconsistent=True)
        return Shape(tuple(n - b - a for (b, a), n in zip(cuts, x.spatial)), x.c)

    def step_ops(self, inputs, out, ctx, in_place=False):
        """A copy of the kept window; a second input gives only a size."""
        return [Op("crop", output=ctx.values(out), grad_count=1)]

    def cost(self, inputs, out):
        return Counts()

    def warnings(self, inputs):
        return []

    def receptive(self, fields, inputs, out) -> Field:
        x = inputs[0]  # a second input only gives the size
        cuts = self.borders(x, inputs[1].spatial if len(inputs) == 2 else self.at(x.rank).size)
        return fields[0].shifted([b for b, _ in cuts])

    def cut(self, xs):
        x = xs[0].shape
        target = tuple(xs[1].shape[2:]) if len(xs) == 2 else self.at(len(x) - 2).size
        return self.borders(Shape(tuple(x[2:]), x[1]), target)

    def forward(self, xs, w):
        cuts = self.cut(xs)
        return xs[0][(slice(None), slice(None), *(slice(b, n - a) for (b, a), n
                                                  in zip(cuts, xs[0].shape[2:])))]

    def backward(self, xs, w, y, dy):
        import numpy as np

        from ..compute.kernels import pad_axes
        grads = [pad_axes(dy, *(p for pair in self.cut(xs) for p in pair))]
        return grads + [np.zeros_like(x) for x in xs[1:]], {}

    def describe(self) -> str:
        if self.amount is not None:
            return padding_text(self.amount)
        return f"to {'x'.join(map(str, self.size))}" if self.size else "to match"

    # --- PyTorch export ---
    def torch_code(self, inputs, out):
        from .torch_code import TorchCode
        x = inputs[0]
        cuts = self.borders(x, inputs[1].spatial if len(inputs) == 2 else self.at(x.rank).size)
        kept = ", ".join(f"{b}:{n - a}" for (b, a), n in zip(cuts, x.spatial))
        return TorchCode(f"{{0}}[:, :, {kept}]")
