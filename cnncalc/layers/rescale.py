"""A fixed elementwise affine map: Keras's Rescaling and Normalization, and arithmetic with a
number (MobileNetV3's x + 3, x / 6). Shape unchanged; no trained parameters."""

from __future__ import annotations

from ..declare import Bool, Numbers, frozen, setting
from ..errors import SettingError
from .base import Counts, Layer, register
from .shape import Shape
from .stepmem import Op


@register
@frozen
class Rescale(Layer):
    type_name = "rescale"
    summary = ("x * scale + offset with fixed numbers (per channel if lists), or, with "
               "statistics, (x - mean) / sqrt(variance) from stored per-channel statistics")
    example = "- {type: rescale, scale: 0.00784313725490196, offset: -1}"

    scale: float | tuple = setting(Numbers(), "multiplier, or one per channel", 1.0)
    offset: float | tuple = setting(Numbers(), "added after the multiplier, or one per channel",
                                    0.0)
    statistics: bool = setting(Bool(), "the map is a stored mean and variance per channel and "
                               "a sample count (Keras's adapted Normalization: 2C + 1 "
                               "non-trainable values)", False)
    buffers = ("mean", "variance", "count")

    def validate(self) -> None:
        if self.statistics and (self.scale != 1.0 or self.offset != 0.0):
            raise SettingError("'statistics' takes the place of 'scale' and 'offset'",
                               key="statistics")

    def steps(self) -> int:
        """Elementwise ops run: a multiply and an add (either left out when it is 1 or 0)."""
        if self.statistics:
            return 2  # subtract the mean, divide by the standard deviation
        return (self.scale != 1.0) + (self.offset != 0.0)

    def shape(self, x: Shape) -> Shape:
        for key in ("scale", "offset"):
            value = getattr(self, key)
            if isinstance(value, tuple) and len(value) not in (1, x.c):
                raise SettingError(f"'{key}' has {len(value)} values for {x.c} channels",
                                   key=key, inconsistent=True)
        return x

    def counts(self, x: Shape, y: Shape) -> Counts:
        return Counts(non_trainable=2 * x.c + 1 if self.statistics else 0,  # mean, variance
                      # per channel, and the count of samples they were adapted on
                      flops=self.steps() * y.size)  # one FLOP per op and element

    def describe(self) -> str:
        if self.statistics:
            return "mean/std"
        def text(v):
            return "per channel" if isinstance(v, tuple) else f"{v:g}"
        return " ".join(part for part, kept in ((f"x{text(self.scale)}", self.scale != 1.0),
                                                  (f"+{text(self.offset)}", self.offset != 0.0))
                        if kept)

    def explain_counts(self, inputs, out, t):
        stored = (f"params: 2 x {inputs[0].c} + 1 (mean, variance, count) = "
                  f"{t.non_trainable_params:,} non-trainable") if self.statistics else \
            "params: 0 (the numbers are fixed)"
        return [stored, f"FLOPs: {out.size:,} values x {self.steps()} = {t.flops:,}"]

    def weight_shapes(self, x: Shape) -> dict:
        return {"mean": (x.c,), "variance": (x.c,), "count": (1,)} if self.statistics else {}

    def step_ops(self, inputs, out, ctx, in_place=False):
        """One new tensor per elementwise op; an op with a constant saves no activation."""
        return [Op("rescale", output=ctx.values(out)) for _ in range(max(1, self.steps()))]

    def factors(self, w, ndim):
        import numpy as np

        from ..compute.kernels import channelwise

        def shaped(v):
            return channelwise(np.asarray(v, dtype=np.float64), ndim) \
                if isinstance(v, tuple) else v
        if self.statistics:
            std = np.sqrt(np.maximum(w["variance"], 0.0))
            std = np.maximum(std, 1e-7)  # Keras: maximum(sqrt(variance), epsilon)
            return channelwise(1 / std, ndim), channelwise(-w["mean"] / std, ndim)
        return shaped(self.scale), shaped(self.offset)

    def forward(self, xs, w):
        x = xs[0]
        scale, offset = self.factors(w, x.ndim)
        return (x * scale + offset).astype(x.dtype)

    def backward(self, xs, w, y, dy):
        scale, _ = self.factors(w, dy.ndim)
        return [(dy * scale).astype(dy.dtype)], {}

    # --- PyTorch export ---
    def torch_code(self, inputs, out):
        from .torch_code import TorchCode
        if self.statistics:
            raise SettingError("'rescale' with statistics has no PyTorch export",
                               inconsistent=True)

        def term(v):
            if isinstance(v, tuple):
                return f"torch.tensor({list(v)!r}).view((1, -1) + (1,) * ({{0}}.dim() - 2))"
            return repr(v)
        expression = "{0}"
        if self.scale != 1.0:
            expression = f"{expression} * {term(self.scale)}"
        if self.offset != 0.0:
            expression = f"{expression} + {term(self.offset)}"
        return TorchCode(expression, None, any_shape=True)
