"""Budgets as the spec language declares them: limits a network must stay under, from the spec's
`budget:` or validate's options (analysis/budget.py checks a network against them).

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
from ..declare import (
    Choice,
    Count,
    Int,
    Size,
    count_value,
    declared,
    frozen,
    replace,
    setting,
    size_value,
)
from ..errors import CnnCalcError, Diagnostic, Span, show


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




def parse_size(text: str, span: Span | None = None) -> int:
    """'24GiB', '512 MiB', '1.5GB', '1000000' -> bytes."""
    found = size_value(text)
    if found is None:
        raise CnnCalcError(Diagnostic(span or Span("--device-memory"), "must be a size such as "
                                      "24GiB, 512MiB or 16GB", received=repr(text)))
    return found
