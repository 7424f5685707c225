"""graph: the network as a Mermaid or DOT diagram."""

from __future__ import annotations

import typer

from ..errors import CnnCalcError
from .common import (
    FORCE_HELP,
    SPEC_HELP,
    Target,
    app,
    check_choice,
    fail,
    load_network,
    parse_args,
)


@app.command()
def graph(
    spec: str = typer.Argument(..., help=SPEC_HELP),
    format: str = typer.Option("mermaid", "--format", help="mermaid or dot"),
    output: str | None = typer.Option(None, "-o", "--output", help="write to FILE instead"),
    input: str | None = typer.Option(None, "--input", help="override the input, HxWxC"),
    arg: list[str] = typer.Option([], "--arg", help="set a spec argument, NAME=VALUE"),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
):
    """The network as a diagram: Mermaid (renders in GitHub markdown) or Graphviz dot."""
    from ..analysis.analyze import analyze
    from ..render.graph import to_dot, to_mermaid
    target = Target(output, force, spec)
    try:
        check_choice("--format", format, ("mermaid", "dot"))
        network = load_network(spec, input, parse_args(arg))
        report = analyze(network)
    except CnnCalcError as exc:
        fail(exc)
    target.emit((to_mermaid if format == "mermaid" else to_dot)(network, report))
