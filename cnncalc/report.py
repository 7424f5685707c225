"""The report object: per-layer rows and totals. Every output format is rendered from it."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from .errors import Diagnostic, Span
from .layers import Counts
from .shapes import Shape

COUNT_KEYS = ("params", "trainable_params", "non_trainable_params", "connections", "macs",
              "flops", "activations")


@dataclass(frozen=True)
class Totals:
    """Counts of a layer or of a network, plus its activations (output elements)."""

    trainable_params: int = 0
    non_trainable_params: int = 0
    connections: int = 0
    macs: int = 0
    flops: int = 0
    activations: int = 0

    @property
    def params(self) -> int:
        return self.trainable_params + self.non_trainable_params

    @classmethod
    def of(cls, counts: Counts, activations: int) -> Totals:
        return cls(counts.params, counts.non_trainable, counts.connections, counts.macs,
                   counts.flops, activations)

    def __add__(self, other: Totals) -> Totals:
        return Totals(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def as_dict(self) -> dict:
        return {key: getattr(self, key) for key in COUNT_KEYS}


@dataclass
class Row:
    index: int
    name: str
    type: str
    settings: str
    input_shapes: tuple[Shape, ...]
    output_shape: Shape
    totals: Totals
    span: Span
    notes: list[str] = field(default_factory=list)
    tiles: bool = True

    def as_dict(self) -> dict:
        return {"index": self.index, "name": self.name, "type": self.type,
                "settings": self.settings,
                "input_shapes": [s.as_list() for s in self.input_shapes],
                "output_shape": self.output_shape.as_list(),
                **self.totals.as_dict(), "notes": self.notes,
                "line": self.span.line}


@dataclass
class Report:
    name: str
    file: str
    input_shape: Shape
    rows: list[Row]
    warnings: list[Diagnostic] = field(default_factory=list)

    @property
    def totals(self) -> Totals:
        total = Totals()
        for row in self.rows:
            total = total + row.totals
        return total

    @property
    def output_shape(self) -> Shape:
        return self.rows[-1].output_shape

    def as_dict(self) -> dict:
        return {"name": self.name, "file": self.file, "input": self.input_shape.as_list(),
                "output_shape": self.output_shape.as_list(),
                "layers": [row.as_dict() for row in self.rows],
                "totals": self.totals.as_dict(),
                "warnings": [w.format() for w in self.warnings]}
