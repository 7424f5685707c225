"""The layer contract and the registry keyed by the spec's `type:` string.

A layer is a frozen dataclass of its settings (declared with `settings.setting`) plus:
  shape(x)      -> the output Shape for one input (the shape rule; merge layers, which take
                   several inputs, override infer/cost instead),
  counts(x, y)  -> Counts: params, connections, MACs, FLOPs (formulas commented in place),
  describe()    -> the short settings text shown in tables (`3x3/1 p1`),
  advice(x)     -> warnings about the settings on this input (a window that does not tile),
  forward(...)  -> the NumPy computation (NumPy imported inside, never at module import).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..declare import check_settings, declared
from .geometry import Shape

REGISTRY: dict[str, type[Layer]] = {}


def register(cls):
    """Class decorator: make a layer type available under `cls.type_name`."""
    if cls.type_name in REGISTRY:
        raise RuntimeError(f"layer type {cls.type_name!r} registered twice")
    REGISTRY[cls.type_name] = cls
    return cls


@dataclass(frozen=True)
class Counts:
    """What one layer costs for one sample."""

    params: int = 0  # trainable values
    non_trainable: int = 0  # stored but not trained (running statistics, fixed prototypes)
    connections: int = 0  # LeNet-5 convention: inputs read + 1 bias, per output unit
    macs: int = 0  # multiply-accumulates
    flops: int = 0  # 2 x MACs + bias adds + elementwise operations


@dataclass(frozen=True)
class Layer:
    """Base of every layer type; subclasses are dataclasses of their declared settings."""

    type_name: ClassVar[str] = ""
    summary: ClassVar[str] = ""  # one line for `cnncalc layers` and docs
    example: ClassVar[str] = ""  # a YAML example for docs/spec.md

    @classmethod
    def from_settings(cls, values: dict, common: tuple = ()) -> Layer:
        """Build from a spec mapping; SettingError names the key at fault."""
        layer = cls(**check_settings(cls, values, common))
        layer.validate()
        return layer

    @classmethod
    def settings(cls):
        return declared(cls)

    def validate(self) -> None:
        """Cross-setting checks that do not need the input shape."""

    arity: ClassVar[tuple] = (1, 1)  # fewest and most inputs (None: no limit)

    def infer(self, inputs: tuple[Shape, ...]) -> Shape:
        """Output shape from the input shapes (one, for all but merge layers)."""
        return self.shape(inputs[0])

    def cost(self, inputs: tuple[Shape, ...], out: Shape) -> Counts:
        return self.counts(inputs[0], out)

    def row_notes(self, inputs: tuple[Shape, ...], out: Shape) -> list[str]:
        return self.notes(inputs[0], out)

    def warnings(self, inputs: tuple[Shape, ...]) -> list[str]:
        return self.advice(inputs[0])

    def shape(self, x: Shape) -> Shape:
        return x

    def counts(self, x: Shape, y: Shape) -> Counts:
        return Counts()

    def describe(self) -> str:
        return ""

    def notes(self, x: Shape, y: Shape) -> list[str]:
        return []

    def advice(self, x: Shape) -> list[str]:
        return []

    # --- NumPy (NCHW arrays; NumPy is imported by the methods, never at import time) ---
    def weight_shapes(self, x: Shape) -> dict[str, tuple]:
        """Arrays this layer holds, in PyTorch's layouts."""
        return {}

    def forward(self, xs: list, w: dict):
        """Output for the input arrays `xs` with weights `w`."""
        raise NotImplementedError(self.type_name)

    def backward(self, xs: list, w: dict, y, dy) -> tuple[list, dict]:
        """(gradients of the inputs, gradients of the weights) from the output gradient."""
        raise NotImplementedError(self.type_name)

    def fused(self, z):
        """The fused activation (if any) applied to pre-activation z."""
        activation = getattr(self, "activation", None)
        if not activation:
            return z
        from ..compute.kernels import activation as apply
        return apply(activation, z)

    def fused_grad(self, z, y, dy):
        activation = getattr(self, "activation", None)
        if not activation:
            return dy
        from ..compute.kernels import activation_grad
        return activation_grad(activation, z, y, dy)


def pair_text(pair: tuple[int, int]) -> str:
    return str(pair[0]) if pair[0] == pair[1] else f"{pair[0]}x{pair[1]}"


def kernel_text(kernel: tuple[int, int]) -> str:
    return f"{kernel[0]}x{kernel[1]}"


def padding_text(padding) -> str:
    if padding == "same":
        return "same"
    top, bottom, left, right = padding
    if top == bottom == left == right:
        return str(top)
    if top == bottom and left == right:
        return f"{top}x{left}"
    return f"{top},{bottom},{left},{right}"
