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
    device_of,
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
    device: str | None = typer.Option(None, "--device", help="add the predicted step time "
                                      "on this device (see `cnncalc time`)"),
    batch: int = typer.Option(1, "--batch", min=1, help="batch size of the time row"),
):
    """Totals side by side with their differences, and the layers that differ."""
    from ..analysis.analyze import analyze
    from ..analysis.compare import compare_reports
    from ..render.compare import RENDERERS
    target = Target(output, force, a)
    try:
        check_choice("--format", format, tuple(RENDERERS))
        args = parse_args(arg)
        networks = load_network(a, input, args), load_network(b, input, args)
        left, right = analyze(networks[0]), analyze(networks[1])
        times = None
        if device is not None:
            from ..analysis.timing import TimeSettings, predict
            chosen, settings = device_of(device), TimeSettings(device, batch)
            times = [predict(n, r, chosen, settings).total_seconds
                     for n, r in zip(networks, (left, right))]
    except CnnCalcError as exc:
        fail(exc)
    row = times and (f"seconds on {device} (batch {batch})", *times)
    shown = RENDERERS[format](compare_reports(left, right, row))
    if isinstance(shown, str):
        return target.emit(shown)
    return target.emit(plain(shown)) if output else console().print(shown)
