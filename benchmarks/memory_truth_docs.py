"""Write the table "cnncalc against PyTorch's measured peak" into docs/memory.md.

Reads the oracle's results (benchmarks/results/memory_truth.json, written by
memory_truth.py), asks `cnncalc memory` for the same case, and replaces what lies between
the two marker comments of the Markdown file with the table, the machine and the dates.

cnncalc's figure for each measured case:

    cnncalc memory ZOO --batch B --mode training|inference --optimizer sgd|momentum|adam
        --backend cpu [--amp --dtype bfloat16] --format json

read as `training_bytes` (training) or `peak_inference_bytes` (inference). Options this
cnncalc does not have yet are left out and the table says so: without `--backend` the
framework-level figure is compared; without `--amp` an AMP case is compared with
`--dtype bfloat16` (which also halves the weights, gradients and optimizer state: not what
autocast does).

Usage: python benchmarks/memory_truth.py --write-docs [docs/memory.md] [--out RESULTS]
   or: python benchmarks/memory_truth_docs.py [RESULTS] [MARKDOWN]
"""

from __future__ import annotations

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
BEGIN = "<!-- memory-truth:begin (written by benchmarks/memory_truth.py --write-docs) -->"
END = "<!-- memory-truth:end -->"
WITHIN = 0.05  # the goal: every figure within 5 % of the measured peak


def available_options() -> set[str]:
    """The `cnncalc memory` options this cnncalc has (from the command's own parameters)."""
    from cnncalc.cli import memory_cmd
    import inspect
    return {"--" + name.replace("_", "-")
            for name in inspect.signature(memory_cmd.memory).parameters}


def measured_isa(machine: dict) -> str:
    """The oneDNN ISA the results were measured under (older results: from torch's
    cpu_capability, which was AVX2 where they were taken)."""
    if machine.get("onednn_isa"):
        return machine["onednn_isa"]
    return "avx512" if str(machine.get("cpu_capability", "")).upper().startswith(
        "AVX512") else "avx2"


def cnncalc_figures(zoo: str, batches: list[int], mode: str, optimizer: str | None,
                    amp: bool, options: set[str], isa: str = "avx2") -> tuple[dict, list[str]]:
    """{batch: bytes} from `cnncalc memory ... --format json`, and the arguments used."""
    from typer.testing import CliRunner
    from cnncalc.cli import app
    args = ["memory", zoo, "--batch", ",".join(map(str, batches)), "--mode", mode,
            "--optimizer", optimizer or "sgd", "--format", "json"]
    if "--backend" in options:
        args += ["--backend", "cpu"] + (["--isa", isa] if "--isa" in options else [])
    if amp:
        args += (["--amp"] if "--amp" in options else []) + ["--dtype", "bfloat16"]
    result = CliRunner().invoke(app, args)
    if result.exit_code != 0:
        raise RuntimeError(f"cnncalc {' '.join(args)}: exit {result.exit_code}: "
                           f"{result.output.strip()}")
    data = json.loads(result.stdout)
    key = "training_bytes" if mode == "training" else "peak_inference_bytes"
    rows = data.get("batches") or [data]
    return {row["batch"]: row[key] for row in rows}, args


def mib(n: int) -> str:
    return f"{n / 2**20:,.1f}"


def build_table(results: dict, options: set[str]) -> str:
    """The Markdown block: machine, dates, what was compared, then one row per case."""
    rows = [r for r in results["results"] if r.get("zoo") and "peak_bytes" in r]
    missing = [r for r in results["results"] if "peak_bytes" not in r]
    cases: dict = {}
    for r in rows:
        cases.setdefault((r["zoo"], r["mode"], r["optimizer"], r["amp"]), []).append(r)
    lines, ratios = [], []
    for (zoo, mode, optimizer, amp), measured in cases.items():
        batches = sorted({r["batch"] for r in measured})
        predicted, _ = cnncalc_figures(zoo, batches, mode, optimizer, amp, options,
                                       measured_isa(results.get("meta", {}).get("machine", {})))
        for r in sorted(measured, key=lambda r: r["batch"]):
            ratio = predicted[r["batch"]] / r["peak_bytes"]
            ratios.append(ratio)
            shown_mode = mode + (", bf16 AMP" if amp else "")
            lines.append((zoo, r["batch"], optimizer or "-", shown_mode,
                          predicted[r["batch"]], r["peak_bytes"], ratio))
    lines.sort(key=lambda t: (t[0], t[1], t[3], t[2]))
    meta = results.get("meta", {})
    machine = meta.get("machine", {})
    ram = machine.get("ram_bytes")
    within = sum(1 for q in ratios if abs(q - 1) <= WITHIN)
    out = [BEGIN, "",
           f"Measured on {machine.get('cpu', '?')}, {machine.get('cpus', '?')} CPUs"
           + (f", {ram / 2**30:.0f} GiB" if ram else "")
           + f", torch {machine.get('torch', '?')} ({machine.get('cpu_capability', '?')}), "
           f"{machine.get('threads', '?')} threads; dates: {', '.join(meta.get('dates', []))}. "
           "Sizes in MiB; ratio = cnncalc / measured.", ""]
    compared = ["`--backend cpu`" if "--backend" in options else
                "no `--backend` (this cnncalc has none: the framework-level figure)",
                "AMP rows with `--amp --dtype bfloat16`" if "--amp" in options else
                "AMP rows with `--dtype bfloat16` (this cnncalc has no `--amp`)"]
    out += [f"cnncalc run with {compared[0]}; {compared[1]}. "
            f"{within} of {len(ratios)} figures within {WITHIN:.0%}"
            + (f"; ratios {min(ratios):.3f} to {max(ratios):.3f}." if ratios else "."), ""]
    out += summary_grid(lines) + ["", "Every case:", ""]
    out += ["| network | batch | optimizer | mode | cnncalc | measured | ratio |",
            "|---|---:|---|---|---:|---:|---:|"]
    out += [f"| {z} | {b} | {o} | {m} | {mib(c)} | {mib(p)} | {q:.2f} |"
            for z, b, o, m, c, p, q in lines]
    gaps = unmeasured(rows)
    if gaps:
        out += ["", "Not measured yet (the sweep had not reached them): " + "; ".join(gaps) + "."]
    if missing:
        out += ["", "Not measured: " + "; ".join(
            f"{r['model']} batch {r['batch']} {r['mode']} {r['optimizer'] or ''}"
            f"{' AMP' if r['amp'] else ''} ({r.get('skipped') or r.get('error', '')[:60]})"
            for r in missing) + "."]
    out += ["", END]
    return "\n".join(out)


GRID = [("sgd", "training"), ("momentum", "training"), ("adam", "training"), ("-", "inference"),
        ("sgd", "training, bf16 AMP"), ("momentum", "training, bf16 AMP"),
        ("adam", "training, bf16 AMP")]


def summary_grid(lines: list[tuple]) -> list[str]:
    """One row per network, one column per case: the ratios at batch 1 and 8 ("-" where not
    measured), for reading the whole sweep at a glance."""
    found: dict = {}
    for zoo, batch, optimizer, mode, _, _, ratio in lines:
        found.setdefault(zoo, {}).setdefault((optimizer, mode), {})[batch] = ratio
    out = ["By network (ratio at batch 1, batch 8):", "",
           "| network | sgd | momentum | adam | inference | sgd AMP | momentum AMP | adam AMP |",
           "|---|---|---|---|---|---|---|---|"]
    for zoo in sorted(found):
        cells = []
        for case in GRID:
            by_batch = found[zoo].get(case, {})
            cells.append(", ".join(f"{by_batch[b]:.3f}" if b in by_batch else "-"
                                   for b in (1, 8)) if by_batch else "-")
        out.append(f"| {zoo} | " + " | ".join(cells) + " |")
    return out


def case_name(mode: str, optimizer: str | None, amp: bool) -> str:
    return (optimizer or mode) + (" AMP" if amp else "")


def unmeasured(rows: list[dict]) -> list[str]:
    """The holes of the matrix: every network x batch x case seen anywhere in `rows`."""
    nets = sorted({r["zoo"] for r in rows})
    batches = sorted({r["batch"] for r in rows})
    cases = sorted({(r["mode"], r["optimizer"] or "", r["amp"]) for r in rows})
    have = {(r["zoo"], r["batch"], r["mode"], r["optimizer"] or "", r["amp"]) for r in rows}
    gaps = []
    for net in nets:
        for b in batches:
            lost = [case_name(m, o, a) for m, o, a in cases if (net, b, m, o, a) not in have]
            if lost:
                gaps.append(f"{net} batch {b}: " + ", ".join(lost))
    return gaps


def replace_block(text: str, block: str) -> str:
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise SystemExit(f"error: the Markdown file has no {BEGIN!r} ... {END!r} markers")
    return text[:start] + block + text[end + len(END):]


def write_docs(results_path: str, md_path: str) -> int:
    with open(results_path) as fh:
        results = json.load(fh)
    options = available_options()
    block = build_table(results, options)
    with open(md_path) as fh:
        text = fh.read()
    new = replace_block(text, block)
    tmp = md_path + ".tmp"
    with open(tmp, "w") as fh:  # whole or not at all
        fh.write(new)
    os.replace(tmp, md_path)
    absent = [o for o in ("--backend", "--amp") if o not in options]
    print(f"wrote {block.count(chr(10)) + 1} lines into {md_path}"
          + (f" (without {', '.join(absent)}: not in this cnncalc)" if absent else ""))
    return 0


if __name__ == "__main__":
    args = sys.argv[1:]
    sys.exit(write_docs(args[0] if args else os.path.join(HERE, "results", "memory_truth.json"),
                        args[1] if len(args) > 1 else os.path.join(HERE, os.pardir, "docs",
                                                                   "memory.md")))
