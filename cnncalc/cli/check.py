"""validate: the command CI runs."""

from __future__ import annotations

import typer

from ..errors import EXIT_OK, CnnCalcError, Span
from .common import app, fail, load_network


@app.command()
def validate(
    specs: list[str] = typer.Argument(..., help="spec files or built-in names"),
    strict: bool = typer.Option(False, "--strict", help="warnings fail too"),
    ignore: list[str] = typer.Option([], "--ignore", help="lint rule ids to skip (repeatable "
                                     "or comma-separated)"),
):
    """Check specs: exit 0 if all are valid, 1 if a network is inconsistent, 2 if unreadable."""
    from .. import lint
    from ..analysis import analyze
    from ..spec import rule_ids
    worst = EXIT_OK
    try:
        skipped = rule_ids(",".join(ignore), Span("--ignore")) if ignore else frozenset()
    except CnnCalcError as exc:
        fail(exc)
    for spec in specs:
        try:
            network = load_network(spec)
            report = analyze(network)
        except CnnCalcError as exc:
            typer.echo(exc.diagnostic.format())
            worst = max(worst, exc.exit_code)
            continue
        warnings = lint.check(network, report, skipped | network.lint_ignore)
        for warning in warnings:
            typer.echo(warning.format())
        if strict and warnings:
            worst = max(worst, 1)
        t = report.totals
        typer.echo(f"{spec}: ok: {len(report.rows)} layers, output {report.output_shape}, "
                   f"{t.params:,} params, {t.macs:,} MACs"
                   + (f", {len(warnings)} warning(s)" if warnings else ""))
    raise typer.Exit(worst)
