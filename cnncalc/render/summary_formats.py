"""`cnncalc summarize` in every format, from one table: the report of one network (with, for
--fc-as-conv, what one sliding pass equals), or a sweep of totals by input size."""

from __future__ import annotations

from dataclasses import dataclass

from ..analysis.report import Report


@dataclass(frozen=True)
class SummaryView:
    """What to show: the report, the sliding pass of --fc-as-conv, and the table's options."""

    report: Report
    lint_ignore: frozenset = frozenset()  # rules the spec switches off (html's lints)
    slide: object = None  # analysis.convert.Sliding
    depth: int | None = None
    rf: bool = True
    columns: tuple | None = None  # column keys (--columns), checked
    wide: bool = False
    width: int | None = None  # the terminal's, or None: unbounded
    color: bool = False


def json_text(view: SummaryView) -> str:
    import json
    data = view.report.as_dict()
    if view.slide:
        s = view.slide
        data["sliding"] = {"positions": list(s.positions), "stride": s.stride,
                           "crop": list(s.crop), "macs_one_pass": s.macs_one_pass,
                           "macs_separate": s.macs_separate}
    return json.dumps(data, indent=2) + "\n"


def csv_text(view: SummaryView) -> str:
    from .formats import to_csv
    return to_csv(view.report, list(view.columns) if view.columns else None)


def markdown_text(view: SummaryView) -> str:
    from .formats import to_markdown
    text = to_markdown(view.report, list(view.columns) if view.columns else None)
    return text + (f"\n{view.slide.sentence()}\n" if view.slide else "")


def page(view: SummaryView) -> str:
    from .html_report import build_page
    lints = [w.as_dict() for w in view.report.warnings if w.rule not in view.lint_ignore]
    return build_page(view.report.as_dict(), lints)


def chart(view: SummaryView) -> str:
    """MACs per layer (the report page has the other charts)."""
    from . import svg
    report = view.report
    bars = svg.bar_chart([row.name for row in report.rows], [row.totals.macs for row in report.rows],
                         f"{report.name}: MACs per layer", "MACs")
    return svg.standalone(bars)


def table(view: SummaryView) -> str:
    from .text import summary_text
    text = summary_text(view.report, view.depth, view.rf, view.width, view.color,
                        list(view.columns) if view.columns else None, view.wide)
    text = text if text.endswith("\n") else text + "\n"
    return text + (f"{view.slide.sentence()}\n" if view.slide else "")


COLUMN_FORMATS = ("table", "csv", "markdown")  # the formats --columns chooses the columns of

RENDERERS = {"table": table, "json": json_text, "csv": csv_text, "markdown": markdown_text,
             "html": page, "svg": chart}


def sweep_text(name: str, rows: list[dict], format: str, training: bool = False) -> str:
    """One row of totals per input size (analysis.analyze.sweep's rows; with the backward's,
    in training mode)."""
    from .formats import sweep
    shape_text = "x".join
    keys = ("params", "macs", "flops", "activations") + (
        ("backward_macs", "train_step_macs") if training else ())
    columns = [("input", "input", lambda v: shape_text(map(str, v))),
               ("output", "output_shape", lambda v: shape_text(map(str, v))),
               *((key, key, lambda v: f"{v:,}") for key in keys)]
    texts = sweep(name, "totals by input size", rows, columns)
    return texts.get(format, texts["table"])
