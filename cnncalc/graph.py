"""The network graph: nodes (one layer each, where it was written, what it reads)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import Span
from .layers import Layer
from .layers.shape import Shape

INPUT = -1  # node index meaning "the network's input"


@dataclass
class Node:
    """One layer of the network, where it was written, and what it reads."""

    name: str  # full name, groups joined by '.' (layer1.1.conv1)
    layer: Layer
    inputs: tuple[int, ...]
    span: Span
    key_spans: dict = field(default_factory=dict)
    path: str = ""
    groups: tuple = ()  # full names of the enclosing blocks, stages and residuals
    called: tuple = ()  # "in block 'x' called at line N", innermost first, for errors
    frozen: bool = False  # `trainable: false`: its parameters are not trained
    shares: int | None = None  # index of the node whose weights this one uses (`shares:`)
    one_copy: tuple = ()  # names in `inputs:` of repeated items, read as their last copy

    def span_of(self, key: str | None) -> Span:
        return self.key_spans.get(key, self.span) if key else self.span


@dataclass
class Network:
    name: str
    input_shape: Shape
    nodes: list[Node]
    file: str
    input_span: Span | None = None
    group_kinds: dict = field(default_factory=dict)  # group full name -> its kind
    lint_ignore: frozenset = frozenset()  # lint rule ids the spec switches off
    budget: object = None  # budget.Budget from the spec's `budget:`, if any
    published: object = None  # structure.Published: figures a source prints, if any
    input_name: str = "input"  # the first input's name (`inputs:`); others are nodes
