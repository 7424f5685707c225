"""summarize, explain and convert: the report of one network, in its forms."""

from __future__ import annotations

import typer

from ..conventions import DTYPES, MODES, OPTIMIZERS
from ..errors import CnnCalcError, Span
from .common import (
    FORCE_HELP,
    FORMATS,
    SPEC_HELP,
    Target,
    app,
    check_choice,
    device_of,
    fail,
    load_network,
    parse_args,
    parse_inputs,
    terminal_text,
)
from .plain import lint_lines, summary_table


@app.command()
def summarize(
    spec: str = typer.Argument(..., help=SPEC_HELP),
    input: str | None = typer.Option(None, "--input",
                                     help="override the input: HxWxC, or a sweep 224,320,384"),
    format: str = typer.Option("table", "--format",
                               help="table, json, csv, markdown, html or svg"),
    output: str | None = typer.Option(None, "--output", help="write to FILE instead"),
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
    from ..analysis.analyze import analyze
    from ..analysis.training import with_training
    target = Target(output, force, spec)
    slide = None
    try:
        check_choice("--format", format, FORMATS)
        check_choice("--mode", mode, MODES)
        args = parse_args(arg)
        if input and "," in input:
            network = load_network(spec, None, args)
            shapes = parse_inputs(input, network.input_shape.c, network.input_shape.rank)
            return target.emit(sweep_text(network, shapes, format, mode == "training"))
        if fc_as_conv:
            network, report, slide = converted(spec, input, args)
        else:
            network = load_network(spec, input, args)
            report = analyze(network)
        if mode == "training":
            with_training(network, report)
    except CnnCalcError as exc:
        fail(exc)
    if format == "json":
        import json
        data = report.as_dict()
        if slide:
            data["sliding"] = {"positions": list(slide.positions), "stride": slide.stride,
                               "crop": list(slide.crop), "macs_one_pass": slide.macs_one_pass,
                               "macs_separate": slide.macs_separate}
        return target.emit(json.dumps(data, indent=2) + "\n")
    from ..render import formats
    if format == "csv":
        return target.emit(formats.to_csv(report))
    if format == "markdown":
        return target.emit(formats.to_markdown(report)
                           + (f"\n{slide.sentence()}\n" if slide else ""))
    if format == "html":
        from ..render.html_report import build_page
        lints = [w.as_dict() for w in report.warnings if w.rule not in network.lint_ignore]
        return target.emit(build_page(report.as_dict(), lints))
    if format == "svg":  # a chart: MACs per layer (the report page has the others)
        from ..render import svg
        chart = svg.bar_chart([row.name for row in report.rows],
                              [row.totals.macs for row in report.rows],
                              f"{report.name}: MACs per layer", "MACs")
        return target.emit(svg.standalone(chart))
    try:
        text = summary_table(network, report, depth, rf, columns, wide, to_file=bool(output))
    except CnnCalcError as exc:
        fail(exc)
    target.emit(text + (f"{slide.sentence()}\n" if slide else ""))
    for line in lint_lines(network, report):
        typer.echo(line, err=True)


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
    from ..analysis import lint
    from ..analysis import memory as mem
    from ..analysis.analyze import analyze
    from ..analysis.training import with_training
    from ..render.html_report import build_page
    target = Target(output, force, spec)
    try:
        check_choice("--optimizer", optimizer, OPTIMIZERS)
        network = load_network(spec, input, parse_args(arg))
        result = with_training(network, analyze(network))  # the page shows the backward too
        model = mem.build(network, result)
        figures = mem.MemoryReport(network.name, model, batch, "float32", "inference",
                                   "sgd", network=network, analysis=result).as_dict([batch])
        step = mem.MemoryReport(network.name, model, batch, "float32", "training", optimizer,
                                network=network, analysis=result, backend="cpu")
        timeline = step.timeline()
        timing = None
        if device is not None:
            from ..analysis.timing import TimeSettings, predict
            timing = predict(network, result, device_of(device),
                             TimeSettings(device, batch)).as_dict()
    except CnnCalcError as exc:
        fail(exc)
    lints = [d.as_dict() for d in lint.check(network, result, network.lint_ignore)]
    target.emit(build_page(result.as_dict(), lints, figures, timeline, timing))
    typer.echo(f"wrote {terminal_text(output)}")


def sweep_text(network, shapes, format: str, training: bool = False) -> str:
    """One row of totals per input size (with the backward's, in training mode)."""
    from ..analysis.analyze import analyze
    from ..analysis.training import with_training
    from ..render.formats import sweep
    rows = []
    for shape in shapes:
        network.input_shape = shape
        report = analyze(network)
        if training:
            with_training(network, report)
        rows.append({"input": shape.as_list(), "output_shape": report.output_shape.as_list(),
                     **report.totals.as_dict(),
                     **(report.training.totals if training else {})})
    shape_text = "x".join
    keys = ("params", "macs", "flops", "activations") + (
        ("backward_macs", "train_step_macs") if training else ())
    columns = [("input", "input", lambda v: shape_text(map(str, v))),
               ("output", "output_shape", lambda v: shape_text(map(str, v))),
               *((key, key, lambda v: f"{v:,}") for key in keys)]
    texts = sweep(network.name, "totals by input size", rows, columns)
    return texts.get(format, texts["table"])


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


@app.command()
def convert(
    spec: str = typer.Argument(..., help=SPEC_HELP),
    fc_as_conv: bool = typer.Option(False, "--fc-as-conv", help="fc layers become convs"),
    output: str = typer.Option(..., "-o", "--output", help="the spec file to write"),
    force: bool = typer.Option(False, "--force", help="overwrite an existing file"),
    arg: list[str] = typer.Option([], "--arg", help="set a spec argument, NAME=VALUE"),
):
    """Write a flat spec of the network (with --fc-as-conv, its FC layers as convs)."""
    import yaml

    from ..analysis.analyze import analyze
    from ..analysis.convert import to_spec
    target = Target(output, force, spec)
    try:
        if fc_as_conv:
            network, report, _ = converted(spec, None, parse_args(arg))
        else:
            network = load_network(spec, None, parse_args(arg))
            report = analyze(network)
    except CnnCalcError as exc:
        fail(exc)
    source = " ".join(spec.split())  # one line: the comment must not end early
    text = f"# written by cnncalc convert{' --fc-as-conv' if fc_as_conv else ''} from {source}\n"
    text += yaml.safe_dump(to_spec(network, report), sort_keys=False, default_flow_style=None, width=100)
    target.emit(text)
    typer.echo(f"wrote {terminal_text(output)}")


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
    for line in lines:
        typer.echo(line)
