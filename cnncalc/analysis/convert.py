"""Fully-connected layers as convolutions, and a network written back as a flat spec.

The notes: an FC layer fed by an HxWxC volume is a conv with an HxW kernel and K = units
(7x7x512 -> 4096 is F=7, K=4096); every later FC is a 1x1 conv. Parameter counts are equal,
and on a larger input the converted network slides over it in one pass.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..declare import declared
from ..graph import INPUT, Network
from ..layers.conv import Conv
from .report import Report


def fc_as_conv(network: Network, report: Report) -> Network:
    """The network with flatten layers dropped and every fc a conv (kernel from the shapes of
    `report`, the analysis of `network` at its own input size)."""
    new_index: dict[int, int] = {INPUT: INPUT}
    volume: dict[int, object] = {INPUT: report.input_shape}  # shape reaching each node
    nodes = []
    for i, (node, row) in enumerate(zip(network.nodes, report.rows)):
        layer = node.layer
        source = node.inputs[0]
        if layer.type_name == "flatten":  # a conv reads the volume itself
            new_index[i], volume[i] = new_index[source], volume[source]
            continue
        if layer.type_name == "fc":
            x = volume[source]
            layer = Conv(filters=layer.units, kernel=(x.h, x.w), bias=layer.bias,
                         activation=layer.activation)
        nodes.append(replace(node, layer=layer,
                             inputs=tuple(new_index[j] for j in node.inputs)))
        new_index[i], volume[i] = len(nodes) - 1, row.output_shape
    return replace(network, nodes=nodes)


@dataclass(frozen=True)
class Sliding:
    """What one pass of the converted network over a larger input equals."""

    positions: tuple[int, int]  # output map size: crops evaluated
    stride: int  # pixels between neighbouring crops (the jump before the first fc)
    crop: tuple[int, int]  # the original input size
    macs_one_pass: int
    macs_separate: int

    def sentence(self) -> str:
        n = self.positions[0] * self.positions[1]
        return (f"The {self.positions[0]}x{self.positions[1]} output equals evaluating the "
                f"original on {n} crops of {self.crop[0]}x{self.crop[1]} at stride "
                f"{self.stride}: {self.macs_one_pass:,} MACs in one pass against "
                f"{self.macs_separate:,} for {n} separate passes.")


def sliding(original: Report, converted: Report, network: Network) -> Sliding | None:
    """None when the converted network's output is a single position."""
    out = converted.output_shape
    if out.h * out.w == 1:
        return None
    first_fc = next((i for i, n in enumerate(network.nodes) if n.layer.type_name == "fc"), None)
    if first_fc is None:
        return None
    source = network.nodes[first_fc].inputs[0]
    jump = original.rows[source].field.jump if source != INPUT else (1, 1)
    crop = (original.input_shape.h, original.input_shape.w)
    return Sliding((out.h, out.w), int(jump[0]), crop, converted.totals.macs,
                   out.h * out.w * original.totals.macs)


def settings_yaml(layer) -> dict:
    """A layer's non-default settings as plain YAML values."""
    out = {"type": layer.type_name}
    for decl in declared(type(layer)):
        value = getattr(layer, decl.field)
        if value == decl.default:
            continue
        if isinstance(value, tuple) and value and isinstance(value[0], tuple):
            value = [list(row) for row in value]  # connection table
        elif isinstance(value, tuple):
            if len(set(value)) == 1:
                value = value[0]
            elif len(value) == 4 and value[0] == value[1] and value[2] == value[3]:
                value = [value[0], value[2]]
            else:
                value = list(value)
        out[decl.name] = value
    return out


def to_spec(network: Network) -> dict:
    """A flat spec (no blocks) for the network; layers read the previous one unless noted."""
    layers = []
    for i, node in enumerate(network.nodes):
        item = {"name": node.name.replace(".", "_"), **settings_yaml(node.layer)}
        if node.inputs != ((i - 1,) if i else (INPUT,)):
            item["inputs"] = ["input" if j == INPUT else network.nodes[j].name.replace(".", "_")
                              for j in node.inputs]
        layers.append(item)
    shape = network.input_shape
    return {"name": network.name, "input": [shape.h, shape.w, shape.c], "layers": layers}
