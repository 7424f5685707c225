"""The architecture issues' rules, kept: few loose modules, no import cycle (counting the
imports inside functions: a lazy import that points back up hides a cycle, it does not cut
it), the spec language imports nothing above it, and nothing outside the layers package
compares or lists layer type names."""

from __future__ import annotations

import ast
from pathlib import Path


import cnncalc

PACKAGE = Path(cnncalc.__file__).resolve().parent
MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_at_most_six_loose_modules():
    loose = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(loose) <= 6, loose


def type_checking_only(tree: ast.AST) -> set[int]:
    """ids of the import nodes under `if TYPE_CHECKING:` (annotations only: never run)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            found |= {id(n) for child in node.body for n in ast.walk(child)}
    return found


def module_imports(path: Path) -> set[str]:
    """The cnncalc modules a module imports, at its top or inside a function."""
    tree = ast.parse(path.read_text())
    inside = PACKAGE in path.parents
    package = "" if not inside else module_name(path) if path.name == "__init__.py" else \
        module_name(path).rpartition(".")[0]
    annotations_only = type_checking_only(tree)
    found = set()
    for node in ast.walk(tree):
        if id(node) in annotations_only:
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("cnncalc")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("cnncalc"):
                found.add(target)
                found |= {f"{target}.{a.name}" for a in node.names}
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the modules it imports; a package's __init__ as a target is left out (it
    only re-exports: `from . import x` names the package and the module x)."""
    names = {module_name(p): p for p in MODULES}
    packages = {module_name(p) for p in MODULES if p.name == "__init__.py"}
    return {name: {t for t in module_imports(path) if t in names and t != name
                   and t not in packages}
            for name, path in names.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of imports (each module imports the next when it is imported), or None."""
    state: dict = {}

    def visit(node, trail):
        if state.get(node) == "open":
            return [*trail[trail.index(node):], node]
        if state.get(node) == "done":
            return None
        state[node] = "open"
        for target in sorted(graph[node]):
            found = visit(target, [*trail, node])
            if found:
                return found
        state[node] = "done"
        return None

    for name in sorted(graph):
        found = visit(name, [])
        if found:
            return found
    return None


def test_an_import_inside_a_function_counts(tmp_path):
    lazy = tmp_path / "lazy.py"
    lazy.write_text("def f():\n    from cnncalc.analysis import memory\n")
    hidden = tmp_path / "hidden.py"
    hidden.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                      "    from cnncalc import graph\n")
    assert "cnncalc.analysis.memory" in module_imports(lazy)
    assert module_imports(hidden) == set()


def test_the_cycle_finder_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle():
    graph = import_graph()
    assert "cnncalc.analysis.receptive" in graph  # the graph is the package's
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def compares_type_name(tree: ast.AST) -> list[int]:
    """Lines comparing a `.type_name` with == / != / in."""
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        sides = [node.left, *node.comparators]
        if any(isinstance(s, ast.Attribute) and s.attr == "type_name" for s in sides):
            lines.append(node.lineno)
    return lines


def test_the_type_name_finder_finds_one():
    assert compares_type_name(ast.parse("if layer.type_name == 'conv':\n    pass\n")) == [1]
    assert compares_type_name(ast.parse("if layer.mixes_channels(x):\n    pass\n")) == []


def test_no_type_name_comparison_outside_the_layers_package():
    assert len(MODULES) > 50  # the package's modules were found
    offenders = []
    for path in MODULES:
        if (PACKAGE / "layers") in path.parents:
            continue
        for line in compares_type_name(ast.parse(path.read_text())):
            offenders.append(f"{path.relative_to(PACKAGE.parent)}:{line}")
    assert offenders == []


LANGUAGE_MAY_IMPORT = ("cnncalc.errors", "cnncalc.conventions", "cnncalc.declare",
                       "cnncalc.graph", "cnncalc.layers", "cnncalc.zoo", "cnncalc.language")


def test_the_spec_language_imports_nothing_above_it():
    """language/ reads text into a graph of layers: it may use errors, conventions, declare,
    graph, layers and the zoo's files, never analysis, render, compute, interop or cli."""
    offenders = []
    for path in MODULES:
        if (PACKAGE / "language") not in path.parents:
            continue
        for target in module_imports(path):
            if not target.startswith(LANGUAGE_MAY_IMPORT) and target != "cnncalc":
                offenders.append(f"{path.name} imports {target}")
    assert offenders == []


def type_name_tables(tree: ast.AST, types: set[str]) -> list[int]:
    """Lines of a dict, set, list or tuple holding three or more layer type names."""
    lines = []
    for node in ast.walk(tree):
        elements = (node.keys if isinstance(node, ast.Dict) else
                    node.elts if isinstance(node, (ast.Set, ast.List, ast.Tuple)) else [])
        names = [e.value for e in elements if isinstance(e, ast.Constant) and e.value in types]
        if len(names) >= 3:
            lines.append(node.lineno)
    return lines


def test_the_table_finder_finds_one():
    types = {"conv", "pool", "fc"}
    assert type_name_tables(ast.parse("KINDS = {'conv': 1, 'pool': 2, 'fc': 3}"), types) == [1]
    assert type_name_tables(ast.parse("x = ('conv', 'other')"), types) == []


def test_no_table_of_type_names_outside_the_layers_package():
    """A table of type names kept by hand goes stale silently: the layer class answers."""
    from cnncalc.layers.base import REGISTRY
    types = set(REGISTRY)
    offenders = []
    for path in MODULES:
        if (PACKAGE / "layers") in path.parents:
            continue
        for line in type_name_tables(ast.parse(path.read_text()), types):
            offenders.append(f"{path.relative_to(PACKAGE.parent)}:{line}")
    assert offenders == []
