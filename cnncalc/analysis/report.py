"""The report object: per-layer rows and totals. Every output format is rendered from it."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..declare import frozen
from ..errors import Diagnostic, Span
from ..layers import Counts
from ..layers.geometry import number
from ..layers.shape import Shape

COUNT_KEYS = ("params", "trainable_params", "non_trainable_params", "connections", "macs",
              "flops", "activations")
TRAINING_KEYS = ("input_grad_macs", "weight_grad_macs", "backward_macs", "backward_flops")


@frozen
class Totals:
    """Counts of a layer or of a network, plus its activations (output elements)."""

    trainable_params: int = 0
    non_trainable_params: int = 0
    connections: int = 0
    macs: int = 0
    flops: int = 0
    activations: int = 0
    # the backward pass (analysis/training.py; zero until it is counted)
    input_grad_macs: int = 0
    weight_grad_macs: int = 0
    backward_flops: int = 0

    @property
    def params(self) -> int:
        return self.trainable_params + self.non_trainable_params

    @property
    def backward_macs(self) -> int:
        return self.input_grad_macs + self.weight_grad_macs

    @classmethod
    def of(cls, counts: Counts, activations: int, frozen: bool = False) -> Totals:
        """A layer's totals; a frozen layer's (`trainable: false`) parameters count as
        non-trainable."""
        trainable = 0 if frozen else counts.params
        return cls(trainable, counts.non_trainable + counts.params - trainable,
                   counts.connections, counts.macs, counts.flops, activations)

    def without_params(self) -> Totals:
        """A layer using another's weights (`shares:`): its parameters are counted there."""
        return Totals(0, 0, self.connections, self.macs, self.flops, self.activations)

    def __add__(self, other: Totals) -> Totals:
        return Totals(*(getattr(self, f) + getattr(other, f) for f in self._fields))

    def as_dict(self) -> dict:
        return {key: getattr(self, key) for key in COUNT_KEYS}

    def training_dict(self) -> dict:
        return {key: getattr(self, key) for key in TRAINING_KEYS}


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
    groups: tuple = ()  # enclosing groups, outermost first
    field: object = None  # receptive.Field, set after shapes are known
    inputs: tuple = ()  # names of the layers read ("input": the network's input)
    shares: str | None = None  # the layer whose weights it uses (`shares:`), if any
    family: str = "other"  # the layer class's family (the report's colours)

    def as_dict(self, training: bool = False) -> dict:
        return {"index": self.index, "name": self.name, "type": self.type,
                "family": self.family, "groups": list(self.groups),
                "settings": self.settings,
                "inputs": list(self.inputs),
                "input_shapes": [s.as_list() for s in self.input_shapes],
                "output_shape": self.output_shape.as_list(),
                **self.totals.as_dict(),
                **(self.totals.training_dict() if training else {}),
                **self.field_dict(), "notes": self.notes,
                "line": self.span.line}

    def field_dict(self) -> dict:
        if self.field is None:
            return {}
        f = self.field
        return {"receptive_field": [number(v) for v in f.size],
                "jump": [number(v) for v in f.jump], "start": [number(v) for v in f.start]}


@frozen
class Line:
    """One line of a nested summary: a layer, or a group (block, stage, residual) with the
    sum of its layers."""

    level: int
    label: str  # the last part of the name, to be indented by `level`
    type: str
    settings: str
    output_shape: Shape
    totals: Totals
    is_group: bool
    expanded: bool = False  # a group whose layers follow
    tiles: bool = True
    field: object = None
    index: int | None = None  # the layer's number (None for a group line)


@dataclass
class Report:
    name: str
    file: str
    input_shape: Shape
    rows: list[Row]
    warnings: list[Diagnostic] = field(default_factory=list)
    group_kinds: dict = field(default_factory=dict)  # group name -> block/residual/...
    inputs: dict = field(default_factory=dict)  # named inputs (`inputs:`): name -> Shape
    training: object = None  # training.Training once the backward is counted (--mode training)

    def input_text(self) -> str:
        """'input 224x224x3', 'input length 16000, 1 channel' (1-D), or 'inputs image
        224x224x3, mask 224x224x1'."""
        if len(self.inputs) < 2:
            return f"input {self.input_shape.described()}"
        return "inputs " + ", ".join(f"{name} {shape.described()}"
                                     for name, shape in self.inputs.items())

    def outline(self, depth: int | None = None) -> list[Line]:
        """Rows with their groups: groups deeper than `depth` collapse into one line each;
        totals are unchanged because group lines are sums of layer rows."""
        sums: dict[str, Totals] = {}
        outputs: dict[str, Shape] = {}
        for row in self.rows:
            for g in row.groups:
                sums[g] = sums.get(g, Totals()) + row.totals
                outputs[g] = row.output_shape
        lines, opened = [], ()
        for row in self.rows:
            common = 0
            while (common < len(opened) and common < len(row.groups)
                   and opened[common] == row.groups[common]):
                common += 1
            for level in range(common, len(row.groups)):
                if depth is not None and level > depth:
                    break
                g = row.groups[level]
                lines.append(Line(level, g.rsplit(".", 1)[-1], self.group_kinds.get(g, "group"),
                                  "", outputs[g], sums[g], True,
                                  expanded=depth is None or level < depth))
            opened = row.groups
            if depth is None or len(row.groups) <= depth:
                lines.append(Line(len(row.groups), row.name.rsplit(".", 1)[-1], row.type,
                                  row.settings, row.output_shape, row.totals, False,
                                  tiles=row.tiles, field=row.field, index=row.index))
        return lines

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
                "mode": "training" if self.training is not None else "inference",
                "layers": [row.as_dict(self.training is not None) for row in self.rows],
                **({"inputs": {k: v.as_list() for k, v in self.inputs.items()}}
                   if len(self.inputs) > 1 else {}),
                "groups": [{"name": g, "kind": k} for g, k in self.group_kinds.items()],
                "totals": {**self.totals.as_dict(),
                           **(self.training.as_dict() if self.training is not None else {})},
                "warnings": [w.format() for w in self.warnings]}
