"""Shared by every command: the app, loading a spec, one-line failures, the console."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from .. import __version__
from ..errors import CnnCalcError, Diagnostic, Span
from .options import (  # noqa: F401  (re-exported: every command uses them)
    check_choice,
    error_line,
    load_network,
    parse_args,
    terminal,
    terminal_text,
)

app = typer.Typer(add_completion=True, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Shapes, parameters, connections, MACs and FLOPs of a CNN written as YAML.")

SPEC_HELP = "a spec file, a built-in network name (see `cnncalc zoo`), or - for standard input"


def _version(value: bool):
    if value:
        typer.echo(f"cnncalc {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(version: bool = typer.Option(False, "--version", callback=_version,
                                              is_eager=True, help="print the version")):
    """cnncalc: what a convolutional network costs, before any framework code."""


def fail(exc: CnnCalcError):
    """An error in a typer command: its one line (options.error_line) on stderr, then the exit
    code. The bare forms (bare.run_bare) print the same line."""
    typer.echo(error_line(exc), err=True)
    raise typer.Exit(exc.exit_code)


def each_spec(spec: str | None, command: str, run, output: str | None = None) -> None:
    """`run(spec, project)` on the spec given, or, with none, on every spec that
    `[tool.cnncalc] specs` names in the nearest pyproject.toml (its defaults in `project`);
    one spec that fails never hides the others' output; the exit code is the worst."""
    if spec is not None:
        return run(spec, None)
    from ..language.project import load_project, project_specs
    try:
        project = load_project()
        specs = project_specs(project, f"cnncalc {command}")
        if output is not None and len(specs) > 1:
            raise CnnCalcError(Diagnostic(Span("--output"), "writes one spec's output; name the "
                                          "spec", f"{len(specs)} specs in [tool.cnncalc]"))
    except CnnCalcError as exc:
        fail(exc)
    worst = 0
    for name in specs:
        try:
            run(name, project)
        except typer.Exit as exc:
            worst = max(worst, exc.exit_code)
    if worst:
        raise typer.Exit(worst)


SPEC_OR_PROJECT_HELP = ("a spec file, a built-in network name (see `cnncalc zoo`), or - for "
                        "standard input; none: the specs of [tool.cnncalc] in pyproject.toml")


def console():
    """Rich console; off a terminal, wide enough that tables are never cut; no escape codes
    at all (colour, bold or dim) under NO_COLOR or TERM=dumb."""
    import os

    from rich.console import Console
    width = None if sys.stdout.isatty() else int(os.environ.get("COLUMNS") or 160)
    plain = bool(os.environ.get("NO_COLOR")) or os.environ.get("TERM") == "dumb"
    return Console(highlight=False, width=width, **({"color_system": None} if plain else {}))


FORMATS = ("table", "json", "csv", "markdown", "html", "svg")


def emit(text: str, output: str | None = None) -> None:
    """Print (or, for commands without --force, write a file the first time only)."""
    Target(output).emit(text)


class Target:
    """Where a command's output goes: standard output, or a file written whole through
    cli/output.py (never over an existing file without --force, never over the input spec).
    Made at the start of a command, so a missing folder fails before any work."""

    def __init__(self, path: str | None, force: bool = False, spec: str | None = None):
        from .output import check_writable
        self.path, self.force = path, force
        self.protect = protected(spec)
        if path is not None:
            try:
                check_writable(path, force, self.protect)
            except CnnCalcError as exc:
                fail(exc)

    def emit(self, text: str) -> None:
        if self.path is None:
            typer.echo(text, nl=not text.endswith("\n"))
            return
        from .output import write_output
        try:
            write_output(self.path, text, force=self.force, protect=self.protect)
        except CnnCalcError as exc:
            fail(exc)


def protected(spec: str | None) -> list:
    """The files no output may be written over: the spec and every file it includes."""
    if not spec or spec == "-" or not Path(spec).exists():
        return []
    from ..language.include import files_included
    return [spec, *files_included(spec)]


FORCE_HELP = "overwrite an existing --output file (never the spec itself)"


def plain(renderable, width: int = 160) -> str:
    """A rich renderable as plain text (for --output with the table format)."""
    import io

    from rich.console import Console
    buffer = io.StringIO()
    Console(file=buffer, width=width, no_color=True, highlight=False).print(renderable)
    return buffer.getvalue()


def parse_inputs(text: str | None, channels: int | None = None, rank: int = 2) -> list | None:
    """--input: 'HxWxC', or a sweep '224,320,384' (every spatial side of the spec's rank the
    same, the spec's channels)."""
    from ..language.document import parse_input
    if text is None:
        return None
    shapes = []
    for item in (part.strip() for part in text.split(",")):
        square = "x".join([item] * rank + [str(channels or 3)]) if item.isdigit() else item
        shapes.append(parse_input(square, Span("--input")))
    return shapes


def device_of(text: str):
    """--device as a Device; a calibration file that cannot be used: its warning line."""
    from ..analysis.devices import resolve
    try:
        device, warning = resolve(text)
    except CnnCalcError as exc:
        if getattr(exc, "warning", None):
            typer.echo(exc.warning, err=True)
        raise
    if warning:
        typer.echo(warning, err=True)
    return device
