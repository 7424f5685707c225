"""The spec's own structure, declared once with the same mechanism as layer settings.

The top-level keys (`Document`), `lint:`, `published:`, block definitions and the structure
items of a layer list (a group, a block call, a residual, branches) are dataclasses of
declared settings: validation with did-you-mean (`declare.check_settings`), docs/spec-keys.md
and the JSON Schema (`language/schema.py`) all read these declarations.
"""

from __future__ import annotations

from typing import ClassVar

from .budget import Budget
from .lint_rules import RULE_TEXT
from ..declare import (
    MAX_AXES,
    Bool,
    REQUIRED,
    Choice,
    Choices,
    Count,
    Int,
    Kind,
    Name,
    Nodes,
    Section,
    Text,
    check_settings,
    declared,
    frozen,
    setting,
)
from ..errors import SettingError, Span, fail, from_setting_error, show
from ..layers.base import merge_types
from ..layers.shape import Shape
from .yamlsource import YMap

MAX_SIDE = 10**12  # largest input side accepted; counts stay exact integers at any size
MAX_REPEAT = 1_000_000  # copies one `repeat:` may make


@frozen
class InputShape(Kind):
    """[L, C], [H, W, C] or [D, H, W, C] (1, 2 or 3 spatial axes, then channels), or the same
    as text: "100x3", "224x224x3", "16x112x112x3" -> Shape."""

    text = ("[height, width, channels] of positive integers or 'HxWxC' ([length, channels] or "
            "[depth, height, width, channels] for 1-D and 3-D)")

    def check(self, value, key):
        items = value
        if isinstance(value, str) and len(value) < 200 and \
                all(part.strip().isascii() and part.strip().isdigit() for part in value.split("x")):
            if any(part.strip().startswith("0") for part in value.split("x")):
                self.fail(key, value, "a size without leading zeros, such as 224x224x3")
            items = [int(part) for part in value.split("x")]
        if (not isinstance(items, list) or not 2 <= len(items) <= MAX_AXES + 1
                or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1
                           for v in items)):
            self.fail(key, value)
        if max(items) > MAX_SIDE:
            self.fail(key, value, f"at most {MAX_SIDE:.0e} per side")
        return Shape(tuple(items[:-1]), items[-1])

    def schema(self):
        return {"anyOf": [{"type": "array", "items": {"type": "integer", "minimum": 1},
                           "minItems": 2, "maxItems": MAX_AXES + 1},
                          {"type": "string",
                           "pattern": rf"^\s*\d+(\s*x\s*\d+){{1,{MAX_AXES}}}\s*$"}]}


@frozen
class NamedInputs(Kind):
    """{name: [H, W, C], ...}: several network inputs, in order (the first is read by default)."""

    text = "a mapping of input names to shapes ([height, width, channels], or 1-D/3-D forms)"

    def check(self, value, key):
        if not isinstance(value, dict) or not value:
            self.fail(key, value)
        shapes = {}
        for name, shape in value.items():
            if not isinstance(name, str) or not name.strip() or "." in name or name == "input":
                raise SettingError("an input's name must be a non-empty word without '.', "
                                   "other than 'input'", key=f"{key}.{name}", on_key=True,
                                   received=show(name), has_received=True)
            shapes[name] = InputShape().check(shape, f"{key}.{name}")
        return shapes

    def schema(self):
        return {"type": "object", "minProperties": 1,
                "additionalProperties": InputShape().schema()}


@frozen
class Paths(Kind):
    """A file path or a list of them (`include:`)."""

    text = "a file path or a list of file paths"

    def check(self, value, key):
        items = value if isinstance(value, list) else [value]
        if not items or not all(isinstance(v, str) and v.strip() for v in items):
            self.fail(key, value)
        return tuple(items)

    def schema(self):
        one = {"type": "string", "minLength": 1}
        return {"anyOf": [one, {"type": "array", "items": one, "minItems": 1}]}


@frozen
class Reference(Kind):
    """One layer name, or a list of one (`inputs: stem` or `inputs: [stem]`)."""

    text = "a layer name (or a list of one)"

    def check(self, value, key):
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        if not isinstance(value, str) or not value:
            self.fail(key, value)
        return value

    def schema(self):
        one = {"type": "string"}
        return {"anyOf": [one, {"type": "array", "items": one, "minItems": 1, "maxItems": 1}]}


def _rules() -> tuple:
    return tuple(RULE_TEXT)


@frozen
class Lint:
    label: ClassVar[str] = "lint"
    ignore: frozenset = setting(Choices(_rules), "lint rule ids switched off for this spec",
                                frozenset())


@frozen
class Published:
    """Figures a source prints for this network, compared with cnncalc's own."""

    label: ClassVar[str] = "published"

    source: str = setting(Text(), "where the figures are printed")
    activation_values: int | None = setting(Count(), "activation values per sample the "
                                            "source prints", None)


@frozen
class BlockDef:
    label: ClassVar[str] = "a block definition"
    layers: list = setting(Nodes(), "the block's layers; `$name` stands for an argument")
    args: object = setting(Nodes("block_args", "a mapping of argument names to defaults (null: "
                                 "required) or a list of names", object),
                           "the block's arguments with their defaults", None)
    description: str | None = setting(Text(), "free text", None)


@frozen
class Document:
    """The top-level keys of a spec."""

    label: ClassVar[str] = "the spec"

    input: Shape | None = setting(InputShape(), "the network's input: [height, width, "
                                  "channels] ([length, channels] in 1-D, [depth, height, width, "
                                  "channels] in 3-D; or `inputs:`)", None)
    inputs: dict | None = setting(NamedInputs(), "several named inputs instead of `input:`: "
                                  "{name: shape, ...}; layers read the "
                                  "first unless `inputs:` names another", None)
    layers: list = setting(Nodes(), "the layers, in order")
    name: str | None = setting(Text(), "the network's name (default: the file name)", None)
    description: str | None = setting(Text(), "free text", None)
    blocks: dict | None = setting(Nodes("blocks", "a mapping of block names to definitions",
                                        dict), "reusable layer lists with arguments", None)
    include: tuple | None = setting(Paths(), "files whose `blocks:` this spec uses (paths "
                                    "relative to this file)", None)
    args: dict | None = setting(Nodes("args", "a mapping of argument names to values", dict),
                                "spec arguments (`--arg NAME=VALUE` sets them)", None)
    lint: Lint | None = setting(Section(Lint), "lint settings: `ignore: [rule, ...]`", None)
    budget: Budget | None = setting(Section(Budget), "limits validate enforces", None)
    published: Published | None = setting(Section(Published), "figures a source prints", None)


@frozen
class Extension:
    """A spec that is another spec with other arguments (a family member: `vgg11_bn.yaml` is
    `vgg.yaml` with depth 11 and batch norm)."""

    label: ClassVar[str] = "a spec with 'extends'"

    extends: str = setting(Text(), "the spec this one is (a path relative to this file, or "
                           "a built-in network's name)")
    args: dict | None = setting(Nodes("args", "a mapping of argument names to values", dict),
                                "values for that spec's arguments", None)
    name: str | None = setting(Text(), "the network's name (default: that spec's)", None)
    description: str | None = setting(Text(), "free text", None)
    input: Shape | None = setting(InputShape(), "another input than that spec's", None)
    published: Published | None = setting(Section(Published), "figures a source prints", None)
    budget: Budget | None = setting(Section(Budget), "limits validate enforces", None)


@frozen
class Library:
    """An included file: blocks for the specs that include it."""

    label: ClassVar[str] = "an included file"

    blocks: dict = setting(Nodes("blocks", "a mapping of block names to definitions", dict),
                           "the blocks it defines")
    include: tuple | None = setting(Paths(), "further files (relative to this one)", None)
    description: str | None = setting(Text(), "free text", None)


# --- structure items of a layer list ------------------------------------------------------

@frozen
class Item:
    """What every structure item may carry."""

    label: ClassVar[str] = "this item"

    name: str | None = setting(Name(), "the item's name; its layers are named inside it", None)
    repeat: int = setting(Int(min=0, max=MAX_REPEAT), "how many copies, named 1..N (0: none); "
                          "inside each, `$i` is its index from 0", 1)
    index: str = setting(Text(), "the name of the copy's index argument (`index: s` for `$s`; "
                         "an inner repeat's index hides an outer one of the same name)", "i")
    inputs: str | None = setting(Reference(), "the layer its first layer reads (default: the "
                                 "previous one)", None)


@frozen
class Group(Item):
    layers: list = setting(Nodes(), "a nested layer list", REQUIRED)


@frozen
class BlockCall(Item):
    block: str = setting(Text(), "the block to expand; other keys are its arguments", REQUIRED)


@frozen
class ResidualBody:
    label: ClassVar[str] = "a residual"
    body: list = setting(Nodes(), "the layers added to the shortcut")
    shortcut: list | None = setting(Nodes("shortcut", "a layer list (or [] for identity)",
                                          object), "a projection of the input", None)


@frozen
class Residual(Item):
    residual: object = setting(Nodes("residual", "a layer list, or {body, shortcut}", object),
                               "body + shortcut, merged by add", REQUIRED)
    add: bool = setting(Bool(), "false: the body alone, no shortcut and no add (MBConv: "
                        "`add: $stride == 1 and $in_channels == $out`)", True)


@frozen
class Branches(Item):
    branches: list = setting(Nodes("branch_list", "a list of two or more layer lists"),
                             "parallel layer lists read the same input", REQUIRED)
    merge: str = setting(Choice(tuple(merge_types())), "how the branches are merged (a merge "
                         "layer type)", "concat")


@frozen
class Switches:
    """Keys any item of a layer list may carry, a layer or a structure."""

    label: ClassVar[str] = "this item"
    when: bool = setting(Bool(), "false leaves the item out (an optional part: `when: $use_se`)",
                         True)
    trainable: bool = setting(Bool(), "false: its parameters are counted non-trainable (frozen)",
                              True)


@frozen
class Sharing:
    """A layer that reuses another's weights (PyTorch's module called twice)."""

    label: ClassVar[str] = "this layer"
    shares: str | None = setting(Reference(), "an earlier layer whose weights this one uses: "
                                 "its parameters count once (there), its MACs at every use; "
                                 "without `type:` the layer is that layer again", None)


STRUCTURES = {"layers": Group, "block": BlockCall, "residual": Residual, "branches": Branches}


def checked(cls, mapping: YMap, path: str | None = None, open_keys: tuple = ()):
    """An instance of a declared class from a YAML mapping (`check_settings`), errors placed
    at the key or value at fault."""
    try:
        return cls(**check_settings(cls, mapping, open_keys))
    except SettingError as exc:
        raise from_setting_error(exc, span_of(mapping, exc.key, exc.on_key), None, path) \
            from None


def declared_keys(cls) -> tuple:
    return tuple(d.name for d in declared(cls))


def span_of(mapping: YMap, key: str | None, on_key: bool = False) -> Span:
    """The span of a dotted key (`budget.params`) inside a mapping; the mapping if none."""
    if not key:
        return mapping.span
    if not isinstance(key, str):  # a key YAML read as a number or a boolean (`1: x`)
        return mapping.key_span(key) if key in mapping else mapping.span
    head, _, rest = key.partition(".")
    if head not in mapping:
        return mapping.span
    if rest and isinstance(mapping[head], YMap):
        return span_of(mapping[head], rest, on_key)
    return mapping.key_span(head) if on_key else mapping.value_span(head)


def reject(span: Span, message: str, value, path: str | None = None):
    """A structure error at `span` (exit 2)."""
    raise fail(span, message, show(value), path=path)
