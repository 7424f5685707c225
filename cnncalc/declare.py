"""One declaration per layer setting, serving validation, `cnncalc layers`, docs and JSON Schema.

A layer class declares each setting once as a field of a `frozen` class:

    filters: int = setting(Int(min=1), "number of output maps (K)")

The generic `check_settings` below validates any layer's mapping against those declarations
(unknown keys with "did you mean", missing keys, types, ranges), the way yamllint checks
every rule's CONF in one place. A hand-written checker was chosen over pydantic: pydantic's
import alone measured 78 ms here, against a start-up budget that typer and rich already half
use, and its errors would still need mapping back to YAML lines.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
from typing import NamedTuple

from .errors import SettingError, show

REQUIRED = dataclasses.MISSING


def setting(kind: Kind, doc: str, default=REQUIRED, key: str | None = None):
    """Declare a setting: its kind, a one-line meaning, its default, and its YAML key when
    that differs from the field name (`global` is a Python keyword)."""
    return Setting(kind, doc, default, key)


class Setting(NamedTuple):
    """A declaration waiting in a class body; `frozen` turns it into a field."""

    kind: Kind | None
    doc: str
    default: object = REQUIRED
    key: str | None = None


def frozen(cls):
    """Class decorator: an immutable class of its annotated fields (declared settings and
    plain defaults), with __init__, ==, hash and repr, like a frozen dataclass. Built without
    generating code, it costs a small fraction of @dataclass's time: start-up counts, and
    every layer type and setting kind is one."""
    fields = dict(getattr(cls, "_fields", {}))  # inherited, in order
    for name, annotation in vars(cls).get("__annotations__", {}).items():
        if str(annotation).startswith(("ClassVar", "typing.ClassVar")):
            continue
        value = vars(cls).get(name, REQUIRED)
        fields[name] = value if isinstance(value, Setting) else Setting(None, "", value)
        if name in vars(cls):
            delattr(cls, name)
    cls._fields = fields
    for name, spec in fields.items():
        if spec.default is not REQUIRED:
            setattr(cls, name, spec.default)  # the default, read through the class
    for method in ("__init__", "__setattr__", "__delattr__", "__eq__", "__hash__", "__repr__"):
        if method not in vars(cls):
            setattr(cls, method, getattr(_Frozen, method))
    return cls


class _Frozen:
    """The methods `frozen` gives a class."""

    def __init__(self, *args, **kwargs):
        names = list(self._fields)
        if len(args) > len(names):
            raise TypeError(f"{type(self).__name__} takes {len(names)} arguments")
        kwargs.update(zip(names, args))
        for name in kwargs:
            if name not in self._fields:
                raise TypeError(f"{type(self).__name__} has no field {name!r}")
        for name, spec in self._fields.items():
            if name in kwargs:
                object.__setattr__(self, name, kwargs[name])
            elif spec.default is REQUIRED:
                raise TypeError(f"{type(self).__name__} needs {name!r}")
        post = getattr(self, "__post_init__", None)
        if post:
            post()

    def __setattr__(self, name, value):
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, name):
        raise AttributeError(f"{type(self).__name__} is immutable")

    def _values(self) -> tuple:
        return tuple(getattr(self, name) for name in self._fields)

    def __eq__(self, other):
        return type(self) is type(other) and _Frozen._values(self) == _Frozen._values(other)

    def __hash__(self):
        return hash((type(self), _Frozen._values(self)))

    def __repr__(self):
        inner = ", ".join(f"{n}={getattr(self, n)!r}" for n in self._fields)
        return f"{type(self).__name__}({inner})"


def replace(obj, **changes):
    """A copy of a `frozen` object with some fields changed."""
    return type(obj)(**{name: getattr(obj, name) for name in obj._fields} | changes)



def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class Kind:
    """A setting's type: checks and normalises a YAML value, and describes itself."""

    text = "value"

    def check(self, value, key: str):
        raise NotImplementedError

    def schema(self) -> dict:
        raise NotImplementedError

    def to_yaml(self, value):
        """The normalised value written back as YAML this kind accepts (convert)."""
        return value

    def fail(self, key: str, value, what: str | None = None):
        raise SettingError(f"'{key}' must be {what or self.text}", key=key, received=show(value),
                           has_received=True)


@frozen
class Int(Kind):
    min: int = 1
    max: int | None = None

    @property
    def text(self) -> str:
        if self.max is not None:
            return f"an integer from {self.min} to {self.max}"
        return "a positive integer" if self.min == 1 else f"an integer >= {self.min}"

    def check(self, value, key):
        if not _is_int(value) or value < self.min or (self.max is not None and value > self.max):
            self.fail(key, value)
        return value

    def schema(self):
        out = {"type": "integer", "minimum": self.min}
        if self.max is not None:
            out["maximum"] = self.max
        return out


@frozen
class Pair(Kind):
    """An int for both axes, or [height, width]."""

    min: int = 1

    @property
    def text(self) -> str:
        word = "positive integer" if self.min == 1 else f"integer >= {self.min}"
        return f"a {word} or [height, width]"

    def check(self, value, key):
        items = value if isinstance(value, list) else [value, value]
        if len(items) != 2 or not all(_is_int(v) and v >= self.min for v in items):
            self.fail(key, value)
        return (items[0], items[1])

    def to_yaml(self, value):
        return value[0] if len(set(value)) == 1 else list(value)

    def schema(self):
        one = {"type": "integer", "minimum": self.min}
        return {"oneOf": [one, {"type": "array", "items": one, "minItems": 2, "maxItems": 2}]}


@frozen
class Padding(Kind):
    """int, [h, w], [top, bottom, left, right], 'same' or 'valid' -> 'same' or (before, after)
    per axis."""

    text = "an integer >= 0, [h, w], [top, bottom, left, right], 'same' or 'valid'"

    def check(self, value, key):
        if value == "valid":
            return ((0, 0), (0, 0))
        if value == "same":
            return "same"
        items = value if isinstance(value, list) else [value]
        if len(items) not in (1, 2, 4) or not all(_is_int(v) and v >= 0 for v in items):
            self.fail(key, value)
        if len(items) == 1:
            return ((items[0], items[0]),) * 2
        if len(items) == 2:
            return ((items[0], items[0]), (items[1], items[1]))
        return ((items[0], items[1]), (items[2], items[3]))

    def to_yaml(self, value):
        if value == "same":
            return "same"
        if all(before == after for before, after in value):
            sides = [before for before, _ in value]
            return sides[0] if len(set(sides)) == 1 else sides
        return [p for pair in value for p in pair]

    def schema(self):
        one = {"type": "integer", "minimum": 0}
        return {"oneOf": [one, {"enum": ["same", "valid"]},
                          {"type": "array", "items": one, "minItems": 2, "maxItems": 2},
                          {"type": "array", "items": one, "minItems": 4, "maxItems": 4}]}


@frozen
class Choice(Kind):
    options: tuple

    @property
    def text(self) -> str:
        return "one of " + ", ".join(str(o) for o in self.options)

    def check(self, value, key):
        if not isinstance(value, str) or value not in self.options:
            close = difflib.get_close_matches(str(value), [str(o) for o in self.options], 1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            self.fail(key, value, self.text + hint)
        return value

    def schema(self):
        return {"enum": list(self.options)}


@frozen
class Bool(Kind):
    text = "true or false"

    def check(self, value, key):
        if not isinstance(value, bool):
            self.fail(key, value)
        return value

    def schema(self):
        return {"type": "boolean"}


@frozen
class Number(Kind):
    """A real number in [min, max] (or (min, max] with open_min)."""

    min: float = 0.0
    max: float | None = None
    open_min: bool = False

    @property
    def text(self) -> str:
        low = f"{'>' if self.open_min else '>='} {self.min:g}"
        return f"a number {low}" + (f" and <= {self.max:g}" if self.max is not None else "")

    def check(self, value, key):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if ok:
            ok = value > self.min if self.open_min else value >= self.min
            ok = ok and (self.max is None or value <= self.max) and not math.isnan(value)
        if not ok:
            self.fail(key, value)
        return float(value)

    def schema(self):
        out = {"type": "number", ("exclusiveMinimum" if self.open_min else "minimum"): self.min}
        if self.max is not None:
            out["maximum"] = self.max
        return out


@frozen
class Table(Kind):
    """For each output map, the list of input maps it reads (LeNet-5's C3)."""

    text = "a list with, for each output map, a non-empty list of input map indices"

    def check(self, value, key):
        if not isinstance(value, list) or not value:
            self.fail(key, value)
        rows = []
        for row in value:
            if (not isinstance(row, list) or not row
                    or not all(_is_int(v) and v >= 0 for v in row) or len(set(row)) != len(row)):
                self.fail(key, row, "a list of distinct input map indices (from 0) per output map")
            rows.append(tuple(row))
        return tuple(rows)

    def to_yaml(self, value):
        return [list(row) for row in value]

    def schema(self):
        row = {"type": "array", "items": {"type": "integer", "minimum": 0}, "minItems": 1}
        return {"type": "array", "items": row, "minItems": 1}


class Declared(NamedTuple):
    name: str  # the key written in YAML
    kind: Kind
    doc: str
    default: object
    field: str  # the dataclass field

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


def declared(cls) -> list[Declared]:
    """The settings a class declares, in order."""
    return [Declared(spec.key or name, spec.kind, spec.doc, spec.default, name)
            for name, spec in getattr(cls, "_fields", {}).items() if spec.kind is not None]


def did_you_mean(word: str, options) -> str:
    """'; did you mean X?' for a near miss or a known name the word starts with, else ''."""
    options = [str(o) for o in options]
    close = difflib.get_close_matches(word, options, 1, 0.6)
    if not close:
        close = sorted((o for o in options if len(o) >= 2 and word.lower().startswith(o)),
                       key=len, reverse=True)
    return f"; did you mean '{close[0]}'?" if close else ""


def check_settings(cls, values: dict, common: tuple = ()) -> dict:
    """Validate a mapping against a class's declarations; return normalised values by field.

    `common` lists further keys allowed here, handled by the caller (a layer's name and
    inputs, a block call's arguments). A layer class names itself by its `type_name`; other
    declared classes by `label` ("the spec", "budget", ...).
    """
    decls = {d.name: d for d in declared(cls)}
    layer = getattr(cls, "type_name", "")
    label = layer or getattr(cls, "label", "this mapping")
    for key in values:
        if key not in decls and key not in common:
            known = sorted(decls) + list(common)
            allowed = ", ".join(decls) or "none"
            what = f"setting '{key}' for {layer}" if layer else f"key '{key}' in {label}"
            raise SettingError(f"unknown {what}{did_you_mean(str(key), known)} (keys: {allowed})",
                               key=key, on_key=True, received=None)
    out = {}
    for name, decl in decls.items():
        if name in values:
            out[decl.field] = decl.kind.check(values[name], name)
        elif decl.required:
            raise SettingError(f"{label} {'needs' if layer else 'has no'} '{name}': {decl.doc}",
                               key=None)
    return out


# --- kinds for the spec's own structure (spec/structure.py declares it) ---------------------

@frozen
class Text(Kind):
    text = "a string"

    def check(self, value, key):
        if not isinstance(value, str):
            self.fail(key, value)
        return value

    def schema(self):
        return {"type": "string"}


@frozen
class Name(Kind):
    text = "a non-empty string without '.'"

    def check(self, value, key):
        if not isinstance(value, str) or not value.strip() or "." in value:
            self.fail(key, value)
        return value

    def schema(self):
        return {"$ref": "#/$defs/name"}


@frozen
class Count(Kind):
    """5000000, 5M or 1.5G (decimal prefixes K, M, G, T) -> an integer."""

    text = "a count such as 5M or 1.5G"

    def check(self, value, key):
        found = count_value(value)
        if found is None:
            self.fail(key, value)
        return found

    def schema(self):
        return {"anyOf": [{"type": "integer", "minimum": 0},
                          {"type": "string", "pattern": r"^[0-9.]+\s*[kKmMgGtT]?$"}]}


@frozen
class Size(Kind):
    """Bytes: 24GiB, 512 MiB, 1.5GB or a plain integer."""

    text = "a size such as 24GiB, 512MiB or 16GB"

    def check(self, value, key):
        found = size_value(value)
        if found is None:
            self.fail(key, value)
        return found

    def schema(self):
        return {"type": ["string", "integer"]}


@frozen
class Nodes(Kind):
    """A YAML structure passed on as written (a layer list, a mapping of blocks), checked by
    the expansion; `ref` names its schema in the generated JSON Schema."""

    ref: str = "layer_list"
    text: str = "a non-empty list of layers"
    shape: type = list

    def check(self, value, key):
        if not isinstance(value, self.shape) or (self.shape is list and not value):
            self.fail(key, value)
        return value

    def schema(self):
        return {"$ref": f"#/$defs/{self.ref}"}


@frozen
class Section(Kind):
    """A nested mapping with declarations of its own (budget:, lint:)."""

    cls: type = object

    @property
    def text(self) -> str:
        return "a mapping with " + ", ".join(d.name for d in declared(self.cls))

    def check(self, value, key):
        if not isinstance(value, dict):
            self.fail(key, value)
        try:
            return self.cls(**check_settings(self.cls, value))
        except SettingError as exc:
            exc.key = f"{key}.{exc.key}" if exc.key else key
            raise

    def schema(self):
        return schema_of(self.cls)


@frozen
class Choices(Kind):
    """A list of options (lint rules to ignore); a comma-separated string is accepted too.
    `known` gives the options when first needed."""

    known: object = tuple

    @property
    def options(self) -> tuple:
        return tuple(self.known())

    @property
    def text(self) -> str:
        return "a list of " + ", ".join(self.options)

    def check(self, value, key):
        items = [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) \
            else value
        if not isinstance(items, list):
            self.fail(key, value)
        for item in items:
            if item not in self.options:
                self.fail(key, item, f"one of {', '.join(self.options)}"
                          f"{did_you_mean(str(item), self.options)}")
        return frozenset(items)

    def to_yaml(self, value):
        return sorted(value)

    def schema(self):
        return {"type": "array", "items": {"enum": list(self.options)}}


def count_value(value) -> int | None:
    """5000000, '5M', '1.5G' -> an integer; None if it is not a count."""
    from .conventions import SI
    if _is_int(value) and value >= 0:
        return value
    if isinstance(value, bool) or not isinstance(value, (str, float)):
        return None
    from fractions import Fraction
    match = re.fullmatch(r"\s*([0-9]{1,30}(?:\.[0-9]{1,30})?)\s*([kKmMgGtT]?)\s*", str(value))
    return int(Fraction(match.group(1)) * SI[match.group(2).lower()]) if match else None


def size_value(value) -> int | None:
    """'24GiB', '512 MiB', '1.5GB', 1000000 -> bytes; None if it is not a size."""
    from .conventions import BYTE_UNITS
    if _is_int(value) and value >= 0:
        return value
    if not isinstance(value, str):
        return None
    from fractions import Fraction
    match = re.fullmatch(r"\s*([0-9]{1,30}(?:\.[0-9]{1,30})?)\s*([A-Za-z]{0,3})\s*", value)
    unit = match.group(2).lower() if match else None
    if not match or unit not in BYTE_UNITS:
        return None
    return int(Fraction(match.group(1)) * BYTE_UNITS[unit])


def schema_of(cls, extra: dict | None = None, open_keys: bool = False) -> dict:
    """The JSON Schema object of a declared class: its settings, required ones, no others."""
    props = {d.name: d.kind.schema() | {"description": d.doc} for d in declared(cls)}
    props.update(extra or {})
    out = {"type": "object", "properties": props}
    required = [d.name for d in declared(cls) if d.required]
    if required:
        out["required"] = required
    if not open_keys:
        out["additionalProperties"] = False
    return out
