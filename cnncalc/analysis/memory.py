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

from dataclasses import dataclass, field

from ..conventions import DTYPES
from ..declare import size_value
from ..errors import CnnCalcError, Diagnostic, Span
from ..graph import INPUT, Network
from ..layers.base import ALLOCATES, IN_PLACE
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


def parse_size(text: str, span: Span | None = None) -> int:
    """'24GiB', '512 MiB', '1.5GB', '1000000' -> bytes."""
    found = size_value(text)
    if found is None:
        raise CnnCalcError(Diagnostic(span or Span("--device-memory"), "must be a size such as "
                                      "24GiB, 512MiB or 16GB", received=repr(text)))
    return found


def binary(n: int) -> str:
    """Bytes in binary units: 60,950,432 -> '58.1 MiB'."""
    for unit, factor in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= factor:
            return f"{n / factor:.1f} {unit}"
    return f"{n} B"


@dataclass(frozen=True)
class MemoryReport:
    """The memory figures of one network at one setting; every format renders this.
    `training_bytes` and `peak_inference_bytes` are the simulated PyTorch step
    (simulate.py); `forward_bytes` and `activation_values` the notes' rule (every output
    kept); with `network` and `analysis` left out, the notes' rules stand for both."""

    name: str
    model: MemoryModel
    batch: int
    dtype: str
    mode: str
    optimizer: str
    device_bytes: int | None = None
    note: str | None = None  # e.g. the VGG16 table's "24M" total
    network: object = None
    analysis: object = None
    backend: str | None = None
    amp: bool = False
    checkpoint: int | None = None
    micro_batch: int | None = None
    inplace: bool = True
    cache: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def width(self) -> int:
        return DTYPES[self.dtype]

    def step(self, batch: int | None = None, mode: str | None = None):
        """The simulated step (simulate.StepResult) at this batch and mode, memoised."""
        from .simulate import StepSettings, simulate
        b, mode = batch or self.batch, mode or self.mode
        micro = self.micro_batch if mode == "training" else None
        key = (b, mode, micro)
        if key not in self.cache:
            settings = StepSettings(b, self.dtype, mode, self.optimizer, self.backend, self.amp,
                                    self.checkpoint, micro, self.inplace)
            self.cache[key] = simulate(self.network, self.analysis, settings)
        return self.cache[key]

    def simulated(self) -> bool:
        return self.network is not None and self.analysis is not None

    def total(self, batch: int) -> int:
        """The peak of the chosen mode at this batch (for a micro-batched step, `batch` is
        the micro-batch: what one backward holds)."""
        if not self.simulated():
            return self.model.total(self.mode, batch, self.width, self.optimizer)
        if self.mode == "training" and self.micro_batch:
            from .simulate import StepSettings, simulate
            settings = StepSettings(batch, self.dtype, self.mode, self.optimizer, self.backend,
                                    self.amp, self.checkpoint, None, self.inplace)
            return simulate(self.network, self.analysis, settings).peak
        return self.step(batch).peak

    def max_batch(self, budget: int) -> int:
        """Largest batch (micro-batch when accumulating) whose peak fits (0: none):
        doubling, then bisection (the peak grows with the batch)."""
        if self.total(1) > budget:
            return 0
        low, high = 1, 2
        while self.total(high) <= budget:
            low, high = high, high * 2
        while high - low > 1:
            mid = (low + high) // 2
            low, high = (mid, high) if self.total(mid) <= budget else (low, mid)
        return low

    def figures(self, batch: int | None = None) -> dict:
        b, w, m = batch or self.batch, self.width, self.model
        out = {
            "batch": b, "dtype": self.dtype, "bytes_per_value": w, "mode": self.mode,
            "optimizer": self.optimizer,
            "activation_values": m.activation_values, "param_values": m.param_values,
            "trainable_values": m.trainable_values,
            "forward_bytes": m.forward_bytes(b, w),
            "peak_inference_bytes": m.peak_inference_bytes(b, w),
            "peak_layer": m.peak_layer,
            "training_bytes": m.training_bytes(b, w, self.optimizer),
            "im2col_bytes": m.im2col_bytes(b, w), "im2col_layer": m.im2col_layer,
        }
        if self.simulated():
            inference = self.step(b, "inference")
            training = self.step(b, "training")
            chosen = training if self.mode == "training" else inference
            out.update({
                "backend": self.backend, "amp": self.amp, "checkpoint": self.checkpoint,
                "micro_batch": self.micro_batch,
                "peak_inference_bytes": inference.peak, "peak_layer": inference.layer,
                "training_bytes": training.peak,
                "peak_bytes": chosen.peak, "peak_phase": chosen.phase,
                "peak_at": chosen.layer, "breakdown": chosen.breakdown,
                "at_rest_bytes": chosen.at_rest, "at_rest": chosen.resting})
            if self.backend == "cuda":
                out["unmeasured"] = ("the cuda rules (512-byte rounding, cuDNN workspace as "
                                     "one im2col matrix, foreach optimizers) come from "
                                     "PyTorch's documentation and source, not a GPU; the "
                                     "CUDA context is not included")
        if self.device_bytes is not None:
            out["device_bytes"] = self.device_bytes
            out["max_batch"] = (self.max_batch(self.device_bytes) if self.simulated() else
                                m.max_batch(self.device_bytes, self.mode, w, self.optimizer))
        return out

    def timeline(self) -> list[dict]:
        """Live bytes through the step of the chosen mode, with their breakdown by category:
        [{phase, layer, live_bytes, breakdown}]."""
        return [{"phase": t.phase, "layer": t.layer, "live_bytes": t.live_bytes,
                 "breakdown": t.breakdown} for t in self.step().timeline]

    def as_dict(self, batches: list[int], timeline: bool = False) -> dict:
        data = {"name": self.name, **self.figures(),
                "layers": [{"name": layer.name, "type": layer.type, "values": layer.values,
                            "allocates": layer.allocates,
                            "bytes": self.batch * layer.held * self.width}
                           for layer in self.model.layers]}
        if len(batches) > 1:
            data["batches"] = [self.figures(b) for b in batches]
        if self.note:
            data["note"] = self.note
        if timeline and self.simulated():
            data["timeline"] = self.timeline()
        return data
