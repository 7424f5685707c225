"""Memory: activations, parameters, gradients, optimizer state and workspace, at any batch size.

`MemoryReport` is what `cnncalc memory` renders: its training and inference peaks come from
the simulated PyTorch step (simulate.py, step.py). `MemoryModel` holds the CS231n notes'
rules, kept for `activation_values`, `forward_bytes`, the per-layer table, im2col and the
NumPy engine (compute/), which holds exactly what they say (docs/memory.md):
- Every layer's output is one tensor of `batch x output values x bytes per value`, except
  layers that reuse their input: ReLU-like activations and dropout work in place (as the
  notes' VGG16 table assumes; `inplace=False` counts them), flatten is a view.
- forward: all outputs kept, the input included - what training must hold for backward.
- training: forward outputs (less the input) twice (the activations and their gradients), the
  input batch once, the trainable parameters k times: weights and gradients (SGD, k=2), plus a
  momentum buffer (k=3), plus Adam's two moments (k=4); non-trainable values once.
- peak inference: a liveness pass in graph order; a tensor is freed once its last reader has
  run, so a residual's shortcut stays alive until its add. Parameters are held throughout.
- im2col: the largest column matrix a conv (or local) layer unrolls, (C_in x kh x kw) rows by
  (out_h x out_w) columns per sample (AlexNet conv1: 363 x 3025), reported on its own.
All figures are exact integers.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..graph import INPUT, Network, allocation, readers
from ..layers.base import ALLOCATES
from .report import Report

OPTIMIZER_COPIES = {"sgd": 2, "momentum": 3, "adam": 4}  # parameter-sized tensors held


@dataclass(frozen=True)
class LayerMemory:
    name: str
    type: str
    values: int  # output values per sample
    allocates: str  # "yes", "in place" or "view"
    groups: tuple = ()  # enclosing blocks, stages and residuals, outermost first

    @property
    def held(self) -> int:
        """Values per sample this layer adds to memory."""
        return self.values if self.allocates == ALLOCATES else 0


@dataclass(frozen=True)
class MemoryModel:
    """Everything that does not depend on batch size or dtype, computed once."""

    input_values: int
    layers: tuple[LayerMemory, ...]
    param_values: int
    trainable_values: int
    peak_values: int  # liveness peak of activations, per sample, input included
    peak_layer: str  # the layer during which the peak occurs
    im2col_values: int  # largest im2col matrix, per sample
    im2col_layer: str | None

    @property
    def output_values(self) -> int:
        return sum(layer.held for layer in self.layers)

    @property
    def activation_values(self) -> int:
        """Per sample, every output kept, the input included (the notes' "memory" column)."""
        return self.input_values + self.output_values

    def forward_bytes(self, batch: int, width: int) -> int:
        return batch * self.activation_values * width

    def training_bytes(self, batch: int, width: int, optimizer: str) -> int:
        activations = 2 * batch * self.output_values  # outputs and their gradients
        frozen = self.param_values - self.trainable_values  # no gradient, no optimizer state
        return width * (activations + batch * self.input_values + frozen
                        + OPTIMIZER_COPIES[optimizer] * self.trainable_values)

    def peak_inference_bytes(self, batch: int, width: int) -> int:
        return width * (batch * self.peak_values + self.param_values)

    def im2col_bytes(self, batch: int, width: int) -> int:
        return batch * self.im2col_values * width

    def total(self, mode: str, batch: int, width: int, optimizer: str) -> int:
        if mode == "training":
            return self.training_bytes(batch, width, optimizer)
        return self.peak_inference_bytes(batch, width)

    def max_batch(self, budget: int, mode: str, width: int, optimizer: str) -> int:
        """Largest batch whose total fits in `budget` bytes (0 if none): binary search."""
        if self.total(mode, 1, width, optimizer) > budget:
            return 0
        low, high = 1, 2
        while self.total(mode, high, width, optimizer) <= budget:
            low, high = high, high * 2
        while high - low > 1:  # total(low) fits, total(high) does not
            mid = (low + high) // 2
            if self.total(mode, mid, width, optimizer) <= budget:
                low = mid
            else:
                high = mid
        return low


def build(network: Network, report: Report, inplace: bool = True) -> MemoryModel:
    read_by = readers(network)
    # buffer[i]: the tensor whose storage node i's output lives in (itself unless in place or
    # a view); members[o]: every tensor living in o's storage
    buffer: dict[int, int] = {INPUT: INPUT}
    members: dict[int, set[int]] = {INPUT: {INPUT}}
    size = {INPUT: report.input_shape.size}
    layers, im2col, im2col_layer = [], 0, None
    for index, (node, row) in enumerate(zip(network.nodes, report.rows, strict=False)):
        kind = allocation(node.layer, index, node.inputs, read_by, buffer, members, inplace)
        buffer[index] = buffer[node.inputs[0]] if kind != ALLOCATES else index
        members.setdefault(buffer[index], set()).add(index)
        size[index] = row.output_shape.size
        layers.append(LayerMemory(node.name, node.layer.type_name, row.output_shape.size, kind,
                                  node.groups))
        columns = node.layer.workspace(row.input_shapes, row.output_shape)  # X_col's values
        if columns > im2col:
            im2col, im2col_layer = columns, node.name
    peak, peak_layer = liveness(network, read_by, buffer, size)
    totals = report.totals
    return MemoryModel(report.input_shape.size, tuple(layers), totals.params,
                       totals.trainable_params, peak, peak_layer, im2col, im2col_layer)


def liveness(network: Network, read_by, buffer, size) -> tuple[int, str]:
    """Peak of live activation values per sample, walking the nodes in order: a buffer is
    freed after the last node that reads it (or reads a tensor sharing it) has run."""
    last = len(network.nodes) - 1
    last_use: dict[int, int] = {}
    for tensor, nodes in read_by.items():
        owner = buffer[tensor]
        last_use[owner] = max(last_use.get(owner, -1), tensor, *nodes)
    last_use[buffer[last]] = last + 1  # the network's output is kept
    live = {INPUT: size[INPUT]}
    peak, peak_layer = size[INPUT], "input"
    for index, node in enumerate(network.nodes):
        if buffer[index] == index:
            live[index] = size[index]
        current = sum(live.values())
        if current > peak:
            peak, peak_layer = current, node.name
        for owner in [o for o in live if last_use[o] <= index]:
            del live[owner]
    return peak, peak_layer
