"""An Ultralytics YOLO model YAML (`backbone`/`head` rows of [from, repeats, module, args],
`scales`, `nc`) read as a spec: the rows are walked as Ultralytics' `parse_model` walks them
(depth and width gains, max_channels, the channels each row passes on), each module is written
as spec items (`yolo_modules.py`, with the blocks of `yolo_blocks.yaml`), and the result is an
ordinary spec that the language package builds."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from ..errors import CnnCalcError, Span, fail, name, show
from . import yolo_attention, yolo_heads, yolo_modules
from .yolo_heads import CLASSIFY_HEADS, REFUSED
from .yolo_modules import Unsupported, activation

MODEL_KEYS = {"nc", "scales", "backbone", "head", "activation", "depth_multiple",
              "width_multiple", "kpt_shape", "channels", "reg_max", "end2end", "scale",
              "text_model", "ch", "anchors"}
# module name -> the function that writes it
MODULES = {**yolo_modules.MODULES, **yolo_heads.MODULES, **yolo_attention.MODULES}
OPTIONS = ("scale", "nc")  # what --arg sets on a YOLO model
MAX_REPEATS = 10_000  # a row's repeats (the shipped YAMLs use at most 18)


def is_yolo(doc) -> bool:
    """A YOLO model YAML: `backbone` and `head`, and none of a spec's `input`/`layers`."""
    return isinstance(doc, dict) and "backbone" in doc and "head" in doc and "layers" not in doc


@dataclass
class Model:
    """The document's settings once the scale is chosen (parse_model's locals)."""

    file: str
    depth: float = 1.0
    width: float = 1.0
    max_channels: float = float("inf")
    nc: int = 80
    scale: str | None = None
    act: object = "silu"
    reg_max: int = 16
    kpt_shape: list = field(default_factory=lambda: [17, 3])
    end2end: bool = False        # Detect heads with a one-to-one copy (YOLOv10, YOLO26)
    legacy: bool = True          # False once a C3k2/A2C2f/C2fCIB row is met (Detect's cls branch)

    def scaled(self, c2) -> int:
        """make_divisible(min(c2, max_channels) * width, 8): a base module's output channels."""
        return math.ceil(min(c2, self.max_channels) * self.width / 8) * 8


@dataclass
class Row:
    index: int
    sources: list          # absolute row indices read (-1 = the network's input)
    many: bool             # `from` was a list
    n: int                 # repeats after the depth gain
    module: str
    args: list
    span: Span


def row_error(model: Model, row_span: Span, index: int, message: str, received=None):
    return fail(row_span, f"row {index}: {message}", received)


def read_model(doc, file: str, overrides: dict | None) -> Model:
    """The top-level keys: scale (first listed unless --arg scale=), nc, activation, ..."""
    model = Model(file)
    for key in doc:
        if key not in MODEL_KEYS:
            raise fail(doc.key_span(key), f"unknown key '{name(key)}' in a YOLO model YAML "
                       f"(keys: {', '.join(sorted(MODEL_KEYS))})", show(key))
    overrides = dict(overrides or {})
    for key in overrides:
        if key not in OPTIONS:
            raise fail(Span("--arg"), f"a YOLO model takes --arg {' or '.join(OPTIONS)}, not "
                       f"'{name(key)}'", f"{name(key)}={show(overrides[key])}")
    model.nc = overrides.get("nc", doc.get("nc", 80))
    if isinstance(model.nc, bool) or not isinstance(model.nc, int) or model.nc < 1:
        span = Span("--arg") if "nc" in overrides else doc.value_span("nc")
        raise fail(span, "nc (the number of classes) must be a positive integer", show(model.nc))
    for key in ("depth_multiple", "width_multiple"):
        value = doc.get(key, 1.0)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise fail(doc.value_span(key), f"{key} must be a number > 0", show(value))
    model.depth, model.width = doc.get("depth_multiple", 1.0), doc.get("width_multiple", 1.0)
    read_scale(model, doc, overrides.get("scale", doc.get("scale")))
    model.reg_max = doc.get("reg_max", 16)
    if isinstance(model.reg_max, bool) or not isinstance(model.reg_max, int) or model.reg_max < 1:
        raise fail(doc.value_span("reg_max"), "reg_max must be a positive integer", show(model.reg_max))
    model.kpt_shape = plain(doc.get("kpt_shape", [17, 3]))
    model.end2end = doc.get("end2end", False)
    if not isinstance(model.end2end, bool):
        raise fail(doc.value_span("end2end"), "end2end must be true or false", show(model.end2end))
    if "activation" in doc:
        model.act = activation(doc["activation"], doc.value_span("activation"))
    return model


def read_scale(model: Model, doc, chosen) -> None:
    scales = doc.get("scales")
    if not scales:
        if chosen is not None:
            raise fail(Span("--arg"), f"{model.file} lists no scales", f"scale={show(chosen)}")
        return
    if not isinstance(scales, dict):
        raise fail(doc.value_span("scales"), "scales must map a scale to [depth, width, "
                   "max_channels]", show(scales))
    scale = next(iter(scales)) if chosen is None else chosen
    if not isinstance(scale, (str, int)) or scale not in scales:
        raise fail(Span("--arg") if chosen is not None else doc.value_span("scales"),
                   f"{model.file} has no scale '{name(scale)}' (scales: "
                   f"{', '.join(map(str, scales))})", f"scale={show(scale)}")
    value = scales[scale]
    if not (isinstance(value, list) and len(value) == 3 and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in value)):
        raise fail(scales.value_span(scale), f"scale '{name(scale)}' must be [depth, width, "
                   "max_channels], three numbers > 0", show(value))
    model.scale = str(scale)
    model.depth, model.width, model.max_channels = value


def read_rows(doc, model: Model) -> list[Row]:
    """Every row checked: [from, repeats, module, args], `from` naming earlier rows."""
    rows: list[Row] = []
    for part in ("backbone", "head"):
        listed = doc[part]
        if not isinstance(listed, list) or not listed:
            raise fail(doc.value_span(part), f"'{part}' must be a list of rows "
                       "[from, repeats, module, args]", show(listed))
        for k, raw in enumerate(listed):
            rows.append(read_row(raw, listed.item_span(k), len(rows), model))
    return rows


def read_row(raw, span: Span, index: int, model: Model) -> Row:
    if not isinstance(raw, list) or len(raw) != 4:
        raise row_error(model, span, index, "a row is [from, repeats, module, args]", show(raw))
    frm, n, module, args = raw
    many = isinstance(frm, list)
    sources = frm if many else [frm]
    if not sources or not all(isinstance(s, int) and not isinstance(s, bool) for s in sources):
        raise row_error(model, span, index, "'from' must be a row index or a list of them", show(frm))
    absolute = []
    for s in sources:
        target = s if s >= 0 else index + s
        if not -1 <= target < index or (s >= 0 and index == 0):
            raise row_error(model, span, index, f"'from' {s} names no earlier row", show(frm))
        absolute.append(target)
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_REPEATS:
        raise row_error(model, span, index, f"repeats must be an integer from 1 to "
                        f"{MAX_REPEATS:,}", show(n))
    if not isinstance(module, str):
        raise row_error(model, span, index, "the module must be a name (Conv, C2f, ...)", show(module))
    if not isinstance(args, list):
        raise row_error(model, span, index, "args must be a list", show(args))
    n = max(round(n * model.depth), 1) if n > 1 else n  # parse_model's depth gain
    values = [resolve(a, model) for a in args]
    return Row(index, absolute, many, n, module, values, span)


def resolve(value, model: Model):
    """A string argument as parse_model reads it: a name it knows, else a Python literal;
    lists and mappings as plain Python values (they may be written into the spec)."""
    if not isinstance(value, str):
        return plain(value)
    known = {"nc": model.nc, "kpt_shape": model.kpt_shape, "reg_max": model.reg_max,
             "None": None, "True": True, "False": False}
    return known.get(value, value)


def plain(value):
    """YList/YMap (which remember positions) as plain lists and dicts."""
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def row_names(rows: list[Row]) -> list[str]:
    """A spec name per row: the module's name (lower case, no `nn.`) and the row index."""
    return [f"{row.module.rpartition('.')[2].lower()}{row.index}" for row in rows]


def yolo_spec(doc, file: str, overrides: dict | None = None) -> dict:
    """The YOLO document as a spec (a dict ready to be written as YAML)."""
    model = read_model(doc, file, overrides)
    rows = read_rows(doc, model)
    channels = doc.get("channels", doc.get("ch", 3))
    if isinstance(channels, bool) or not isinstance(channels, int) or channels < 1:
        key = "channels" if "channels" in doc else "ch"
        raise fail(doc.value_span(key), "channels (the input's) must be a positive integer",
                   show(channels))
    names, items, ch, spans = row_names(rows), [], [], []
    for row in rows:
        emit = MODULES.get(row.module)
        if emit is None:
            why = REFUSED.get(row.module, "is not one cnncalc knows (docs/interop.md lists "
                              "the modules it reads)")
            raise row_error(model, row.span, row.index, f"module '{name(row.module)}' {why}",
                            name(row.module))
        c1s = [ch[s] if s >= 0 else channels for s in row.sources]
        srcs = [names[s] if s >= 0 else "input" for s in row.sources]
        try:
            item, c2 = emit(model, row, c1s, srcs)
        except Unsupported as why:
            raise row_error(model, row.span, row.index, f"{row.module}: {why}", show(row.args)) from None
        except (TypeError, ValueError, IndexError, KeyError, AttributeError, ZeroDivisionError):
            raise row_error(model, row.span, row.index, f"the arguments of {row.module} do not "
                            "fit its signature", show(row.args)) from None
        if item is None:  # nn.Identity: its name stands for its input
            names[row.index] = srcs[0]
            ch.append(c2)
            continue
        item = {"name": names[row.index], **item}
        if "inputs" not in item and "layers" not in item and srcs != [prev(items)]:
            item["inputs"] = srcs if "type" in item else srcs[0]
        elif "layers" in item and "inputs" not in item and srcs != [prev(items)]:
            item["inputs"] = srcs[0]
        items.append(item)
        spans.append(row)
        ch.append(c2)
    classify = rows[-1].module in CLASSIFY_HEADS
    side = 224 if classify else 640
    label = Path(file).stem + (model.scale or "")
    about = (f"Ultralytics YOLO model YAML {Path(file).name}"
             + (f", scale {model.scale}" if model.scale else "") + f", nc {model.nc}")
    return {"name": label, "description": about, "input": [side, side, channels],
            "blocks": library(), "layers": items,
            "rows": {item["name"]: row.span for item, row in zip(items, spans)}}


def prev(items: list) -> str:
    return items[-1]["name"] if items else "input"


def library() -> dict:
    """The block library (yolo_blocks.yaml) as plain data."""
    import yaml
    text = resources.files(__package__).joinpath("yolo_blocks.yaml").read_text()
    return yaml.safe_load(text)["blocks"]


def spec_text(spec: dict, header: str) -> str:
    """The expanded spec as YAML: blocks in block style, one layer item per line."""
    import yaml

    def flow(value) -> str:
        return yaml.safe_dump(value, default_flow_style=True, width=10 ** 6,
                              sort_keys=False).strip()
    top = yaml.safe_dump({k: spec[k] for k in ("name", "description", "input")}, sort_keys=False,
                         default_flow_style=None, width=10 ** 6)
    blocks = yaml.safe_dump({"blocks": spec["blocks"]}, sort_keys=False, width=100)
    lines = [header, top.rstrip("\n"), blocks.rstrip("\n"), "layers:"]
    lines += [f"  - {flow(item)}" for item in spec["layers"]]
    return "\n".join(lines) + "\n"


def load_yolo(doc, file: str, overrides: dict | None = None):
    """A YOLO model document -> a Network (what parse_document returns for a spec)."""
    return build(yolo_spec(doc, file, overrides), file)


def build(spec: dict, file: str):
    """The expanded spec -> a Network whose layers point at the YOLO file's rows (each
    layer's name starts with its row's name); a failure names the row."""
    from dataclasses import replace

    from ..language.document import loads
    rows = spec["rows"]
    expanded = f"{file} (expanded)"

    def row_span(layer_name: str | None) -> Span:
        return rows.get((layer_name or "").split(".")[0], Span(file))
    try:
        network = loads(spec_text(spec, "# expanded"), expanded)
    except CnnCalcError as error:
        d = error.diagnostic
        span = row_span(d.layer) if d.span.file == expanded else d.span
        raise CnnCalcError(d._replace(span=span)) from None
    network.nodes[:] = [replace(node, span=row_span(node.name), key_spans={}, called=())
                        for node in network.nodes]
    network.file, network.input_span = file, Span(file)
    return network
