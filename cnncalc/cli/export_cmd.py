"""export: write the network as another framework's code (`--to pytorch`)."""

from __future__ import annotations


import typer

from ..errors import CnnCalcError
from .common import (
    SPEC_HELP,
    app,
    check_choice,
    fail,
    load_network,
    parse_args,
    protected,
    terminal_text,
)

TARGETS = ("pytorch",)


@app.command()
def export(
    spec: str = typer.Argument(..., help=SPEC_HELP),
    to: str = typer.Option(..., "--to", help="the framework: pytorch"),
    output: str = typer.Option(..., "-o", "--output", help="the file to write (model.py)"),
    force: bool = typer.Option(False, "--force", help="overwrite an existing file"),
    input: str | None = typer.Option(None, "--input", help="override the input: HxWxC"),
    arg: list[str] = typer.Option([], "--arg", help="set a spec argument, NAME=VALUE"),
):
    """Write the network as a PyTorch module: class Model, weights named as `run` saves them."""
    from ..analysis.analyze import analyze
    from ..interop.pytorch_export import export as to_pytorch
    from .output import check_writable, write_output
    protect = protected(spec)  # never over the spec or a file it includes
    try:
        check_choice("--to", to, TARGETS)
        check_writable(output, force, protect)
        network = load_network(spec, input, parse_args(arg))
        text = to_pytorch(network, analyze(network), spec)
        write_output(output, text, force=force, protect=protect)
    except CnnCalcError as exc:
        fail(exc)
    typer.echo(f"wrote {terminal_text(output)}")
