"""Turn a parsed YAML document into a Network: named layer nodes wired to their inputs."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from . import yamlsource
from .errors import EXIT_INCONSISTENT, EXIT_UNREADABLE, CnnCalcError, Diagnostic, SettingError, Span
from .layers import REGISTRY, Layer
from .settings import did_you_mean
from .shapes import Shape

TOP_LEVEL_KEYS = ("name", "input", "layers", "description")
COMMON_KEYS = ("type", "name")  # keys any layer may carry besides its own settings
MAX_SIDE = 10**12  # largest input side accepted; counts stay exact integers at any size

INPUT = -1  # node index meaning "the network's input"


@dataclass
class Node:
    """One layer of the network, where it was written, and what it reads."""

    name: str
    layer: Layer
    inputs: tuple[int, ...]
    span: Span
    key_spans: dict = field(default_factory=dict)
    path: str = ""

    def span_of(self, key: str | None) -> Span:
        return self.key_spans.get(key, self.span) if key else self.span


@dataclass
class Network:
    name: str
    input_shape: Shape
    nodes: list[Node]
    file: str
    input_span: Span | None = None


def fail(span: Span, message: str, received=None, layer=None, inconsistent=False, path=None):
    return CnnCalcError(Diagnostic(span, message, received=received, layer=layer, path=path,
                                   exit_code=EXIT_INCONSISTENT if inconsistent else EXIT_UNREADABLE))


def from_setting_error(exc: SettingError, span: Span, layer: str | None,
                       path: str | None = None) -> CnnCalcError:
    return fail(span, exc.message, exc.received if exc.has_received else None, layer,
                exc.inconsistent, path)


def parse_input(value, span: Span) -> Shape:
    """[H, W, C] or "HxWxC"."""
    items = value
    if isinstance(value, str) and re.fullmatch(r"\s*\d+\s*(x\s*\d+\s*){2}", value):
        items = [int(v) for v in value.split("x")]
    if (not isinstance(items, list) or len(items) != 3
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in items)):
        raise fail(span, "'input' must be [height, width, channels] of positive integers or "
                         "'HxWxC'", _show(value))
    if max(items) > MAX_SIDE:
        raise fail(span, f"'input' sides above {MAX_SIDE:.0e} are refused", _show(value))
    return Shape(*items)


def _show(value):
    from .errors import show
    return show(value)


def known_types() -> str:
    return ", ".join(sorted(REGISTRY))


def parse_layer(item, span: Span, path: str) -> tuple[str, dict, dict, Span]:
    """A layer item -> (type, settings, key spans, type span). Strings are bare types."""
    if isinstance(item, str):
        return item, {}, {}, span
    if not isinstance(item, yamlsource.YMap):
        raise fail(span, "a layer must be a type name or a mapping with 'type'", _show(item),
                   path=path)
    if "type" not in item:
        raise fail(span, f"layer has no 'type' (types: {known_types()})", path=path)
    return item["type"], dict(item), dict(item.value_spans), item.value_span("type")


def build_layer(type_name, values: dict, key_spans: dict, type_span: Span, item_span: Span,
                label: str | None, path: str) -> Layer:
    if not isinstance(type_name, str) or type_name not in REGISTRY:
        hint = did_you_mean(str(type_name), REGISTRY)
        raise fail(type_span, f"unknown layer type{hint} (types: {known_types()})",
                   _show(type_name), label, path=path)
    cls = REGISTRY[type_name]
    try:
        return cls.from_settings({k: v for k, v in values.items() if k != "type"}, COMMON_KEYS)
    except SettingError as exc:
        span = key_spans.get(exc.key, item_span) if exc.key else item_span
        if exc.on_key and isinstance(values, yamlsource.YMap):
            span = values.key_span(exc.key)
        raise from_setting_error(exc, span, label, path) from None


def parse_document(doc, file: str) -> Network:
    if not isinstance(doc, yamlsource.YMap):
        span = getattr(doc, "span", Span(file, 1, 1))
        raise fail(span, "a spec must be a mapping with 'input' and 'layers'", _show(doc))
    for key in doc:
        if key not in TOP_LEVEL_KEYS:
            raise fail(doc.key_span(key), f"unknown top-level key{did_you_mean(str(key), TOP_LEVEL_KEYS)}"
                       f" (keys: {', '.join(TOP_LEVEL_KEYS)})", _show(key))
    for key in ("input", "layers"):
        if key not in doc:
            raise fail(doc.span, f"the spec has no '{key}'")
    name = doc.get("name", Path(file).stem)
    if not isinstance(name, str):
        raise fail(doc.value_span("name"), "'name' must be a string", _show(name))
    shape = parse_input(doc["input"], doc.value_span("input"))
    layers = doc["layers"]
    if not isinstance(layers, yamlsource.YList) or not layers:
        raise fail(doc.value_span("layers"), "'layers' must be a non-empty list", _show(layers))

    parsed = []
    for index, item in enumerate(layers):
        span = layers.item_span(index)
        path = f"layers[{index}]"
        type_name, values, key_spans, type_span = parse_layer(item, span, path)
        label = values.get("name")
        if label is not None and (not isinstance(label, str) or not label.strip()):
            raise fail(key_spans.get("name", span), "'name' must be a non-empty string",
                       _show(label), path=path)
        layer = build_layer(type_name, item if isinstance(item, yamlsource.YMap) else values,
                            key_spans, type_span, span, label, path)
        parsed.append((label, layer, span, key_spans, path))

    names = assign_names([(label, layer.type_name, key_spans.get("name", span))
                          for label, layer, span, key_spans, _ in parsed])
    nodes = [Node(names[i], layer, (i - 1,) if i else (INPUT,), span, key_spans, path)
             for i, (_, layer, span, key_spans, path) in enumerate(parsed)]
    return Network(name, shape, nodes, file, doc.value_span("input"))


def assign_names(items: list[tuple[str | None, str, Span]]) -> list[str]:
    """Explicit names must be unique; the rest become conv1, relu1, conv2, ..."""
    taken: dict[str, Span] = {}
    for label, _, span in items:
        if label is None:
            continue
        if label in taken:
            first = taken[label]
            raise fail(span, f"duplicate layer name '{label}' (first used at line {first.line})")
        taken[label] = span
    counters: dict[str, int] = {}
    names = []
    for label, type_name, _ in items:
        if label is None:
            n = counters.get(type_name, 0) + 1
            while f"{type_name}{n}" in taken:
                n += 1
            counters[type_name] = n
            label = f"{type_name}{n}"
            taken[label] = None
        names.append(label)
    return names


def load(path: str | Path, display: str | None = None) -> Network:
    """Read, parse and build a network from a spec file."""
    name = display or str(path)
    return parse_document(yamlsource.read_file(path, name), name)


def loads(text: str, file: str = "<string>") -> Network:
    return parse_document(yamlsource.load_text(text, file), file)
