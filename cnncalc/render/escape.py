"""One escaping function per output kind: untrusted text passes through exactly one of them.

Untrusted text is anything the user or a file supplied: layer names, file names, messages.
Every function here takes any object (it is turned into `str` first) and returns text that
is safe to place *as content* in its output kind; the surrounding syntax (quotes, `<br/>`,
`\\n` separators, table pipes) is the caller's and must not be passed through again.

Visible form (the one rule for control characters): a character that could move the cursor,
start an escape sequence or reorder text is replaced by its Python-style escape, shown as
plain characters: `\\n` for a newline, `\\r` for a carriage return, `\\x1b` for ESC, `\\x07`
for BEL, `\\x9b` for the 8-bit CSI, `\\u202e` for RIGHT-TO-LEFT OVERRIDE, `\\udcff` for an
undecodable byte of a file name. The replaced set is every C0 control, DEL, the C1 range
U+0080-U+009F, the bidi controls (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069), the
line/paragraph separators U+2028/U+2029 and lone surrogates. Backslashes themselves are left
alone, so the mapping shows, it does not round-trip. Kinds that need one line (markdown,
Mermaid, dot) turn newlines and tabs into spaces first.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
                      "\ud800-\udfff]")
_NEWLINES = re.compile("\r\n|[\n\r\x0b\x0c\x85\u2028\u2029]")
_PLAIN_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _visible(match: re.Match) -> str:
    char = match.group()
    if char in "\n\r":
        return "\\n" if char == "\n" else "\\r"
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _shown(text: object) -> str:
    """`text` with every control character in visible form (newlines included)."""
    return _CONTROL.sub(_visible, str(text))


def _one_line(text: object) -> str:
    """`text` on one line: newlines become spaces, other controls their visible form."""
    return _shown(_NEWLINES.sub(" ", str(text).replace("\t", " ")))


def terminal(text: object) -> str:
    """Text for a terminal, on one line: tab -> space, newline -> `\\n`, controls -> visible form."""
    return _shown(str(text).replace("\t", " "))


def github_message(text: object) -> str:
    """A workflow-command message (actions/toolkit escapeData), other controls in visible form."""
    text = str(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return _shown(text)


def github_property(text: object) -> str:
    """A workflow-command property value (actions/toolkit escapeProperty)."""
    return github_message(text).replace(":", "%3A").replace(",", "%2C")


def github_annotation(severity: str, message: object, file: object = None, line: int | None = None,
                      col: int | None = None, title: object = None) -> str:
    """`::error file=..,line=..,col=..,title=..::message`, every part escaped, on one line."""
    if severity not in ("error", "warning", "notice"):
        raise ValueError(f"severity must be error, warning or notice, not {severity!r}")
    props = [f"{key}={github_property(value)}"
             for key, value in (("file", file), ("line", line), ("col", col), ("title", title))
             if value is not None]
    return f"::{severity}{' ' + ','.join(props) if props else ''}::{github_message(message)}"


def csv_cell(value: object) -> object:
    """A CSV cell safe from formula injection: int/float pass through, risky strings get a `'`."""
    if value is None:
        return ""
    if isinstance(value, int | float):
        return value
    text = _shown(value)  # a newline in a name must not start a line of the file
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_text(rows: Iterable[Iterable[object]]) -> str:
    """Rows as CSV text (`\\n` line ends), every cell through `csv_cell`."""
    import csv
    import io
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for row in rows:
        writer.writerow([csv_cell(value) for value in row])
    return buffer.getvalue()


def html(text: object) -> str:
    """Text for HTML, SVG or XML content or a quoted attribute value: controls in visible form
    (XML 1.0 cannot hold most of them at all), then the markup characters as entities."""
    import html
    return html.escape(_shown(text), quote=True)


def comment(text: object) -> str:
    """Text inside a one-line comment of a written file (a YAML `#` line): one line, controls
    in visible form."""
    return _one_line(text)


_MARKDOWN = str.maketrans({"\\": "\\\\", "|": "\\|", "`": "\\`", "*": "\\*", "[": "\\[", "]": "\\]",
                           "&": "&amp;", "<": "&lt;", ">": "&gt;"})


def markdown_cell(text: object) -> str:
    """Plain text for a GFM table cell (not inside backticks): one line, no markup, no raw HTML."""
    return _one_line(text).translate(_MARKDOWN)


def markdown_code(text: object) -> str:
    """Inline code for a GFM table cell, fenced with enough backticks: `` `a` ``."""
    text = _one_line(text).replace("|", "\\|")
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    return f"{fence} {text} {fence}"


_MERMAID = str.maketrans({"#": "#35;", '"': "#quot;", "<": "#lt;", ">": "#gt;", "&": "#amp;",
                          "`": "#96;", "%": "#37;"})


def mermaid_label(text: object) -> str:
    """Text inside a Mermaid `["..."]` label: entity codes for `#"<>&`%`, one line."""
    return _one_line(text).translate(_MERMAID)


_MERMAID_RESERVED = {"end", "graph", "flowchart", "subgraph", "direction", "style", "linkstyle",
                     "classdef", "class", "click", "call", "href", "default", "interpolate"}


def _node_id(text: object, index: int, reserved: set[str]) -> str:
    text = str(text)
    plain = _PLAIN_ID.fullmatch(text) and text.lower() not in reserved and not re.fullmatch(r"n\d+", text)
    return text if plain else f"n{index}"


def mermaid_id(text: object, index: int) -> str:
    """A Mermaid node id: `text` when plainly safe, else `n<index>` (caller's unique index)."""
    return _node_id(text, index, _MERMAID_RESERVED)


def safe_ids(names: Iterable[object], make: Callable[[object, int], str] = mermaid_id) -> dict:
    """Each distinct name -> a distinct safe id (`make`: mermaid_id or dot_id; first-seen index)."""
    ids: dict = {}
    for index, name in enumerate(names):
        if name not in ids:
            ids[name] = make(name, index)
    return ids


def dot_label(text: object) -> str:
    """Text inside a Graphviz double-quoted string: `\\` and `\"` escaped, one line."""
    return _one_line(text).replace("\\", "\\\\").replace('"', '\\"')


_DOT_KEYWORDS = {"node", "edge", "graph", "digraph", "subgraph", "strict"}


def dot_id(text: object, index: int) -> str:
    """A Graphviz node id: `text` when plainly safe, else `n<index>` (caller's unique index)."""
    return _node_id(text, index, _DOT_KEYWORDS)
