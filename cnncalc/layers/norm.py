"""Normalisation and regularisation layers: shape unchanged."""

from __future__ import annotations

from dataclasses import dataclass

from ..conventions import BATCHNORM_FLOPS, lrn_flops
from ..settings import Int, Number, setting
from ..shapes import Shape
from .base import Counts, Layer, register


@register
@dataclass(frozen=True)
class BatchNorm(Layer):
    type_name = "batchnorm"
    summary = "batch normalisation: per channel scale and shift (trained) and running statistics"
    example = "- batchnorm"

    eps: float = setting(Number(0.0, open_min=True), "added to the variance", 1e-5)

    def counts(self, x: Shape, y: Shape) -> Counts:
        return Counts(params=2 * x.c,  # gamma and beta per channel
                      non_trainable=2 * x.c,  # running mean and variance per channel
                      flops=BATCHNORM_FLOPS * y.size)  # scale and shift each element


@register
@dataclass(frozen=True)
class LRN(Layer):
    type_name = "lrn"
    summary = "local response normalisation across `size` neighbouring channels (AlexNet)"
    example = "- {type: lrn, size: 5, alpha: 0.0001, beta: 0.75, k: 2}"

    size: int = setting(Int(), "channels in the normalisation window", 5)
    alpha: float = setting(Number(0.0), "scale", 1e-4)
    beta: float = setting(Number(0.0), "exponent", 0.75)
    k: float = setting(Number(0.0), "additive constant", 2.0)

    def counts(self, x: Shape, y: Shape) -> Counts:
        return Counts(flops=lrn_flops(self.size) * y.size)

    def describe(self) -> str:
        return f"n={self.size}"


@register
@dataclass(frozen=True)
class Dropout(Layer):
    type_name = "dropout"
    summary = "zero a fraction `rate` of values in training; identity at inference"
    example = "- {type: dropout, rate: 0.5}"

    rate: float = setting(Number(0.0, 1.0), "fraction of values dropped", 0.5)

    def describe(self) -> str:
        return f"rate {self.rate:g}"
