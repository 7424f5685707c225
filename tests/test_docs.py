"""Docs stay true: every command and layer type is documented, every example parses."""

import re
from pathlib import Path

import pytest
import yaml

from cnncalc.cli import app
from cnncalc.layers import REGISTRY
from cnncalc.render.markdown_reference import layer_markdown
from cnncalc.spec import loads

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
    blocks = re.findall(r"```yaml\n(.*?)```", spec_md, re.S)
    assert len(blocks) >= 2
    for block in blocks:
        doc = yaml.safe_load(block)
        layers = doc["layers"] if isinstance(doc, dict) else doc
        net = loads(yaml.safe_dump({"input": [32, 32, 6], "layers": layers}))
        assert len(net.nodes) == len(layers)


def test_every_layer_class_example_builds():
    for name, cls in REGISTRY.items():
        net = loads(f"input: [32, 32, 6]\nlayers:\n  {cls.example}\n")
        assert net.nodes[0].layer.type_name == name
