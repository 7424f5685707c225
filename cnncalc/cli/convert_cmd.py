"""convert: the network as a flat spec (with --fc-as-conv, its FC layers as convs)."""

from __future__ import annotations

import typer

from ..errors import CnnCalcError
from .common import (
    SPEC_HELP,
    Target,
    app,
    fail,
    load_network,
    parse_args,
    terminal_text,
)
from .summarize_cmd import converted


@app.command()
def convert(
    spec: str = typer.Argument(..., help=SPEC_HELP),
    fc_as_conv: bool = typer.Option(False, "--fc-as-conv", help="fc layers become convs"),
    output: str = typer.Option(..., "-o", "--output", help="the spec file to write"),
    force: bool = typer.Option(False, "--force", help="overwrite an existing file"),
    arg: list[str] = typer.Option([], "--arg", help="set a spec argument, NAME=VALUE"),
    input: str | None = typer.Option(None, "--input", help="override the input, HxWxC"),
):
    """Write a flat spec of the network (with --fc-as-conv, its FC layers as convs)."""
    import yaml

    from ..analysis.analyze import analyze
    from ..analysis.convert import to_spec
    target = Target(output, force, spec)
    try:
        if fc_as_conv:
            network, report, _ = converted(spec, input, parse_args(arg))
        else:
            network = load_network(spec, input, parse_args(arg))
            report = analyze(network)
    except CnnCalcError as exc:
        fail(exc)
    from ..render.escape import comment
    source = comment(" ".join(spec.split()))  # one line, no control: the comment must not end
    text = f"# written by cnncalc convert{' --fc-as-conv' if fc_as_conv else ''} from {source}\n"
    text += yaml.safe_dump(to_spec(network, report), sort_keys=False, default_flow_style=None, width=100)
    target.emit(text)
    typer.echo(f"wrote {terminal_text(output)}")
