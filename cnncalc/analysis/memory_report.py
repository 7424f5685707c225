"""The memory report `cnncalc memory` renders: the notes' model (memory.py) and the simulated
PyTorch step (simulate.py) at one setting, with the largest batch that fits a device."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..conventions import DTYPES, binary
from .memory import MemoryModel
from .parallel import Parallel
from .simulate import CudaSettings, StepSettings, simulate

# The CUDA context: memory the driver holds outside the allocator's statistics, which
# nvidia-smi shows. PR #86509 measured 287 MB with lazy module loading (CUDA 11.7+, PyTorch's
# default CUDA_MODULE_LOADING=LAZY) and 667 MB loading every kernel eagerly; it grows with the
# kernels a run loads. Taken as 287 MiB; --cuda-context overrides it. Unmeasured here.
CUDA_CONTEXT = 287 * 2**20


@dataclass(frozen=True)
class MemorySettings:
    """What `cnncalc memory` is asked: every option that changes a figure."""

    batches: tuple[int, ...] = (1,)  # the first is the report's batch; more make a sweep
    dtype: str = "float32"
    mode: str = "inference"
    optimizer: str = "sgd"
    device_memory: int | None = None  # bytes: answer the largest batch that fits
    inplace: bool = True
    backend: str | None = None
    amp: bool = False
    checkpoint: int | None = None  # segments of checkpoint_sequential
    micro_batch: int | None = None  # gradient accumulation: samples per backward
    isa: str | None = None  # backend cpu: "avx2" or "avx512"; None: the running machine's
    device: str | None = None  # the device table's name (--device), for the record
    context_bytes: int | None = None  # cuda: the CUDA context (None: CUDA_CONTEXT)
    max_split_size_mb: int | None = None  # cuda: PYTORCH_CUDA_ALLOC_CONF's
    expandable_segments: bool = False  # cuda: PYTORCH_CUDA_ALLOC_CONF's
    compute_major: int = 0  # cuda: the GPU's compute capability major (cuBLAS's workspace)
    parallel: Parallel = field(default_factory=Parallel)  # --gpus, --strategy: per device
    free_at_last_use: bool = False  # named tensors freed at their last reader

    @property
    def context(self) -> int:
        return CUDA_CONTEXT if self.context_bytes is None else self.context_bytes

    @property
    def batch(self) -> int:
        return self.batches[0]


@dataclass(frozen=True)
class MemoryReport:
    """The memory figures of one network at one setting; every format renders this.
    `training_bytes` and `peak_inference_bytes` are the simulated PyTorch step
    (simulate.py); `forward_bytes` and `activation_values` the notes' rule (every output
    kept); with `network` and `analysis` left out, the notes' rules stand for both."""

    name: str
    model: MemoryModel
    settings: MemorySettings
    network: object = None
    analysis: object = None
    note: str | None = None  # e.g. the VGG16 table's "24M" total
    cache: dict = field(default_factory=dict, compare=False, repr=False)

    def __getattr__(self, name: str):  # batch, dtype, mode, ...: the settings'
        if name in MemorySettings.__dataclass_fields__ or name == "batch":
            return getattr(self.settings, name)
        raise AttributeError(name)

    @property
    def width(self) -> int:
        return DTYPES[self.dtype]

    def step(self, batch: int | None = None, mode: str | None = None):
        """The simulated step (simulate.StepResult) at this batch and mode, memoised."""
        b, mode = batch or self.batch, mode or self.mode
        micro = self.micro_batch if mode == "training" else None
        key = (b, mode, micro)
        if key not in self.cache:
            settings = self.step_settings(b, mode, micro)
            self.cache[key] = simulate(self.network, self.analysis, settings)
        return self.cache[key]

    def step_settings(self, batch: int, mode: str, micro: int | None) -> StepSettings:
        s = self.settings
        cuda = None
        if s.backend == "cuda":
            room = None if s.device_memory is None else max(s.device_memory - s.context, 0)
            cuda = CudaSettings(s.max_split_size_mb, s.expandable_segments, s.compute_major, room)
        return StepSettings(batch, s.dtype, mode, s.optimizer, s.backend, s.amp, s.checkpoint,
                            micro, s.inplace, s.isa, cuda, s.parallel, s.free_at_last_use)

    def simulated(self) -> bool:
        return self.network is not None and self.analysis is not None

    def total(self, batch: int) -> int:
        """What the device holds at the peak of the chosen mode at this batch: the tensors'
        peak, or on cuda the reserved peak plus the context (nvidia-smi's figure); for a
        micro-batched step `batch` is the micro-batch: what one backward holds."""
        if not self.simulated():
            return self.model.total(self.mode, batch, self.width, self.optimizer)
        if self.mode == "training" and self.micro_batch:
            step = simulate(self.network, self.analysis,
                            self.step_settings(batch, self.mode, None))
        else:
            step = self.step(batch)
        if self.backend == "cuda":
            held = step.reserved + self.settings.context
            # out of memory (a segment found no room even with the cache released): over
            return max(held, (self.device_memory or 0) + 1) if step.out_of_memory else held
        return step.peak

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
            if chosen.warnings:
                out["warnings"] = list(chosen.warnings)
            if self.backend == "cpu":
                from .machine import isa_named
                out["isa"] = isa_named(self.isa).name
            out["device_bytes"] = chosen.peak
            if self.backend == "cuda":
                out.update({"allocated_bytes": chosen.allocated,
                            "reserved_bytes": chosen.reserved,
                            "context_bytes": self.settings.context,
                            "device_bytes": chosen.reserved + self.settings.context})
                out["unmeasured"] = (
                    "the cuda rules (the caching allocator replayed from "
                    "c10/cuda/CUDACachingAllocator.cpp, cuBLAS's workspace, cuDNN's workspace "
                    "as one im2col matrix, foreach optimizers) and the CUDA context (a stated "
                    "default) come from PyTorch's source and pull requests, not a GPU")
        if self.settings.device:
            out["device"] = self.settings.device
        if self.settings.parallel.gpus > 1:
            out.update({"gpus": self.settings.parallel.gpus,
                        "strategy": self.settings.parallel.strategy,
                        "per_device": True})
        if self.device_memory is not None:
            out["capacity_bytes"] = self.device_memory
            if "device_bytes" in out:
                out["fits"] = out["device_bytes"] <= self.device_memory and not (
                    self.simulated() and chosen.out_of_memory)
            out["max_batch"] = (self.max_batch(self.device_memory) if self.simulated() else
                                m.max_batch(self.device_memory, self.mode, w, self.optimizer))
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


def memory_report(network, settings: MemorySettings, analysis=None) -> MemoryReport:
    """The network's memory at these settings (its analysis made here unless given)."""
    from .analyze import analyze
    from .memory import build
    analysis = analysis or analyze(network)
    model = build(network, analysis, settings.inplace)
    return MemoryReport(network.name, model, settings, network, analysis,
                        notes_total_remark(network, model))


def notes_total_remark(network, model: MemoryModel) -> str | None:
    """When the spec's `published:` figures differ from the count (the CS231n VGG16 table
    prints 24M activation values; its own rows add up to 15.2M)."""
    published = network.published
    if published is None or published.activation_values in (None, model.activation_values):
        return None
    return (f"Note: {published.source} prints {published.activation_values:,} activation values "
            f"per sample, but its own layers add up to {model.activation_values:,} "
            f"({binary(4 * model.activation_values)} in float32).")
