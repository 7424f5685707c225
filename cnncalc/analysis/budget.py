"""Budgets: limits a network must stay under, from the spec's `budget:` or validate's options.

    budget: {params: 5M, macs: 1G, flops: 2G, memory: 200MiB, batch: 32, dtype: float16,
             mode: inference, optimizer: sgd}

Counts take K, M, G, T (powers of 1000); memory takes binary or decimal units. `memory` is
the peak at inference (or, with `mode: training`, the training total) at `batch` and `dtype`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from ..declare import did_you_mean
from ..errors import EXIT_INCONSISTENT, CnnCalcError, Diagnostic, Span, show
from .memory import DTYPES, OPTIMIZER_COPIES, binary, build, parse_size

KEYS = ("params", "macs", "flops", "memory", "batch", "dtype", "mode", "optimizer")
SI = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}


@dataclass(frozen=True)
class Budget:
    params: int | None = None
    macs: int | None = None
    flops: int | None = None
    memory: int | None = None
    batch: int = 1
    dtype: str = "float32"
    mode: str = "inference"
    optimizer: str = "sgd"
    span: Span | None = None

    def as_yaml(self) -> dict:
        """The limits set, as a spec's `budget:` mapping."""
        defaults = Budget()
        return {key: getattr(self, key) for key in KEYS
                if getattr(self, key) != getattr(defaults, key)}

    def merged(self, **limits) -> Budget:
        """Command-line limits take precedence over the spec's."""
        return replace(self, **{k: v for k, v in limits.items() if v is not None})


def parse_count(value, span: Span, key: str) -> int:
    """5000000, 5M, 1.5G -> an integer."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([kKmMgGtT]?)\s*", str(value))
    if isinstance(value, bool) or not match:
        raise CnnCalcError(Diagnostic(span, f"budget '{key}' must be a count such as 5M or 1.5G",
                                      received=show(value)))
    return int(float(match.group(1)) * SI[match.group(2).lower()])


def parse_budget(doc, file: str) -> Budget | None:
    from ..spec.yamlsource import YMap
    if "budget" not in doc:
        return None
    value, span = doc["budget"], doc.value_span("budget")
    if not isinstance(value, YMap):
        raise CnnCalcError(Diagnostic(span, "'budget' must be a mapping such as "
                                            "{params: 5M, macs: 1G}", received=show(value)))
    out = {}
    for key, item in value.items():
        where = value.value_span(key)
        if key not in KEYS:
            raise CnnCalcError(Diagnostic(value.key_span(key), f"unknown budget key"
                                          f"{did_you_mean(str(key), KEYS)} (keys: "
                                          f"{', '.join(KEYS)})", received=show(key)))
        if key in ("params", "macs", "flops"):
            out[key] = parse_count(item, where, key)
        elif key == "memory":
            out[key] = parse_size(str(item), where)
        elif key == "batch":
            if not isinstance(item, int) or isinstance(item, bool) or item < 1:
                raise CnnCalcError(Diagnostic(where, "budget 'batch' must be a positive integer",
                                              received=show(item)))
            out[key] = item
        else:
            options = {"dtype": DTYPES, "mode": ("inference", "training"),
                       "optimizer": OPTIMIZER_COPIES}[key]
            if item not in options:
                raise CnnCalcError(Diagnostic(where, f"budget '{key}' must be one of "
                                              f"{', '.join(options)}", received=show(item)))
            out[key] = item
    return Budget(**out, span=span)


def check(budget: Budget, network, report) -> list[Diagnostic]:
    """One error per limit exceeded, with the figure, the limit and the costliest layers."""
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
