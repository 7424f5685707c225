"""The command line's helpers that need no typer: option checks, --arg and --input parsing,
opening a spec, and text made safe for a terminal. Both routes use them: typer's commands and
the bare forms (bare.py)."""

from __future__ import annotations

import sys

from ..errors import CnnCalcError, Diagnostic, Span


def check_choice(option: str, value: str, options: tuple) -> None:
    if value not in options:
        raise CnnCalcError(Diagnostic(Span(option), f"must be one of {', '.join(options)}",
                                      received=repr(value)))


def parse_args(pairs: list[str]) -> dict:
    """--arg NAME=VALUE pairs; values are read as YAML scalars (2 -> int, true -> bool)."""
    from ..language import yamlsource
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise CnnCalcError(Diagnostic(Span("--arg"), "must be NAME=VALUE", received=pair))
        out[name] = yamlsource.load_text(f"v: {value}", "--arg")["v"] if value else None
    return out


def load_network(spec: str, input_override: str | None = None, args: dict | None = None):
    """A file path, a zoo name, or '-' -> Network (CnnCalcError on any problem)."""
    from ..load import open_spec
    return open_spec(spec, input_override, args)


def terminal_text(text: str) -> str:
    """Untrusted text (file and layer names inside messages) made safe for a terminal: no
    control characters or escape sequences reach it (render/escape.py)."""
    from ..render.escape import terminal
    return terminal(text)


def error_line(exc: CnnCalcError) -> str:
    """The one line an error prints on stderr."""
    return terminal_text(exc.diagnostic.format())


def terminal() -> tuple[int | None, bool]:
    """(width, colour) for text on standard output: a terminal's width and colour unless
    NO_COLOR is set (https://no-color.org) or TERM is dumb; elsewhere COLUMNS or no limit,
    and no colour."""
    import os
    if not sys.stdout.isatty():
        columns = os.environ.get("COLUMNS", "")
        return (int(columns) if columns.isdigit() and int(columns) > 0 else None), False
    import shutil  # 3-5 ms of imports (bz2, lzma, fnmatch): only for a terminal
    color = not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"
    return shutil.get_terminal_size().columns, color


def column_keys(text: str | None, report) -> list[str] | None:
    """--columns name,output,params -> the column keys, each checked."""
    from ..declare import did_you_mean
    from ..render.columns import summary_columns
    if text is None:
        return None
    known = [c.key for c in summary_columns(report.totals, training=report.training is not None)]
    keys = [k.strip() for k in text.split(",") if k.strip()]
    for key in keys:
        if key not in known:
            raise CnnCalcError(Diagnostic(Span("--columns"), f"unknown column"
                                          f"{did_you_mean(key, known)} (columns: "
                                          f"{', '.join(known)})", received=repr(key)))
    return keys


def lint_lines(network, report) -> list[str]:
    """The design warnings summarize prints on stderr."""
    return [terminal_text(w.format()) for w in report.warnings
            if w.rule not in network.lint_ignore]
