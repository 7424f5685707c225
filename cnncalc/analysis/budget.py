"""Budgets: limits a network must stay under, from the spec's `budget:` or validate's options.

    budget: {params: 5M, macs: 1G, flops: 2G, memory: 200MiB, batch: 32, dtype: float16,
             mode: inference, optimizer: sgd}

Counts take K, M, G, T (powers of 1000); memory takes binary or decimal units. `memory` is
the peak at inference (or, with `mode: training`, the training total) at `batch` and `dtype`.
The keys are declared once (the fields below): validation, did-you-mean, docs and the JSON
Schema all read them.
"""

from __future__ import annotations

from typing import ClassVar

from ..conventions import DTYPES, MODES, OPTIMIZERS
from ..declare import Choice, Count, Int, Size, count_value, declared, frozen, replace, setting
from ..errors import EXIT_INCONSISTENT, CnnCalcError, Diagnostic, Span, show


@frozen
class Budget:
    """Limits a network must stay under (a spec's `budget:`, or validate's --max-*)."""

    label: ClassVar[str] = "budget"

    params: int | None = setting(Count(), "most parameters, e.g. 5M", None)
    macs: int | None = setting(Count(), "most multiply-accumulates, e.g. 1G", None)
    flops: int | None = setting(Count(), "most FLOPs, e.g. 2G", None)
    memory: int | None = setting(Size(), "most memory, e.g. 200MiB (at batch, dtype, mode)",
                                 None)
    batch: int = setting(Int(), "batch size the memory limit applies to", 1)
    dtype: str = setting(Choice(tuple(DTYPES)), "data type the memory limit applies to",
                         "float32")
    mode: str = setting(Choice(MODES), "inference (peak) or training memory", "inference")
    optimizer: str = setting(Choice(OPTIMIZERS), "optimizer, for training memory", "sgd")
    span: Span | None = None

    def as_yaml(self) -> dict:
        """The limits set, as a spec's `budget:` mapping."""
        return {d.name: getattr(self, d.field) for d in declared(Budget)
                if getattr(self, d.field) != d.default}

    def merged(self, **limits) -> Budget:
        """Command-line limits take precedence over the spec's."""
        return replace(self, **{k: v for k, v in limits.items() if v is not None})


def parse_count(value, span: Span, key: str) -> int:
    """--max-params 5M and the like -> an integer."""
    found = count_value(value)
    if found is None:
        raise CnnCalcError(Diagnostic(span, f"'{key}' must be a count such as 5M or 1.5G",
                                      received=show(value)))
    return found


def check(budget: Budget, network, report) -> list[Diagnostic]:
    """One error per limit exceeded, with the figure, the limit and the costliest layers."""
    from .memory import binary, build
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
