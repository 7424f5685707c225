"""Read a spec with a safe YAML loader, keeping the line and column of every value.

Mappings become `YMap` and sequences `YList`: ordinary dict and list, plus the position of
each key and item. Scalars stay plain Python values. Only the standard YAML tags are
accepted; anything else (`!!python/object/apply:...`) is refused before it is constructed.
Aliases are followed but the expanded document is capped, so an alias bomb is refused quickly.
"""

from __future__ import annotations

import re
import stat
from pathlib import Path

import yaml

from ..errors import EXIT_UNREADABLE, CnnCalcError, Diagnostic, Span, show
from .source import MiB, read_capped

MAX_FILE_BYTES = 16 * MiB  # refuse larger files and streams (a spec is a few KB)
MAX_NODES = 2_000_000  # values in the expanded document, aliases counted each time used
MAX_DEPTH = 200  # nesting of mappings and lists

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_SCALAR_TAGS = {
    "tag:yaml.org,2002:str", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null",
}
_MAP_TAG = "tag:yaml.org,2002:map"
_INT_TAG = "tag:yaml.org,2002:int"
_STR_TAG = "tag:yaml.org,2002:str"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_NOT_A_NUMBER = object()
# YAML 1.2 (core schema) integers: decimal without a leading zero, 0o octal, 0x hex. PyYAML
# follows YAML 1.1, where 010 is 8, 1:30 is 90 and 1_000 is 1000; those stay strings here.
_INT12 = re.compile(r"[-+]?(?:0|[1-9][0-9]*)")
_OCT12 = re.compile(r"0o[0-7]+")
_HEX12 = re.compile(r"0x[0-9a-fA-F]+")
_FLOAT12 = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_SPECIAL12 = {".inf": float("inf"), "+.inf": float("inf"), "-.inf": float("-inf"), ".nan": float("nan")}


def _yaml12_number(text: str, tag: str):
    """A plain scalar PyYAML resolved as a number, read as YAML 1.2 reads it (or not a number).
    Decimal integers over 4,300 digits raise ValueError (Python's limit): the caller's error."""
    if _INT12.fullmatch(text):
        if len(text.lstrip("+-")) > 4300:
            raise ValueError(f"an integer of {len(text.lstrip('+-')):,} digits")
        return int(text)
    if _OCT12.fullmatch(text):
        return int(text[2:], 8)
    if _HEX12.fullmatch(text):
        return int(text[2:], 16)
    if text.lower() in _SPECIAL12:
        return _SPECIAL12[text.lower()]
    if tag == _FLOAT_TAG and _FLOAT12.fullmatch(text) and not _INT12.fullmatch(text):
        if re.match(r"[-+]?0[0-9]", text) and "." not in text and "e" not in text.lower():
            return _NOT_A_NUMBER
        return float(text)
    return _NOT_A_NUMBER
_SEQ_TAG = "tag:yaml.org,2002:seq"


class YMap(dict):
    """A mapping that remembers where it, each key and each value stand in the file."""

    span: Span
    key_spans: dict
    value_spans: dict

    def key_span(self, key) -> Span:
        return self.key_spans.get(key, self.span)

    def value_span(self, key) -> Span:
        return self.value_spans.get(key, self.span)


class YList(list):
    """A sequence that remembers where it and each item stand in the file."""

    span: Span
    item_spans: list

    def item_span(self, index: int) -> Span:
        return self.item_spans[index] if index < len(self.item_spans) else self.span


def _span(file: str, mark) -> Span:
    return Span(file, mark.line + 1, mark.column + 1)  # libyaml counts from 0


def line_at(text: str, mark) -> str:
    """The line a YAML error points at, as the user wrote it (shortened by the message)."""
    if mark is None:
        return "the text above"
    lines = text.splitlines()
    line = lines[mark.line].strip() if mark.line < len(lines) else ""
    return show(line) if line else "the end of the file"


def _fail(span: Span, message: str, received: str | None = None) -> CnnCalcError:
    return CnnCalcError(Diagnostic(span, message, received=received, exit_code=EXIT_UNREADABLE))


class _Converter:
    def __init__(self, file: str):
        self.file = file
        self.count = 0
        self.scalars = yaml.constructor.SafeConstructor()
        self.constructors = {tag: yaml.constructor.SafeConstructor.yaml_constructors[tag]
                             for tag in _SCALAR_TAGS}  # only the standard scalar tags
        self.sizes: dict[int, int] = {}

    def measure(self, node, depth: int = 0) -> int:
        """Values in the expanded document, each shared (aliased) node measured once, so an
        alias bomb is refused in time linear in the file, before anything is expanded."""
        known = self.sizes.get(id(node))
        if known is not None:
            return known
        if depth > MAX_DEPTH:
            raise _fail(_span(self.file, node.start_mark),
                        f"nesting deeper than {MAX_DEPTH} levels; refused")
        total = 1
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                total += self.measure(key, depth + 1) + self.measure(value, depth + 1)
        elif isinstance(node, yaml.SequenceNode):
            for item in node.value:
                total += self.measure(item, depth + 1)
        if total > MAX_NODES:
            raise _fail(_span(self.file, node.start_mark), f"the document expands to more than "
                        f"{MAX_NODES:,} values (an alias bomb?); refused")
        self.sizes[id(node)] = total
        return total

    def convert(self, node):
        """Node -> YMap, YList or a scalar; `measure` has already bounded size and depth."""
        file = self.file
        if isinstance(node, yaml.MappingNode):
            if node.tag != _MAP_TAG:
                raise _fail(_span(file, node.start_mark), "YAML tags are not allowed", node.tag)
            result = YMap()
            result.span, result.key_spans, result.value_spans = _span(file, node.start_mark), {}, {}
            for key_node, value_node in node.value:
                key = self.convert(key_node)
                key_span = _span(file, key_node.start_mark)
                if isinstance(key, (dict, list)):
                    raise _fail(key_span, "a mapping key must be a scalar")
                if key in result:
                    raise _fail(key_span, "duplicate key", repr(key))
                result[key] = self.convert(value_node)
                result.key_spans[key] = key_span
                result.value_spans[key] = _span(file, value_node.start_mark)
            return result
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _SEQ_TAG:
                raise _fail(_span(file, node.start_mark), "YAML tags are not allowed", node.tag)
            result = YList(self.convert(item) for item in node.value)
            result.span = _span(file, node.start_mark)
            result.item_spans = [_span(file, item.start_mark) for item in node.value]
            return result
        if not node.style and node.tag == _STR_TAG and _OCT12.fullmatch(node.value):
            return int(node.value[2:], 8)  # 0o17: YAML 1.2 octal (PyYAML reads a string)
        if node.tag in (_INT_TAG, _FLOAT_TAG) and not node.style:
            try:
                number = _yaml12_number(node.value, node.tag)
            except ValueError as exc:
                raise _fail(_span(file, node.start_mark), "unreadable value", str(exc)) from None
            if number is not _NOT_A_NUMBER:
                return number
            return node.value  # 010, 1:30, 0b11, 1_000: a string, as YAML 1.2 reads them
        construct = self.constructors.get(node.tag)
        if construct is None:
            raise _fail(_span(file, node.start_mark), "YAML tags are not allowed", node.tag)
        try:
            return construct(self.scalars, node)
        except (yaml.YAMLError, ValueError, OverflowError) as exc:
            raise _fail(_span(file, node.start_mark), "unreadable value",
                        " ".join(str(exc).split())) from None


def flow_depth(text: str) -> int:
    """The deepest nesting of [ and { (quotes ignored: an over-estimate is safe). libyaml
    recurses on flow collections, so very deep ones must be refused before it sees them."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return 0
    depth = deepest = 0
    for match in re.finditer(r"[\[\]{}]", text):
        depth = depth + 1 if match.group() in "[{" else max(depth - 1, 0)
        deepest = max(deepest, depth)
    return deepest


def load_text(text: str, file: str = "<string>"):
    """Parse YAML text into plain values with positions (YMap, YList, scalars)."""
    if flow_depth(text) > MAX_DEPTH:
        raise _fail(Span(file), f"brackets nested deeper than {MAX_DEPTH} levels; refused")
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        span = _span(file, mark) if mark else Span(file)
        problem = exc.problem or exc.context or "invalid YAML"
        raise _fail(span, f"not valid YAML: {problem}", line_at(text, mark)) from None
    except yaml.YAMLError as exc:
        raise _fail(Span(file), f"not valid YAML: {' '.join(str(exc).split())}",
                    "the text above") from None
    except RecursionError:
        raise _fail(Span(file), "nesting too deep to read; refused") from None
    if node is None:
        raise _fail(Span(file, 1, 1), "the file is empty; a spec needs `input` and `layers`",
                    "only comments and blank lines" if text.strip() else "no text")
    if isinstance(node, yaml.ScalarNode):
        raise _fail(_span(file, node.start_mark), "a spec must be a mapping with 'input' and "
                    "'layers'", " ".join(str(node.value).split())[:80])
    try:
        converter = _Converter(file)
        converter.measure(node)
        return converter.convert(node)
    except RecursionError:
        raise _fail(Span(file), "nesting too deep to read; refused") from None


def read_file(path: str | Path, display: str | None = None):
    """Read and parse a spec file; every failure is a one-line CnnCalcError (exit 2)."""
    path = Path(path)
    name = display or str(path)
    try:
        if path.is_dir():
            raise _fail(Span(name), "is a directory, not a spec file")
        info = path.stat()
        if info.st_size > MAX_FILE_BYTES:
            raise _fail(Span(name), f"file is {info.st_size:,} bytes; specs above "
                                    f"{MAX_FILE_BYTES:,} bytes are refused")
        # /dev/zero, a FIFO, /dev/stdin: no size to trust, so count what is read
        data = path.read_bytes() if stat.S_ISREG(info.st_mode) else \
            read_capped(path, MAX_FILE_BYTES, name)
    except FileNotFoundError:
        raise _fail(Span(name), "no such file") from None
    except PermissionError:
        raise _fail(Span(name), "permission denied") from None
    except OSError as exc:
        raise _fail(Span(name), f"cannot read: {exc.strerror or exc}") from None
    return load_bytes(data, name)


def read_stream(stream, name: str = "<stdin>"):
    """Read and parse a spec from a stream (standard input), at most MAX_FILE_BYTES of it."""
    return load_bytes(read_capped(stream, MAX_FILE_BYTES, name), name)


def load_bytes(data: bytes, name: str):
    """Decode UTF-8 (a BOM allowed) and parse."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise _fail(Span(name, line, column), "not UTF-8 text",
                    f"byte 0x{data[exc.start]:02x}") from None
    if "\x00" in text:
        raise _fail(Span(name), "binary data, not a YAML spec (a NUL byte)")
    return load_text(text, name)
