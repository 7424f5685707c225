"""The architecture issue's rules, kept: few loose modules, no import cycle, and nothing
outside the layers package compares a layer's type name."""

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


def top_level_imports(path: Path) -> set[str]:
    """The cnncalc modules a module imports when it is imported (not inside functions)."""
    tree = ast.parse(path.read_text())
    package = module_name(path) if path.name == "__init__.py" else \
        module_name(path).rpartition(".")[0]
    found = set()
    for node in tree.body:
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
    names = {module_name(p): p for p in MODULES}
    return {name: {t for t in top_level_imports(path) if t in names and t != name}
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
