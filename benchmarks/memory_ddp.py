"""Ground truth for `cnncalc memory --gpus N --strategy ddp|fsdp`: per-process peaks of one
training step under DistributedDataParallel (or FSDP2's fully_shard, `--fsdp`: each top-level
block - a child module with children of its own, ResNet's layer1..4 - then the root), on CPU
processes with the gloo backend.

Each of `world` processes (torch.multiprocessing.spawn, MASTER_ADDR=127.0.0.1) profiles
everything from before its model exists (so DDP's gradient buckets, made when the model is
wrapped, are seen): the model, DDP (or not), SGD, one warm-up step, zero_grad(set_to_none),
then the measured step. The peak is the maximum of the running sum of the CPU allocator's
reported allocations (memory_truth.py's method). Batch is per process.

    python benchmarks/memory_ddp.py [--model resnet18] [--batch 8] [--world 2] [--no-ddp]
        [--bucket-view] [--fsdp [--fake]]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def step_peak(rank, name, batch, ddp, bucket_view, size, fsdp):
    """This process's peak bytes over building the model and two training steps, plus the
    batch (made before the profiled region)."""
    import torch
    import torch.nn.functional as F
    sys.path.insert(0, HERE)
    import memory_truth
    torch.set_num_threads(1)
    torch.manual_seed(rank)
    x = torch.randn(batch, 3, size, size)
    target = torch.randint(0, 1000, (batch,))

    def run():
        model = memory_truth.build(name)
        if fsdp:
            from torch.distributed.fsdp import fully_shard
            for child in model.children():
                if any(True for _ in child.children()):  # a block: one unit
                    fully_shard(child)
            fully_shard(model)
        elif ddp:
            model = torch.nn.parallel.DistributedDataParallel(
                model, gradient_as_bucket_view=bucket_view)
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        for _ in range(2):  # warm-up, then the measured step
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x), target)
            loss.backward()
            opt.step()
            del loss

    trace, _ = memory_truth.trace(run)
    return trace.peak + x.untyped_storage().nbytes() + target.untyped_storage().nbytes()


def worker(rank, world, port, name, batch, ddp, bucket_view, size, out, fsdp=False):
    import torch.distributed as dist
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    peak = step_peak(rank, name, batch, ddp, bucket_view, size, fsdp)
    gathered = [None] * world
    dist.all_gather_object(gathered, peak)
    if rank == 0:
        with open(out + ".part", "w") as fh:
            json.dump({"peaks": gathered}, fh)
        os.replace(out + ".part", out)  # whole or not at all
    dist.destroy_process_group()


def measure(name="resnet18", batch=8, world=2, ddp=True, bucket_view=False, size=224,
            fsdp=False):
    """Per-process peak bytes (a list, one per rank)."""
    import tempfile
    import torch.multiprocessing as mp
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "peaks.json")
        try:
            mp.spawn(worker, args=(world, free_port(), name, batch, ddp, bucket_view, size,
                                   out, fsdp), nprocs=world, join=True)
        except mp.ProcessExitedException:  # gloo's teardown can abort a process ("terminate
            if not os.path.exists(out):  # called without an active exception") after every
                raise  # peak was gathered and written: only an earlier failure counts
        with open(out) as fh:
            return json.load(fh)["peaks"]


def fake_worker(world, name, batch, size):
    """FSDP2 as rank 0 of `world` over the fake process group; prints the peak."""
    import torch.distributed as dist
    from torch.testing._internal.distributed.fake_pg import FakeStore
    dist.init_process_group("fake", store=FakeStore(), rank=0, world_size=world)
    print(json.dumps({"peak": step_peak(0, name, batch, False, False, size, True)}))


def measure_fake(name="resnet18", batch=8, world=2, size=224) -> int:
    """FSDP2's peak bytes on one of `world` devices, deterministic (a fresh process: the
    process group is global)."""
    import subprocess
    code = (f"import sys; sys.path.insert(0, {HERE!r}); import memory_ddp; "
            f"memory_ddp.fake_worker({world}, {name!r}, {batch}, {size})")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])["peak"]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="resnet18")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--world", type=int, default=2)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--no-ddp", action="store_true")
    ap.add_argument("--bucket-view", action="store_true")
    ap.add_argument("--fsdp", action="store_true")
    ap.add_argument("--fake", action="store_true",
                    help="FSDP2 in one process over the fake process group (deterministic)")
    args = ap.parse_args(argv)
    if args.fake:
        print(json.dumps({"model": args.model, "batch": args.batch, "world": args.world,
                          "fsdp": True, "fake": True,
                          "peak": measure_fake(args.model, args.batch, args.world, args.size)}))
        return
    peaks = measure(args.model, args.batch, args.world, not args.no_ddp, args.bucket_view,
                    args.size, args.fsdp)
    print(json.dumps({"model": args.model, "batch": args.batch, "world": args.world,
                      "ddp": not args.no_ddp, "fsdp": args.fsdp, "peaks": peaks}))


if __name__ == "__main__":
    main()
