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
    "summarize": "summarize_cmd", "validate": "validate_cmd", "memory": "memory_cmd",
    "run": "run_cmd", "explain": "explain_cmd", "convert": "convert_cmd", "report": "report_cmd",
    "layers": "reference_cmd", "zoo": "reference_cmd", "init": "init_cmd",
    "compare": "compare_cmd", "graph": "graph_cmd", "schema": "reference_cmd",
    "import": "import_cmd", "export": "export_cmd",
    "time": "time_cmd", "devices": "time_cmd", "calibrate": "time_cmd",
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
    """Entry point: no traceback ever reaches the user, and an option error is one line. The
    bare `summarize SPEC` and `validate SPEC...` run without typer (bare.py)."""
    from .bare import run_bare
    try:
        code = run_bare(sys.argv[1:])
        raise SystemExit(typer_main() if code is None else code)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        raise SystemExit(130) from None
    except MemoryError:  # whatever ran out: one line, the network too big for this machine
        print("error: out of memory (the network is too large for this machine or this "
              "process's limits)", file=sys.stderr)
        raise SystemExit(1) from None
    except RecursionError:
        print("error: the spec nests too deeply to analyse", file=sys.stderr)
        raise SystemExit(2) from None
    except Exception as exc:  # a bug of ours: still one line, never a traceback
        print(f"internal error: {type(exc).__name__}: {exc} (please report this)",
              file=sys.stderr)
        raise SystemExit(70) from None


def typer_main() -> int:
    """The command line as typer parses it; its errors as one line each."""
    import typer
    from typer._click import exceptions as click_errors
    words = [w for w in sys.argv[1:2] if w in COMMANDS]
    try:
        code = load(words)(standalone_mode=False)
        return code if isinstance(code, int) else 0
    except click_errors.NoArgsIsHelpError as exc:
        typer.echo(exc.ctx.get_help() if exc.ctx else str(exc))
        return 0
    except click_errors.UsageError as exc:  # options and arguments: one line, exit 2
        from ..render.escape import terminal
        where = f"cnncalc {exc.ctx.info_name}" if exc.ctx and exc.ctx.parent else "cnncalc"
        typer.echo(terminal(f"{where}: error: {exc.format_message()} (see --help)"), err=True)
        return 2
    except click_errors.ClickException as exc:
        typer.echo(f"cnncalc: error: {exc.format_message()}", err=True)
        return exc.exit_code
