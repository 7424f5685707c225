"""The summary as a rich table with a totals block."""

from __future__ import annotations

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from ..conventions import readable
from ..report import Report

TOTAL_LABELS = (
    ("params", "Params"),
    ("trainable_params", "Trainable params"),
    ("non_trainable_params", "Non-trainable params"),
    ("connections", "Connections"),
    ("macs", "MACs"),
    ("flops", "FLOPs"),
    ("activations", "Activations (values)"),
)


def summary_table(report: Report) -> Group:
    """Per-layer table, then totals with exact and readable figures."""
    table = Table(title=Text(f"{report.name}  (input {report.input_shape})"),
                  title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("#", justify="right", style="dim", no_wrap=True)
    for label in ("name", "type", "settings"):
        table.add_column(label, no_wrap=True, overflow="fold")
    table.add_column("output", justify="right", no_wrap=True)
    for label in ("params", "connections", "MACs", "FLOPs"):
        table.add_column(label, justify="right", no_wrap=True)
    for row in report.rows:
        settings = row.settings + ("" if row.tiles else " !")
        t = row.totals
        table.add_row(str(row.index), Text(row.name), row.type, Text(settings),
                      str(row.output_shape), f"{t.params:,}", f"{t.connections:,}",
                      f"{t.macs:,}", f"{t.flops:,}")
    totals = Table.grid(padding=(0, 2))
    totals.add_column()
    totals.add_column(justify="right")
    totals.add_column(justify="right", style="dim")
    figures = report.totals.as_dict()
    for key, label in TOTAL_LABELS:
        totals.add_row(label, f"{figures[key]:,}", readable(figures[key]))
    parts = [table, totals]
    notes = [f"{row.name}: {note}" for row in report.rows for note in row.notes]
    if any(not row.tiles for row in report.rows):
        notes.append("! the window does not tile the input (see `cnncalc validate`)")
    if notes:
        parts.append(Text("\n".join(notes), style="dim"))
    return Group(*parts)
