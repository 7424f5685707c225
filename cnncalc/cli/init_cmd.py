"""init: write a starting spec, blank or copied from the zoo."""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import CnnCalcError, Diagnostic, Span
from .common import (
    Target,
    app,
    fail,
    terminal_text,
)

STARTER = """# A starting spec. `cnncalc summarize FILE` shows what it costs;
# docs/spec.md lists every layer type and structure.
name: {name}
input: [224, 224, 3]
layers:
  - {{type: conv, filters: 32, kernel: 3, padding: 1, activation: relu}}
  - {{type: pool, kernel: 2, stride: 2}}
  - {{type: conv, filters: 64, kernel: 3, padding: 1, activation: relu}}
  - {{type: pool, mode: avg, global: true}}
  - {{type: fc, units: 10}}
"""


@app.command()
def init(
    name: str = typer.Argument(..., help="the new spec: NAME.yaml (or a path ending in .yaml)"),
    from_: str | None = typer.Option(None, "--from", help="start from a built-in network"),
    force: bool = typer.Option(False, "--force", help="overwrite an existing file"),
):
    """Write a starting spec, blank or copied from the zoo."""
    import yaml

    from .. import zoo as zoomod
    path = Path(name if name.endswith((".yaml", ".yml")) else f"{name}.yaml")
    target = Target(str(path), force)
    try:
        if from_ is not None:
            source = zoomod.path_of(from_)
            if source is None:
                from ..declare import did_you_mean
                raise CnnCalcError(Diagnostic(Span("--from"), f"no built-in network"
                                              f"{did_you_mean(from_, zoomod.names())} (see "
                                              "`cnncalc zoo`)", received=repr(from_)))
            text = source.read_text()
        else:
            # the name as a YAML scalar: quoted when it needs to be ("my net: v2")
            quoted = yaml.safe_dump(path.stem, default_style=None, width=10**6).strip()
            text = STARTER.format(name=quoted.removesuffix("\n...").strip())
    except CnnCalcError as exc:
        fail(exc)
    target.emit(text)
    typer.echo(f"wrote {terminal_text(str(path))}")
