"""One column definition for the summary, read by every table format (terminal, plain text,
Markdown), and the fitting of a table to a terminal's width.

A column knows its header, how to get its exact value from a line of the report's outline,
how to show it, its alignment, and its priority: when the table is too wide, names are
shortened first, then the columns of least priority are left out (and the table says which).
Numbers are never cut.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from ..layers.geometry import number

GAP = 2  # spaces between columns
MIN_NAME = 10  # a name column is never shortened below this
SECONDARY = 4  # columns of this priority or more are left out before names are shortened


class Column(NamedTuple):
    key: str  # the name --columns takes
    header: str
    value: Callable  # (line) -> the exact value
    show: Callable  # (value) -> its text
    right: bool = True  # right-aligned (numbers)
    priority: int = 0  # 0: always shown; higher: left out first when space is short
    shrinks: bool = False  # may be shortened with an ellipsis (names, settings)


def _count(value) -> str:
    return f"{value:,}"


def _share(total: int) -> Callable:
    return lambda value: "" if value is None else (f"{100 * value / total:.1f}%" if total else "")


def rf_text(field) -> str:
    """A receptive field's size: 212, or 3x5 when the axes differ."""
    if field is None:
        return ""
    sizes = [number(v) for v in field.size]
    sizes = [v if isinstance(v, int) else round(v, 1) for v in sizes]
    return str(sizes[0]) if len(set(sizes)) == 1 else "x".join(map(str, sizes))


def summary_columns(totals, rf: bool = True, training: bool = False) -> list[Column]:
    """The summary's columns, in display order; `training` adds the backward's (`summarize
    --mode training`)."""
    def layer_only(get):
        return lambda line: None if line.is_group else get(line)
    columns = [
        Column("index", "#", lambda line: line.index, lambda v: "" if v is None else str(v),
               priority=3),
        Column("name", "name", lambda line: "  " * line.level + line.label, str, False,
               shrinks=True),
        Column("type", "type", lambda line: line.type, str, False, priority=2),
        Column("settings", "settings", lambda line: line.settings + ("" if line.tiles else " !"),
               str, False, priority=2, shrinks=True),
        Column("output", "output", lambda line: str(line.output_shape), str),
        Column("rf", "RF", layer_only(lambda line: line.field), rf_text, priority=5),
        Column("params", "params", lambda line: line.totals.params, _count),
        Column("params_share", "params %", lambda line: line.totals.params,
               _share(totals.params), priority=7),
        Column("connections", "connections", lambda line: line.totals.connections, _count,
               priority=4),
        Column("macs", "MACs", lambda line: line.totals.macs, _count),
        Column("macs_share", "MACs %", lambda line: line.totals.macs, _share(totals.macs),
               priority=7),
        Column("flops", "FLOPs", lambda line: line.totals.flops, _count, priority=6),
    ]
    if training:
        columns += [
            Column("input_grad_macs", "dX MACs", lambda line: line.totals.input_grad_macs,
                   _count, priority=3),
            Column("weight_grad_macs", "dW MACs", lambda line: line.totals.weight_grad_macs,
                   _count, priority=3),
            Column("backward_macs", "backward MACs", lambda line: line.totals.backward_macs,
                   _count, priority=1),
            Column("backward_flops", "backward FLOPs", lambda line: line.totals.backward_flops,
                   _count, priority=6),
        ]
    return [c for c in columns if rf or c.key != "rf"]


DEFAULT_HIDDEN = ("params_share", "macs_share")  # shown with --wide or --columns


def choose(columns: list[Column], keys: list[str] | None, wide: bool) -> list[Column]:
    """The columns asked for (`--columns`), all (`--wide`), or the default set."""
    if keys:
        by_key = {c.key: c for c in columns}
        return [by_key[k] for k in keys if k in by_key]
    return columns if wide else [c for c in columns if c.key not in DEFAULT_HIDDEN]


def cells(columns: list[Column], lines) -> list[list[str]]:
    return [[c.show(c.value(line)) for c in columns] for line in lines]


def fit(columns: list[Column], rows: list[list[str]], width: int | None):
    """(columns kept, their widths, the rows' cells, headers of the columns left out) for a
    table no wider than `width` (None: no limit)."""
    kept = list(range(len(columns)))
    dropped = []

    def natural(i):
        return max([len(columns[i].header), *(len(r[i]) for r in rows)])

    widths = {i: natural(i) for i in kept}

    def total():
        return sum(widths[i] for i in kept) + GAP * (len(kept) - 1)

    if width is not None:
        def drop(least):  # the columns of at least this priority, least important first
            for i in sorted(kept, key=lambda i: -columns[i].priority):
                if total() > width and columns[i].priority >= least:
                    kept.remove(i)
                    dropped.append(columns[i].header)
        drop(SECONDARY)  # extra figures go first...
        for i in kept:  # ...then names and settings are shortened...
            if total() > width and columns[i].shrinks:
                widths[i] = max(MIN_NAME, widths[i] - (total() - width))
        drop(1)  # ...then what is left to leave out
    out_rows = [[shorten(r[i], widths[i]) for i in kept] for r in rows]
    return [columns[i] for i in kept], [widths[i] for i in kept], out_rows, dropped


def shorten(text: str, width: int) -> str:
    """Text no longer than width, the cut marked with an ellipsis."""
    return text if len(text) <= width else text[:max(width - 1, 0)] + "…"
