"""Fully-connected layers as convolutions, and a network written back as a flat spec.

The notes: an FC layer fed by an HxWxC volume is a conv with an HxW kernel and K = units
(7x7x512 -> 4096 is F=7, K=4096); every later FC is a 1x1 conv. Parameter counts are equal,
and on a larger input the converted network slides over it in one pass.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from math import prod

from ..declare import declared
from ..graph import INPUT, Network
from ..layers.base import DROP
from .report import Report


def fc_as_conv(network: Network, report: Report) -> Network:
    """The network with flatten layers dropped and every fc a conv (kernel from the shapes of
    `report`, the analysis of `network` at its own input size)."""
    new_index: dict[int, int] = {INPUT: INPUT}
    volume: dict[int, object] = {INPUT: report.input_shape}  # shape reaching each node
    nodes = []
    for i, (node, row) in enumerate(zip(network.nodes, report.rows)):
        source = node.inputs[0] if node.inputs else None  # None: a named network input
        layer = node.layer.as_conv(volume[source]) if node.inputs else node.layer
        if layer is DROP:  # a conv reads the volume itself
            new_index[i], volume[i] = new_index[source], volume[source]
            continue
        shares = None if node.shares is None else new_index[node.shares]
        nodes.append(replace(node, layer=layer, inputs=tuple(new_index[j] for j in node.inputs),
                             shares=shares))
        new_index[i], volume[i] = len(nodes) - 1, row.output_shape
    return replace(network, nodes=nodes)


@dataclass(frozen=True)
class Sliding:
    """What one pass of the converted network over a larger input equals."""

    positions: tuple  # output map size: crops evaluated
    stride: int | list  # cells between neighbouring crops (the jump before the first fc);
    # one int when every axis agrees, else one per axis
    crop: tuple  # the original input size
    macs_one_pass: int
    macs_separate: int

    def sentence(self) -> str:
        n = prod(self.positions)
        grid, crop = "x".join(map(str, self.positions)), "x".join(map(str, self.crop))
        return (f"The {grid} output equals evaluating the "
                f"original on {n} crops of {crop} at stride "
                f"{'x'.join(map(str, self.stride)) if isinstance(self.stride, list) else self.stride}"
                f": {self.macs_one_pass:,} MACs in one pass against "
                f"{self.macs_separate:,} for {n} separate passes.")


def sliding(original: Report, converted: Report, network: Network) -> Sliding | None:
    """None when the converted network's output is a single position."""
    out = converted.output_shape
    if out.positions == 1:
        return None
    first_fc = next((i for i, n in enumerate(network.nodes) if n.layer.dense), None)
    if first_fc is None:
        return None
    source = network.nodes[first_fc].inputs[0]
    jump = original.rows[source].field.jump if source != INPUT else (1,) * out.rank
    steps = [int(j) for j in jump]
    return Sliding(out.spatial, steps[0] if len(set(steps)) == 1 else steps,
                   original.input_shape.spatial,
                   converted.totals.macs, out.positions * original.totals.macs)


def settings_yaml(layer) -> dict:
    """A layer's non-default settings as plain YAML values."""
    out = {"type": layer.type_name}
    for decl in declared(type(layer)):
        value = getattr(layer, decl.field)
        if value != decl.default:
            out[decl.name] = decl.kind.to_yaml(value)
    return out


def flat_names(network: Network) -> list[str]:
    """Names without '.', unique: `a.1` becomes `a_1`, or `a_1_2` if the spec has an `a_1`."""
    taken = {n.name for n in network.nodes if "." not in n.name} | {"input"}
    out = []
    for node in network.nodes:
        name = node.name
        if "." in name:
            base = name.replace(".", "_")
            name, n = base, 1
            while name in taken:
                n += 1
                name = f"{base}_{n}"
            taken.add(name)
        out.append(name)
    return out


def to_spec(network: Network, report: Report | None = None) -> dict:
    """A flat spec (no blocks) for the network; layers read the previous one unless noted.
    The spec's `lint:` and `budget:` are carried over; `report` (the network's analysis) says
    which layers of a group that shares another's weights have weights to share."""
    names = flat_names(network)
    layers = []
    named = {network.input_name: network.input_shape.as_list()}
    for i, node in enumerate(network.nodes):
        if not node.inputs:  # a named network input: written in the top-level `inputs:`
            named[names[i]] = node.layer.given.as_list()
            continue
        item = {"name": names[i], **settings_yaml(node.layer)}
        if node.inputs != ((i - 1,) if i else (INPUT,)):
            item["inputs"] = ["input" if j == INPUT else names[j] for j in node.inputs]
        if node.shares is not None and (report is None or report.rows[i].shares):
            item["shares"] = names[node.shares]
        layers.append(item)
    spec = {"name": network.name, "input": network.input_shape.as_list(), "layers": layers}
    if len(named) > 1:
        spec = {"name": network.name, "inputs": named, "layers": layers}
    if network.lint_ignore:
        spec["lint"] = {"ignore": sorted(network.lint_ignore)}
    if network.budget is not None:
        spec["budget"] = network.budget.as_yaml()
    return spec
