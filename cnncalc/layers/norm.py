"""Normalisation and regularisation layers: shape unchanged."""

from __future__ import annotations

from ..conventions import BATCHNORM_FLOPS, lrn_flops
from ..declare import Int, Number, frozen, setting
from .base import IN_PLACE, Counts, Layer, register
from .shape import Shape


@register
@frozen
class BatchNorm(Layer):
    type_name = "batchnorm"
    summary = "batch normalisation: per channel scale and shift (trained) and running statistics"
    example = "- batchnorm"

    eps: float = setting(Number(0.0, open_min=True), "added to the variance", 1e-5)

    def counts(self, x: Shape, y: Shape) -> Counts:
        return Counts(params=2 * x.c,  # gamma and beta per channel
                      non_trainable=2 * x.c,  # running mean and variance per channel
                      flops=BATCHNORM_FLOPS * y.size)  # scale and shift each element

    def explain_counts(self, inputs, out, t):
        c = inputs[0].c
        return [f"params: 2 x {c} (scale and shift per channel) = {t.trainable_params:,} "
                f"trainable, + 2 x {c} (running mean and variance) = {t.non_trainable_params:,} "
                "non-trainable",
                f"FLOPs: {out.size:,} values x {BATCHNORM_FLOPS} (scale and shift, statistics "
                f"folded) = {t.flops:,}"]

    def weight_shapes(self, x: Shape) -> dict:
        return {name: (x.c,) for name in ("weight", "bias", "running_mean", "running_var")}

    def scale(self, w):
        import numpy as np
        return (w["weight"] / np.sqrt(w["running_var"] + self.eps))[None, :, None, None]

    def forward(self, xs, w):  # inference: the running statistics
        return (xs[0] - w["running_mean"][None, :, None, None]) * self.scale(w) + \
            w["bias"][None, :, None, None]

    def backward(self, xs, w, y, dy):
        import numpy as np
        normal = (xs[0] - w["running_mean"][None, :, None, None]) / \
            np.sqrt(w["running_var"] + self.eps)[None, :, None, None]
        return [dy * self.scale(w)], {"weight": (dy * normal).sum(axis=(0, 2, 3)),
                                      "bias": dy.sum(axis=(0, 2, 3))}


@register
@frozen
class LRN(Layer):
    type_name = "lrn"
    summary = "local response normalisation across `size` neighbouring channels (AlexNet)"
    example = "- {type: lrn, size: 5, alpha: 0.0001, beta: 0.75, k: 2}"

    size: int = setting(Int(), "channels in the normalisation window", 5)
    alpha: float = setting(Number(0.0), "scale", 1e-4)
    beta: float = setting(Number(0.0), "exponent", 0.75)
    k: float = setting(Number(0.0, open_min=True), "additive constant", 2.0)

    def counts(self, x: Shape, y: Shape) -> Counts:
        return Counts(flops=lrn_flops(self.size) * y.size)

    def describe(self) -> str:
        return f"n={self.size}"

    def explain_counts(self, inputs, out, t):
        return ["params: 0 (k, alpha, beta are fixed)",
                f"FLOPs: {out.size:,} values x (2 x {self.size} + 3) ({self.size} squares, "
                f"{self.size - 1} adds, x alpha/n, + k, a power, a divide) = {t.flops:,}"]

    def window_sum(self, a, before: int, after: int):
        """Sum over channels c - before .. c + after of `a`, for every c."""
        import numpy as np
        padded = np.pad(a, ((0, 0), (before, after), (0, 0), (0, 0)))
        total = np.cumsum(padded, axis=1)
        total = np.concatenate([np.zeros_like(total[:, :1]), total], axis=1)
        return total[:, before + after + 1:] - total[:, :-(before + after + 1)]

    def forward(self, xs, w):  # PyTorch's LocalResponseNorm
        x = xs[0]
        d = self.k + self.alpha / self.size * self.window_sum(x * x, self.size // 2,
                                                              (self.size - 1) // 2)
        return (x / d ** self.beta).astype(x.dtype)

    def backward(self, xs, w, y, dy):
        x = xs[0]
        d = self.k + self.alpha / self.size * self.window_sum(x * x, self.size // 2,
                                                              (self.size - 1) // 2)
        t = dy * x * d ** (-self.beta - 1)
        back = self.window_sum(t, (self.size - 1) // 2, self.size // 2)  # the mirrored window
        return [dy * d ** -self.beta - 2 * self.beta * self.alpha / self.size * x * back], {}


@register
@frozen
class Dropout(Layer):
    type_name = "dropout"
    summary = "zero a fraction `rate` of values in training; identity at inference"
    example = "- {type: dropout, rate: 0.5}"
    memory = IN_PLACE  # PyTorch's inplace=True; identity at inference

    rate: float = setting(Number(0.0, 1.0), "fraction of values dropped", 0.5)

    def describe(self) -> str:
        return f"rate {self.rate:g}"

    def forward(self, xs, w):  # inference: the identity
        return xs[0]

    def backward(self, xs, w, y, dy):
        return [dy], {}
