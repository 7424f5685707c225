"""Memory per device when training on several: `--gpus N --strategy ddp|fsdp|zero1|zero2|zero3`
(the batch is per device). What each strategy keeps on a device:

- ddp (torch.nn.parallel.DistributedDataParallel): everything a single device holds, plus the
  Reducer's gradient buckets (torch/csrc/distributed/c10d/reducer.cpp), made when the model
  is wrapped and kept: the parameters in reverse order of `parameters()`, a bucket closed once
  it reaches its cap (`_compute_bucket_assignment_by_size`): the first at 1 MiB
  (dist._DEFAULT_FIRST_BUCKET_BYTES), the others at bucket_cap_mb = 25 MiB. One more copy of
  the gradients; with `gradient_as_bucket_view=True` the gradients are views of the buckets
  and that copy goes (measured on the CPU with gloo: benchmarks/memory_ddp.py).
- zero1: the optimizer state split N ways (DeepSpeed ZeRO stage 1).
- zero2: and the gradients: each parameter's full gradient exists while it is
  reduce-scattered, then 1/N of it is kept.
- zero3 and fsdp (FSDP's FULL_SHARD, FSDP2's fully_shard): and the parameters, each device
  keeping 1/N. `Units` follows FSDP2's schedule (torch/distributed/fsdp/_fully_shard): each
  top-level block of the spec is a unit, the top-level layers belong to the root. The root's
  parameters are all-gathered before the forward and kept until the backward ends
  (reshard_after_forward is False for the root); a block's are all-gathered as it begins
  (into one flat buffer, copied out to the parameters: the unit's bytes twice for a moment)
  and freed when it returns; in backward a block is gathered again with the one before it
  prefetched (backward_prefetch, one unit). A block's gradients stay whole until its backward
  ends, then are reduce-scattered (copied into one flat buffer, the whole ones freed, 1/N
  kept). Measured with FSDP2 over PyTorch's fake process group (benchmarks/memory_ddp.py
  --fsdp --fake: deterministic); over gloo the peak varies from run to run with when the
  asynchronous collectives' buffers are freed. ZeRO-3 is taken to gather as FSDP does;
  ZeRO's stages are cross-checked against DeepSpeed's estimator formulas.
"""

from __future__ import annotations

from dataclasses import dataclass

STRATEGIES = ("ddp", "fsdp", "zero1", "zero2", "zero3")
FIRST_BUCKET = 1 << 20  # dist._DEFAULT_FIRST_BUCKET_BYTES
BUCKET_CAP = 25 << 20  # bucket_cap_mb=25
ROOT = None  # the unit of the top-level layers: the root module's own parameters


@dataclass(frozen=True)
class Parallel:
    """How the training state is split over `gpus` devices."""

    gpus: int = 1
    strategy: str | None = None
    bucket_view: bool = False  # DDP's gradient_as_bucket_view

    @property
    def ways(self) -> int:
        return self.gpus if self.strategy and self.strategy != "ddp" else 1

    @property
    def state(self) -> int:  # optimizer state split this many ways
        return self.ways

    @property
    def grads(self) -> int:
        return self.ways if self.strategy in ("zero2", "zero3", "fsdp") else 1

    @property
    def params(self) -> int:
        return self.ways if self.strategy in ("zero3", "fsdp") else 1

    @property
    def buckets(self) -> bool:
        return self.strategy == "ddp" and self.gpus > 1


class Units:
    """FSDP2's all-gathered units through a step, on a memory tracker (the module docstring).
    `keys[i]` is node i's unit (ROOT for a top-level layer), `sizes` each unit's full
    trainable bytes."""

    def __init__(self, keys: list, sizes: dict, ways: int, mem):
        self.keys, self.sizes, self.ways, self.mem = keys, sizes, ways, mem
        self.blocks = [k for i, k in enumerate(keys) if k is not ROOT and k not in keys[:i]]
        self.live: dict = {}  # unit -> its gathered parameters' block
        self.grads: dict = {}  # unit -> its whole gradients' blocks, until reduce-scattered
        self.shards: dict = {}  # unit -> its kept gradient shard

    def enter(self, index: int, backward: bool, phase: str) -> None:
        """Node `index` is about to run: free the units it no longer needs (in backward, a
        block's post-backward: its gradients reduce-scattered), gather the ones it needs."""
        unit = self.keys[index]
        wanted = {ROOT, unit}
        if backward:  # the next block of the backward, prefetched
            wanted.add(self._before(unit, index))
        for gone in [u for u in self.live if u not in wanted]:
            self.mem.release(self.live.pop(gone), ("gathered", gone))
            if backward:
                self.reduce(gone, phase)
        for needed in (u for u in (ROOT, unit, *sorted(wanted - {ROOT, unit}, key=str))
                       if u in self.sizes and u not in self.live):
            self.live[needed] = self.mem.alloc(self.sizes[needed], "weights",
                                               ("gathered", needed))
            # the flat all-gather output, until copied out into the parameters
            self.mem.moment(phase, f"{needed or 'root'} (all-gather)", self.sizes[needed])

    def _before(self, unit, index: int):
        """The block whose backward comes after this node's: the one before `unit` in the
        forward (for a root layer: the last block before it)."""
        if unit is not ROOT:
            at = self.blocks.index(unit)
            return self.blocks[at - 1] if at else ROOT
        earlier = [k for k in self.keys[:index] if k is not ROOT]
        return earlier[-1] if earlier else ROOT

    def gradient(self, index: int, nbytes: int) -> None:
        """A parameter's whole gradient, kept until its unit's backward ends."""
        block = self.mem.alloc(nbytes, "gradients", ("param",))
        self.grads.setdefault(self.keys[index], []).append(block)

    def reduce(self, unit, phase: str) -> None:
        """Reduce-scatter: the whole gradients copied into one flat buffer and freed, 1/N
        kept (added into the shard a micro-batch before left)."""
        whole = self.grads.pop(unit, [])
        if not whole:
            return
        nbytes = self.sizes.get(unit, 0)
        self.mem.moment(phase, f"{unit or 'root'} (reduce-scatter)", nbytes)
        for block in whole:
            self.mem.release(block, ("param",))
        if unit not in self.shards:
            self.shards[unit] = self.mem.alloc(split(nbytes, self.ways), "gradients",
                                               ("param",))

    def finish(self, phase: str = "backward") -> None:
        """The backward has ended: every unit resharded, every gradient reduce-scattered."""
        for unit in list(self.live):
            self.mem.release(self.live.pop(unit), ("gathered", unit))
        for unit in list(self.grads):
            self.reduce(unit, phase)


def split(nbytes: int, ways: int) -> int:
    """A device's shard (the flat parameter is padded to a multiple of N)."""
    return -(-nbytes // ways)


def bucket_sizes(sizes: list[int], first: int = FIRST_BUCKET, cap: int = BUCKET_CAP) -> list:
    """DDP's buckets over parameter sizes (bytes, parameters() order): reverse order, each
    bucket closed when it reaches its cap (the first's 1 MiB, then 25 MiB)."""
    buckets, current, limit = [], 0, first
    for size in reversed(sizes):
        current += size
        if current >= limit:
            buckets.append(current)
            current, limit = 0, cap
    if current:
        buckets.append(current)
    return buckets


def deepspeed_zero2(params: int, gpus: int) -> int:
    """DeepSpeed's estimate_zero2_model_states_mem_needs (no offload): 4 x params (fp16
    parameters and gradients) + 16 x params / gpus (fp32 master, Adam's two moments, fp32
    gradients), bytes per device."""
    return 4 * params + int(16 * params / gpus)


def deepspeed_zero3(params: int, largest_layer: int, gpus: int) -> int:
    """DeepSpeed's estimate_zero3_model_states_mem_needs (no offload): 4 x the largest
    layer's params + 18 x params / gpus, bytes per device."""
    return 4 * largest_layer + int(18 * params / gpus)


__all__ = ["ROOT", "STRATEGIES", "Parallel", "Units", "bucket_sizes", "deepspeed_zero2", "deepspeed_zero3",
           "split"]
