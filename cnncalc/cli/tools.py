"""Reference and discovery: layers, schema, zoo, init, compare, graph."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ..errors import CnnCalcError, Diagnostic, Span
from .common import (
    FORCE_HELP,
    SPEC_HELP,
    Target,
    app,
    check_choice,
    console,
    device_of,
    emit,
    fail,
    load_network,
    terminal_text,
)


@app.command()
def layers():
    """The layer reference: every type, its settings, defaults and meaning."""
    from ..render.reference import layer_reference
    console().print(layer_reference())


@app.command()
def schema(output: str | None = typer.Option(None, "--output", help="write to FILE instead"),
           force: bool = typer.Option(False, "--force", help=FORCE_HELP)):
    """The JSON Schema (draft 2020-12) of a spec, for editors and other tools."""
    from ..language.schema import spec_schema
    Target(output, force).emit(json.dumps(spec_schema(), indent=2) + "\n")


@app.command()
def zoo(format: str = typer.Option("table", "--format", help="table or json")):
    """The built-in networks with their input, params and MACs."""
    from .. import zoo as zoomod
    from ..analysis.analyze import analyze
    from ..language.document import load
    try:
        check_choice("--format", format, ("table", "json"))
    except CnnCalcError as exc:
        fail(exc)
    rows = []
    for name in zoomod.names():
        report = analyze(load(zoomod.path_of(name), f"{name}.yaml"))
        rows.append({"name": name, "title": report.name, "input": report.input_shape.as_list(),
                     "params": report.totals.params, "macs": report.totals.macs})
    if format == "json":
        return emit(json.dumps(rows, indent=2) + "\n", None)
    from rich import box
    from rich.table import Table
    table = Table(box=box.SIMPLE_HEAD, title="cnncalc zoo", title_justify="left")
    for label, justify in (("name", "left"), ("network", "left"), ("input", "right"),
                           ("params", "right"), ("MACs", "right")):
        table.add_column(label, justify=justify, no_wrap=True)
    for r in rows:
        table.add_row(r["name"], r["title"], "x".join(map(str, r["input"])), f"{r['params']:,}",
                      f"{r['macs']:,}")
    console().print(table)


STARTER = """# A starting spec. `cnncalc summarize FILE` shows what it costs;
# docs/spec.md lists every layer type and structure.
name: {name}
input: [224, 224, 3]
layers:
  - {{type: conv, filters: 32, kernel: 3, padding: 1, activation: relu}}
  - {{type: pool, kernel: 2, stride: 2}}
  - {{type: conv, filters: 64, kernel: 3, padding: 1, activation: relu}}
  - {{type: pool, mode: avg, global: true}}
  - {{type: fc, units: 10}}
"""


@app.command()
def init(
    name: str = typer.Argument(..., help="the new spec: NAME.yaml (or a path ending in .yaml)"),
    from_: str | None = typer.Option(None, "--from", help="start from a built-in network"),
    force: bool = typer.Option(False, "--force", help="overwrite an existing file"),
):
    """Write a starting spec, blank or copied from the zoo."""
    import yaml

    from .. import zoo as zoomod
    path = Path(name if name.endswith((".yaml", ".yml")) else f"{name}.yaml")
    target = Target(str(path), force)
    try:
        if from_ is not None:
            source = zoomod.path_of(from_)
            if source is None:
                from ..declare import did_you_mean
                raise CnnCalcError(Diagnostic(Span("--from"), f"no built-in network"
                                              f"{did_you_mean(from_, zoomod.names())} (see "
                                              "`cnncalc zoo`)", received=repr(from_)))
            text = source.read_text()
        else:
            # the name as a YAML scalar: quoted when it needs to be ("my net: v2")
            quoted = yaml.safe_dump(path.stem, default_style=None, width=10**6).strip()
            text = STARTER.format(name=quoted.removesuffix("\n...").strip())
    except CnnCalcError as exc:
        fail(exc)
    target.emit(text)
    typer.echo(f"wrote {terminal_text(str(path))}")


@app.command()
def compare(
    a: str = typer.Argument(..., help=SPEC_HELP),
    b: str = typer.Argument(..., help=SPEC_HELP),
    format: str = typer.Option("table", "--format", help="table or json"),
    device: str | None = typer.Option(None, "--device", help="add the predicted step time "
                                      "on this device (see `cnncalc time`)"),
    batch: int = typer.Option(1, "--batch", min=1, help="batch size of the time row"),
):
    """Totals side by side with their differences, and the layers that differ."""
    from ..analysis.analyze import analyze
    from ..analysis.compare import compare_reports
    try:
        check_choice("--format", format, ("table", "json"))
        networks = load_network(a), load_network(b)
        left, right = analyze(networks[0]), analyze(networks[1])
        times = None
        if device is not None:
            from ..analysis.timing import TimeSettings, predict
            chosen, settings = device_of(device), TimeSettings(device, batch)
            times = [predict(n, r, chosen, settings).total_seconds
                     for n, r in zip(networks, (left, right))]
    except CnnCalcError as exc:
        fail(exc)
    result = compare_reports(left, right, times and (f"seconds on {device} (batch {batch})",
                                                     *times))
    if format == "json":
        return emit(json.dumps(result, indent=2) + "\n", None)
    from ..render.compare import compare_tables
    console().print(compare_tables(result))


@app.command()
def graph(
    spec: str = typer.Argument(..., help=SPEC_HELP),
    format: str = typer.Option("mermaid", "--format", help="mermaid or dot"),
    output: str | None = typer.Option(None, "--output", help="write to FILE instead"),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
):
    """The network as a diagram: Mermaid (renders in GitHub markdown) or Graphviz dot."""
    from ..analysis.analyze import analyze
    from ..render.graph import to_dot, to_mermaid
    target = Target(output, force, spec)
    try:
        check_choice("--format", format, ("mermaid", "dot"))
        network = load_network(spec)
        report = analyze(network)
    except CnnCalcError as exc:
        fail(exc)
    target.emit((to_mermaid if format == "mermaid" else to_dot)(network, report))
