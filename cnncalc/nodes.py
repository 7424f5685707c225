"""The network graph: nodes (one layer each, where it was written, what it reads)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import EXIT_INCONSISTENT, EXIT_UNREADABLE, CnnCalcError, Diagnostic, SettingError, Span
from .layers import REGISTRY, Layer
from .settings import did_you_mean
from .shapes import Shape
from .yamlsource import YMap

INPUT = -1  # node index meaning "the network's input"
COMMON_KEYS = ("type", "name")  # keys any layer may carry besides its own settings


@dataclass
class Node:
    """One layer of the network, where it was written, and what it reads."""

    name: str  # full name, groups joined by '.' (layer1.1.conv1)
    layer: Layer
    inputs: tuple[int, ...]
    span: Span
    key_spans: dict = field(default_factory=dict)
    path: str = ""
    groups: tuple = ()  # full names of the enclosing blocks, stages and residuals

    def span_of(self, key: str | None) -> Span:
        return self.key_spans.get(key, self.span) if key else self.span


@dataclass
class Network:
    name: str
    input_shape: Shape
    nodes: list[Node]
    file: str
    input_span: Span | None = None
    group_kinds: dict = field(default_factory=dict)  # group full name -> its kind
    lint_ignore: frozenset = frozenset()  # lint rule ids the spec switches off
    budget: object = None  # budget.Budget from the spec's `budget:`, if any


def fail(span: Span, message: str, received=None, layer=None, inconsistent=False, path=None):
    return CnnCalcError(Diagnostic(span, message, received=received, layer=layer, path=path,
                                   exit_code=EXIT_INCONSISTENT if inconsistent else EXIT_UNREADABLE))


def from_setting_error(exc: SettingError, span: Span, layer: str | None,
                       path: str | None = None) -> CnnCalcError:
    return fail(span, exc.message, exc.received if exc.has_received else None, layer,
                exc.inconsistent, path)


def known_types() -> str:
    return ", ".join(sorted(REGISTRY))


def build_layer(type_name, values: dict, key_spans: dict, type_span: Span, item_span: Span,
                label: str | None, path: str, extra: tuple = ()) -> Layer:
    """A layer object from its type and settings; errors point at the key at fault."""
    from .errors import show
    if not isinstance(type_name, str) or type_name not in REGISTRY:
        hint = did_you_mean(str(type_name), REGISTRY)
        raise fail(type_span, f"unknown layer type{hint} (types: {known_types()})",
                   show(type_name), label, path=path)
    cls = REGISTRY[type_name]
    try:
        return cls.from_settings({k: v for k, v in values.items() if k != "type"},
                                 COMMON_KEYS + extra)
    except SettingError as exc:
        span = key_spans.get(exc.key, item_span) if exc.key else item_span
        if exc.on_key and isinstance(values, YMap):
            span = values.key_span(exc.key)
        raise from_setting_error(exc, span, label, path) from None
