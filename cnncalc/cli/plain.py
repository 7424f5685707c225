"""The part of the command line that needs no typer: the helpers every command shares, the
bodies of `summarize` (as a table) and `validate`, and `run_bare`, which runs their bare
forms, `cnncalc summarize SPEC` and `cnncalc validate SPEC...`, without importing typer.

Importing typer and building its commands takes about 60 ms, a third of the 0.2 s start-up
budget (docs/performance.md). A bare form has no options to parse, so it calls the same
bodies with their defaults; anything else (an option, `-` for standard input, `--help`) goes
to typer. tests/test_cli_bare.py checks that both routes print the same bytes and exit alike.
"""

from __future__ import annotations

import sys

from ..errors import EXIT_INCONSISTENT, EXIT_OK, CnnCalcError, Diagnostic, Span


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
    from ..language import open_spec
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


# --- summarize ----------------------------------------------------------------------------

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


def summary_table(network, report, depth=None, rf=True, columns=None, wide=False,
                  to_file=False) -> str:
    """The summary as text: the terminal's width and colour on standard output, plain and
    unbounded in a file."""
    from ..render.text import summary_text
    keys = column_keys(columns, report)
    width, color = (None, False) if to_file else terminal()
    return summary_text(report, depth, rf, width, color, keys, wide)


def lint_lines(network, report) -> list[str]:
    """The design warnings summarize prints on stderr."""
    return [terminal_text(w.format()) for w in report.warnings
            if w.rule not in network.lint_ignore]


# --- validate -----------------------------------------------------------------------------

def validate_results(specs: list[str], strict: bool = False, skipped=frozenset(),
                     limits: dict | None = None, forward: bool = False) -> tuple[list, int]:
    """Each spec checked (analysis/validate.py), with its exit code; and the worst code."""
    from ..analysis.validate import check_one
    results = [check_one(spec, skipped, limits or {}, forward) for spec in specs]
    worst = EXIT_OK
    for result in results:
        problems = result["problems"]
        errors = [p for p in problems if p.severity == "error"]
        code = max((p.exit_code for p in errors), default=EXIT_OK)
        if strict and problems and not errors:
            code = EXIT_INCONSISTENT
        worst = max(worst, code)
        result["exit_code"] = code
    return results, worst


def render_results(results: list[dict], format: str = "text", strict: bool = False) -> str:
    if format == "json":
        import json
        return json.dumps([as_json(r) for r in results], indent=2) + "\n"
    lines = []
    for result in results:
        for problem in result["problems"]:
            lines.append(github(problem, strict) if format == "github"
                         else terminal_text(problem.format()))
        report = result["report"]
        if report is not None and format == "text":
            t = report.totals
            status = "ok" if result["exit_code"] == EXIT_OK else "failed"
            warnings = sum(p.severity == "warning" for p in result["problems"])
            lines.append(f"{terminal_text(result['spec'])}: {status}: {len(report.rows)} layers, "
                         f"output {report.output_shape}, {t.params:,} params, {t.macs:,} MACs"
                         + (f", {warnings} warning(s)" if warnings else ""))
    return "".join(line + "\n" for line in lines)


def github(problem: Diagnostic, strict: bool = False) -> str:
    """A GitHub Actions workflow command, shown on the line of a pull request; every part is
    escaped (render/escape.py), so a file or layer name cannot inject another command. Under
    --strict a warning fails the job, so it is annotated as an error."""
    from ..render.escape import github_annotation
    span = problem.span
    severity = "error" if strict else problem.severity
    text = problem.format().split(": ", 2)[-1] if span.line else problem.format()
    title = f"cnncalc {problem.rule}" if problem.rule else None
    return github_annotation(severity, text, file=span.file, line=span.line or None,
                             col=span.column or None, title=title)


def as_json(result: dict) -> dict:
    out = {"spec": result["spec"], "exit_code": result["exit_code"],
           "problems": [p.as_dict() for p in result["problems"]]}
    if result["report"] is not None:
        out["totals"] = result["report"].totals.as_dict()
    return out


# --- the bare forms -----------------------------------------------------------------------

def run_bare(argv: list[str]) -> int | None:
    """`summarize SPEC` or `validate SPEC...` with no option: run it and return the exit
    code. None for anything else (typer parses it)."""
    if not argv or any(word.startswith("-") for word in argv[1:]):
        return None
    if argv[0] == "summarize" and len(argv) == 2:
        return bare_summarize(argv[1])
    if argv[0] == "validate" and len(argv) >= 2:
        results, worst = validate_results(argv[1:])
        write(sys.stdout, render_results(results))
        return worst
    return None


def bare_summarize(spec: str) -> int:
    from ..analysis.analyze import analyze
    try:
        network = load_network(spec)
        report = analyze(network)
        text = summary_table(network, report)
    except CnnCalcError as exc:
        write(sys.stderr, error_line(exc) + "\n")
        return exc.exit_code
    write(sys.stdout, text if text.endswith("\n") else text + "\n")
    write(sys.stderr, "".join(line + "\n" for line in lint_lines(network, report)))
    return EXIT_OK


def write(stream, text: str) -> None:
    if text:
        stream.write(text)
        stream.flush()
