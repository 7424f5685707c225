"""What `validate` checks for one spec: it reads, its shapes hold, its lints and budgets, and
optionally a NumPy forward pass that must give the predicted shapes."""

from __future__ import annotations

from ..errors import (EXIT_INCONSISTENT, EXIT_INTERNAL, EXIT_OK, EXIT_UNREADABLE, CnnCalcError,
                      Diagnostic, Span)
from ..load import open_spec
from . import budget, lint
from .analyze import analyze


def check_one(spec: str, skipped, limits: dict, forward: bool = False,
              default_budget=None, opening: dict | None = None) -> dict:
    """Every problem of one spec: parse errors, or shape errors, or lints and budgets (and,
    with `forward`, a NumPy pass whose shapes must equal the prediction)."""
    try:
        network = open_spec(spec, **(opening or {}))
        report = analyze(network)
    except CnnCalcError as exc:
        return {"spec": spec, "problems": [exc.diagnostic], "report": None}
    problems = lint.check(network, report, skipped | network.lint_ignore)
    plan = (network.budget or default_budget or budget.Budget()).merged(**limits)
    problems += budget.check(plan, network, report)
    if forward and not any(p.severity == "error" for p in problems):
        problems += run_forward(network, report)
    return {"spec": spec, "problems": problems, "report": report}


def run_forward(network, report) -> list[Diagnostic]:
    """One NumPy pass at batch 1: the first layer whose real shape differs is an error."""
    from ..compute.run import execute
    try:
        result, _ = execute(network, report, 1, 0, None, None, False)
    except CnnCalcError as exc:
        return [exc.diagnostic]
    for node, step in zip(network.nodes, result.steps):
        if step.real != step.predicted:
            real, predicted = ("x".join(map(str, s)) for s in (step.real, step.predicted))
            return [Diagnostic(node.span, f"the forward pass gives {real}, the prediction is "
                               f"{predicted}", layer=node.name, exit_code=EXIT_INCONSISTENT)]
    return []


def guarded(spec: str, *args) -> dict:
    """check_one, where even a bug, a spec nested too deeply or a lack of memory is this
    spec's one-line problem and the next spec is still checked."""
    try:
        return check_one(spec, *args)
    except RecursionError:
        problem = Diagnostic(Span(spec), "the spec nests too deeply to analyse",
                             exit_code=EXIT_UNREADABLE)
    except MemoryError:
        problem = Diagnostic(Span(spec), "out of memory analysing this spec",
                             exit_code=EXIT_INCONSISTENT)
    except Exception as exc:  # a bug of ours: reported for this spec, never a traceback
        problem = Diagnostic(Span(spec), f"internal error: {type(exc).__name__}: {exc} "
                             "(please report this)", exit_code=EXIT_INTERNAL)
    return {"spec": spec, "problems": [problem], "report": None}


def validate_results(specs: list[str], strict: bool = False, skipped=frozenset(),
                     limits: dict | None = None, forward: bool = False,
                     default_budget=None, opening: dict | None = None) -> tuple[list, int]:
    """Each spec checked, with its exit code; and the worst code. One spec that fails never
    hides the others' results."""
    results = [guarded(spec, skipped, limits or {}, forward, default_budget, opening)
               for spec in specs]
    worst = EXIT_OK
    for result in results:
        problems = result["problems"]
        errors = [p for p in problems if p.severity == "error"]
        code = max((p.exit_code for p in errors), default=EXIT_OK)
        if strict and problems and not errors:
            code = EXIT_INCONSISTENT
        worst = max(worst, code)
        result["exit_code"] = code
    return results, worst
