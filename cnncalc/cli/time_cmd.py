"""time, devices and calibrate: how long a step takes on a device, the device table, and
measuring this machine."""

from __future__ import annotations

import typer

from ..conventions import DTYPES, OPTIMIZERS
from ..errors import CnnCalcError, Diagnostic, Span, show
from .common import (
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

DEVICE_HELP = ("a device of `cnncalc devices` (cpu: this machine, after `cnncalc calibrate`), "
               "or flops=312e12,bandwidth=2e12,memory=80GiB")


def whole(option: str, text: str | None, minimum: int = 1) -> int | None:
    """A positive integer option (exit 2 otherwise)."""
    if text is None:
        return None
    value = text.strip()
    if not (value.isascii() and value.isdigit() and len(value) <= 12 and int(value) >= minimum):
        raise CnnCalcError(Diagnostic(Span(option), "must be a positive integer",
                                      received=show(text)))
    return int(value)


@app.command()
def time(
    spec: str = typer.Argument(..., help=SPEC_HELP),
    device: str = typer.Option(..., "--device", help=DEVICE_HELP),
    batch: str = typer.Option("1", "--batch", help="batch size"),
    mode: str = typer.Option("inference", "--mode", help="inference or training"),
    optimizer: str = typer.Option("sgd", "--optimizer", help="sgd, momentum or adam"),
    dtype: str = typer.Option("float32", "--dtype", help="float32, float16, bfloat16 or int8"),
    amp: bool = typer.Option(False, "--amp", help="mixed precision: float32 weights, "
                             "--dtype compute"),
    images: str | None = typer.Option(None, "--images", help="also the time of an epoch of N "
                                      "images"),
    input: str | None = typer.Option(None, "--input", help="override the input: HxWxC"),
    arg: list[str] = typer.Option([], "--arg", help="set a spec argument, NAME=VALUE"),
    format: str = typer.Option("table", "--format", help="table or json"),
    output: str | None = typer.Option(None, "--output", help="write to FILE instead"),
    layers: bool = typer.Option(False, "--layers", help="every layer, not the 10 slowest"),
):
    """How long a forward or a training step takes on a device, per layer."""
    from ..analysis.analyze import analyze
    from ..analysis.timing import TimeSettings, predict
    target = Target(output, False, spec)
    try:
        settings = TimeSettings(device, whole("--batch", batch), mode, optimizer, dtype, amp,
                                whole("--images", images))
        check_choice("--mode", mode, ("inference", "training"))
        check_choice("--optimizer", optimizer, OPTIMIZERS)
        check_choice("--dtype", dtype, tuple(DTYPES))
        check_choice("--format", format, ("table", "json"))
        if amp and dtype not in ("float16", "bfloat16"):
            raise CnnCalcError(Diagnostic(Span("--amp"), "needs --dtype float16 or bfloat16",
                                          received=show(dtype)))
        chosen = device_of(device)
        network = load_network(spec, input, parse_args(arg))
        result = predict(network, analyze(network), chosen, settings).as_dict()
    except CnnCalcError as exc:
        fail(exc)
    if format == "json":
        import json
        return target.emit(json.dumps(result, indent=2) + "\n")
    from ..render.time_table import time_tables
    tables = time_tables(result, layers)
    return target.emit(plain(tables)) if output else console().print(tables)


@app.command()
def devices(format: str = typer.Option("table", "--format", help="table or json"),
            device: str | None = typer.Option(None, "--device", help="only this one (or "
                                              "flops=...,bandwidth=...,memory=...)")):
    """The device table: dense peak FLOP/s per dtype, bandwidth, memory, and the source."""
    from ..analysis import devices as table
    try:
        check_choice("--format", format, ("table", "json"))
        chosen = [device_of(device)] if device else None
    except CnnCalcError as exc:
        fail(exc)
    if chosen is None:
        from ..analysis.calibration import load
        calibration, _ = load()
        chosen = [calibration.device(d) if d.measured and calibration else d
                  for d in table.table().values()]
    rows = [d.as_dict() for d in chosen]
    if format == "json":
        import json
        return Target(None).emit(json.dumps(rows, indent=2) + "\n")
    from ..render.time_table import device_table
    console().print(device_table(rows))


@app.command()
def calibrate(threads: str | None = typer.Option(None, "--threads", help="PyTorch threads "
                                                 "(default: its own choice)"),
              cpu_time: bool = typer.Option(False, "--cpu-time", help="time the thread's CPU "
                                            "time, not the wall (a busy shared machine; "
                                            "with --threads 1)")):
    """Measure this machine for `--device cpu` (under a minute): conv kinds, GEMM,
    elementwise bandwidth, per-op overhead."""
    from ..analysis import calibrate as measuring
    from ..analysis.calibration import store
    try:
        count = whole("--threads", threads)
    except CnnCalcError as exc:
        fail(exc)
    from rich.progress import Progress
    backend = measuring.backend_name()
    typer.echo(f"measuring this machine with {backend}"
               + ("" if backend == "torch" else " (PyTorch is not installed)"), err=True)
    with Progress(console=console(), transient=True) as bar:
        task = bar.add_task("calibrating", total=measuring.cases())
        result = measuring.measure(
            lambda what, done, total: bar.update(task, completed=done - 1, description=what),
            count, "cpu" if cpu_time else "wall")
    path = store(result)
    typer.echo(f"{result.backend}, threads {result.threads}: best {result.peak() / 1e9:.1f} "
               f"GFLOP/s, {result.bandwidth() / 1e9:.1f} GB/s elementwise, per-op overhead "
               f"{result.overhead * 1e6:.1f} us; written to {path}")
