"""The whole step: settings, the loss, checkpointed segments, micro-batches, the optimizer.

`simulate(network, report, settings)` returns the peak of one training step (after a warm-up
step, so the optimizer state exists; `zero_grad(set_to_none=True)` before it) or of one
inference forward, its breakdown, where it happens, what rests between steps and the
timeline of live bytes. `timeline(...)` gives the timeline alone, as data.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..conventions import DTYPES
from ..layers.stepmem import AVX2, IN_PLACE_OP, StepContext
from .machine import isa_named
from .parallel import ROOT, Parallel, Units, bucket_sizes, split
from .step import CATEGORIES, Simulator, Tracker, plan

BACKENDS = ("cpu", "cuda")
CUDA_BLOCK = 512  # the caching allocator rounds every block up to 512 bytes
TARGET = 8  # bytes per sample of the int64 class target
STEP_TENSOR = 4  # Adam's per-parameter `step` (a float32 tensor on the CPU)


@dataclass(frozen=True)
class StepSettings:
    batch: int
    dtype: str = "float32"
    mode: str = "training"
    optimizer: str = "sgd"
    backend: str | None = None
    amp: bool = False
    checkpoint: int | None = None  # segments of checkpoint_sequential
    micro_batch: int | None = None  # gradient accumulation: samples per backward
    inplace: bool = True
    isa: str | None = None  # the CPU's instruction set (backend "cpu"): "avx2", "avx512";
    # None: the running machine's (analysis/machine.py)
    cuda: CudaSettings | None = None  # backend "cuda": the allocator's settings
    parallel: Parallel = field(default_factory=Parallel)  # several devices (parallel.py)
    free_at_last_use: bool = False  # named tensors freed after their last reader (not
    # held as the forward's locals until their block returns)


@dataclass(frozen=True)
class CudaSettings:
    """What the CUDA caching allocator and cuBLAS are run with (cuda_allocator.py)."""

    max_split_size_mb: int | None = None  # PYTORCH_CUDA_ALLOC_CONF=max_split_size_mb:N
    expandable_segments: bool = False  # PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True
    compute_major: int = 0  # the GPU's compute capability major (0: not known)
    capacity: int | None = None  # the device's memory less the context: past it the
    # allocator releases its cache, then runs out of memory

    def cublas_workspace(self) -> int:
        """cuBLAS's workspace, allocated through the caching allocator at the first cuBLAS
        call and kept (PR #89027): CUBLAS_WORKSPACE_CONFIG's default :4096:2:16:8, i.e.
        4096 KiB x 2 + 16 KiB x 8 = 8,519,680 B; 32 MiB on Hopper and Blackwell, compute
        capability 9 to 12 (PR #120925; CublasHandlePool.cpp's `use32mb`). Taken at the
        step's start (every zoo network has a linear layer)."""
        if 9 <= self.compute_major <= 12:
            return 32 * 2**20
        return 4096 * 1024 * 2 + 16 * 1024 * 8


@dataclass(frozen=True)
class StepResult:
    peak: int
    breakdown: dict  # CATEGORIES -> bytes at the peak
    phase: str  # forward, loss, backward, recompute, optimizer
    layer: str  # the op during which the peak happens
    at_rest: int  # weights, gradients, optimizer state and the batch between steps
    resting: dict
    timeline: tuple  # step.Moment
    allocated: int | None = None  # cuda: max_memory_allocated (the allocator's blocks)
    reserved: int | None = None  # cuda: max_memory_reserved (its segments)
    out_of_memory: bool = False  # cuda: a segment did not fit the capacity
    warnings: tuple = ()  # what PyTorch would refuse at these settings (one line each)

    def as_dict(self) -> dict:
        return {"peak_bytes": self.peak, "breakdown": self.breakdown,
                "peak_phase": self.phase, "peak_layer": self.layer,
                "at_rest_bytes": self.at_rest, "at_rest": self.resting}


def optimizer_state(optimizer: str, sizes: list[int], backend: str | None) -> int:
    """State kept between steps: SGD none; momentum one buffer per parameter; Adam two
    moments per parameter and a `step` tensor each (float32 on the CPU; a CPU scalar, not
    device memory, on CUDA)."""
    if optimizer == "momentum":
        return sum(sizes)
    if optimizer == "adam":
        return 2 * sum(sizes) + (0 if backend == "cuda" else STEP_TENSOR * len(sizes))
    return 0


def optimizer_transient(optimizer: str, sizes: list[int], backend: str | None) -> int:
    """Temporaries of one step. CPU (and the framework figure): the for-loop implementation
    PyTorch defaults to on CPU tensors; Adam's `exp_avg_sq.sqrt()` and its division are two
    parameter-sized temporaries while the previous parameter's `denom` is still bound:
    max_i (2 s_i + s_(i-1)) (measured). CUDA defaults to foreach: one sqrt list for all
    parameters at once, sum s_i (measured on the CPU with foreach=True). SGD and momentum
    update in place."""
    if optimizer != "adam" or not sizes:
        return 0
    if backend == "cuda":
        return sum(sizes)
    return max(2 * s + (sizes[i - 1] if i else 0) for i, s in enumerate(sizes))


def segments(network, count: int) -> tuple[list[list[int]], list[int]]:
    """checkpoint_sequential's split over the top-level layers (a top-level group is one
    function): count - 1 checkpointed segments of len // count functions, the rest run
    normally. Returns (checkpointed segments as node indices, the last part)."""
    functions: list[list[int]] = []
    keys: list = []
    for index, node in enumerate(network.nodes):
        key = node.groups[0] if node.groups else node.name
        if not keys or keys[-1] != key:
            keys.append(key)
            functions.append([])
        functions[-1].append(index)
    size = len(functions) // count
    done, end = [], 0
    for start in range(0, size * (count - 1), size) if size else []:
        end = start + size
        done.append([i for f in functions[start:end] for i in f])
    return done, [i for f in functions[end:] for i in f]


def simulate(network, report, settings: StepSettings) -> StepResult:
    act = DTYPES[settings.dtype]
    param = 4 if settings.amp else act  # float32 master weights under autocast
    training = settings.mode == "training"
    batch = settings.micro_batch or settings.batch if training else settings.batch
    ctx = StepContext(batch=batch, act=act, param=param, amp=settings.amp,
                      backend=settings.backend, grad=training,
                      isa=isa_named(settings.isa) if settings.backend == "cpu" else AVX2)
    nodes = plan(network, report, ctx, settings.inplace)
    mem = Tracker(rounding=CUDA_BLOCK if settings.backend == "cuda" else 1)
    cuda = settings.cuda or CudaSettings() if settings.backend == "cuda" else None
    if cuda is not None:
        mem.events = []
        mem.alloc(cuda.cublas_workspace(), "transients", ("cublas",))
    sizes = [s for node in nodes for s in node.param_sizes]
    par = settings.parallel
    full = report.totals.params * param
    held = [split(s, par.params) for s in sizes]  # each parameter's shard on this device
    weights = full - sum(sizes) + sum(held)  # the buffers whole, the parameters' shards
    shards = [split(s, par.state) for s in sizes]
    state = optimizer_state(settings.optimizer, shards, settings.backend) if training else 0
    if cuda is None:
        mem.alloc(weights, "weights", ("model",))
        mem.alloc(state, "optimizer_state", ("optimizer",))
    else:  # the allocator sees one block per tensor: each parameter, then the buffers;
        # each parameter's optimizer state tensors
        for size in held:
            mem.alloc(size, "weights", ("model",))
        mem.alloc(full - sum(sizes), "weights", ("model",))
        per = state // sum(shards) if shards and state else 0
        for size in shards:
            for _ in range(per):
                mem.alloc(size, "optimizer_state", ("optimizer",))
    buckets = bucket_sizes(sizes) if par.buckets and training else []
    for size in buckets:  # DDP's Reducer: made with the model, kept
        mem.alloc(size, "gradients", ("ddp",))
    batch_bytes = batch * report.input_shape.size * (4 if settings.amp else act)
    if training:
        batch_bytes += batch * TARGET
    grads = 0 if not training or (buckets and par.bucket_view) else sum(
        split(s, par.grads) for s in sizes)
    resting = {"weights": weights, "gradients": grads + sum(buckets),
               "optimizer_state": state, "batch": batch_bytes}
    if not training:
        sim = Simulator(nodes, mem, not settings.free_at_last_use)
        sim.units = units(nodes, par, mem)
        sim.storage[-1] = mem.alloc(batch_bytes, "saved_activations", ("batch",))
        sim.forward(range(len(nodes)), grad=False)
        sim.end_autocast()
        return result(mem, resting, cuda)
    passes = min(2, settings.batch // batch)  # later micro-batches repeat the second
    sim = None
    for number in range(passes):
        if sim is None:
            sim = Simulator(nodes, mem, not settings.free_at_last_use)
            sim.units = units(nodes, par, mem)
        else:
            sim = sim.fresh()
        sim.grad_shard = 1 if sim.units else par.grads  # FSDP: the units reduce-scatter
        if buckets and par.bucket_view:  # the gradients are views of the buckets
            sim.param_grads.update({i: None for i, n in enumerate(nodes) if n.param_bytes})
        sim.storage[-1] = mem.alloc(batch_bytes, "saved_activations", ("batch",))
        train_pass(sim, network, report, settings, ctx, accumulate=number > 0)
        if number < passes - 1:  # the next micro-batch replaces this one and its output
            mem.release(sim.storage[-1], ("batch",))
            for index, node in enumerate(nodes):  # and the other named inputs
                if not node.inputs:
                    mem.release(sim.storage.get(index), ("batch",))
            mem.release(sim.storage.get(len(nodes) - 1), ("output",))
    mem.moment("optimizer", settings.optimizer,
               optimizer_transient(settings.optimizer, shards, settings.backend))
    return replace(result(mem, resting, cuda),
                   warnings=checkpoint_hazards(network, nodes, settings.checkpoint))


def checkpoint_hazards(network, nodes, count: int | None) -> tuple:
    """A checkpointed segment whose first op works in place on a tensor made outside it
    (ResNet-18's stem ReLU under --checkpoint 4): the checkpoint saved that tensor as its
    input, the op bumps its version, and backward fails with "one of the variables needed for
    gradient computation has been modified by an inplace operation" (measured, torch 2.13)."""
    if not count:
        return ()
    done, _ = segments(network, count)
    found = []
    for number, indices in enumerate(done):
        first = nodes[indices[0]]
        if number and first.ops and first.ops[0].held == IN_PLACE_OP:
            found.append(f"checkpoint segment {number + 1} begins with '{first.name}', which "
                         "works in place on the segment's input: PyTorch's backward fails "
                         "(a tensor saved for gradient modified by an in-place operation); "
                         "make it out of place (--no-inplace models that) or choose another "
                         "--checkpoint")
    return tuple(found)


def units(nodes, par: Parallel, mem) -> Units | None:
    """FSDP's units when the parameters are sharded: each top-level block one, the
    top-level layers the root's (parallel.py)."""
    if par.params <= 1:
        return None
    keys = [node.groups[0] if node.groups else ROOT for node in nodes]
    sizes: dict = {}
    for key, node in zip(keys, nodes):
        sizes[key] = sizes.get(key, 0) + node.param_bytes
    return Units(keys, {k: v for k, v in sizes.items() if v}, par.params, mem)


def result(mem: Tracker, resting: dict, cuda: CudaSettings | None = None) -> StepResult:
    allocated = reserved = None
    oom = False
    if cuda is not None:
        from .cuda_allocator import NO_LIMIT, replay
        split = cuda.max_split_size_mb * 2**20 if cuda.max_split_size_mb else NO_LIMIT
        allocator = replay(mem.events, split, cuda.expandable_segments, cuda.capacity)
        allocated, reserved = allocator.peak_allocated, allocator.peak_reserved
        oom = allocator.out_of_memory
    return StepResult(mem.peak, dict(mem.peak_breakdown), mem.peak_phase, mem.peak_layer,
                      sum(resting.values()), resting, tuple(mem.timeline), allocated,
                      reserved, oom)


def train_pass(sim: Simulator, network, report, settings, ctx, accumulate: bool) -> None:
    """Forward (checkpointed segments keep nothing for backward, as
    checkpoint(use_reentrant=False) does), the loss, backward (recomputing each checkpointed
    segment's saved tensors just before its backward)."""
    mem, last = sim.mem, len(sim.nodes) - 1
    done, rest = segments(network, settings.checkpoint) if settings.checkpoint else ([], None)
    rest = list(range(len(sim.nodes))) if rest is None else rest
    kept = []  # (segment, blocks its checkpoint holds: the segment's inputs)
    for number, indices in enumerate(done):
        inside = set(indices)
        entries = {s for i in indices for s in sim.nodes[i].inputs if s not in inside}
        blocks = [sim.storage.get(s) for s in entries]
        for block in blocks:
            mem.hold(block, ("checkpoint", number))
        kept.append(blocks)
        sim.forward(indices, grad=False)
    sim.forward(rest)
    sim.end_autocast()
    loss(sim, report, settings, ctx, last)
    sim.backward(rest, accumulate)
    for number in range(len(done) - 1, -1, -1):
        indices = done[number]
        inside = set(indices)
        sim.forward(indices, phase="recompute", within=inside)  # non-reentrant: only what
        # the segment's ops save is kept; its output is not
        sim.end_autocast()
        sim.backward(indices, accumulate)
        for block in kept[number]:
            mem.release(block, ("checkpoint", number))
    if sim.units:
        sim.units.finish()


def loss(sim: Simulator, report, settings, ctx, last: int) -> None:
    """cross_entropy on the logits (measured): log_softmax's output is kept for the
    backward (float32 under autocast, after a float32 copy of the logits); the backward
    makes nll_loss's gradient, then the logits' gradient."""
    mem = sim.mem
    values = ctx.batch * report.rows[-1].output_shape.size
    width = 4 if settings.amp else ctx.act
    kept = values * width + (values * 4 if settings.amp else 0)
    block = mem.alloc(kept, "saved_activations", ("loss",))
    mem.moment("loss", "cross_entropy")
    grad = mem.alloc(values * ctx.act, "activation_gradients", ("grad", last))
    mem.moment("backward", "cross_entropy",
               values * width + (values * 4 if settings.amp else 0))
    sim.grad[last] = (grad, False)
    mem.release(block, ("loss",))


def timeline(network, report, settings: StepSettings) -> list[dict]:
    """Live bytes after each op through the step: [{phase, layer, live_bytes, breakdown}]."""
    return [{"phase": m.phase, "layer": m.layer, "live_bytes": m.live_bytes,
             "breakdown": m.breakdown}
            for m in simulate(network, report, settings).timeline]


__all__ = ["BACKENDS", "CATEGORIES", "StepResult", "StepSettings", "simulate", "timeline"]
