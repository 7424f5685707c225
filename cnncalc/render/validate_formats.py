"""`cnncalc validate`'s results in every format, from one table: text (one line per problem and
a status line per spec), JSON, and GitHub Actions annotations."""

from __future__ import annotations

from ..errors import EXIT_OK, Diagnostic
from .escape import github_annotation, terminal


def json_text(results: list[dict], strict: bool = False) -> str:
    import json
    return json.dumps([as_json(r) for r in results], indent=2) + "\n"


def github_text(results: list[dict], strict: bool = False) -> str:
    return "".join(github(problem, strict) + "\n" for result in results
                   for problem in result["problems"])


def text(results: list[dict], strict: bool = False) -> str:
    """Each problem on one line, then one status line per spec that was read."""
    lines = []
    for result in results:
        lines += [terminal(problem.format()) for problem in result["problems"]]
        report = result["report"]
        if report is not None:
            t = report.totals
            status = "ok" if result["exit_code"] == EXIT_OK else "failed"
            warnings = sum(p.severity == "warning" for p in result["problems"])
            lines.append(f"{terminal(result['spec'])}: {status}: {len(report.rows)} layers, "
                         f"output {report.output_shape}, {t.params:,} params, {t.macs:,} MACs"
                         + (f", {warnings} warning(s)" if warnings else ""))
    return "".join(line + "\n" for line in lines)


def github(problem: Diagnostic, strict: bool = False) -> str:
    """A GitHub Actions workflow command, shown on the line of a pull request; every part is
    escaped (render/escape.py), so a file or layer name cannot inject another command. Under
    --strict a warning fails the job, so it is annotated as an error."""
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


RENDERERS = {"text": text, "json": json_text, "github": github_text}
