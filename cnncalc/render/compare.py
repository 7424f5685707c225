"""`cnncalc compare` as rich tables."""

from __future__ import annotations

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from .escape import terminal


def _signed(n: int) -> str:
    return f"{n:+,}" if n else "0"


def compare_tables(result: dict) -> Group:
    a, b = result["a"], result["b"]
    heading = f"A: {a['name']} ({a['file']})   B: {b['name']} ({b['file']})"
    totals = Table(title=Text(terminal(heading)),
                   title_justify="left", box=box.SIMPLE_HEAD)
    for label, justify in (("", "left"), ("A", "right"), ("B", "right"), ("B - A", "right"),
                           ("B / A", "right")):
        totals.add_column(label, justify=justify, no_wrap=True)
    for row in result["totals"]:
        ratio = f"{row['b'] / row['a']:.3f}" if row["a"] else "-"
        if isinstance(row["a"], float):  # the time row (seconds)
            from .time_table import seconds_text
            difference = row["difference"]
            totals.add_row(row["key"], seconds_text(row["a"]), seconds_text(row["b"]),
                           ("-" if difference < 0 else "+") + seconds_text(abs(difference)),
                           ratio)
            continue
        totals.add_row(row["key"], f"{row['a']:,}", f"{row['b']:,}", _signed(row["difference"]),
                       ratio)
    parts = [totals]
    if result["layers"]:
        layers = Table(title="Layers that differ (by name)", title_justify="left",
                       box=box.SIMPLE_HEAD)
        for label in ("name", "A", "B", "params B - A", "MACs B - A", "only in"):
            layers.add_column(label, no_wrap=True, justify="left" if label == "name"
                              else "right")
        for row in result["layers"]:
            shape_a = "x".join(map(str, row["output_a"])) if row.get("output_a") else "-"
            shape_b = "x".join(map(str, row["output_b"])) if row.get("output_b") else "-"
            only = row.get("only_in")
            layers.add_row(Text(terminal(row["name"])), shape_a, shape_b,
                           _signed(row.get("params_difference", 0)),
                           _signed(row.get("macs_difference", 0)),
                           f"{only.upper()}: {row['params']:,} params" if only else "")
        parts.append(layers)
    else:
        parts.append(Text("Every layer has the same name, type, shape and counts."))
    return Group(*parts)


def compare_json(result: dict) -> str:
    import json
    return json.dumps(result, indent=2) + "\n"


RENDERERS = {"table": compare_tables, "json": compare_json}
