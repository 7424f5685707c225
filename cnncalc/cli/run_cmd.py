"""run: compute the network with NumPy, layer by layer, and compare with the prediction."""

from __future__ import annotations

import typer

from ..errors import EXIT_INCONSISTENT, CnnCalcError, Diagnostic, Span
from .common import SPEC_HELP, app, check_choice, console, emit, fail, load_network, parse_args


def available_bytes() -> int:
    """Memory this machine can still give (MemAvailable), or its total if unknown."""
    import os
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def refuse_if_too_big(network, report, batch: int, backward: bool, span: Span) -> None:
    """Sizes are checked before anything is allocated."""
    from ..analysis.memory import binary, build
    model = build(network, report)
    need = model.training_bytes(batch, 4, "sgd") if backward else \
        model.peak_inference_bytes(batch, 4)
    have = available_bytes()
    if need > have:
        raise CnnCalcError(Diagnostic(span, f"a {'training' if backward else 'forward'} pass "
                                            f"at batch {batch} needs {binary(need)} ({need:,} B); "
                                            f"this machine has {binary(have)} available",
                                      exit_code=EXIT_INCONSISTENT))


def execute(network, report, batch: int, seed: int, weights_file: str | None,
            input_file: str | None, backward: bool, show_progress: bool = True):
    import numpy as np

    from ..compute import engine
    refuse_if_too_big(network, report, batch, backward, Span(network.file))
    if weights_file:
        try:
            with np.load(weights_file) as data:
                arrays = {key: data[key] for key in data.files}
        except (OSError, ValueError) as exc:
            raise CnnCalcError(Diagnostic(Span(weights_file), f"cannot read weights: {exc}")) from None
        weights = engine.check_weights(network, report, arrays)
    else:
        weights = engine.init_weights(network, report, seed)
    s = report.input_shape
    if input_file:
        try:
            x = np.load(input_file).astype(np.float32)
        except (OSError, ValueError) as exc:
            raise CnnCalcError(Diagnostic(Span(input_file), f"cannot read input: {exc}")) from None
        if tuple(x.shape[1:]) != (s.c, *s.spatial):
            raise CnnCalcError(Diagnostic(Span(input_file), f"input has shape {list(x.shape)}, "
                                          f"expected [N, {', '.join(map(str, (s.c, *s.spatial)))}] (NCHW)"))
    else:
        x = np.random.default_rng(seed).standard_normal((batch, s.c, *s.spatial)).astype(
            np.float32)
    if not show_progress:
        return engine.run(network, report, x, weights, backward), weights
    from rich.console import Console
    from rich.progress import Progress
    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(f"running {network.name}", total=len(network.nodes))
        result = engine.run(network, report, x, weights, backward,
                            progress=lambda i: bar.update(task, completed=i + 1))
    return result, weights


@app.command()
def run(
    spec: str = typer.Argument(..., help=SPEC_HELP),
    batch: int = typer.Option(1, "--batch", min=1, help="samples (with random input)"),
    seed: int = typer.Option(0, "--seed", help="seed of the weights and the random input"),
    weights: str | None = typer.Option(None, "--weights", help="load weights from .npz"),
    input: str | None = typer.Option(None, "--input", help="an NCHW input array, .npy"),
    output: str | None = typer.Option(None, "--output", help="save the output array, .npy"),
    backward: bool = typer.Option(False, "--backward", help="also run the backward pass"),
    save_weights: str | None = typer.Option(None, "--save-weights",
                                            help="write the weights used, .npz"),
    format: str = typer.Option("table", "--format", help="table or json"),
    arg: list[str] = typer.Option([], "--arg", help="set a spec argument, NAME=VALUE"),
):
    """Run the network with NumPy: real and predicted shapes, time and bytes per layer."""
    import numpy as np

    from ..analysis.analyze import analyze
    try:
        check_choice("--format", format, ("table", "json"))
        network = load_network(spec, None, parse_args(arg))
        report = analyze(network)
        result, used = execute(network, report, batch, seed, weights, input, backward)
    except CnnCalcError as exc:
        fail(exc)
    if output:
        np.save(output, result.output)
    if save_weights:
        np.savez(save_weights, **used)
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


def run_table(name: str, result):
    from rich import box
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    from ..analysis.memory import binary
    table = Table(title=Text(f"{name}: NumPy run"), title_justify="left", box=box.SIMPLE_HEAD)
    for label, justify in (("layer", "left"), ("predicted", "right"), ("real", "right"),
                           ("", "left"), ("ms", "right"), ("held", "right")):
        table.add_column(label, justify=justify, no_wrap=True)
    for s in result.steps:
        fmt = "x".join
        table.add_row(Text(s.name), fmt(map(str, s.predicted)), fmt(map(str, s.real)),
                      "ok" if s.predicted == s.real else "MISMATCH", f"{s.seconds * 1e3:.2f}",
                      binary(s.held_bytes))
    lines = [f"peak held (activations + parameters): {binary(result.peak_bytes)} "
             f"({result.peak_bytes:,} B)"]
    if result.training_bytes is not None:
        lines.append(f"held for training: {binary(result.training_bytes)} "
                     f"({result.training_bytes:,} B)")
    return Group(table, Text("\n".join(lines)))
