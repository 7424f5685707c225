"""layers, schema and zoo: what cnncalc knows (layer types, the spec language, the built-in networks)."""

from __future__ import annotations

import json

import typer

from ..errors import CnnCalcError
from .common import (
    FORCE_HELP,
    Target,
    app,
    check_choice,
    console,
    emit,
    fail,
)


@app.command()
def layers():
    """The layer reference: every type, its settings, defaults and meaning."""
    from ..render.reference import layer_reference
    console().print(layer_reference())


@app.command()
def schema(output: str | None = typer.Option(None, "-o", "--output", help="write to FILE instead"),
           force: bool = typer.Option(False, "--force", help=FORCE_HELP)):
    """The JSON Schema (draft 2020-12) of a spec, for editors and other tools."""
    from ..language.schema import spec_schema
    Target(output, force).emit(json.dumps(spec_schema(), indent=2) + "\n")


@app.command()
def zoo(format: str = typer.Option("table", "--format", help="table or json")):
    """The built-in networks with their input, params and MACs."""
    from .. import zoo as zoomod
    from ..analysis.analyze import analyze
    from ..language.document import load
    try:
        check_choice("--format", format, ("table", "json"))
    except CnnCalcError as exc:
        fail(exc)
    rows = []
    for name in zoomod.names():
        report = analyze(load(zoomod.path_of(name), f"{name}.yaml"))
        rows.append({"name": name, "title": report.name, "input": report.input_shape.as_list(),
                     "params": report.totals.params, "macs": report.totals.macs})
    if format == "json":
        return emit(json.dumps(rows, indent=2) + "\n", None)
    from rich import box
    from rich.table import Table
    table = Table(box=box.SIMPLE_HEAD, title="cnncalc zoo", title_justify="left")
    for label, justify in (("name", "left"), ("network", "left"), ("input", "right"),
                           ("params", "right"), ("MACs", "right")):
        table.add_column(label, justify=justify, no_wrap=True)
    for r in rows:
        table.add_row(r["name"], r["title"], "x".join(map(str, r["input"])), f"{r['params']:,}",
                      f"{r['macs']:,}")
    console().print(table)
