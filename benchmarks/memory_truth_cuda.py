"""`python benchmarks/memory_truth.py --device cuda`: every CUDA rule of `cnncalc memory
--backend cuda` checked on a GPU, in one command (there is none here: written ready, not run).

Per case (zoo networks torchvision has, batch 1 and 8; training with SGD and Adam, inference,
bf16 autocast), in this process, one at a time:
- `allocated`: torch.cuda.max_memory_allocated() over one step after a warm-up step
  (torch.cuda.reset_peak_memory_stats() between), against cnncalc's `allocated_bytes`;
- `reserved`: torch.cuda.max_memory_reserved() after torch.cuda.empty_cache() and the reset,
  against `reserved_bytes` (the caching allocator replayed);
- `driver`: what the driver reports the process uses (NVML's per-process used memory when
  pynvml is installed, else total - free from torch.cuda.mem_get_info()) at the step's end,
  against `device_bytes` (reserved + the CUDA context; the context measured as the driver's
  figure less torch.cuda.memory_reserved() is printed too).
The device is named for `--device` by the GPU's name (the table's compute capability sets
cuBLAS's workspace: 32 MiB from 9.0);
PYTORCH_CUDA_ALLOC_CONF is read and passed on (max_split_size_mb, expandable_segments).
Results go to benchmarks/results/memory_truth_cuda.json with the GPU, driver and torch
versions; docs/memory.md's "On a GPU" table is written from them by hand (measured apart
from unmeasured).
"""

from __future__ import annotations

import json
import os
import time

import torch
import torch.nn.functional as F

CASES = [("training", "sgd", False), ("training", "adam", False), ("inference", None, False),
         ("training", "sgd", True)]
MODELS = ["resnet18", "mobilenet_v2", "resnet50", "vgg16", "densenet121"]


def driver_bytes() -> int:
    """The process's device memory as the driver counts it (nvidia-smi's figure)."""
    try:
        import pynvml
        pynvml.nvmlInit()
        handle = pynvml.nvmlDeviceGetHandleByIndex(torch.cuda.current_device())
        pid = os.getpid()
        for proc in pynvml.nvmlDeviceGetComputeRunningProcesses(handle):
            if proc.pid == pid and proc.usedGpuMemory is not None:
                return int(proc.usedGpuMemory)
    except (ImportError, Exception):  # NVML missing or refusing (containers): fall back
        pass
    free, total = torch.cuda.mem_get_info()
    return int(total - free)


def measure(model, x, mode, optimizer, amp) -> dict:
    import memory_truth
    model = model.cuda()
    x = x.cuda()
    ac = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if amp else (
        lambda: torch.autocast("cuda", enabled=False))
    if mode == "inference":
        model.eval()

        def step():
            with torch.no_grad(), ac():
                model(x)
    else:
        opt = memory_truth.make_optimizer(optimizer, list(model.parameters()))
        target = torch.randint(0, 1000, (x.shape[0],), device="cuda")

        def step():
            opt.zero_grad(set_to_none=True)
            with ac():
                loss = F.cross_entropy(model(x), target)
            loss.backward()
            opt.step()
    step()  # warm-up: optimizer state, cuBLAS workspace, cuDNN's choice
    torch.cuda.synchronize()
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    step()
    torch.cuda.synchronize()
    driver = driver_bytes()
    return {"allocated": torch.cuda.max_memory_allocated(),
            "reserved": torch.cuda.max_memory_reserved(), "driver": driver,
            "context": driver - torch.cuda.memory_reserved()}


def predicted(zoo, batch, mode, optimizer, amp, device) -> dict:
    from typer.testing import CliRunner
    from cnncalc.cli import app
    args = ["memory", zoo, "--batch", str(batch), "--mode", mode, "--optimizer",
            optimizer or "sgd", "--format", "json", "--backend", "cuda"]
    conf = os.environ.get("PYTORCH_CUDA_ALLOC_CONF", "")
    for item in filter(None, conf.split(",")):
        key, _, value = item.partition(":")
        if key == "max_split_size_mb":
            args += ["--max-split-size-mb", value]
        elif key == "expandable_segments" and value.lower() == "true":
            args += ["--expandable-segments"]
    if device:
        args[args.index("--backend"):args.index("--backend") + 2] = ["--device", device]
    if amp:
        args += ["--amp", "--dtype", "bfloat16"]
    result = CliRunner().invoke(app, args)
    if result.exit_code:
        raise RuntimeError(result.output)
    return json.loads(result.stdout)


def table_device() -> str | None:
    """The device table's name of this GPU, when it has one."""
    from cnncalc.analysis.devices import table
    gpu = torch.cuda.get_device_name().lower().replace(" ", "")
    for name, entry in table().items():
        title = entry.title.lower().replace("nvidia", "").replace(" ", "")
        if not entry.measured and title[:6] and title[:6] in gpu:
            return name
    return None


def run(models=None, batches=(1, 8), out=None) -> int:
    import memory_truth
    if not torch.cuda.is_available():
        print("memory_truth --device cuda: no CUDA device here (torch.cuda.is_available() "
              "is False)")
        return 2
    device = table_device()
    rows = []
    for name in models or MODELS:
        zoo = memory_truth.ZOO_OF.get(name, name)
        for batch in batches:
            for mode, optimizer, amp in CASES:
                torch.manual_seed(0)
                got = measure(memory_truth.build(name), torch.randn(
                    batch, 3, memory_truth.input_size(name), memory_truth.input_size(name)),
                    mode, optimizer, amp)
                ours = predicted(zoo, batch, mode, optimizer, amp, device)
                row = {"model": name, "batch": batch, "mode": mode, "optimizer": optimizer,
                       "amp": amp, "measured": got,
                       "cnncalc": {k: ours[k] for k in ("allocated_bytes", "reserved_bytes",
                                                        "device_bytes", "context_bytes")}}
                rows.append(row)
                print(f"{name} b{batch} {mode} {optimizer or '-'}{' amp' if amp else ''}: "
                      f"allocated {ours['allocated_bytes'] / got['allocated']:.3f}, reserved "
                      f"{ours['reserved_bytes'] / got['reserved']:.3f}, nvidia-smi "
                      f"{ours['device_bytes'] / got['driver']:.3f} (context measured "
                      f"{got['context'] / 2**20:.0f} MiB)", flush=True)
                torch.cuda.empty_cache()
    meta = {"gpu": torch.cuda.get_device_name(), "torch": torch.__version__,
            "cuda": torch.version.cuda, "device": device, "date": time.strftime("%Y-%m-%d"),
            "alloc_conf": os.environ.get("PYTORCH_CUDA_ALLOC_CONF", "")}
    out = out or os.path.join(os.path.dirname(os.path.abspath(__file__)), "results",
                              "memory_truth_cuda.json")
    with open(out, "w") as fh:
        json.dump({"meta": meta, "results": rows}, fh, indent=1)
    return 0
