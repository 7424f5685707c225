"""The network graph: nodes (one layer each, where it was written, what it reads), and who
reads each tensor and which outputs share storage (the liveness facts memory and the NumPy
engine use)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import Span
from .layers import Layer
from .layers.base import ALLOCATES, IN_PLACE
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


def readers(network: Network) -> dict[int, list[int]]:
    """For every tensor (node index, or INPUT), the nodes that read it."""
    out: dict[int, list[int]] = {INPUT: []}
    for index, node in enumerate(network.nodes):
        out.setdefault(index, [])
        for source in node.inputs:
            out[source].append(index)
    return out


def allocation(layer, index: int, inputs, read_by, buffer, members, inplace: bool = True) -> str:
    """How a layer's output is held: a view never copies; an in-place layer reuses its input's
    BUFFER only when nothing else reads that buffer: no node other than itself reads its
    input or any tensor sharing the storage (a flatten view of it, an earlier in-place result
    in it), earlier or later in the graph (and `--inplace` is on). `buffer[t]`: the tensor
    whose storage tensor t lives in; `members[owner]`: the tensors living in owner's storage."""
    if layer.memory != IN_PLACE:
        return layer.memory
    if not inplace or len(inputs) != 1:
        return ALLOCATES
    sharers = members[buffer[inputs[0]]]
    for tensor in sharers:
        if any(reader != index and reader not in sharers for reader in read_by[tensor]):
            return ALLOCATES
    return IN_PLACE
