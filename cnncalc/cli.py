"""The command line: thin. Load, analyse, render; catch the one domain exception and exit."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from . import __version__
from .errors import EXIT_OK, CnnCalcError, Diagnostic, Span

app = typer.Typer(add_completion=True, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Shapes, parameters, connections, MACs and FLOPs of a CNN written as YAML.")

SPEC_HELP = "a spec file, a built-in network name (see `cnncalc zoo`), or - for standard input"


def _version(value: bool):
    if value:
        typer.echo(f"cnncalc {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(version: bool = typer.Option(False, "--version", callback=_version,
                                              is_eager=True, help="print the version")):
    """cnncalc: what a convolutional network costs, before any framework code."""


def parse_args(pairs: list[str]) -> dict:
    """--arg NAME=VALUE pairs; values are read as YAML scalars (2 -> int, true -> bool)."""
    from . import yamlsource
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise CnnCalcError(Diagnostic(Span("--arg"), "must be NAME=VALUE", received=pair))
        out[name] = yamlsource.load_text(value or "null", "--arg") if value else None
    return out


def load_network(spec: str, input_override: str | None = None, args: dict | None = None):
    """A file path, a zoo name, or '-' -> Network (CnnCalcError on any problem)."""
    from . import spec as specmod
    from . import yamlsource, zoo
    if spec == "-":
        doc = yamlsource.load_bytes(sys.stdin.buffer.read(), "<stdin>")
        network = specmod.parse_document(doc, "<stdin>", args)
    else:
        path = Path(spec)
        if not path.exists() and zoo.path_of(spec):
            path = zoo.path_of(spec)
            network = specmod.load(path, str(path.name), args)
        else:
            network = specmod.load(path, spec, args)
    if input_override:
        network.input_shape = specmod.parse_input(input_override, Span("--input"))
    return network


def fail(exc: CnnCalcError):
    typer.echo(exc.diagnostic.format(), err=True)
    raise typer.Exit(exc.exit_code)


def console():
    """Rich console; off a terminal, wide enough that tables are never cut."""
    import os

    from rich.console import Console
    width = None if sys.stdout.isatty() else int(os.environ.get("COLUMNS") or 160)
    return Console(highlight=False, width=width)


@app.command()
def summarize(
    spec: str = typer.Argument(..., help=SPEC_HELP),
    input: str | None = typer.Option(None, "--input", help="override the input, HxWxC"),
    format: str = typer.Option("table", "--format", help="table or json"),
    depth: int | None = typer.Option(None, "--depth", min=0,
                                        help="collapse blocks nested deeper than N"),
    arg: list[str] = typer.Option([], "--arg", help="set a spec argument, NAME=VALUE"),
    rf: bool = typer.Option(True, "--rf/--no-rf", help="show the receptive-field column"),
    fc_as_conv: bool = typer.Option(False, "--fc-as-conv",
                                    help="every fully-connected layer as the equivalent conv"),
):
    """Per-layer output shape, params, connections, MACs and FLOPs, with totals."""
    from .analysis import analyze
    slide = None
    try:
        check_choice("--format", format, ("table", "json"))
        if fc_as_conv:
            network, report, slide = converted(spec, input, parse_args(arg))
        else:
            network = load_network(spec, input, parse_args(arg))
            report = analyze(network)
    except CnnCalcError as exc:
        fail(exc)
    if format == "json":
        import json
        data = report.as_dict()
        if slide:
            data["sliding"] = {"positions": list(slide.positions), "stride": slide.stride,
                               "crop": list(slide.crop), "macs_one_pass": slide.macs_one_pass,
                               "macs_separate": slide.macs_separate}
        typer.echo(json.dumps(data, indent=2))
        return
    from .render.table import summary_table
    out = console()
    out.print(summary_table(report, depth, out, rf))
    if slide:
        out.print(slide.sentence())
    for warning in report.warnings:
        if warning.rule not in network.lint_ignore:
            typer.echo(warning.format(), err=True)


@app.command()
def validate(
    specs: list[str] = typer.Argument(..., help="spec files or built-in names"),
    strict: bool = typer.Option(False, "--strict", help="warnings fail too"),
    ignore: list[str] = typer.Option([], "--ignore", help="lint rule ids to skip (repeatable "
                                     "or comma-separated)"),
):
    """Check specs: exit 0 if all are valid, 1 if a network is inconsistent, 2 if unreadable."""
    from . import lint
    from .analysis import analyze
    from .spec import rule_ids
    worst = EXIT_OK
    try:
        skipped = rule_ids(",".join(ignore), Span("--ignore")) if ignore else frozenset()
    except CnnCalcError as exc:
        fail(exc)
    for spec in specs:
        try:
            network = load_network(spec)
            report = analyze(network)
        except CnnCalcError as exc:
            typer.echo(exc.diagnostic.format())
            worst = max(worst, exc.exit_code)
            continue
        warnings = lint.check(network, report, skipped | network.lint_ignore)
        for warning in warnings:
            typer.echo(warning.format())
        if strict and warnings:
            worst = max(worst, 1)
        t = report.totals
        typer.echo(f"{spec}: ok: {len(report.rows)} layers, output {report.output_shape}, "
                   f"{t.params:,} params, {t.macs:,} MACs"
                   + (f", {len(warnings)} warning(s)" if warnings else ""))
    raise typer.Exit(worst)


@app.command()
def memory(
    spec: str = typer.Argument(..., help=SPEC_HELP),
    batch: str = typer.Option("1", "--batch", help="batch size, or a list: 1,8,64"),
    dtype: str = typer.Option("float32", "--dtype",
                              help="float32, float16, bfloat16, float64 or int8"),
    mode: str = typer.Option("inference", "--mode", help="inference or training"),
    optimizer: str = typer.Option("sgd", "--optimizer", help="sgd, momentum or adam"),
    device_memory: str | None = typer.Option(None, "--device-memory",
                                                help="answer the largest batch that fits, e.g. 24GiB"),
    inplace: bool = typer.Option(True, "--inplace/--no-inplace",
                                 help="ReLU and dropout overwrite their input (default)"),
    input: str | None = typer.Option(None, "--input", help="override the input, HxWxC"),
    format: str = typer.Option("table", "--format", help="table or json"),
    arg: list[str] = typer.Option([], "--arg", help="set a spec argument, NAME=VALUE"),
):
    """Memory for inference and training at any batch size and dtype."""
    from . import memory as mem
    from .analysis import analyze
    try:
        batches = parse_batches(batch)
        check_choice("--dtype", dtype, tuple(mem.DTYPES))
        check_choice("--mode", mode, ("inference", "training"))
        check_choice("--optimizer", optimizer, tuple(mem.OPTIMIZER_COPIES))
        check_choice("--format", format, ("table", "json"))
        device = mem.parse_size(device_memory) if device_memory else None
        network = load_network(spec, input, parse_args(arg))
        model = mem.build(network, analyze(network), inplace)
    except CnnCalcError as exc:
        fail(exc)
    report = mem.MemoryReport(network.name, model, batches[0], dtype, mode, optimizer, device,
                              notes_total_remark(network, model))
    if format == "json":
        import json
        typer.echo(json.dumps(report.as_dict(batches), indent=2))
        return
    from .render.memory_table import memory_tables
    console().print(memory_tables(report, batches))


def converted(spec: str, input: str | None, args: dict):
    """The spec with fc layers as convs (kernels from its own input size), analysed at
    `input` if given, and what one pass over that input equals."""
    from . import spec as specmod
    from .analysis import analyze
    from .convert import fc_as_conv, sliding
    network = load_network(spec, None, args)
    original = analyze(network)
    conv_net = fc_as_conv(network, original)
    if input:
        conv_net.input_shape = specmod.parse_input(input, Span("--input"))
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

    from .analysis import analyze
    from .convert import to_spec
    try:
        if Path(output).exists() and not force:
            raise CnnCalcError(Diagnostic(Span(output), "exists; pass --force to overwrite it"))
        if fc_as_conv:
            network = converted(spec, None, parse_args(arg))[0]
        else:
            network = load_network(spec, None, parse_args(arg))
            analyze(network)
    except CnnCalcError as exc:
        fail(exc)
    text = f"# written by cnncalc convert{' --fc-as-conv' if fc_as_conv else ''} from {spec}\n"
    text += yaml.safe_dump(to_spec(network), sort_keys=False, default_flow_style=None, width=100)
    try:
        Path(output).write_text(text)
    except OSError as exc:
        fail(CnnCalcError(Diagnostic(Span(output), f"cannot write: {exc.strerror or exc}")))
    typer.echo(f"wrote {output}")


@app.command()
def explain(
    spec: str = typer.Argument(..., help=SPEC_HELP),
    layer: str = typer.Argument(..., help="the layer's name (or the last part of it)"),
    input: str | None = typer.Option(None, "--input", help="override the input, HxWxC"),
    dtype: str = typer.Option("float32", "--dtype", help="for the memory line"),
    arg: list[str] = typer.Option([], "--arg", help="set a spec argument, NAME=VALUE"),
):
    """Show the arithmetic of one layer: shape, params, connections, MACs, FLOPs, memory, RF."""
    from . import memory as mem
    from .analysis import analyze
    from .explain import explain as explain_layer
    try:
        check_choice("--dtype", dtype, tuple(mem.DTYPES))
        network = load_network(spec, input, parse_args(arg))
        lines = explain_layer(network, analyze(network), layer, dtype)
    except CnnCalcError as exc:
        fail(exc)
    for line in lines:
        typer.echo(line)


def parse_batches(text: str) -> list[int]:
    items = text.split(",")
    if not all(item.strip().isdigit() and int(item) > 0 for item in items):
        raise CnnCalcError(Diagnostic(Span("--batch"), "must be a positive integer or a list "
                                      "such as 1,8,64", received=repr(text)))
    return [int(item) for item in items]


def check_choice(option: str, value: str, options: tuple) -> None:
    if value not in options:
        raise CnnCalcError(Diagnostic(Span(option), f"must be one of {', '.join(options)}",
                                      received=repr(value)))


def notes_total_remark(network, model) -> str | None:
    """The CS231n VGG16 table prints 24M values; its own rows add up to 15.2M."""
    from . import zoo
    shipped = zoo.path_of("vgg16")
    if shipped is None or Path(network.file).name != "vgg16.yaml" or \
            model.activation_values != 15_237_608:
        return None
    return ("Note: the CS231n notes print 'TOTAL memory: 24M * 4 bytes ~= 93MB / image', but "
            f"their own rows add up to {model.activation_values:,} values (58.1 MiB).")


@app.command()
def layers():
    """The layer reference: every type, its settings, defaults and meaning."""
    from .render.reference import layer_reference
    console().print(layer_reference())


def main():
    """Entry point: no traceback ever reaches the user."""
    try:
        app()
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        raise SystemExit(130) from None
    except RecursionError:
        typer.echo("error: the spec nests too deeply to analyse", err=True)
        raise SystemExit(2) from None
    except Exception as exc:  # a bug of ours: still one line, never a traceback
        typer.echo(f"internal error: {type(exc).__name__}: {exc} (please report this)", err=True)
        raise SystemExit(70) from None
