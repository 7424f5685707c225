"""validate: the command CI runs."""

from __future__ import annotations

import json

import typer

from ..errors import EXIT_INCONSISTENT, EXIT_OK, CnnCalcError, Diagnostic, Span
from .common import app, check_choice, fail, terminal_text


@app.command()
def validate(
    specs: list[str] = typer.Argument(..., help="spec files or built-in names"),
    strict: bool = typer.Option(False, "--strict", help="warnings fail too"),
    ignore: list[str] = typer.Option([], "--ignore", help="lint rule ids to skip (repeatable "
                                     "or comma-separated)"),
    format: str = typer.Option("text", "--format", help="text, json or github"),
    max_params: str | None = typer.Option(None, "--max-params", help="fail above this many "
                                          "parameters, e.g. 5M"),
    max_flops: str | None = typer.Option(None, "--max-flops", help="fail above this many "
                                         "FLOPs, e.g. 2G"),
    max_macs: str | None = typer.Option(None, "--max-macs", help="fail above this many MACs, "
                                        "e.g. 1G"),
    max_memory: str | None = typer.Option(None, "--max-memory", help="fail above this much "
                                          "memory (the spec's budget batch, dtype and mode)"),
    forward: bool = typer.Option(False, "--forward", help="also run one NumPy forward pass "
                                 "and compare every layer's real shape with the prediction"),
):
    """Check specs: exit 0 if all are valid, 1 if a network is inconsistent or over budget,
    2 if a file cannot be read."""
    from ..analysis.budget import parse_count
    from ..analysis.memory import parse_size
    from ..analysis.validate import check_one
    from ..spec.document import rule_ids
    try:
        check_choice("--format", format, ("text", "json", "github"))
        skipped = rule_ids(",".join(ignore), Span("--ignore")) if ignore else frozenset()
        limits = {
            "params": parse_count(max_params, Span("--max-params"), "params") if max_params
            else None,
            "macs": parse_count(max_macs, Span("--max-macs"), "macs") if max_macs else None,
            "flops": parse_count(max_flops, Span("--max-flops"), "flops") if max_flops
            else None,
            "memory": parse_size(max_memory, Span("--max-memory")) if max_memory else None,
        }
    except CnnCalcError as exc:
        fail(exc)
    results = [check_one(spec, skipped, limits, forward) for spec in specs]
    worst = EXIT_OK
    for result in results:
        problems = result["problems"]
        errors = [p for p in problems if p.severity == "error"]
        code = max((p.exit_code for p in errors), default=EXIT_OK)
        if strict and problems and not errors:
            code = EXIT_INCONSISTENT
        worst = max(worst, code)
        result["exit_code"] = code
    typer.echo(render(results, format, strict), nl=False)
    raise typer.Exit(worst)


def render(results: list[dict], format: str, strict: bool = False) -> str:
    if format == "json":
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
                         f"output "
                         f"{report.output_shape}, {t.params:,} params, {t.macs:,} MACs"
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
