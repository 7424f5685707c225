"""memory: will it fit, and at what batch size."""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import CnnCalcError, Diagnostic, Span
from .common import SPEC_HELP, app, check_choice, console, fail, load_network, parse_args


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
    from .. import memory as mem
    from ..analysis import analyze
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
    from ..render.memory_table import memory_tables
    console().print(memory_tables(report, batches))


def parse_batches(text: str) -> list[int]:
    items = text.split(",")
    if not all(item.strip().isdigit() and int(item) > 0 for item in items):
        raise CnnCalcError(Diagnostic(Span("--batch"), "must be a positive integer or a list "
                                      "such as 1,8,64", received=repr(text)))
    return [int(item) for item in items]


def notes_total_remark(network, model) -> str | None:
    """The CS231n VGG16 table prints 24M values; its own rows add up to 15.2M."""
    from .. import zoo
    shipped = zoo.path_of("vgg16")
    if shipped is None or Path(network.file).name != "vgg16.yaml" or \
            model.activation_values != 15_237_608:
        return None
    return ("Note: the CS231n notes print 'TOTAL memory: 24M * 4 bytes ~= 93MB / image', but "
            f"their own rows add up to {model.activation_values:,} values (58.1 MiB).")
