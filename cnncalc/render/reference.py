"""`cnncalc layers`: the layer reference, from the same declarations that validate specs."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from ..declare import Declared
from ..layers import REGISTRY


def default_text(decl: Declared) -> str:
    if decl.required:
        return "required"
    if decl.default is None:
        return "-"
    value = decl.kind.to_yaml(decl.default)  # as a spec would write it
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return f"{value:g}" if isinstance(value, float) else str(value)


def layer_reference() -> Group:
    parts = []
    for name in sorted(REGISTRY):
        cls = REGISTRY[name]
        table = Table(title=Text(f"{name}: {cls.summary}"), title_justify="left",
                      show_edge=False)
        table.add_column("setting")
        table.add_column("type")
        table.add_column("default")
        table.add_column("meaning")
        for decl in cls.settings():
            table.add_row(decl.name, Text(decl.kind.text), Text(default_text(decl)),
                          Text(decl.doc))
        if not cls.settings():
            table.add_row("-", "no settings", "", "")
        parts.append(table)
    return Group(*parts)
