"""explain: the arithmetic of one layer, with its numbers put in."""

from __future__ import annotations

import typer

from ..conventions import DTYPES
from ..errors import CnnCalcError
from .common import (
    SPEC_HELP,
    app,
    check_choice,
    fail,
    load_network,
    parse_args,
)


@app.command()
def explain(
    spec: str = typer.Argument(..., help=SPEC_HELP),
    layer: str = typer.Argument(..., help="the layer's name (or the last part of it)"),
    input: str | None = typer.Option(None, "--input", help="override the input, HxWxC"),
    dtype: str = typer.Option("float32", "--dtype", help="for the memory line"),
    arg: list[str] = typer.Option([], "--arg", help="set a spec argument, NAME=VALUE"),
):
    """Show the arithmetic of one layer: shape, params, connections, MACs, FLOPs, memory, RF."""
    from ..analysis.analyze import analyze
    from ..analysis.explain import explain as explain_layer
    try:
        check_choice("--dtype", dtype, tuple(DTYPES))
        network = load_network(spec, input, parse_args(arg))
        lines = explain_layer(network, analyze(network), layer, dtype)
    except CnnCalcError as exc:
        fail(exc)
    from ..render.escape import terminal
    for line in lines:  # a name's newline or ESC shown, never printed raw
        typer.echo(terminal(line))
