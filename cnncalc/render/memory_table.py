"""`cnncalc memory` as rich tables: per layer, then totals (or one row per batch size)."""

from __future__ import annotations

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from ..analysis.memory import MemoryReport, binary
from .escape import terminal

BAR = 10  # characters of the share bar at 100 %


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


def memory_tables(report: MemoryReport, batches: list[int], layers: bool = False,
                  depth: int | None = None) -> Group:
    """The answer first (the figures, the largest batch, the sweep by batch), then, with
    `layers`, the per-layer table (groups nested deeper than `depth` as one line each)."""
    f = report.figures()
    m = report.model
    title = (f"{report.name}: batch {report.batch}, {report.dtype} ({report.width} bytes), "
             f"{report.mode}")
    table = Table(title=Text(terminal(title)), title_justify="left", box=box.SIMPLE_HEAD,
                  pad_edge=False)
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
    totals = Table.grid(padding=(0, 2))
    totals.add_column()
    totals.add_column(justify="right")
    totals.add_column()
    rows = [
        ("Activations, all kept (with input)", f["forward_bytes"],
         f"{m.activation_values:,} values x {report.batch} x {report.width} B"),
        ("Peak at inference (+ parameters)", f["peak_inference_bytes"],
         f"at {m.peak_layer}: {m.peak_values:,} values live"),
        (f"Training ({report.optimizer})", f["training_bytes"],
         f"2 x activations + input + {_copies(report)} x {m.trainable_values:,} trainable"),
        ("Parameters", m.param_values * report.width, f"{m.param_values:,} values"),
        ("im2col workspace (largest conv)", f["im2col_bytes"],
         f"{m.im2col_layer or '-'}: {m.im2col_values:,} values per sample"),
    ]
    for label, nbytes, rule in rows:
        totals.add_row(label, f"{binary(nbytes)}  ({nbytes:,} B)", Text(terminal(rule), style="dim"))
    parts = [Text(terminal(title), style="bold"), totals]
    if "max_batch" in f:
        parts.append(Text(f"Largest batch in {binary(f['device_bytes'])} ({report.mode}): "
                          f"{f['max_batch']:,}", style="bold"))
    if len(batches) > 1:
        parts.append(batch_table(report, batches))
    if report.note:
        parts.append(Text(terminal(report.note), style="dim"))
    if layers:
        parts.append(table)
    else:
        parts.append(Text("(--layers shows the figures of every layer)", style="dim"))
    return Group(*parts)


def batch_table(report: MemoryReport, batches: list[int]) -> Table:
    table = Table(title="By batch size", title_justify="left", box=box.SIMPLE_HEAD)
    for label in ("batch", "activations", "peak inference", "training"):
        table.add_column(label, justify="right")
    for b in batches:
        f = report.figures(b)
        table.add_row(f"{b:,}", binary(f["forward_bytes"]), binary(f["peak_inference_bytes"]),
                      binary(f["training_bytes"]))
    return table


def _copies(report: MemoryReport) -> int:
    from ..analysis.memory import OPTIMIZER_COPIES
    return OPTIMIZER_COPIES[report.optimizer]
