"""import: an ONNX, Keras or Ultralytics YOLO model written out as a readable spec."""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import CnnCalcError, Diagnostic, Span
from .common import FORCE_HELP, Target, app, fail, terminal_text


@app.command("import")
def import_model(
    model: str = typer.Argument(..., help="an ONNX file (.onnx), a Keras model (.keras) or "
                                "its JSON config (model.to_json()), or an Ultralytics YOLO model "
                                "YAML (backbone/head rows)"),
    output: str = typer.Option(..., "-o", "--output", help="the spec file to write"),
    input: str | None = typer.Option(None, "--input", help="the input size, HxWxC (needed "
                                     "when the model's spatial sizes are dynamic)"),
    scale: str | None = typer.Option(None, "--scale", help="a YOLO model's scale (n, s, m, "
                                     "l, x; default: the first the file lists)"),
    arg: list[str] = typer.Option([], "--arg", help="a YOLO model's nc=N (or scale=S)"),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
):
    """Write an ONNX, Keras or YOLO model as a spec: one layer per op (ONNX), per Keras layer,
    or the blocks and layers a YOLO YAML's rows expand to."""
    if model.lower().endswith((".keras", ".json")):
        return import_keras_model(model, output, input, force)
    if model.lower().endswith((".yaml", ".yml")):
        return import_yolo(model, output, scale, arg, force)
    from ..interop.onnx_file import fail as onnx_fail
    from ..interop.onnx_import import load_onnx
    from ..interop.spec_writer import spec_text
    from ..language.document import parse_input
    target = Target(output, force, model)
    try:
        if not model.lower().endswith(".onnx"):
            raise onnx_fail(model, "import reads ONNX files (.onnx) and Keras models (.keras, "
                                   ".json)")
        override = parse_input(input, Span("--input")) if input else None
        network, spec, graph = load_onnx(model, model, override)
    except CnnCalcError as exc:
        fail(exc)
    from ..render.escape import comment  # one line, no control: the comment must not end
    source = comment(" ".join(model.split()))
    producer = comment(" ".join(
        f"{graph.model.producer_name} {graph.model.producer_version}".split()))
    header = (f"# imported by cnncalc import from {source} ({producer or 'unknown producer'}, "
              f"opset {graph.opset}); parameters are the file's weights")
    target.emit(spec_text(spec, header))
    typer.echo(f"wrote {terminal_text(output)}: {len(network.nodes)} layers")


def import_keras_model(model: str, output: str, input: str | None, force: bool) -> None:
    from ..interop.spec_writer import spec_text
    from ..language.document import parse_input
    from ..load import load_keras
    target = Target(output, force, model)
    try:
        override = parse_input(input, Span("--input")) if input else None
        network, spec = load_keras(model, model, override)
    except CnnCalcError as exc:
        fail(exc)
    source = " ".join(model.split())  # one line: the comment must not end early
    header = (f"# imported by cnncalc import from {source} (a Keras model's config; the "
              "weights are not read)")
    target.emit(spec_text(spec, header))
    typer.echo(f"wrote {terminal_text(output)}: {len(network.nodes)} layers")


def import_yolo(model: str, output: str, scale: str | None, arg: list[str], force: bool):
    """An Ultralytics YOLO model YAML -> its expanded spec, checked to build."""
    from ..interop.yolo import build, is_yolo, spec_text, yolo_spec
    from ..language import yamlsource
    from .options import parse_args
    target = Target(output, force, model)
    try:
        overrides = parse_args(arg)
        if scale is not None:
            overrides["scale"] = scale
        doc = yamlsource.read_file(model, model) if Path(model).is_file() else None
        if not is_yolo(doc):
            why = "a spec needs no import" if doc else "no such file"
            raise CnnCalcError(Diagnostic(Span(model), "import reads ONNX files (.onnx) and "
                                          f"Ultralytics YOLO model YAML (backbone/head rows); {why}"))
        spec = yolo_spec(doc, model, overrides)
        network = build(spec, model)
    except CnnCalcError as exc:
        fail(exc)
    source = " ".join(model.split())
    header = (f"# imported by cnncalc import from {source} (Ultralytics YOLO model YAML); "
              "the blocks are cnncalc's interop/yolo_blocks.yaml")
    target.emit(spec_text(spec, header))
    typer.echo(f"wrote {terminal_text(output)}: {len(network.nodes)} layers")
