"""Layers that see the whole input as one vector: fully-connected, flatten, LeNet-5's RBF."""

from __future__ import annotations

from dataclasses import dataclass

from ..conventions import ACTIVATION_FLOPS
from ..declare import Bool, Choice, Int, setting
from .activation import ACTIVATIONS
from .base import Counts, Layer, register
from .geometry import Shape


def flatten_note(x: Shape) -> list[str]:
    if x.h == 1 and x.w == 1:
        return []
    return [f"flattens {x} = {x.size:,} values in C,H,W order"]


@register
@dataclass(frozen=True)
class FC(Layer):
    type_name = "fc"
    summary = "fully-connected: every output unit reads every input value (flattened C,H,W)"
    example = "- {type: fc, units: 4096, activation: relu}"

    units: int = setting(Int(), "number of output units")
    bias: bool = setting(Bool(), "one bias per unit", True)
    activation: str | None = setting(Choice(ACTIVATIONS), "activation fused into this row", None)

    def shape(self, x: Shape) -> Shape:
        return Shape(1, 1, self.units)

    def counts(self, x: Shape, y: Shape) -> Counts:
        weights = x.size * self.units  # one weight per (input value, unit)
        biases = self.units if self.bias else 0
        act = ACTIVATION_FLOPS * self.units if self.activation else 0
        return Counts(params=weights + biases,
                      connections=weights + biases,  # inputs read + bias, per unit
                      macs=weights,  # each weight used once
                      flops=2 * weights + biases + act)

    def describe(self) -> str:
        return f"{self.units}" + ("" if self.bias else " nobias") + (
            f" +{self.activation}" if self.activation else "")

    def notes(self, x: Shape, y: Shape) -> list[str]:
        return flatten_note(x)

    def weight_shapes(self, x: Shape) -> dict:
        shapes = {"weight": (self.units, x.size)}  # PyTorch Linear: [out, in]
        if self.bias:
            shapes["bias"] = (self.units,)
        return shapes

    def forward(self, xs, w):
        x = xs[0].reshape(xs[0].shape[0], -1)  # C,H,W order, as torch.flatten
        z = x @ w["weight"].T + (w["bias"] if self.bias else 0)
        return self.fused(z).reshape(x.shape[0], self.units, 1, 1)

    def backward(self, xs, w, y, dy):
        x = xs[0].reshape(xs[0].shape[0], -1)
        z = x @ w["weight"].T + (w["bias"] if self.bias else 0)
        dz = self.fused_grad(z, y.reshape(z.shape), dy.reshape(z.shape))
        grads = {"weight": dz.T @ x}
        if self.bias:
            grads["bias"] = dz.sum(axis=0)
        return [(dz @ w["weight"]).reshape(xs[0].shape)], grads


@register
@dataclass(frozen=True)
class Flatten(Layer):
    type_name = "flatten"
    summary = "reshape HxWxC to 1x1x(H*W*C), in C,H,W order as PyTorch"
    example = "- flatten"

    def shape(self, x: Shape) -> Shape:
        return Shape(1, 1, x.size)

    def forward(self, xs, w):
        return xs[0].reshape(xs[0].shape[0], -1, 1, 1)  # a view

    def backward(self, xs, w, y, dy):
        return [dy.reshape(xs[0].shape)], {}


@register
@dataclass(frozen=True)
class RBF(Layer):
    type_name = "rbf"
    summary = "LeNet-5's Euclidean RBF output: sum of (x - w)^2 per unit; fixed (non-trainable) w"
    example = "- {type: rbf, units: 10}"

    units: int = setting(Int(), "number of output units (classes)")

    def shape(self, x: Shape) -> Shape:
        return Shape(1, 1, self.units)

    def counts(self, x: Shape, y: Shape) -> Counts:
        links = x.size * self.units  # one fixed prototype value per (input, unit); no bias
        return Counts(non_trainable=links, connections=links,
                      macs=links,  # (x - w)^2 accumulated: one multiply-accumulate per link
                      flops=3 * links)  # subtract, multiply, add

    def describe(self) -> str:
        return f"{self.units}"

    def notes(self, x: Shape, y: Shape) -> list[str]:
        return flatten_note(x)

    def weight_shapes(self, x: Shape) -> dict:
        return {"weight": (self.units, x.size)}  # one prototype per unit

    def forward(self, xs, w):
        x = xs[0].reshape(xs[0].shape[0], -1)
        d = x[:, None, :] - w["weight"][None]  # N, units, in
        return (d * d).sum(axis=2).reshape(x.shape[0], self.units, 1, 1)

    def backward(self, xs, w, y, dy):
        x = xs[0].reshape(xs[0].shape[0], -1)
        d = x[:, None, :] - w["weight"][None]
        g = 2 * dy.reshape(x.shape[0], self.units, 1) * d
        return [g.sum(axis=1).reshape(xs[0].shape)], {}  # the prototypes are fixed
