"""import: an ONNX model written out as a readable spec."""

from __future__ import annotations

import typer

from ..errors import CnnCalcError, Span
from .common import FORCE_HELP, Target, app, fail, terminal_text


@app.command("import")
def import_model(
    model: str = typer.Argument(..., help="an ONNX file (.onnx)"),
    output: str = typer.Option(..., "-o", "--output", help="the spec file to write"),
    input: str | None = typer.Option(None, "--input", help="the input size, HxWxC (needed "
                                     "when the model's spatial sizes are dynamic)"),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
):
    """Write an ONNX model as a spec: one layer per op, its weights as the parameters."""
    from ..interop.onnx_file import fail as onnx_fail
    from ..interop.onnx_import import load_onnx, spec_text
    from ..language.document import parse_input
    target = Target(output, force, model)
    try:
        if not model.lower().endswith(".onnx"):
            raise onnx_fail(model, "import reads ONNX files (.onnx)")
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
