"""The kinds of value a setting can take: each checks and normalises a YAML value,
describes itself for errors and docs, gives its JSON Schema and writes itself back as YAML."""

from __future__ import annotations

import math
import re

from ..errors import SettingError, show
from .core import Kind, _is_int, check_settings, declared, did_you_mean, frozen, schema_of

# The largest integer any layer setting or index may take (as an input side, spec.MAX_SIDE):
# no network has 10**12 filters or a padding that wide, and the bound keeps every figure
# printable (Python refuses str() of ints over 4,300 digits) and every float finite.
MAX_INT = 10**12


def _too_big(key: str, value) -> None:
    raise SettingError(f"'{key}' must be at most {MAX_INT:,}", key=key, received=show(value),
                       has_received=True)


def _big(value) -> bool:
    return _is_int(value) and value > MAX_INT


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
        if value > MAX_INT:
            _too_big(key, value)
        return value

    def schema(self):
        out = {"type": "integer", "minimum": self.min}
        if self.max is not None:
            out["maximum"] = self.max
        return out


@frozen
class Pair(Kind):
    """An int for both axes, or [height, width]; with `names`, exactly two named integers
    (`[start, end]`)."""

    min: int = 1
    names: tuple = ()  # e.g. ("start", "end"): a list of two, never one int for both

    @property
    def text(self) -> str:
        word = "positive integer" if self.min == 1 else f"integer >= {self.min}"
        if self.names:
            return f"[{', '.join(self.names)}], two integers >= {self.min}"
        return f"{'an' if word[0] in 'aeiou' else 'a'} {word} or [height, width]"

    def check(self, value, key):
        if self.names and not isinstance(value, list):
            self.fail(key, value)
        items = value if isinstance(value, list) else [value, value]
        if len(items) != 2 or not all(_is_int(v) and v >= self.min for v in items):
            self.fail(key, value)
        if any(_big(v) for v in items):
            _too_big(key, value)
        return (items[0], items[1])

    def to_yaml(self, value):
        return value[0] if len(set(value)) == 1 and not self.names else list(value)

    def schema(self):
        one = {"type": "integer", "minimum": self.min}
        two = {"type": "array", "items": one, "minItems": 2, "maxItems": 2}
        return two if self.names else {"oneOf": [one, two]}


MAX_AXES = 3  # spatial axes a network may have: 1-D (audio), 2-D (images), 3-D (video)


@frozen
class Axes(Kind):
    """One value per spatial axis: an int for every axis, or a list with one per axis. The
    int stays an int (the layer applies it to the input's rank); a list becomes a tuple whose
    length the layer checks against the input (`layers.geometry.per_axis`)."""

    min: int = 1

    @property
    def text(self) -> str:
        word = "positive integer" if self.min == 1 else f"integer >= {self.min}"
        return f"a {word} or [height, width] (one per spatial axis)"

    def check(self, value, key):
        if isinstance(value, list):
            if not 1 <= len(value) <= MAX_AXES or \
                    not all(_is_int(v) and v >= self.min for v in value):
                self.fail(key, value)
            if any(_big(v) for v in value):
                _too_big(key, value)
            return tuple(value)
        if not _is_int(value) or value < self.min:
            self.fail(key, value)
        if _big(value):
            _too_big(key, value)
        return value

    def to_yaml(self, value):
        if isinstance(value, int):
            return value
        return value[0] if len(set(value)) == 1 else list(value)

    def schema(self):
        one = {"type": "integer", "minimum": self.min}
        return {"oneOf": [one, {"type": "array", "items": one, "minItems": 1,
                                "maxItems": MAX_AXES}]}


@frozen
class Padding(Kind):
    """int, one per axis ([h, w]), a [before, after] pair per axis ([[1, 2], [0, 1]]), the
    flat [top, bottom, left, right] of 2-D, 'same' or 'valid'. Kept as written ('same', an
    int, a tuple of ints or a tuple of pairs); `layers.geometry.pads_per_axis` resolves it
    against the input's rank."""

    text = ("an integer >= 0, [h, w], [top, bottom, left, right], a [before, after] pair per "
            "axis, 'same' or 'valid'")

    def check(self, value, key):
        if value == "valid":
            return 0
        if value == "same":
            return "same"
        if isinstance(value, list) and any(isinstance(v, list) for v in value):
            # per axis: a [before, after] pair or one int for both sides
            pairs = [v if isinstance(v, list) else [v, v] for v in value]
            if len(pairs) > MAX_AXES or not all(
                    len(pair) == 2 and all(_is_int(v) and v >= 0 for v in pair) for pair in pairs):
                self.fail(key, value)
            if any(_big(v) for pair in pairs for v in pair):
                _too_big(key, value)
            return tuple((pair[0], pair[1]) for pair in pairs)
        items = value if isinstance(value, list) else [value]
        if not 1 <= len(items) <= 2 * MAX_AXES or not all(_is_int(v) and v >= 0 for v in items):
            self.fail(key, value)
        if any(_big(v) for v in items):
            _too_big(key, value)
        return items[0] if not isinstance(value, list) else tuple(items)

    def to_yaml(self, value):
        if value == "same" or isinstance(value, int):
            return value
        if isinstance(value[0], tuple):  # pairs per axis
            if all(before == after for before, after in value):
                sides = [before for before, _ in value]
                return sides[0] if len(set(sides)) == 1 else sides
            return [list(pair) for pair in value]
        return value[0] if len(set(value)) == 1 else list(value)

    def schema(self):
        one = {"type": "integer", "minimum": 0}
        pair = {"type": "array", "items": one, "minItems": 2, "maxItems": 2}
        return {"anyOf": [one, {"enum": ["same", "valid"]},
                          {"type": "array", "items": one, "minItems": 1,
                           "maxItems": 2 * MAX_AXES},
                          {"type": "array", "items": {"anyOf": [one, pair]}, "minItems": 1,
                           "maxItems": MAX_AXES}]}


@frozen
class Choice(Kind):
    options: tuple

    @property
    def text(self) -> str:
        return "one of " + ", ".join(str(o) for o in self.options)

    def check(self, value, key):
        if not isinstance(value, str) or value not in self.options:
            import difflib  # only for a wrong value
            close = difflib.get_close_matches(value, [str(o) for o in self.options], 1) \
                if isinstance(value, str) else []  # str() of a 5,000-digit int raises
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
            ok = ok and (self.max is None or value <= self.max) and math.isfinite(value)
        if not ok:
            self.fail(key, value)
        return float(value)

    def schema(self):
        out = {"type": "number", ("exclusiveMinimum" if self.open_min else "minimum"): self.min}
        if self.max is not None:
            out["maximum"] = self.max
        return out


@frozen
class Numbers(Kind):
    """A real number, or a list of them (one per channel): a tuple when a list."""

    text = "a number or a list of numbers (one per channel)"

    def check(self, value, key):
        def one(v):
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v):
                self.fail(key, value)
            return float(v)
        if isinstance(value, list):
            if not value:
                self.fail(key, value)
            return tuple(one(v) for v in value)
        return one(value)

    def schema(self):
        return {"oneOf": [{"type": "number"},
                          {"type": "array", "items": {"type": "number"}, "minItems": 1}]}

    def to_yaml(self, value):
        return list(value) if isinstance(value, tuple) else value


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
            if any(_big(v) for v in row):
                _too_big(key, row)
            rows.append(tuple(row))
        return tuple(rows)

    def to_yaml(self, value):
        return [list(row) for row in value]

    def schema(self):
        row = {"type": "array", "items": {"type": "integer", "minimum": 0}, "minItems": 1}
        return {"type": "array", "items": row, "minItems": 1}


# --- kinds for the spec's own structure (language/structure.py declares it) ---------------------

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

    text = "a whole count such as 5M or 1.5G"

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
    from ..conventions import SI
    if _is_int(value) and value >= 0:
        return value
    if isinstance(value, bool) or not isinstance(value, (str, float)):
        return None
    match = re.fullmatch(r"\s*([0-9]{1,30}(?:\.[0-9]{1,30})?)\s*([kKmMgGtT]?)\s*", str(value))
    return scaled(match.group(1), SI[match.group(2).lower()]) if match else None


def size_value(value) -> int | None:
    """'24GiB', '512 MiB', '1.5GB', 1000000 -> bytes; None if it is not a size."""
    from ..conventions import BYTE_UNITS
    if _is_int(value) and value >= 0:
        return value
    if not isinstance(value, str):
        return None
    match = re.fullmatch(r"\s*([0-9]{1,30}(?:\.[0-9]{1,30})?)\s*([A-Za-z]{0,3})\s*", value)
    unit = match.group(2).lower() if match else None
    if not match or unit not in BYTE_UNITS:
        return None
    return scaled(match.group(1), BYTE_UNITS[unit], whole_only=False)


def scaled(decimal: str, factor: int, whole_only: bool = True) -> int | None:
    """'1.5' x 10**9 -> 1500000000, exactly; None when that is not a whole number ('0.5'),
    unless `whole_only` is False (sizes: rounded down to whole bytes)."""
    whole, _, fraction = decimal.partition(".")
    value, rest = divmod(int(whole + fraction) * factor, 10 ** len(fraction))
    return None if rest and whole_only else value
