"""Turn a parsed YAML document into a Network: named layer nodes wired to their inputs."""

from __future__ import annotations

import re
from pathlib import Path

from ..declare import did_you_mean
from ..errors import Span, fail, show
from ..graph import INPUT, Network
from ..layers.shape import Shape
from . import yamlsource
from .expand import REQUIRED_ARG, Expander, Scope, collect_names, parse_blocks

TOP_LEVEL_KEYS = ("name", "input", "layers", "description", "blocks", "args", "lint", "budget")
MAX_SIDE = 10**12  # largest input side accepted; counts stay exact integers at any size


def parse_input(value, span: Span) -> Shape:
    """[H, W, C] or "HxWxC"."""
    items = value
    if isinstance(value, str) and re.fullmatch(r"\s*\d+\s*(x\s*\d+\s*){2}", value):
        items = [int(v) for v in value.split("x")]
    if (not isinstance(items, list) or len(items) != 3
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in items)):
        raise fail(span, "'input' must be [height, width, channels] of positive integers or "
                         "'HxWxC'", show(value))
    if max(items) > MAX_SIDE:
        raise fail(span, f"'input' sides above {MAX_SIDE:.0e} are refused", show(value))
    return Shape(tuple(items[:-1]), items[-1])


def spec_args(doc, overrides: dict | None) -> dict | None:
    """Top-level `args:` with their defaults, replaced by `overrides` (from --arg)."""
    declared = doc.get("args")
    if declared is None and not overrides:
        return None
    if declared is not None and not isinstance(declared, yamlsource.YMap):
        raise fail(doc.value_span("args"), "'args' must map argument names to defaults",
                   show(declared))
    args = dict(declared or {})
    for key, value in (overrides or {}).items():
        if key not in args:
            raise fail(Span("--arg"), f"the spec has no argument '{key}'"
                       f"{did_you_mean(key, args)} (arguments: {', '.join(args) or 'none'})")
        args[key] = value
    for key, value in args.items():
        if value is None or value is REQUIRED_ARG:
            raise fail(doc.value_span("args"), f"spec argument '{key}' has no value")
    return args


def parse_document(doc, file: str, args: dict | None = None) -> Network:
    if not isinstance(doc, yamlsource.YMap):
        span = getattr(doc, "span", Span(file, 1, 1))
        raise fail(span, "a spec must be a mapping with 'input' and 'layers'", show(doc))
    for key in doc:
        if key not in TOP_LEVEL_KEYS:
            raise fail(doc.key_span(key), f"unknown top-level key"
                       f"{did_you_mean(str(key), TOP_LEVEL_KEYS)} (keys: "
                       f"{', '.join(TOP_LEVEL_KEYS)})", show(key))
    for key in ("input", "layers"):
        if key not in doc:
            raise fail(doc.span, f"the spec has no '{key}'")
    name = doc.get("name", Path(file).stem)
    if not isinstance(name, str):
        raise fail(doc.value_span("name"), "'name' must be a string", show(name))
    shape = parse_input(doc["input"], doc.value_span("input"))
    expander = Expander(file, parse_blocks(doc, file), collect_names(doc["layers"], set()))
    expander.sequence(doc["layers"], INPUT, Scope("", (), spec_args(doc, args), ()), "layers")
    from ..analysis.budget import parse_budget
    return Network(name, shape, expander.nodes, file, doc.value_span("input"),
                   expander.group_kinds, parse_lint(doc), parse_budget(doc, file))


def rule_ids(values, span: Span) -> frozenset:
    """Lint rule ids, each checked against the known rules."""
    from ..analysis.lint import RULES
    if isinstance(values, str):
        values = [v.strip() for v in values.split(",") if v.strip()]
    if not isinstance(values, list):
        raise fail(span, "lint rules to ignore must be a list of rule ids", show(values))
    for value in values:
        if value not in RULES:
            raise fail(span, f"unknown lint rule{did_you_mean(str(value), RULES)} (rules: "
                       f"{', '.join(RULES)})", show(value))
    return frozenset(values)


def parse_lint(doc) -> frozenset:
    if "lint" not in doc:
        return frozenset()
    lint = doc["lint"]
    if not isinstance(lint, yamlsource.YMap) or set(lint) - {"ignore"}:
        raise fail(doc.value_span("lint"), "'lint' must be a mapping with 'ignore: [rule, ...]'",
                   show(lint))
    return rule_ids(lint.get("ignore", []), lint.value_span("ignore"))


def load(path: str | Path, display: str | None = None, args: dict | None = None) -> Network:
    """Read, parse and build a network from a spec file."""
    name = display or str(path)
    return parse_document(yamlsource.read_file(path, name), name, args)


def loads(text: str, file: str = "<string>", args: dict | None = None) -> Network:
    return parse_document(yamlsource.load_text(text, file), file, args)
