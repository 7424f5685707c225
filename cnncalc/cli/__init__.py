"""The command line: thin. Load, analyse, render; catch the one domain exception and exit."""

from __future__ import annotations

import typer

from . import check, memory_cmd, run_cmd, summary, tools  # noqa: F401  (each registers commands)
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
