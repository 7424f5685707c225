"""`cnncalc memory` as rich tables: the answer (peak, breakdown, where, largest batch), the
other figures, the timeline chart, then per layer (or one row per batch size)."""

from __future__ import annotations

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from ..analysis.memory_report import MemoryReport
from ..conventions import binary
from .escape import terminal

BAR = 10  # characters of the share bar at 100 %
CHART_WIDTH = 64  # columns of the timeline chart
CHART_ROWS = 6
LEVELS = " ▁▂▃▄▅▆▇█"
PHASE_MARK = {"forward": "f", "loss": "l", "backward": "b", "recompute": "r",
              "optimizer": "o"}
LABELS = {"weights": "weights", "gradients": "parameter gradients",
          "optimizer_state": "optimizer state", "saved_activations": "activations (saved, "
          "live, the batch)", "activation_gradients": "activation gradients",
          "transients": "transients (kernels' temporaries)"}


def collapsed(layers, depth: int | None):
    """(name, type, values, held values, allocates) per layer, or per group for layers nested
    deeper than `depth` (their sums: totals unchanged)."""
    rows: dict = {}
    for layer in layers:
        if depth is not None and len(layer.groups) > depth:
            group = layer.groups[depth]
            name, kind, values, held, allocates = rows.get(group, (group, "group", 0, 0, "-"))
            rows[group] = (name, kind, values + layer.values, held + layer.held, allocates)
        else:
            rows[layer.name] = (layer.name, layer.type, layer.values, layer.held,
                                layer.allocates)
    return list(rows.values())


def settings_text(report: MemoryReport) -> str:
    parts = [f"batch {report.batch}", f"{report.dtype} ({report.width} bytes)", report.mode]
    if report.mode == "training":
        parts.append(report.optimizer)
        if report.micro_batch:
            parts.append(f"micro-batch {report.micro_batch}")
        if report.checkpoint:
            count = report.checkpoint
            parts.append(f"checkpoint {count} segment{'s' if count != 1 else ''}")
    if report.amp:
        parts.append("amp")
    parts.append(f"backend {report.backend}" if report.backend else "framework level")
    return ", ".join(parts)


def answer(report: MemoryReport, f: dict) -> list:
    """The peak, where it happens, its breakdown, what rests between steps, the largest
    batch."""
    where = f"{f['peak_phase']} of {f['peak_at']}" if f["peak_phase"] in (
        "backward", "recompute") else f"{f['peak_phase']}, at {f['peak_at']}"
    parts = [Text(terminal(f"Peak: {binary(f['peak_bytes'])} ({f['peak_bytes']:,} B), in "
                           f"{where}"), style="bold")]
    grid = Table.grid(padding=(0, 2))
    grid.add_column()
    grid.add_column(justify="right")
    grid.add_column(justify="right")
    for key, label in LABELS.items():
        value = f["breakdown"][key]
        grid.add_row(f"  {label}", binary(value), f"{value / max(f['peak_bytes'], 1):5.1%}")
    parts.append(grid)
    if report.mode == "training":
        parts.append(Text(f"Between steps: {binary(f['at_rest_bytes'])} (weights, gradients, "
                          "optimizer state, the batch)", style="dim"))
    if report.backend == "cuda":
        parts.append(Text(f"On the GPU: allocated {binary(f['allocated_bytes'])}, reserved "
                          f"{binary(f['reserved_bytes'])} (the caching allocator), + CUDA "
                          f"context {binary(f['context_bytes'])} = {binary(f['device_bytes'])}"
                          " as nvidia-smi shows it", style="bold"))
        parts.append(Text("cuda: the caching allocator's rules, cuBLAS's workspace, cuDNN "
                          "workspace as one im2col matrix, foreach optimizers; not measured "
                          "on a GPU", style="dim"))
    if "fits" in f:
        parts.append(Text(("Fits" if f["fits"] else "Does not fit") +
                          f" in {binary(f['capacity_bytes'])}" +
                          (f" ({f['device']})" if f.get("device") else ""), style="bold"))
    if "max_batch" in f:
        what = "micro-batch" if report.micro_batch and report.mode == "training" else "batch"
        parts.append(Text(f"Largest {what} in {binary(f['capacity_bytes'])} ({report.mode}): "
                          f"{f['max_batch']:,}", style="bold"))
    return parts


def chart(points: list[dict], width: int = CHART_WIDTH, rows: int = CHART_ROWS) -> Text:
    """Live bytes through the step as columns of block characters, the phase under each
    column (f forward, l loss, b backward, r recompute, o optimizer)."""
    if not points:
        return Text("")
    buckets = [points[i * len(points) // width:(i + 1) * len(points) // width] or
               [points[min(i * len(points) // width, len(points) - 1)]]
               for i in range(min(width, len(points)))]
    highs = [max(p["live_bytes"] for p in b) for b in buckets]
    top, low = max(highs), min(p["live_bytes"] for p in points)
    span = max(top - low, 1)
    levels = [(h - low) / span * rows * 8 for h in highs]
    lines = []
    for row in range(rows - 1, -1, -1):
        cells = "".join(LEVELS[max(0, min(8, round(v - row * 8)))] for v in levels)
        label = binary(top) if row == rows - 1 else (binary(low) if row == 0 else "")
        lines.append(f"{label:>10} |{cells}")
    phases = "".join(PHASE_MARK.get(max(b, key=lambda p: p["live_bytes"])["phase"], "?")
                     for b in buckets)
    lines.append(f"{'':>10} +{phases}")
    return Text("\n".join(lines))


def memory_tables(report: MemoryReport, batches: list[int], layers: bool = False,
                  depth: int | None = None, timeline: bool = False) -> Group:
    """The answer first (peak, breakdown, where, largest batch), the other figures, the
    timeline with `timeline`, the sweep by batch, then with `layers` the per-layer table."""
    f = report.figures()
    m = report.model
    title = f"{report.name}: {settings_text(report)}"
    parts = [Text(terminal(title), style="bold"), *answer(report, f)]
    totals = Table.grid(padding=(0, 2))
    totals.add_column()
    totals.add_column(justify="right")
    totals.add_column()
    rows = [
        ("Training step peak", f["training_bytes"], "simulated"),
        ("Inference peak", f["peak_inference_bytes"], f"simulated, at {f['peak_layer']}"),
        ("Activations, all kept (with input)", f["forward_bytes"],
         f"{m.activation_values:,} values x {report.batch} x {report.width} B (every output kept)"),
        ("Parameters", m.param_values * (4 if report.amp else report.width),
         f"{m.param_values:,} values" + (" in float32 (autocast)" if report.amp else "")),
        ("im2col workspace (largest conv)", f["im2col_bytes"],
         f"{m.im2col_layer or '-'}: {m.im2col_values:,} values per sample"),
    ]
    for label, nbytes, rule in rows:
        totals.add_row(label, f"{binary(nbytes)}  ({nbytes:,} B)", Text(terminal(rule),
                                                                       style="dim"))
    parts.append(totals)
    if timeline:
        parts.append(Text("Live bytes through the step:", style="bold"))
        parts.append(chart(report.timeline()))
    if len(batches) > 1:
        parts.append(batch_table(report, batches))
    if report.note:
        parts.append(Text(terminal(report.note), style="dim"))
    for warning in report.figures().get("warnings", []):
        parts.append(Text(terminal("warning: " + warning), style="yellow"))
    if layers:
        parts.append(layer_table(report, depth))
    else:
        parts.append(Text("(--layers shows the figures of every layer; --timeline the step)",
                          style="dim"))
    return Group(*parts)


def layer_table(report: MemoryReport, depth: int | None) -> Table:
    m = report.model
    table = Table(title="Outputs by layer (each kept: values x batch x bytes)", title_justify="left",
                  box=box.SIMPLE_HEAD, pad_edge=False)
    total = max(m.output_values, 1)
    widest = max([len(f"{layer.values:,}") for layer in m.layers] + [6])
    # figures keep their full width (min_width); names give way first, then the type
    for label, justify, least in (("name", "left", 8), ("type", "left", 4),
                                  ("values", "right", widest), ("bytes", "right", 10),
                                  ("share", "left", BAR + 7), ("allocates", "left", 8)):
        table.add_column(label, justify=justify, no_wrap=True, min_width=least,
                         overflow="ellipsis")
    for name, kind, values, held, allocates in collapsed(m.layers, depth):
        nbytes = report.batch * held * report.width
        share = held / total
        bar = "#" * round(share * BAR)
        table.add_row(Text(terminal(name)), kind, f"{values:,}", binary(nbytes),
                      f"{bar:<{BAR}} {share:5.1%}", allocates)
    return table


def batch_table(report: MemoryReport, batches: list[int]) -> Table:
    table = Table(title="By batch size", title_justify="left", box=box.SIMPLE_HEAD)
    for label in ("batch", "activations", "peak inference", "training"):
        table.add_column(label, justify="right")
    for b in batches:
        f = report.figures(b)
        table.add_row(f"{b:,}", binary(f["forward_bytes"]), binary(f["peak_inference_bytes"]),
                      binary(f["training_bytes"]))
    return table
