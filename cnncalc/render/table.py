"""The summary as a rich table with a totals block."""

from __future__ import annotations

import io

from rich import box
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from ..analysis.report import Report
from ..conventions import readable

TOTAL_LABELS = (
    ("params", "Params"),
    ("trainable_params", "Trainable params"),
    ("non_trainable_params", "Non-trainable params"),
    ("connections", "Connections"),
    ("macs", "MACs"),
    ("flops", "FLOPs"),
    ("activations", "Activations (values)"),
)


def rf_text(field) -> str:
    if field is None:
        return ""
    rows, cols = (int(v) if v == int(v) else round(float(v), 1) for v in field.size)
    return f"{rows}" if rows == cols else f"{rows}x{cols}"


def layer_table(report: Report, depth: int | None, compact: bool, rf: bool = True) -> Table:
    """One line per layer or group; `compact` (for narrow terminals) prints counts as 1.2M and
    leaves out the running index and the connections column."""
    number = (lambda n: readable(n).replace(" ", "")) if compact else (lambda n: f"{n:,}")
    table = Table(title=Text(f"{report.name}  (input {report.input_shape})"),
                  title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    if not compact:
        table.add_column("#", justify="right", style="dim", no_wrap=True)
    for label, narrow in (("name", 16), ("type", 9), ("settings", 14)):
        table.add_column(label, no_wrap=True, overflow="ellipsis",
                         max_width=narrow if compact else None)
    lines = report.outline(depth)
    widest = max(len(str(line.output_shape)) for line in lines)
    table.add_column("output", justify="right", no_wrap=True, min_width=widest)
    if rf:
        table.add_column("RF", justify="right", no_wrap=True)
    counts = ("params", "MACs", "FLOPs") if compact else ("params", "connections", "MACs", "FLOPs")
    for label in counts:  # numbers are never cut: narrow terminals get short forms instead
        table.add_column(label, justify="right", no_wrap=True, min_width=7 if compact else None)
    index = 0
    for line in lines:
        settings = line.settings + ("" if line.tiles else " !")
        t = line.totals
        label = Text("  " * line.level + line.label, style="bold" if line.is_group else "")
        if not line.is_group:
            index += 1
        elif line.expanded:
            label.append(" :", style="dim")
        cells = [label, line.type, Text(settings), str(line.output_shape), number(t.params),
                 number(t.connections), number(t.macs), number(t.flops)]
        if compact:
            del cells[5]  # connections: in the totals, the wide table and the JSON
        if rf:
            cells.insert(4, "" if line.is_group else rf_text(line.field))
        if not compact:
            cells.insert(0, "" if line.is_group else str(index))
        table.add_row(*cells, style="dim" if line.is_group and line.expanded else None)
    return table


PLAIN_ABOVE = 2000  # rows; rich lays out a table in time that grows too fast beyond this


def plain_summary(report: Report, depth: int | None, rf: bool) -> str:
    """The same columns and totals as `summary_table`, formatted directly: for networks of
    many thousand layers, where rich's layout would take minutes."""
    header = ["#", "name", "type", "settings", "output", *(["RF"] if rf else []), "params",
              "connections", "MACs", "FLOPs"]
    rows, index = [], 0
    for line in report.outline(depth):
        t = line.totals
        if not line.is_group:
            index += 1
        rows.append(["" if line.is_group else str(index), "  " * line.level + line.label,
                     line.type, line.settings + ("" if line.tiles else " !"),
                     str(line.output_shape), *([rf_text(line.field)] if rf else []),
                     f"{t.params:,}", f"{t.connections:,}", f"{t.macs:,}", f"{t.flops:,}"])
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    left = {1, 2, 3}
    def fmt(cells):
        return "  ".join(c.ljust(w) if i in left else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths)))
    figures = report.totals.as_dict()
    text = [f"{report.name}  (input {report.input_shape})", fmt(header),
            "  ".join("-" * w for w in widths), *(fmt(r) for r in rows), ""]
    text += [f"{label:<22}{figures[key]:>20,}  {readable(figures[key])}"
             for key, label in TOTAL_LABELS]
    return "\n".join(text) + "\n"


def natural_width(table: Table) -> int:
    """Width the table takes when nothing limits it."""
    wide = Console(width=10_000, file=io.StringIO())
    return wide.measure(table).maximum


def summary_table(report: Report, depth: int | None = None,
                  console: Console | None = None, rf: bool = True) -> Group:
    """Per-layer table (groups nested, collapsed below `depth`), then totals, exact and
    readable. Exact counts are shown whenever they fit the console's width."""
    table = layer_table(report, depth, compact=False, rf=rf)
    if console is not None and natural_width(table) > console.width:
        table = layer_table(report, depth, compact=True, rf=rf)
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
