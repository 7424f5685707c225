"""run: compute the network with NumPy, layer by layer, and compare with the prediction."""

from __future__ import annotations

import typer

from ..compute.run import execute
from ..errors import EXIT_INCONSISTENT, CnnCalcError, Diagnostic, Span
from .common import (
    SPEC_HELP,
    app,
    check_choice,
    console,
    emit,
    fail,
    load_network,
    parse_args,
    protected,
)

SEED_MAX = 2**32 - 1


@app.command()
def run(
    spec: str = typer.Argument(..., help=SPEC_HELP),
    batch: int = typer.Option(1, "--batch", min=1, help="samples (with random input)"),
    seed: int = typer.Option(0, "--seed", help="seed of the weights and the random input"),
    weights: str | None = typer.Option(None, "--weights", help="load weights from .npz"),
    input: str | None = typer.Option(None, "--input", help="override the input: HxWxC"),
    input_file: str | None = typer.Option(None, "--input-file",
                                          help="an NCHW input array, .npy (its N is the batch)"),
    output: str | None = typer.Option(None, "-o", "--output", help="save the output array, .npy"),
    backward: bool = typer.Option(False, "--backward", help="also run the backward pass"),
    save_weights: str | None = typer.Option(None, "--save-weights",
                                            help="write the weights used, .npz"),
    format: str = typer.Option("table", "--format", help="table or json"),
    arg: list[str] = typer.Option([], "--arg", help="set a spec argument, NAME=VALUE"),
    force: bool = typer.Option(False, "--force", help="overwrite an existing --output or "
                               "--save-weights file"),
):
    """Run the network with NumPy: real and predicted shapes, time and bytes per layer."""
    import numpy as np

    from ..analysis.analyze import analyze
    from .output import atomic_path, check_writable, install_sigterm_cleanup
    install_sigterm_cleanup()
    protect = [p for p in (input_file, weights) if p] + (protected(spec) or [spec])
    try:
        check_choice("--format", format, ("table", "json"))
        if input and input.lower().endswith((".npy", ".npz")):
            raise CnnCalcError(Diagnostic(Span("--input"), "--input takes a size such as "
                                          "32x32x3, as in every command; an array file goes "
                                          "to --input-file", received=repr(input)))
        if not 0 <= seed <= SEED_MAX:
            raise CnnCalcError(Diagnostic(Span("--seed"), f"must be between 0 and {SEED_MAX}",
                                          received=str(seed)))
        for option, path, suffix, what in (("--output", output, ".npy", "an .npy array file"),
                                           ("--save-weights", save_weights, ".npz",
                                            "an .npz archive")):
            if path is None:
                continue
            if not path.endswith(suffix):
                raise CnnCalcError(Diagnostic(Span(path), f"{option} writes {what}: the name must "
                                              f"end in {suffix}", received=repr(path)))
            check_writable(path, force, protect)
        network = load_network(spec, input, parse_args(arg))
        report = analyze(network)
        result, used = execute(network, report, batch, seed, weights, input_file, backward,
                               progress_bar(network))
        if output:
            with atomic_path(output, force, protect) as temp:
                np.save(temp, result.output)
        if save_weights:
            with atomic_path(save_weights, force, protect) as temp:
                np.savez(temp, **used)
    except CnnCalcError as exc:
        fail(exc)
    bad = int(result.output.size - np.count_nonzero(np.isfinite(result.output)))
    if bad:
        typer.echo(f"warning: the output has {bad:,} non-finite values (inf or nan)", err=True)
    mismatched = [s for s in result.steps if s.predicted != s.real]
    if format == "json":
        import json
        emit(json.dumps({
            "name": network.name, "batch": int(result.output.shape[0]),
            "layers": [{"name": s.name, "predicted": list(s.predicted), "real": list(s.real),
                        "seconds": s.seconds, "held_bytes": s.held_bytes} for s in result.steps],
            "peak_bytes": result.peak_bytes, "param_bytes": result.param_bytes,
            "training_bytes": result.training_bytes,
            "output_shape": list(result.output.shape)}, indent=2) + "\n", None)
    else:
        console().print(run_table(network.name, result))
    if mismatched:
        raise typer.Exit(EXIT_INCONSISTENT)


def progress_bar(network):
    """A transient progress bar on stderr, as a context manager giving the per-layer callback."""
    from contextlib import contextmanager

    @contextmanager
    def bar():
        from rich.console import Console
        from rich.progress import Progress
        with Progress(console=Console(stderr=True), transient=True) as shown:
            task = shown.add_task(f"running {network.name}", total=len(network.nodes))
            yield lambda i: shown.update(task, completed=i + 1)
    return bar


def run_table(name: str, result):
    from rich import box
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    from ..conventions import binary
    from ..render.escape import terminal
    table = Table(title=Text(terminal(f"{name}: NumPy run")), title_justify="left",
                  box=box.SIMPLE_HEAD)
    for label, justify in (("layer", "left"), ("predicted", "right"), ("real", "right"),
                           ("", "left"), ("ms", "right"), ("held", "right")):
        table.add_column(label, justify=justify, no_wrap=True)
    for s in result.steps:
        fmt = "x".join
        table.add_row(Text(terminal(s.name)), fmt(map(str, s.predicted)), fmt(map(str, s.real)),
                      "ok" if s.predicted == s.real else "MISMATCH", f"{s.seconds * 1e3:.2f}",
                      binary(s.held_bytes))
    lines = [f"peak held (activations + parameters): {binary(result.peak_bytes)} "
             f"({result.peak_bytes:,} B)"]
    if result.training_bytes is not None:
        lines.append(f"held for training: {binary(result.training_bytes)} "
                     f"({result.training_bytes:,} B)")
    return Group(table, Text("\n".join(lines)))
