"""One NumPy pass of a network as `run` and `validate --forward` make it: the machine's memory
checked first, weights and input loaded or made, then the engine."""

from __future__ import annotations

from ..errors import EXIT_INCONSISTENT, CnnCalcError, Diagnostic, Span


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
            input_file: str | None, backward: bool, progress=None):
    """Weights (loaded or He-initialised), input (loaded or random) and one pass; sizes are
    checked against this machine first. `progress`: a context manager giving a per-layer
    callback (the CLI's bar)."""
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
    if progress is None:
        return engine.run(network, report, x, weights, backward), weights
    with progress() as step:
        return engine.run(network, report, x, weights, backward, progress=step), weights
