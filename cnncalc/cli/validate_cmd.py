"""validate: the command CI runs."""

from __future__ import annotations

import typer

from ..errors import CnnCalcError, Span
from .common import app, check_choice, fail, parse_args


@app.command()
def validate(
    specs: list[str] = typer.Argument(None, help="spec files or built-in names (none: the "
                                      "specs of [tool.cnncalc] in pyproject.toml)"),
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
    input: str | None = typer.Option(None, "--input", help="analyse every spec at this input, "
                                     "HxWxC"),
    arg: list[str] = typer.Option([], "--arg", help="set a spec argument, NAME=VALUE"),
    forward: bool = typer.Option(False, "--forward", help="also run one NumPy forward pass "
                                 "and compare every layer's real shape with the prediction"),
):
    """Check specs: exit 0 if all are valid, 1 if a network is inconsistent or over budget,
    2 if a file cannot be read."""
    from ..analysis.validate import validate_results
    from ..language.budget import parse_count, parse_size
    from ..language.document import rule_ids
    from ..language.project import load_project, project_specs
    from ..render.validate_formats import RENDERERS
    try:
        check_choice("--format", format, tuple(RENDERERS))
        project = None if specs else load_project()
        specs = specs or project_specs(project, "cnncalc validate")
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
    default = project.budget if project else None
    opening = {"input_override": input, "args": parse_args(arg)}
    results, worst = validate_results(specs, strict, skipped, limits, forward, default, opening)
    typer.echo(RENDERERS[format](results, strict), nl=False)
    raise typer.Exit(worst)
