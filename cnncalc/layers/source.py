"""A network input beyond the first (`inputs: {image: ..., mask: ...}`): a node that reads
nothing and holds the tensor fed in. Not a `type:` of the spec (the top-level `inputs:`
makes it), so it is not in the registry."""

from __future__ import annotations

from typing import ClassVar

from ..declare import frozen
from .base import Counts, Layer
from .geometry import Field
from .shape import Shape


@frozen
class NetworkInput(Layer):
    type_name = "input"
    summary = "a network input named in the top-level `inputs:`"
    arity: ClassVar[tuple] = (0, 0)

    given: Shape = Shape((1, 1), 1)  # the shape written in `inputs:`

    def infer(self, inputs) -> Shape:
        return self.given

    def cost(self, inputs, out) -> Counts:
        return Counts()

    def time_kind(self, inputs, out, training=False) -> str:
        return "none"  # data, not a kernel

    def describe(self) -> str:
        return "network input"

    def warnings(self, inputs) -> list[str]:
        return []

    def receptive(self, fields, inputs, out) -> Field:
        return Field.of_input(out.rank)  # the input's own pixels, as the first input's

    def scratch(self, inputs, out) -> tuple[int, int]:
        return 0, 0

    def forward(self, xs, w):
        return xs[0]  # the array fed to this input (compute/engine.py)

    def backward(self, xs, w, y, dy):
        return [], {}

    # --- PyTorch export ---
    def torch_code(self, inputs, out):
        from .torch_code import TorchCode
        return TorchCode("")  # an argument of the model's forward (interop/pytorch_export.py)
