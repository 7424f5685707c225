"""The command line: thin. Load, analyse, render; catch the one domain exception and exit.

Commands live in modules that register them on import. A run imports only the module of the
command it runs (typer inspects every registered command's signature on each call, which cost
a large part of the start-up); `--help` and anything else imports them all.
"""

from __future__ import annotations

import importlib
import sys

# command -> the module defining it; this order is the order of `cnncalc --help`
COMMANDS = {
    "summarize": "summary", "validate": "check", "memory": "memory_cmd", "run": "run_cmd",
    "explain": "summary", "convert": "summary", "layers": "tools", "zoo": "tools",
    "init": "tools", "compare": "tools", "graph": "tools", "schema": "tools",
}

__all__ = ["COMMANDS", "app", "main"]


def load(names=None):
    """The app with the commands of `names` registered (all of them by default)."""
    for module in dict.fromkeys(COMMANDS[n] for n in (names or COMMANDS)):
        importlib.import_module(f"{__name__}.{module}")
    from .common import app
    return app


def __getattr__(name):
    if name == "app":  # `from cnncalc.cli import app`: every command
        return load()
    raise AttributeError(name)


def main():
    """Entry point: no traceback ever reaches the user."""
    import typer
    words = [w for w in sys.argv[1:2] if w in COMMANDS]
    try:
        load(words)()
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        raise SystemExit(130) from None
    except RecursionError:
        typer.echo("error: the spec nests too deeply to analyse", err=True)
        raise SystemExit(2) from None
    except Exception as exc:  # a bug of ours: still one line, never a traceback
        typer.echo(f"internal error: {type(exc).__name__}: {exc} (please report this)", err=True)
        raise SystemExit(70) from None
