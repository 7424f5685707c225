"""Ground truth for `cnncalc time`: PyTorch's own step times on this machine, against the
prediction of `cnncalc time --device cpu` after `cnncalc calibrate`.

Every zoo network is exported with cnncalc's PyTorch exporter (interop/pytorch_export.py, the
module `cnncalc export --to pytorch` writes) and timed with torch.utils.benchmark at a fixed
thread count (the calibration is measured at the same count): an eval forward under
torch.no_grad(), and an SGD training step (zero_grad(set_to_none=True), forward, loss =
output.float().mean(), backward, step). Each case is the median of repeats (3 to 15, about
six seconds of them). The prediction is made in the same process from the stored calibration.

Only ratios (predicted / measured) are reported: the machine is shared, so absolute times say
little. Cases run cheapest first (batch 1 inference of every network, then batch 8, then
training); the results file is written after every case and a rerun skips what is done.

Usage::

    python benchmarks/time_truth.py [--threads 1] [--calibrate] [--models a,b]
        [--modes inference,training] [--batches 1,8] [--budget SECONDS]
    python benchmarks/time_truth.py --device cuda --predict h200   # on a GPU machine
    python benchmarks/time_truth.py --write-docs                   # the grid into docs/time.md
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results" / "time_truth.json"
DOCS = ROOT / "docs" / "time.md"
BEGIN, END = "<!-- time_truth grid: begin -->", "<!-- time_truth grid: end -->"


def exported_model(name: str):
    """The zoo network as the PyTorch module `cnncalc export` writes, and its input shape."""
    from cnncalc import zoo
    from cnncalc.analysis.analyze import analyze
    from cnncalc.interop.pytorch_export import export
    from cnncalc.language.document import load
    network = load(zoo.path_of(name), f"{name}.yaml")
    source = export(network, analyze(network), f"{name}.yaml")
    path = Path(tempfile.mkdtemp()) / f"{name}_model.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(f"timed_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    shape = network.input_shape
    return module.Model(), (shape.c, *shape.spatial)


def measure(torch, model, x, mode: str, threads: int, budget: float,
            cpu_time: bool) -> float:
    """Median seconds of one eval forward (no_grad) or one SGD step."""
    from torch.utils.benchmark import Timer
    if mode == "inference":
        model.eval()
        def step():
            with torch.no_grad():
                model(x)
    else:
        model.train()
        optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
        def step():
            optimizer.zero_grad(set_to_none=True)
            model(x).float().mean().backward()
            optimizer.step()
    clock = time.thread_time if cpu_time else time.perf_counter
    if x.is_cuda:  # wait for the GPU's queued kernels before reading the clock
        def clock():
            torch.cuda.synchronize()
            return time.perf_counter()
    timer = Timer("step()", globals={"step": step}, num_threads=threads, timer=clock)
    once = timer.timeit(1).median  # the warm-up (oneDNN builds its primitives)
    repeats = max(3, min(15, int(budget / max(once, 1e-6))))
    return median(timer.timeit(1).median for _ in range(repeats))


def predict(name: str, mode: str, batch: int, device_name: str) -> float:
    from cnncalc import zoo
    from cnncalc.analysis import devices
    from cnncalc.analysis.analyze import analyze
    from cnncalc.analysis.calibration import load
    from cnncalc.analysis.timing import TimeSettings, predict as timing
    from cnncalc.language.document import load as load_spec
    network = load_spec(zoo.path_of(name), f"{name}.yaml")
    calibration, warning = load()
    if warning:
        print(warning, file=sys.stderr)
    device = devices.lookup(device_name, calibration)
    return timing(network, analyze(network), device,
                  TimeSettings(device_name, batch, mode)).total_seconds


def order(names: list[str]) -> list[str]:
    """Cheapest first, by forward MACs; a family spec at its defaults (vgg = vgg16, resnet =
    resnet50) once, under the longer, specific name."""
    from cnncalc import zoo
    from cnncalc.analysis.analyze import analyze
    from cnncalc.language.document import load
    macs, same = {}, {}
    for name in sorted(names, key=len, reverse=True):
        network = load(zoo.path_of(name), f"{name}.yaml")
        totals = analyze(network).totals
        key = (totals.params, totals.macs, str(network.input_shape))
        if key not in same:
            same[key], macs[name] = name, totals.macs
    return sorted(macs, key=macs.get)


def run(args) -> None:
    out = Path(args.out)
    from cnncalc.analysis.calibrate import keep_freed_memory
    reused = not args.glibc_default and keep_freed_memory()
    import torch
    torch.set_num_threads(args.threads)
    if args.calibrate:
        from cnncalc.analysis.calibrate import measure as calibrate
        from cnncalc.analysis.calibration import store
        print("calibrating...", file=sys.stderr)
        store(calibrate(threads=args.threads, clock="cpu" if args.cpu_time else "wall"))
    from cnncalc import zoo
    results = json.loads(out.read_text()) if out.exists() else {"cases": {}}
    results["meta"] = {"date": time.strftime("%Y-%m-%d", time.gmtime()),
                       "torch": torch.__version__, "threads": args.threads,
                       "device": args.device, "predicted_as": args.predict,
                       "clock": "thread CPU time" if args.cpu_time else "wall",
                       "cpu_count": os.cpu_count(), "freed_memory_reused": reused}
    names = order(args.models.split(",") if args.models else zoo.names())
    deadline = time.time() + args.budget
    for mode in args.modes.split(","):
        for batch in map(int, args.batches.split(",")):
            for name in names:
                key = f"{name}/{mode}/{batch}/{args.device}"
                if key in results["cases"] or time.time() > deadline:
                    continue
                model, shape = exported_model(name)
                x = torch.randn(batch, *shape)
                if args.device == "cuda":
                    model, x = model.cuda(), x.cuda()
                load = os.getloadavg()[0]
                measured = measure(torch, model, x, mode, args.threads, args.seconds,
                                   args.cpu_time)
                predicted = predict(name, mode, batch, args.predict)
                results["cases"][key] = {"network": name, "mode": mode, "batch": batch,
                                         "device": args.device, "measured": measured,
                                         "predicted": predicted, "ratio": predicted / measured,
                                         "load_average": load}
                print(f"{key}: ratio {predicted / measured:.2f} (load {load:.1f})", flush=True)
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_text(json.dumps(results, indent=1) + "\n")


def grid(results: dict, device: str = "cpu") -> str:
    """Markdown: one row per network, one column per (mode, batch): predicted / measured."""
    cases = [c for c in results["cases"].values() if c["device"] == device]
    columns = sorted({(c["mode"], c["batch"]) for c in cases})
    lines = ["| network | " + " | ".join(f"{m} b{b}" for m, b in columns) + " |",
             "|---|" + "---:|" * len(columns)]
    for name in dict.fromkeys(c["network"] for c in cases):
        cells = []
        for mode, batch in columns:
            found = [c for c in cases if (c["network"], c["mode"], c["batch"]) == (name, mode, batch)]
            cells.append(f"{found[0]['ratio']:.2f}" if found else "-")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    ratios = [c["ratio"] for c in cases]
    within = sum(0.8 <= r <= 1.2 for r in ratios)
    beyond = sum(r > 2 or r < 0.5 for r in ratios)
    summary = (f"{len(ratios)} cases measured; {within} within +-20% "
               f"({100 * within / max(len(ratios), 1):.0f}%), {beyond} beyond 2x; ratios "
               f"{min(ratios, default=0):.2f} to {max(ratios, default=0):.2f}.")
    return summary + "\n\n" + "\n".join(lines)


def repredict(results: dict) -> None:
    """Predict every case again with the current code and the stored calibration (the
    measured times stay): the model can change after the measuring."""
    for case in results["cases"].values():
        if case["device"] == "cpu":
            case["predicted"] = predict(case["network"], case["mode"], case["batch"], "cpu")
            case["ratio"] = case["predicted"] / case["measured"]
    RESULTS.write_text(json.dumps(results, indent=1) + "\n")


def write_docs(again: bool) -> None:
    """The grid of every results file (benchmarks/results/time_truth*.json) into docs/time.md;
    `again`: predict the first file's cases anew with this code and calibration."""
    results = json.loads(RESULTS.read_text())
    for other in sorted(RESULTS.parent.glob("time_truth?*.json")):
        results["cases"].update(json.loads(other.read_text())["cases"])
    if again:  # every case, with one calibration; kept in the main results file
        repredict(results)
    text = DOCS.read_text()
    meta = results["meta"]
    loads = [c["load_average"] for c in results["cases"].values() if "load_average" in c]
    reused = "freed memory reused (mallopt)" if meta.get("freed_memory_reused") else \
        "glibc's malloc as it is"
    block = (f"{BEGIN}\nMeasured {meta['date']}, torch {meta['torch']}, {meta['threads']} "
             f"thread(s) timed by {meta.get('clock', 'wall')}, {meta['cpu_count']} logical "
             f"CPUs, load average {min(loads, default=0):.1f}-{max(loads, default=0):.1f}, "
             f"{reused}.\n\n{grid(results)}\n{END}")
    start, end = text.index(BEGIN), text.index(END) + len(END)
    DOCS.write_text(text[:start] + block + text[end:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--calibrate", action="store_true", help="run cnncalc calibrate first")
    parser.add_argument("--models", default="")
    parser.add_argument("--modes", default="inference,training")
    parser.add_argument("--batches", default="1,8")
    parser.add_argument("--budget", type=float, default=3600, help="stop starting cases after")
    parser.add_argument("--seconds", type=float, default=6, help="of repeats per case")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--predict", default="cpu", help="the cnncalc device to compare with")
    parser.add_argument("--cpu-time", action="store_true", help="time the thread's CPU time "
                        "(one thread, a shared machine), in the calibration too")
    parser.add_argument("--glibc-default", action="store_true", help="leave malloc as it is "
                        "(freed memory returned to the system and zeroed again on first touch)")
    parser.add_argument("--write-docs", action="store_true")
    parser.add_argument("--repredict", action="store_true", help="with --write-docs: predict "
                        "again with the current code and calibration")
    parser.add_argument("--out", default=str(RESULTS), help="the results file")
    args = parser.parse_args()
    if args.device == "cuda" and args.cpu_time:
        parser.error("--cpu-time times the CPU: not with --device cuda")
    if args.write_docs:
        return write_docs(args.repredict)
    run(args)


if __name__ == "__main__":
    main()
