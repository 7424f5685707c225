"""The command line: thin. Load, analyse, render; catch the one domain exception and exit."""

from __future__ import annotations

import typer

# each module registers its commands; this order is the order of `cnncalc --help`
from . import (
    check,  # noqa: F401  validate
    memory_cmd,  # noqa: F401  memory
    run_cmd,  # noqa: F401  run
    summary,  # noqa: F401  summarize, convert, explain
    tools,  # noqa: F401  layers, schema, zoo, init, compare, graph
)
from .common import app

__all__ = ["app", "main"]


def main():
    """Entry point: no traceback ever reaches the user."""
    try:
        app()
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        raise SystemExit(130) from None
    except RecursionError:
        typer.echo("error: the spec nests too deeply to analyse", err=True)
        raise SystemExit(2) from None
    except Exception as exc:  # a bug of ours: still one line, never a traceback
        typer.echo(f"internal error: {type(exc).__name__}: {exc} (please report this)", err=True)
        raise SystemExit(70) from None
