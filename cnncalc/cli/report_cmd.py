"""report: one self-contained HTML page of a network."""

from __future__ import annotations

import typer

from ..conventions import OPTIMIZERS
from ..errors import CnnCalcError
from .common import (
    FORCE_HELP,
    SPEC_HELP,
    Target,
    app,
    check_choice,
    device_of,
    fail,
    load_network,
    parse_args,
    terminal_text,
)


@app.command()
def report(
    spec: str = typer.Argument(..., help=SPEC_HELP),
    output: str = typer.Option(..., "-o", "--output", help="the HTML file to write"),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
    input: str | None = typer.Option(None, "--input", help="override the input, HxWxC"),
    batch: int = typer.Option(1, "--batch", min=1, help="batch size of the memory figures"),
    optimizer: str = typer.Option("sgd", "--optimizer",
                                  help="optimizer of the training-step timeline: "
                                  + ", ".join(OPTIMIZERS)),
    arg: list[str] = typer.Option([], "--arg", help="set a spec argument, NAME=VALUE"),
    device: str | None = typer.Option(None, "--device", help="add a chart of the predicted "
                                      "time per layer on this device (see `cnncalc time`)"),
):
    """One self-contained HTML page: the layer table, charts (with the memory timeline of one
    training step, as PyTorch on the CPU runs it), the graph and the lints."""
    from ..analysis.page import page_data
    from ..render.html_report import build_page
    target = Target(output, force, spec)
    try:
        check_choice("--optimizer", optimizer, OPTIMIZERS)
        data = page_data(load_network(spec, input, parse_args(arg)), batch, optimizer,
                         device_of(device) if device is not None else None)
    except CnnCalcError as exc:
        fail(exc)
    target.emit(build_page(data.summary, data.lints, data.memory, data.timeline, data.timing))
    typer.echo(f"wrote {terminal_text(output)}")
