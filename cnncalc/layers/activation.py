"""Elementwise activations: shape unchanged, no parameters, one FLOP per element."""

from __future__ import annotations

from dataclasses import dataclass

from ..conventions import ACTIVATION_FLOPS
from ..declare import Number, setting
from .base import Counts, Layer, register
from .geometry import Shape


@dataclass(frozen=True)
class Activation(Layer):
    """Base of the elementwise activations."""

    def counts(self, x: Shape, y: Shape) -> Counts:
        return Counts(flops=ACTIVATION_FLOPS * y.size)  # one FLOP per output element

    def options(self) -> dict:
        return {f: getattr(self, f) for f in ("negative_slope", "alpha") if hasattr(self, f)}

    def forward(self, xs, w):
        from ..compute.kernels import activation
        return activation(self.type_name, xs[0], self.options()).astype(xs[0].dtype)

    def backward(self, xs, w, y, dy):
        from ..compute.kernels import activation_grad
        return [activation_grad(self.type_name, xs[0], y, dy, self.options())], {}


def _simple(name: str, summary: str):
    cls = dataclass(frozen=True)(type(name.title().replace("_", ""), (Activation,),
                                      {"type_name": name, "summary": summary,
                                       "example": f"- {name}"}))
    return register(cls)


Relu = _simple("relu", "max(0, x)")
Relu6 = _simple("relu6", "min(max(0, x), 6)")
Sigmoid = _simple("sigmoid", "1 / (1 + exp(-x))")
Tanh = _simple("tanh", "hyperbolic tangent")
Softmax = _simple("softmax", "exp(x) normalised to sum 1 over the channels at each position")
Gelu = _simple("gelu", "x * Phi(x), the Gaussian error linear unit")
Silu = _simple("silu", "x * sigmoid(x) (swish)")
Hardswish = _simple("hardswish", "x * relu6(x + 3) / 6")


@register
@dataclass(frozen=True)
class LeakyRelu(Activation):
    type_name = "leaky_relu"
    summary = "x if x > 0 else slope * x"
    example = "- {type: leaky_relu, negative_slope: 0.1}"
    negative_slope: float = setting(Number(0.0), "slope for negative inputs", 0.01)


@register
@dataclass(frozen=True)
class Elu(Activation):
    type_name = "elu"
    summary = "x if x > 0 else alpha * (exp(x) - 1)"
    example = "- {type: elu, alpha: 1.0}"
    alpha: float = setting(Number(0.0), "scale of the negative part", 1.0)


ACTIVATIONS = ("relu", "relu6", "leaky_relu", "elu", "sigmoid", "tanh", "softmax", "gelu",
               "silu", "hardswish")
