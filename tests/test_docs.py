"""Docs stay true: every command and layer type is documented, every example parses."""

import re
from pathlib import Path

import pytest
import yaml

from cnncalc.analysis.analyze import analyze
from cnncalc.cli import app
from cnncalc.layers import REGISTRY
from cnncalc.render.markdown_reference import layer_markdown
from cnncalc.language.document import loads

ROOT = Path(__file__).resolve().parents[1]
DOCS = "\n".join(p.read_text() for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))])


def test_layers_md_is_generated_from_the_declarations():
    assert (ROOT / "docs" / "layers.md").read_text() == layer_markdown(), \
        "run: python -m cnncalc.render.markdown_reference"


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_layer_type_has_an_example_in_spec_md(name):
    spec_md = (ROOT / "docs" / "spec.md").read_text()
    assert re.search(rf"(- {name}\n|type: {name}[,}}])", spec_md), name


def test_every_command_is_documented():
    import typer.main
    group = typer.main.get_command(app)
    for name, command in group.commands.items():
        assert f"cnncalc {name}" in DOCS, name
        for param in command.params:
            for flag in getattr(param, "opts", []):
                if flag.startswith("--") and flag != "--help":
                    assert flag in DOCS, f"{name} {flag}"


def test_every_example_in_spec_md_builds():
    spec_md = (ROOT / "docs" / "spec.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", spec_md, re.DOTALL)
    assert len(blocks) >= 2
    for block in blocks:
        doc = yaml.safe_load(block)
        if isinstance(doc, list):  # a list of layer examples
            net = loads(yaml.safe_dump({"input": [32, 32, 6], "layers": doc}))
            assert len(net.nodes) == len(doc)
        elif "include" in doc:  # needs its files; tests/test_include.py builds the same
            assert set(doc) == {"input", "include", "layers"}
        elif "blocks" in doc and "layers" not in doc:  # an included file
            assert loads(yaml.safe_dump({"input": [32, 32, 6], "layers": ["relu"], **doc}))
        else:  # a whole spec
            shape = {} if "inputs" in doc else {"input": [32, 32, 6]}
            net = loads(yaml.safe_dump({**shape, **doc}))
            analyze(net)


def test_every_top_level_key_is_in_spec_md():
    from cnncalc.declare import declared
    from cnncalc.language.structure import Document
    spec_md = (ROOT / "docs" / "spec.md").read_text()
    for decl in declared(Document):
        assert f"| `{decl.name}` |" in spec_md, decl.name


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_layer_class_example_builds(name):
    item = yaml.safe_load(REGISTRY[name].example)[0]
    values = {} if isinstance(item, str) else item
    layer = REGISTRY[name].from_settings(values, ("type", "name", "inputs"))
    assert layer.type_name == name


def test_every_package_is_installed():
    """pyproject.toml lists packages explicitly: a new
    subpackage must be listed, or `pip install .` would leave it out."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
                 ["packages"])
    found = {"cnncalc"} | {"cnncalc." + p.parent.name
                           for p in (ROOT / "cnncalc").glob("*/__init__.py")}
    assert found == listed


def test_every_module_has_its_line_in_the_architecture_page():
    """docs/architecture.md draws the flow one line per module: a new module is named there."""
    from pathlib import Path

    import cnncalc
    package = Path(cnncalc.__file__).resolve().parent
    page = (package.parent / "docs" / "architecture.md").read_text()
    missing = [str(p.relative_to(package)) for p in sorted(package.rglob("*.py"))
               if p.name not in ("__init__.py", "__main__.py") and "__pycache__" not in p.parts
               and f"`{p.name}`" not in page]
    assert missing == []


def test_every_time_kind_has_its_row_in_time_md():
    """docs/time.md's table says which layers each kind times and by what rate."""
    from cnncalc.layers.base import TIME_KINDS
    rows = {line.split("|")[1].strip().strip("`") for line in
            (ROOT / "docs" / "time.md").read_text().splitlines() if line.startswith("| `")}
    assert set(TIME_KINDS) <= rows
