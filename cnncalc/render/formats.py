"""Plain-text formats of a summary report: CSV, Markdown, and rich's HTML and SVG export."""

from __future__ import annotations

import io

from ..analysis.report import TRAINING_KEYS, Report
from ..conventions import readable
from . import escape
from .columns import cells, rf_text, summary_columns

CSV_COLUMNS = ("index", "name", "type", "settings", "output", "receptive_field", "params",
               "trainable_params", "connections", "macs", "flops", "activations")


def to_csv(report: Report) -> str:
    """One row per layer, exact integers, and a final TOTAL row; text cells are defused
    against spreadsheet formulas (render/escape.py)."""
    training = TRAINING_KEYS if report.training is not None else ()
    rows = [CSV_COLUMNS + training]
    for row in report.rows:
        t = row.totals
        rows.append([row.index, row.name, row.type, row.settings, str(row.output_shape),
                     rf_text(row.field), t.params, t.trainable_params, t.connections, t.macs,
                     t.flops, t.activations, *(getattr(t, key) for key in training)])
    totals = report.totals.as_dict()
    rows.append(["", "TOTAL", "", "", str(report.output_shape), "", totals["params"],
                 totals["trainable_params"], totals["connections"], totals["macs"],
                 totals["flops"], totals["activations"],
                 *(report.training.totals[key] for key in training)])
    return escape.csv_text(rows)


def to_markdown(report: Report) -> str:
    """A GitHub table of the layers (the summary's columns, all of them), then the totals."""
    columns = summary_columns(report.totals, training=report.training is not None)
    lines = [f"### {escape.markdown_cell(report.name)} ({escape.markdown_cell(report.input_text())})", "",
             "| " + " | ".join(c.header for c in columns) + " |",
             "|" + "|".join("---:" if c.right else "---" for c in columns) + "|"]
    for values in cells(columns, report.outline()):
        lines.append("| " + " | ".join(escape.markdown_cell(v) for v in values) + " |")
    totals = report.totals.as_dict()
    keys = ["params", "trainable_params", "connections", "macs", "flops", "activations"]
    if report.training is not None:
        totals.update(report.training.totals)
        keys += list(report.training.totals)
    lines += ["", "| total | exact | readable |", "|---|---:|---:|"]
    for key in keys:
        lines.append(f"| {key} | {totals[key]:,} | {readable(totals[key])} |")
    return "\n".join(lines) + "\n"


def export(renderable, kind: str, width: int = 140) -> str:
    """rich's HTML or SVG export of a renderable (the same table the terminal shows)."""
    from rich.console import Console
    console = Console(record=True, width=width, file=io.StringIO(), force_terminal=True)
    console.print(renderable)
    if kind == "html":
        return console.export_html(inline_styles=True)
    return console.export_svg(title="cnncalc")


def memory_rows(report, format: str) -> str:
    """Per-layer memory as CSV or a Markdown table, then the totals."""
    from ..analysis.memory import binary
    f = report.figures()
    layers = [(m.name, m.type, m.values, report.batch * m.held * report.width, m.allocates)
              for m in report.model.layers]
    totals = [(key, f[key]) for key in ("peak_bytes", "forward_bytes", "peak_inference_bytes",
                                        "training_bytes", "im2col_bytes") if key in f]
    totals += [(f"breakdown.{key}", value) for key, value in f.get("breakdown", {}).items()]
    if format == "csv":
        return escape.csv_text([["name", "type", "values_per_sample", "bytes", "allocates"],
                                *layers, *(["TOTAL", key, "", value, ""] for key, value in totals)])
    lines = [f"### {report.name}: batch {report.batch}, {report.dtype}, {report.mode}", "",
             "| name | type | values/sample | bytes | allocates |", "|---|---|---:|---:|---|"]
    lines += [f"| {escape.markdown_code(n)} | {t} | {v:,} | {binary(b)} | {a} |"
              for n, t, v, b, a in layers]
    lines += ["", "| total | bytes | readable |", "|---|---:|---:|"]
    lines += [f"| {key} | {value:,} | {binary(value)} |" for key, value in totals]
    return "\n".join(lines) + "\n"


def sweep(name: str, title: str, rows: list[dict], columns: list[tuple]) -> dict:
    """One row per input size, in every format: `columns` is (header, key, show) with `show`
    turning the exact value into its display text. Returns {format: text}."""
    import json
    header = [h for h, _, _ in columns]
    body = [[show(row[key]) for _, key, show in columns] for row in rows]
    exact = [[str(row[key]) if not isinstance(row[key], list) else show(row[key])
              for _, key, show in columns] for row in rows]
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(header)]
    return {
        "json": json.dumps({"name": name, "sweep": rows}, indent=2) + "\n",
        "csv": "\n".join(",".join(line) for line in [[k for _, k, _ in columns], *exact]) + "\n",
        "markdown": "\n".join(["| " + " | ".join(header) + " |",
                               "|" + "|".join("---" for _ in header) + "|",
                               *("| " + " | ".join(b) + " |" for b in body)]) + "\n",
        "table": f"{name}: {title}\n" + "\n".join(
            "  ".join(c.rjust(w) for c, w in zip(line, widths)) for line in [header, *body])
        + "\n",
    }
