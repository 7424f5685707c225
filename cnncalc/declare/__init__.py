"""One declaration per setting, serving validation, did-you-mean, `cnncalc layers`, docs
and the JSON Schema: the mechanism (`core.py`: `setting`, `frozen`, `check_settings`, the
schema) and the kinds of value a setting takes (`kinds.py`, declared with that mechanism)."""

from .core import (
    Declared,
    Kind,
    REQUIRED,
    Setting,
    check_settings,
    declared,
    did_you_mean,
    frozen,
    replace,
    schema_of,
    setting,
)
from .kinds import (
    MAX_AXES,
    Axes,
    Bool,
    Choice,
    Choices,
    Count,
    Int,
    Name,
    Nodes,
    Number,
    Numbers,
    Padding,
    Pair,
    Section,
    Size,
    Table,
    Text,
    count_value,
    size_value,
)

__all__ = ["MAX_AXES", "REQUIRED", "Axes", "Bool", "Choice", "Choices", "Count", "Declared",
           "Int", "Kind", "Name", "Nodes", "Number", "Numbers", "Padding", "Pair", "Section", "Setting",
           "Size", "Table", "Text", "check_settings", "count_value", "declared", "did_you_mean",
           "frozen", "replace", "schema_of", "setting", "size_value"]
