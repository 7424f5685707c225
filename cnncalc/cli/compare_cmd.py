"""compare: two networks side by side."""

from __future__ import annotations

import typer

from ..errors import CnnCalcError
from .common import (
    FORCE_HELP,
    SPEC_HELP,
    Target,
    app,
    check_choice,
    console,
    fail,
    load_network,
    parse_args,
    plain,
)


@app.command()
def compare(
    a: str = typer.Argument(..., help=SPEC_HELP),
    b: str = typer.Argument(..., help=SPEC_HELP),
    format: str = typer.Option("table", "--format", help="table or json"),
    input: str | None = typer.Option(None, "--input", help="analyse both at this input, HxWxC"),
    arg: list[str] = typer.Option([], "--arg", help="set a spec argument of both, NAME=VALUE"),
    output: str | None = typer.Option(None, "-o", "--output", help="write to FILE instead"),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
):
    """Totals side by side with their differences, and the layers that differ."""
    from ..analysis.analyze import analyze
    from ..analysis.compare import compare_reports
    from ..render.compare import RENDERERS
    target = Target(output, force, a)
    try:
        check_choice("--format", format, tuple(RENDERERS))
        args = parse_args(arg)
        left = analyze(load_network(a, input, args))
        right = analyze(load_network(b, input, args))
    except CnnCalcError as exc:
        fail(exc)
    shown = RENDERERS[format](compare_reports(left, right))
    if isinstance(shown, str):
        return target.emit(shown)
    return target.emit(plain(shown)) if output else console().print(shown)
