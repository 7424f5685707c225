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
  keeping 1/N; a unit (a top-level block of the spec) is all-gathered before it runs: the
  largest unit's full parameters, twice (the one running and the one prefetched), are held
  through the step. FSDP2 runs on two CPU processes with gloo (benchmarks/memory_ddp.py
  --fsdp), but its peak varies from run to run (ResNet-18, batch 8 per process: 288 to 334 MB
  against 300 MB here), so it is not pinned; ZeRO's stages are DeepSpeed's formulas.
"""

from __future__ import annotations

from dataclasses import dataclass

STRATEGIES = ("ddp", "fsdp", "zero1", "zero2", "zero3")
FIRST_BUCKET = 1 << 20  # dist._DEFAULT_FIRST_BUCKET_BYTES
BUCKET_CAP = 25 << 20  # bucket_cap_mb=25
PREFETCHED = 2  # the all-gathered unit running and the next one


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


__all__ = ["STRATEGIES", "Parallel", "bucket_sizes", "deepspeed_zero2", "deepspeed_zero3",
           "split"]
