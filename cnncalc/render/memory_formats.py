"""`cnncalc memory` in every format, from one table: a report (or a sweep of reports by input
size), optionally with a peer tool's figures (`--convention`). A renderer returns text, or a
rich renderable for the terminal table."""

from __future__ import annotations

from dataclasses import dataclass

from ..conventions import binary


@dataclass(frozen=True)
class MemoryView:
    """What to show: the reports (one per input size), the peer's figures if asked, and the
    terminal table's extras."""

    reports: tuple  # analysis.memory_report.MemoryReport, one per input size
    shapes: tuple  # the input shape of each report
    peer: object = None  # analysis.peer_memory.PeerFigures (--convention)
    layers: bool = False  # the per-layer table
    depth: int | None = None  # with layers: fold blocks deeper than this
    timeline: bool = False  # the live bytes through the step

    @property
    def report(self):
        return self.reports[0]

    @property
    def batches(self) -> list[int]:
        return list(self.report.settings.batches)


def figures(view: MemoryView, timeline: bool) -> dict:
    data = view.report.as_dict(view.batches, timeline)
    return {**data, "convention": view.peer.as_dict()} if view.peer else data


def json_text(view: MemoryView) -> str:
    import json
    return json.dumps(figures(view, view.timeline), indent=2) + "\n"


def rows_text(format: str):
    def render(view: MemoryView) -> str:
        from .formats import memory_rows
        text = memory_rows(view.report, format)
        if view.peer is None:
            return text
        from .peer_memory import peer_text
        return peer_text(view.peer, format) + "\n" + text
    return render


def page(view: MemoryView) -> str:
    from .memory_page import memory_page
    return memory_page(figures(view, view.report.mode == "training"))


def chart(view: MemoryView) -> str:
    from .memory_page import memory_chart
    return memory_chart(figures(view, view.report.mode == "training"))


def table(view: MemoryView):
    from .memory_table import memory_tables
    tables = memory_tables(view.report, view.batches, view.layers, view.depth, view.timeline)
    if view.peer is None:
        return tables
    from rich.console import Group

    from .peer_memory import peer_table
    return Group(peer_table(view.peer, view.report), tables)


RENDERERS = {"table": table, "json": json_text, "csv": rows_text("csv"),
             "markdown": rows_text("markdown"), "html": page, "svg": chart}


def sweep_text(view: MemoryView, format: str) -> str:
    """One row of memory totals per input size (`--input 224,320,384`)."""
    from .formats import sweep
    rows = [{"input": s.as_list(), **r.figures()} for r, s in zip(view.reports, view.shapes)]
    columns = [("input", "input", lambda v: "x".join(map(str, v))),
               ("activations", "forward_bytes", binary),
               ("peak inference", "peak_inference_bytes", binary),
               ("training", "training_bytes", binary)]
    first = view.report
    texts = sweep(first.name, f"memory by input size (batch {first.batch}, {first.dtype})",
                  rows, columns)
    return texts.get(format, texts["table"])


def render_memory(view: MemoryView, format: str):
    """The view in `format` (one of RENDERERS)."""
    if len(view.reports) > 1:
        return sweep_text(view, format)
    return RENDERERS[format](view)
