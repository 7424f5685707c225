"""compare: two networks side by side."""

from __future__ import annotations

import json

import typer

from ..errors import CnnCalcError
from .common import (
    SPEC_HELP,
    app,
    check_choice,
    console,
    emit,
    fail,
    load_network,
)


@app.command()
def compare(
    a: str = typer.Argument(..., help=SPEC_HELP),
    b: str = typer.Argument(..., help=SPEC_HELP),
    format: str = typer.Option("table", "--format", help="table or json"),
):
    """Totals side by side with their differences, and the layers that differ."""
    from ..analysis.analyze import analyze
    from ..analysis.compare import compare_reports
    try:
        check_choice("--format", format, ("table", "json"))
        left, right = analyze(load_network(a)), analyze(load_network(b))
    except CnnCalcError as exc:
        fail(exc)
    result = compare_reports(left, right)
    if format == "json":
        return emit(json.dumps(result, indent=2) + "\n", None)
    from ..render.compare import compare_tables
    console().print(compare_tables(result))
