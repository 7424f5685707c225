"""docs/layers.md, generated from the layer declarations (`python -m cnncalc.render.markdown_reference`)."""

from __future__ import annotations

from pathlib import Path

from ..layers import REGISTRY
from .reference import default_text

HEADER = """# Layer reference

Generated from the layer declarations by `python -m cnncalc.render.markdown_reference`;
a test fails when this file is out of date. `cnncalc layers` prints the same.
Every layer also takes `name:` (default: type + number, e.g. `conv1`).
"""


def layer_markdown() -> str:
    out = [HEADER]
    for name in sorted(REGISTRY):
        cls = REGISTRY[name]
        out.append(f"\n## {name}\n\n{cls.summary}\n\n```yaml\n{cls.example}\n```\n")
        decls = cls.settings()
        if decls:
            out.append("\n| setting | type | default | meaning |\n|---|---|---|---|\n")
            for d in decls:
                out.append(f"| `{d.name}` | {d.kind.text} | {default_text(d)} | {d.doc} |\n")
    return "".join(out)


if __name__ == "__main__":
    target = Path(__file__).resolve().parents[2] / "docs" / "layers.md"
    target.write_text(layer_markdown())
    print(f"wrote {target}")
