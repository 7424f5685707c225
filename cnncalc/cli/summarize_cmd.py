"""summarize: the report of one network, layer by layer, in any format."""

from __future__ import annotations

import typer

from ..conventions import MODES
from ..errors import CnnCalcError, Diagnostic, Span
from .common import (
    FORCE_HELP,
    FORMATS,
    SPEC_OR_PROJECT_HELP,
    Target,
    app,
    each_spec,
    check_choice,
    fail,
    load_network,
    parse_args,
    parse_inputs,
)
from .options import column_keys, lint_lines, terminal


@app.command()
def summarize(
    spec: str | None = typer.Argument(None, help=SPEC_OR_PROJECT_HELP),
    input: str | None = typer.Option(None, "--input",
                                     help="override the input: HxWxC, or a sweep 224,320,384"),
    format: str = typer.Option("table", "--format",
                               help="table, json, csv, markdown, html or svg"),
    output: str | None = typer.Option(None, "-o", "--output", help="write to FILE instead"),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
    depth: int | None = typer.Option(None, "--depth", min=0,
                                     help="collapse blocks nested deeper than N"),
    arg: list[str] = typer.Option([], "--arg", help="set a spec argument, NAME=VALUE"),
    rf: bool = typer.Option(True, "--rf/--no-rf", help="show the receptive-field column"),
    fc_as_conv: bool = typer.Option(False, "--fc-as-conv",
                                    help="every fully-connected layer as the equivalent conv"),
    wide: bool = typer.Option(False, "--wide", help="every column, however wide"),
    columns: str | None = typer.Option(None, "--columns", help="the columns to show, e.g. "
                                       "name,output,params,macs (see docs/formats.md)"),
    mode: str = typer.Option("inference", "--mode", help="inference, or training: adds the "
                             "backward's MACs per layer (input and weight gradients)"),
):
    """Per-layer output shape, params, connections, MACs and FLOPs, with totals."""
    each_spec(spec, "summarize", lambda one, _: summarize_one(
        one, input, format, output, force, depth, arg, rf, fc_as_conv, wide, columns, mode),
        output)


def summarize_one(spec: str, input, format, output, force, depth, arg, rf, fc_as_conv, wide,
                  columns, mode) -> None:
    from ..analysis.analyze import analyze, sweep
    from ..analysis.training import with_training
    from ..render.summary_formats import COLUMN_FORMATS, RENDERERS, SummaryView, sweep_text
    target = Target(output, force, spec)
    slide = None
    try:
        check_choice("--format", format, FORMATS)
        check_choice("--mode", mode, MODES)
        training = mode == "training"
        args = parse_args(arg)
        if input and "," in input:
            network = load_network(spec, None, args)
            shapes = parse_inputs(input, network.input_shape.c, network.input_shape.rank)
            rows = sweep(network, shapes, with_training if training else None)
            return target.emit(sweep_text(network.name, rows, format, training))
        if fc_as_conv:
            network, report, slide = converted(spec, input, args)
        else:
            network = load_network(spec, input, args)
            report = analyze(network)
        if training:
            with_training(network, report)
        keys = column_keys(columns, report)
        if keys and format not in COLUMN_FORMATS:
            raise CnnCalcError(Diagnostic(Span("--columns"), "applies to the table, csv and "
                                          f"markdown formats, not {format} (which holds every "
                                          "figure)", received=columns))
    except CnnCalcError as exc:
        fail(exc)
    width, color = (None, False) if output else terminal()
    target.emit(RENDERERS[format](SummaryView(report, network.lint_ignore, slide, depth, rf,
                                              keys, wide, width, color)))
    if format == "table":
        for line in lint_lines(network, report):
            typer.echo(line, err=True)


def converted(spec: str, input: str | None, args: dict):
    """The spec with fc layers as convs (kernels from its own input size), analysed at
    `input` if given, and what one pass over that input equals."""
    from .. import language
    from ..analysis.analyze import analyze
    from ..analysis.convert import fc_as_conv, sliding
    network = load_network(spec, None, args)
    original = analyze(network)
    conv_net = fc_as_conv(network, original)
    if input:
        conv_net.input_shape = language.parse_input(input, Span("--input"))
    report = analyze(conv_net)
    return conv_net, report, sliding(original, report, network)
