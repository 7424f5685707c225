"""Reading an ONNX file safely: the size cap, the protobuf, external data, the input shape,
and ONNX's own shape inference. Every problem is one line (CnnCalcError, exit 2)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ..errors import CnnCalcError, Diagnostic, Span, name, show

GiB = 1 << 30
MAX_ONNX_BYTES = 1 * GiB  # VGG-19 with its weights is 0.55 GiB; protobuf's own limit is 2 GiB


def fail(file: str, message: str, received: str | None = None) -> CnnCalcError:
    return CnnCalcError(Diagnostic(Span(file), message, received=received))


def require_onnx(file: str):
    """The onnx module, or the one-line message saying how to install it."""
    try:
        import onnx
    except ImportError:
        raise fail(file, "reading ONNX models needs the onnx package: "
                         "pip install 'cnncalc[onnx]'") from None
    return onnx


def first_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text if len(text) <= 200 else text[:197] + "..."


def read_model(path: str, display: str, limit: int = MAX_ONNX_BYTES):
    """The ModelProto of `path` (external data left on disk, only checked to be there)."""
    onnx = require_onnx(display)
    from google.protobuf.message import DecodeError
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):  # a FIFO or /dev/zero would be read without end
            raise fail(display, "not a regular file")
        size = info.st_size
        if size > limit:
            raise fail(display, f"the file is larger than the {limit / GiB:g} GiB cnncalc reads",
                       f"{size:,} bytes")
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as error:
        raise fail(display, f"cannot read: {error.strerror or error}") from None
    if len(data) > limit:  # grew while being read, or a device
        raise fail(display, f"the file is larger than the {limit / GiB:g} GiB cnncalc reads")
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except (DecodeError, ValueError, RuntimeError) as error:
        raise fail(display, "not a readable ONNX model (truncated or not protobuf)",
                   first_line(error)) from None
    if not model.ir_version or not model.HasField("graph") or not model.graph.node:
        raise fail(display, "not an ONNX model (no IR version or no graph nodes)")
    external = check_external_data(model, Path(path).parent, display)
    try:  # with external data the checker needs the path, to find the files beside it
        onnx.checker.check_model(path if external else model)
    except Exception as error:  # onnx.checker.ValidationError and the C++ errors it wraps
        raise fail(display, "malformed ONNX model", first_line(error)) from None
    return model


def check_external_data(model, folder: Path, display: str) -> bool:
    """Initializers stored in other files: each file must exist inside the model's folder and
    hold the bytes named (the values themselves are not read: counting needs only shapes).
    True when there is external data."""
    external = False
    for tensor in model.graph.initializer:
        if tensor.data_location != 1:  # TensorProto.EXTERNAL
            continue
        external = True
        info = {entry.key: entry.value for entry in tensor.external_data}
        location = info.get("location", "")
        where = Path(location)
        if not location or where.is_absolute() or ".." in where.parts:
            raise fail(display, f"initializer '{name(tensor.name)}' names external data outside "
                                "the model's folder", show(location))
        target = folder / where
        if not target.is_file():
            raise fail(display, f"external data of initializer '{name(tensor.name)}' is missing",
                       show(str(target)))
        end = int(info.get("offset", 0) or 0) + int(info.get("length", 0) or 0)
        if end > target.stat().st_size:
            raise fail(display, f"external data of initializer '{name(tensor.name)}' is cut short",
                       f"{target.stat().st_size:,} bytes, needs {end:,}")
    return external


def data_input(model, display: str):
    """The one graph input that is not an initializer (old files list weights as inputs)."""
    weights = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in weights]
    if len(inputs) != 1:
        raise fail(display, "cnncalc reads models with exactly one input",
                   ", ".join(name(i.name) for i in inputs) or "none")
    return inputs[0]


def channels_last_input(model, display: str) -> bool:
    """True when the input is [N, *spatial, C] and every reader moves the channels to axis 1
    first (TensorFlow and Keras exports through tf2onnx)."""
    graph_input = data_input(model, display)
    rank = len(graph_input.type.tensor_type.shape.dim)
    readers = [n for n in model.graph.node if graph_input.name in n.input]
    move = [0, rank - 1, *range(1, rank - 1)]
    return rank >= 3 and bool(readers) and all(
        n.op_type == "Transpose" and [list(a.ints) for a in n.attribute if a.name == "perm"]
        == [move] for n in readers)


def fix_input(model, display: str, override, last: bool = False) -> None:
    """Make the input's shape concrete: a dynamic batch becomes 1; `override` (a Shape from
    --input, channels last) sets the rest; other dynamic sizes are an error. `last`: the
    input is [N, *spatial, C]."""
    graph_input = data_input(model, display)
    tensor = graph_input.type.tensor_type
    if not tensor.HasField("shape") or len(tensor.shape.dim) < 3:
        raise fail(display, "the input must be [batch, channels, spatial...] (or channels last)",
                   f"rank {len(tensor.shape.dim) if tensor.HasField('shape') else 'unknown'}")
    dims = tensor.shape.dim
    written = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in dims]
    if override is not None:
        if override.rank != len(dims) - 2:
            raise fail("--input", f"the model's input has {len(dims) - 2} spatial axes",
                       str(override))
        wanted = [*override.spatial, override.c] if last else [override.c, *override.spatial]
    else:
        wanted = [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None
                  for d in dims[1:]]
        if None in wanted:
            raise fail(display, f"input '{name(graph_input.name)}' has dynamic sizes; give them "
                                "with --input (spatial sizes then channels, e.g. 224x224x3)",
                       "[" + ", ".join(map(str, written)) + "]")
    if not (dims[0].HasField("dim_value") and dims[0].dim_value > 0):
        dims[0].Clear()
        dims[0].dim_value = 1
    for dim, size in zip(dims[1:], wanted):
        dim.Clear()
        dim.dim_value = size


def infer_shapes(model, display: str, fresh: bool = True):
    """ONNX's own shape inference over the whole graph (`fresh`: the file's own intermediate
    and output shapes, made for another input size perhaps, dropped first)."""
    onnx = require_onnx(display)
    if fresh:
        del model.graph.value_info[:]
        for output in model.graph.output:
            output.type.tensor_type.ClearField("shape")
    try:
        return onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True,
                                                 data_prop=True)
    except Exception as error:  # onnx.shape_inference.InferenceError and the C++ errors
        raise fail(display, "ONNX shape inference failed", first_line(error)) from None


def shapes_of(model) -> dict[str, tuple | None]:
    """Every tensor's shape after inference (None where a size is still unknown)."""
    out = {}
    graph = model.graph
    for info in [*graph.input, *graph.value_info, *graph.output]:
        tensor = info.type.tensor_type
        if not tensor.HasField("shape"):
            continue
        dims = tuple(d.dim_value if d.HasField("dim_value") else None for d in tensor.shape.dim)
        out[info.name] = None if None in dims else dims
    for tensor in graph.initializer:
        out[tensor.name] = tuple(tensor.dims)
    return out
