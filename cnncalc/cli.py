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
):
    """Per-layer output shape, params, connections, MACs and FLOPs, with totals."""
    from .analysis import analyze
    try:
        check_choice("--format", format, ("table", "json"))
        network = load_network(spec, input, parse_args(arg))
        report = analyze(network)
    except CnnCalcError as exc:
        fail(exc)
    if format == "json":
        import json
        typer.echo(json.dumps(report.as_dict(), indent=2))
        return
    from .render.table import summary_table
    out = console()
    out.print(summary_table(report, depth, out, rf))
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
