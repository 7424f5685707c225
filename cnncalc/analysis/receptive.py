"""Receptive fields: size, jump (effective stride) and start of every layer, per axis.

Following Araujo, Norris and Sim, "Computing Receptive Fields of Convolutional Neural
Networks", Distill 2019, in input-pixel coordinates: the network's input has size 1, jump 1
and start 0 (the centre of the first pixel). Each layer maps its inputs' fields to its own
(`Layer.receptive`; a window of effective size k = D(F-1)+1, stride S and leading padding P
maps (r, j, s) to (r + (k-1)j, jS, s + ((k-1)/2 - P)j)). Where paths merge, they
keep the jump and start of the inputs at the merge's own resolution (a broadcast 1x1 gate
changes neither), the size is the union of what the paths see, and paths whose jump or start
differ are reported. Jumps and starts are exact.
"""

from __future__ import annotations

from ..graph import INPUT, Network
from ..layers.geometry import Field
from .report import Report


def propagate(network: Network, report: Report) -> tuple[list[Field], list[tuple[int, str]]]:
    """The field of every node, and (node index, message) for misaligned merges."""
    fields = {INPUT: Field.of_input(report.input_shape.rank)}
    notes = []
    for index, (node, row) in enumerate(zip(network.nodes, report.rows)):
        ins = [fields[i] for i in node.inputs]
        fields[index] = node.layer.receptive(ins, row.input_shapes, row.output_shape)
        message = node.layer.misaligned(ins, row.input_shapes, row.output_shape) \
            if len(ins) > 1 else None
        if message:
            notes.append((index, message))
    return [fields[i] for i in range(len(network.nodes))], notes
