"""The bare forms, `cnncalc summarize SPEC` and `cnncalc validate SPEC...`, run without
importing typer (`run_bare`), through the same core calls and renderers as the typer commands.

Importing typer and building its commands takes about 60 ms, a third of the 0.2 s start-up
budget (docs/performance.md). A bare form has no options to parse, so it calls the same
bodies with their defaults; anything else (an option, `-` for standard input, `--help`) goes
to typer. tests/test_cli_bare.py checks that both routes print the same bytes and exit alike.
"""

from __future__ import annotations

import sys

from ..errors import EXIT_OK, CnnCalcError
from .options import error_line, lint_lines, load_network, terminal


def summary_table(report) -> str:
    """The summary table on standard output (the terminal's width and colour), as
    `summarize --format table` renders it."""
    from ..render.summary_formats import SummaryView, table
    width, color = terminal()
    return table(SummaryView(report, width=width, color=color))


def run_bare(argv: list[str]) -> int | None:
    """`summarize SPEC` or `validate SPEC...` with no option: run it and return the exit
    code. None for anything else (typer parses it)."""
    if not argv or any(word.startswith("-") for word in argv[1:]):
        return None
    if argv[0] == "summarize" and len(argv) == 2:
        return bare_summarize(argv[1])
    if argv[0] == "validate" and len(argv) >= 2:
        from ..analysis.validate import validate_results
        from ..render.validate_formats import text
        results, worst = validate_results(argv[1:])
        write(sys.stdout, text(results))
        return worst
    return None


def bare_summarize(spec: str) -> int:
    from ..analysis.analyze import analyze
    try:
        network = load_network(spec)
        report = analyze(network)
        text = summary_table(report)
    except CnnCalcError as exc:
        write(sys.stderr, error_line(exc) + "\n")
        return exc.exit_code
    write(sys.stdout, text)
    write(sys.stderr, "".join(line + "\n" for line in lint_lines(network, report)))
    return EXIT_OK


def write(stream, text: str) -> None:
    if text:
        stream.write(text)
        stream.flush()
