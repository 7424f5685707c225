"""Merge layers: combine two or more earlier outputs (residual adds, Inception concats)."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import SettingError
from .base import Counts, Layer, register
from .geometry import Shape


def _shapes(inputs) -> str:
    return ", ".join(str(s) for s in inputs)


@dataclass(frozen=True)
class Merge(Layer):
    arity = (2, None)

    def cost(self, inputs, out: Shape) -> Counts:
        return Counts(flops=(len(inputs) - 1) * out.size)  # one op per element per extra input

    def row_notes(self, inputs, out):
        return []

    def warnings(self, inputs):
        return []


@register
@dataclass(frozen=True)
class Add(Merge):
    type_name = "add"
    summary = "elementwise sum of inputs of one shape (residual connections)"
    example = "- {type: add, inputs: [conv2, shortcut]}"

    def forward(self, xs, w):
        total = xs[0].copy()
        for x in xs[1:]:
            total += x
        return total

    def backward(self, xs, w, y, dy):
        return [dy for _ in xs], {}

    def infer(self, inputs):
        if len(set(inputs)) != 1:
            raise SettingError(f"add needs inputs of one shape, got {_shapes(inputs)}",
                               key="inputs", inconsistent=True)
        return inputs[0]


@register
@dataclass(frozen=True)
class Multiply(Merge):
    type_name = "multiply"
    summary = "elementwise product; a 1x1xC input scales every position (squeeze-excitation)"
    example = "- {type: multiply, inputs: [features, gate]}"

    def forward(self, xs, w):
        total = xs[0]
        for x in xs[1:]:
            total = total * x  # 1x1xC gates broadcast
        return total

    def backward(self, xs, w, y, dy):
        grads = []
        for i, x in enumerate(xs):
            others = dy
            for j, other in enumerate(xs):
                if j != i:
                    others = others * other
            grads.append(others.sum(axis=(2, 3), keepdims=True) if others.shape != x.shape
                         else others)
        return grads, {}

    def infer(self, inputs):
        full = max(inputs, key=lambda s: s.h * s.w)
        for shape in inputs:
            if shape != full and not (shape.h == shape.w == 1 and shape.c == full.c):
                raise SettingError(f"multiply needs one shape or 1x1xC gates, got "
                                   f"{_shapes(inputs)}", key="inputs", inconsistent=True)
        return full


@register
@dataclass(frozen=True)
class Concat(Merge):
    type_name = "concat"
    summary = "stack inputs of one height and width along the channels"
    example = "- {type: concat, inputs: [branch1, branch2]}"

    def infer(self, inputs):
        if len({(s.h, s.w) for s in inputs}) != 1:
            raise SettingError(f"concat needs inputs of one height and width, got "
                               f"{_shapes(inputs)}", key="inputs", inconsistent=True)
        return Shape(inputs[0].h, inputs[0].w, sum(s.c for s in inputs))

    def cost(self, inputs, out):
        return Counts()  # a copy, no arithmetic

    def forward(self, xs, w):
        import numpy as np
        return np.concatenate(xs, axis=1)

    def backward(self, xs, w, y, dy):
        import numpy as np
        edges = np.cumsum([x.shape[1] for x in xs])[:-1]
        return list(np.split(dy, edges, axis=1)), {}
