"""The declaration mechanism: one declaration per setting, serving validation, `cnncalc layers`,
docs and JSON Schema.

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
from typing import NamedTuple

from ..errors import SettingError, keys_text, show
from ..errors import name as _name


REQUIRED = dataclasses.MISSING


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
    if len(word) > 100:  # no name is that long; difflib on a huge word is slow
        return ""
    import difflib  # only when a name is wrong (3 ms of start-up otherwise)
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
            what = f"setting '{_name(key)}' for {layer}" if layer else f"key '{_name(key)}' in {label}"
            raise SettingError(f"unknown {what}{did_you_mean(str(key), known)} (keys: {allowed})",
                               key=key, on_key=True,
                               received=f"{_name(key)}: {show(values[key])}")
    out = {}
    for name, decl in decls.items():
        if name in values:
            out[decl.field] = decl.kind.check(values[name], name)
        elif decl.required:
            raise SettingError(f"{label} {'needs' if layer else 'has no'} '{name}': {decl.doc}",
                               key=None, received=keys_text(values))
    return out


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
