"""Open what a user names as a spec: a file, a built-in network's name, '-' (standard input) or
an exported model (.onnx). It sits above the spec language (language/) and the importers
(interop/), which never import it."""

from __future__ import annotations

from pathlib import Path

from .errors import Span, fail
from .graph import Network
from .language import yamlsource
from .language.document import load, parse_document, parse_input


def open_spec(spec: str, input_override: str | None = None, args: dict | None = None) -> Network:
    """A file path, the name of a built-in network, or '-' (standard input) -> Network. The
    input override is known while the spec is expanded (expressions may read shapes)."""
    import sys

    from . import zoo
    override = parse_input(input_override, Span("--input")) if input_override else None
    if spec == "-":
        return from_document(yamlsource.read_stream(sys.stdin, "<stdin>"), "<stdin>", args,
                             None, override)
    path = Path(spec)
    if not path.exists() and zoo.path_of(spec):
        path = zoo.path_of(spec)
        return load(path, str(path.name), args, override)
    if path.suffix.lower() == ".onnx":  # an exported model: read by the interop package
        from .interop.onnx_import import load_onnx
        if args:
            raise fail(Span("--arg"), "an ONNX model has no spec arguments")
        return load_onnx(str(path), spec, override)[0]
    if path.suffix.lower() == ".keras" or (path.suffix.lower() == ".json" and is_keras(path, spec)):
        if args:  # a Keras model: the interop package writes it as a spec
            raise fail(Span("--arg"), "a Keras model has no spec arguments")
        return load_keras(str(path), spec, override)[0]
    if not path.exists() and not path.suffix and "/" not in spec:
        raise fail(Span(spec), "no such file or built-in network" + zoo.suggestion(spec)
                   + " (see `cnncalc zoo`)")
    return from_document(yamlsource.read_file(path, spec), spec, args, path, override)


def from_document(doc, name: str, args, path: Path | None, override) -> Network:
    """A spec document, or an Ultralytics YOLO model YAML (`backbone` and `head` rows, read
    by the interop package), as a Network."""
    if isinstance(doc, dict) and "backbone" in doc:
        from .interop.yolo import is_yolo, load_yolo
        if is_yolo(doc):
            network = load_yolo(doc, name, args)
            if override is not None:
                network.input_shape = override
            return network
    return parse_document(doc, name, args, path, override)


def is_keras(path: Path, display: str) -> bool:
    """A `.json` file holding a Keras model's config (`model.to_json()`), not a spec."""
    from .interop.keras_import import is_keras_json
    return path.is_file() and is_keras_json(str(path), display)


def load_keras(path: str, display: str, override=None):
    """A Keras model (.keras or its JSON config) -> (Network, the spec as a dict)."""
    from .errors import CnnCalcError, Diagnostic
    from .interop.keras_import import import_keras
    from .interop.spec_writer import spec_text
    from .language.document import loads
    spec = import_keras(path, display, override)[0]
    try:
        return loads(spec_text(spec), display), spec
    except CnnCalcError as error:
        raise CnnCalcError(Diagnostic(Span(display), "the imported spec does not build: "
                                      + error.diagnostic.format())) from None
