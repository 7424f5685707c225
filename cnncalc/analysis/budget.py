"""A network checked against its budget (language/budget.py declares the limits): one error per
limit exceeded, with the figure, the limit and the costliest layers."""

from __future__ import annotations

from ..conventions import DTYPES
from ..errors import EXIT_INCONSISTENT, Diagnostic, Span
from ..language.budget import Budget


def check(budget: Budget, network, report) -> list[Diagnostic]:
    """One error per limit exceeded, with the figure, the limit and the costliest layers."""
    from ..conventions import binary
    from .memory import build
    span = budget.span or Span(network.file)
    found = []
    totals = report.totals
    for key, figure in (("params", totals.params), ("macs", totals.macs),
                        ("flops", totals.flops)):
        limit = getattr(budget, key)
        if limit is not None and figure > limit:
            top = sorted(report.rows, key=lambda r: getattr(r.totals, key), reverse=True)[:3]
            costliest = ", ".join(f"{r.name} {getattr(r.totals, key):,}" for r in top)
            found.append(Diagnostic(span, f"{key} {figure:,} over the budget of {limit:,} "
                                          f"(most: {costliest})", exit_code=EXIT_INCONSISTENT,
                                    rule="budget"))
    if budget.memory is not None:
        model = build(network, report)
        width = DTYPES[budget.dtype]
        figure = model.total(budget.mode, budget.batch, width, budget.optimizer)
        if figure > budget.memory:
            top = sorted(model.layers, key=lambda m: m.held, reverse=True)[:3]
            costliest = ", ".join(f"{m.name} {binary(budget.batch * m.held * width)}"
                                  for m in top)
            found.append(Diagnostic(span, f"{budget.mode} memory {binary(figure)} ({figure:,} B) "
                                          f"at batch {budget.batch}, {budget.dtype} over the "
                                          f"budget of {binary(budget.memory)} (most: "
                                          f"{costliest})", exit_code=EXIT_INCONSISTENT,
                                    rule="budget"))
    return found
