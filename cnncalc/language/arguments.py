"""Blocks and their arguments: block definitions, and `$arg` values substituted into a
block's layers once (a substituted value is marked done and never substituted again), with a
bound on the values substitution may write."""

from __future__ import annotations

import re
from typing import NamedTuple

from ..declare import did_you_mean
from ..errors import Span, fail, show
from ..errors import name as _name
from .structure import BlockDef, checked
from .yamlsource import YList, YMap

MAX_SUBSTITUTED = 1_000_000  # values written by `$arg` substitution, summed over the spec


class DoneMap(YMap):
    """A mapping that is the result of substitution: never substituted again."""


class DoneList(YList):
    """A list that is the result of substitution: never substituted again."""


class Pending(DoneMap):
    """A repeated item (`repeat:`) met while substituting: left whole, with the arguments in
    force where it is written (`bound`: args, sizes), so that each copy is substituted with its
    own `$i` when the repeat is expanded."""

    bound: tuple = (None, None)


SHAPE_NAMES = ("in_channels", "in_size", "in_layer")  # what enters a block call


class Args(dict):
    """A block's arguments, and what enters the block call, read on demand: `$in_channels`
    (its channels), `$in_size` (its spatial sizes, a list: [H, W]) and `$in_layer` (the name
    of the layer it reads, for `inputs:`). An argument of the same name wins."""

    shape = None  # () -> Shape, the shape entering the call (computed when first read)
    entry = None  # () -> the full name of the layer entering the call

    def __contains__(self, key):
        return dict.__contains__(self, key) or (self.shape is not None and key in SHAPE_NAMES)

    def __missing__(self, key):
        if self.shape is None or key not in SHAPE_NAMES:
            raise KeyError(key)
        if key == "in_layer":
            return DoneStr(self.entry())
        shape = self.shape()
        return shape.c if key == "in_channels" else list(shape.spatial)

    def keys_shown(self):
        return [*self, *(SHAPE_NAMES if self.shape is not None else ())]


def with_values(args, **values):
    """`args` plus `values` (a copy; the shape stays readable)."""
    out = Args({**(args or {}), **values})
    out.shape, out.entry = getattr(args, "shape", None), getattr(args, "entry", None)
    return out


REPEAT_HEAD = ("repeat", "name", "when", "trainable", "index")  # substituted once, not per copy


def pending(item: YMap, args: dict | None, sizes: dict | None) -> Pending:
    out = Pending(item)
    out.span, out.key_spans, out.value_spans = item.span, item.key_spans, item.value_spans
    out.bound = (args, sizes)
    return out


def plain(item: YMap, drop=()) -> YMap:
    """A copy of a mapping that substitution will read again (not marked done)."""
    out = YMap((k, v) for k, v in item.items() if k not in drop)
    out.span = item.span
    out.key_spans = {k: v for k, v in item.key_spans.items() if k not in drop}
    out.value_spans = {k: v for k, v in item.value_spans.items() if k not in drop}
    return out


class DoneStr(str):
    """An argument's value that is a string: inserted once, never read as `$arg` again."""


class Block(NamedTuple):
    name: str
    args: dict  # name -> default (REQUIRED_ARG when none)
    layers: YList
    span: Span


REQUIRED_ARG = object()


def copy_map(item: YMap, drop=(), keep=None) -> YMap:
    """A copy of a mapping with its spans, less `drop` (or only `keep`)."""
    def wanted(key):
        return key not in drop and (keep is None or key in keep)
    out = (type(item) if isinstance(item, DoneMap) else YMap)((k, v) for k, v in item.items()
                                                              if wanted(k))
    out.span = item.span
    if isinstance(item, Pending):
        out.bound = item.bound
    out.key_spans = {k: v for k, v in item.key_spans.items() if wanted(k)}
    out.value_spans = {k: v for k, v in item.value_spans.items() if wanted(k)}
    return out


def substitute(value, args: dict | None, span: Span, path: str, budget=None,
               sizes: dict | None = None):
    """Replace every string "$name" by the block argument `name`, and compute every other
    string with a `$` in it as an expression (`($k - 1) // 2`, language/expr.py: our own small
    evaluator, never Python's eval).

    Each value is substituted once: the result (and every argument's value) is marked done,
    so a nested group, a repeat or a block's argument is never substituted again; `budget`
    (the Expander) counts the values written and refuses past MAX_SUBSTITUTED."""
    if isinstance(value, (DoneMap, DoneList, DoneStr)):
        return value
    if isinstance(value, YMap) and "repeat" in value:  # its copies are substituted one by one
        return pending(value, args, sizes)
    if isinstance(value, str) and "$" in value and not (value.startswith("$")
                                                        and value[1:].isidentifier()):
        return computed(value, args, span, path)
    if isinstance(value, str) and value.startswith("$"):
        key = value[1:]
        if args is None and key in SHAPE_NAMES:
            raise fail(span, f"'{_name(value)}' is what enters a block call: it exists only "
                       "inside a block's layers", show(value), path=path)
        if args is None:
            raise fail(span, f"'{_name(value)}' outside a block: arguments exist only in blocks",
                       show(value), path=path)
        if key not in args:
            if key in SHAPE_NAMES:
                raise fail(span, f"'{_name(value)}' is what enters a block call: it exists "
                           "only inside a block's layers", show(value), path=path)
            raise fail(span, f"unknown block argument '{_name(value)}'{did_you_mean(key, args)} "
                       f"(arguments: {', '.join(map(_name, args)) or 'none'})", show(value),
                       path=path)
        if budget is not None:
            budget.spend((sizes or {}).get(key, 1), span, path)
        return args[key]
    if not isinstance(value, (YMap, YList)) or not _has_dollar(value):
        return value
    if budget is not None:
        budget.spend(len(value), span, path)
    if isinstance(value, YMap):
        out = DoneMap(value)
        out.span, out.key_spans, out.value_spans = value.span, value.key_spans, value.value_spans
        for key in value:
            out[key] = (named(value[key], args, value.value_span(key), path, budget, sizes)
                        if key == "name" else
                        substitute(value[key], args, value.value_span(key), path, budget, sizes))
        return out
    out = DoneList(substitute(v, args, value.item_span(i), path, budget, sizes)
                   for i, v in enumerate(value))
    out.span, out.item_spans = value.span, value.item_spans
    return out


_PART = re.compile(r"\{([^{}]*)\}")


def named(value, args: dict | None, span: Span, path: str, budget=None, sizes=None):
    """A `name:` value: `{expression}` parts computed into it (`conv{$s + 1}_{$i + 1}` ->
    conv2_1); any other value substituted as every value is (`name: $label`)."""
    if not isinstance(value, str) or isinstance(value, DoneStr) or "{" not in value:
        return substitute(value, args, span, path, budget, sizes)

    def part(match):
        at = Span(span.file, span.line, span.column + match.start(1)) if span.line else span
        result = computed(match.group(1), args, at, path)
        if isinstance(result, bool) or not isinstance(result, (int, str)):
            raise fail(at, "a {part} of a name must be an integer", show(result), path=path)
        return str(result)
    return DoneStr(_PART.sub(part, value))


def computed(text: str, args: dict | None, span: Span, path: str):
    """The value of an argument expression; an error points at the character at fault."""
    from .expr import ExprError, evaluate
    try:
        return evaluate(text, args)
    except ExprError as exc:
        where = Span(span.file, span.line, span.column + exc.offset) if span.line else span
        raise fail(where, f"in the expression: {exc.message}", show(text), path=path) from None


def frozen_args(args: dict | None) -> tuple:
    """Arguments' values marked done (never substituted again), and the values each holds."""
    if args is None:
        return None, None
    values, sizes = {}, {}
    for key, value in args.items():
        values[key], sizes[key] = _freeze(value)
    return values, sizes


def _freeze(value) -> tuple:
    """(value marked done, number of values in it)."""
    if isinstance(value, (DoneMap, DoneList, DoneStr)):
        return value, _size(value)
    if isinstance(value, str):
        return DoneStr(value), 1
    if isinstance(value, YMap):
        out = DoneMap()
        out.span, out.key_spans, out.value_spans = value.span, value.key_spans, value.value_spans
        total = 1
        for key, item in value.items():
            out[key], size = _freeze(item)
            total += size
        out._count = total
        return out, total
    if isinstance(value, YList):
        out, total = DoneList(), 1
        out.span, out.item_spans = value.span, value.item_spans
        for item in value:
            frozen, size = _freeze(item)
            out.append(frozen)
            total += size
        out._count = total
        return out, total
    return value, 1


def _size(value) -> int:
    """Values in a structure, remembered on it (a structure is never changed once built)."""
    known = getattr(value, "_count", None)
    if known is not None:
        return known
    if isinstance(value, dict):
        total = 1 + sum(_size(v) for v in value.values())
    elif isinstance(value, list):
        total = 1 + sum(_size(v) for v in value)
    else:
        return 1
    value._count = total
    return total


def _has_dollar(value) -> bool:
    if isinstance(value, str):
        return "$" in value
    if isinstance(value, dict):
        return any(_has_dollar(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_dollar(v) for v in value)
    return False


def parse_blocks(doc: YMap, file: str) -> dict:
    if "blocks" not in doc:
        return {}
    blocks = doc["blocks"]  # a mapping: checked with the document's declarations
    out = {}
    for name, body in blocks.items():
        span = blocks.value_span(name)
        if not isinstance(name, str) or not name.strip():
            raise fail(blocks.key_span(name), "a block name must be a non-empty string",
                       show(name))
        if not isinstance(body, YMap):
            raise fail(span, f"block '{_name(name)}' must be a mapping with 'layers' (and 'args')",
                       show(body))
        checked(BlockDef, body, f"blocks.{name}")
        args = body.get("args") or {}
        names = args if isinstance(args, list) else list(args)
        for arg in names:
            if not isinstance(arg, str) or not arg.isidentifier():
                raise fail(body.value_span("args"), "argument names must be words such as "
                           "'width'", show(arg), path=f"blocks.{name}")
        if isinstance(args, list):  # [a, b]: all required
            args = {a: REQUIRED_ARG for a in args}
        else:
            args = {k: (REQUIRED_ARG if v is None else v) for k, v in args.items()}
        out[name] = Block(name, args, body["layers"], span)
    return out


def collect_names(value, found: set) -> set:
    """Every string under a `name:` key anywhere in the document."""
    if isinstance(value, dict):
        name = value.get("name")
        if isinstance(name, str):
            found.add(name)
        for v in value.values():
            collect_names(v, found)
    elif isinstance(value, list):
        for v in value:
            collect_names(v, found)
    return found
