"""Each escaping function against hostile text: nothing it returns can act in its output kind."""

from __future__ import annotations

import csv
import html as std_html
import io
import re

import pytest

from cnncalc.render import escape

OSC8 = "\x1b]8;;http://evil\x1b\\click\x1b]8;;\x1b\\"
CLEAR = "\x1b[2J"
SCRIPT = "<script>alert(1)</script>"
FORMULA = '=HYPERLINK("http://x","y")'
FORGED = "spec\n::error file=README.md,line=1::Approved.yaml"
HOSTILE = [OSC8, CLEAR, SCRIPT, FORMULA, "a|b", "a`|b", FORGED, "\u202etxt.exe", "x\x07\x08\r\x7f\x9by"]
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def unescape_github(text: str, prop: bool = False) -> str:
    if prop:
        text = text.replace("%2C", ",").replace("%3A", ":")
    return text.replace("%0A", "\n").replace("%0D", "\r").replace("%25", "%")


@pytest.mark.parametrize("text", HOSTILE)
def test_terminal_leaves_no_control_character(text):
    out = escape.terminal(text)
    assert not CONTROL.search(out)
    assert out.isprintable()


def test_terminal_visible_forms():
    assert escape.terminal(CLEAR) == "\\x1b[2J"
    assert escape.terminal(OSC8) == "\\x1b]8;;http://evil\\x1b\\click\\x1b]8;;\\x1b\\"
    assert escape.terminal("a\nb\r\tc\x07\x08\x7f") == "a\\nb\\r c\\x07\\x08\\x7f"
    assert escape.terminal("\x9b31m\u202eabc\u2066") == "\\x9b31m\\u202eabc\\u2066"
    assert escape.terminal("bad\udcffname") == "bad\\udcffname"
    assert escape.terminal("conv1 → ü 卷积") == "conv1 → ü 卷积"
    assert escape.terminal(3) == "3"


def test_github_message_and_property_round_trip():
    text = "50% done\r\nnext: a,b"
    assert escape.github_message(text) == "50%25 done%0D%0Anext: a,b"
    assert escape.github_property(text) == "50%25 done%0D%0Anext%3A a%2Cb"
    for sample in ["%0A", "%%25", "a:b,c\nd", "100%"]:
        assert unescape_github(escape.github_message(sample)) == sample
        assert unescape_github(escape.github_property(sample), prop=True) == sample


def test_github_message_hides_escape_sequences():
    assert "\x1b" not in escape.github_message(OSC8)


def test_github_annotation_forged_file_name_stays_one_line():
    out = escape.github_annotation("error", "shape mismatch\n::warning::x", file=FORGED, line=3, col=5,
                                   title="a,b:c")
    assert "\n" not in out and "\r" not in out
    assert out.startswith("::error file=spec%0A%3A%3Aerror file=README.md%2Cline=1%3A%3AApproved.yaml,")
    assert out.count("::") == 4  # '::error', the separator, and the two inside the message's only line
    head, message = out[2:].split("::", 1)
    assert unescape_github(message) == "shape mismatch\n::warning::x"
    command, props = head.split(" ", 1)
    assert command == "error"
    fields = dict(item.split("=", 1) for item in props.split(","))
    assert {k: unescape_github(v, prop=True) for k, v in fields.items()} == {
        "file": FORGED, "line": "3", "col": "5", "title": "a,b:c"}


def test_github_annotation_minimal_and_bad_severity():
    assert escape.github_annotation("notice", "hi") == "::notice::hi"
    with pytest.raises(ValueError):
        escape.github_annotation("error\n::debug", "x")


@pytest.mark.parametrize("text", [FORMULA, "+1", "-1+1", "@SUM(A1)"])
def test_csv_cell_quotes_formulas(text):
    assert escape.csv_cell(text) == "'" + text


@pytest.mark.parametrize(("text", "shown"), [("\tx", "\\x09x"), ("\rx", "\\rx"),
                                              ("a\n::error::x", "a\\n::error::x")])
def test_csv_cell_shows_controls_so_no_line_starts_inside_a_cell(text, shown):
    assert escape.csv_cell(text) == shown


def test_csv_cell_keeps_numbers_and_plain_text():
    assert escape.csv_cell(-3) == -3
    assert escape.csv_cell(-2.5) == -2.5
    assert escape.csv_cell("conv1") == "conv1"
    assert escape.csv_cell(None) == ""
    assert escape.csv_cell("") == ""


def test_csv_text_round_trip():
    rows = [["name", "params"], [FORMULA, -3], ['a,"b"\nc', 1.5]]
    text = escape.csv_text(rows)
    assert text.endswith("\n") and "\r" not in text
    back = list(csv.reader(io.StringIO(text)))
    assert back == [["name", "params"], ["'" + FORMULA, "-3"], ['a,"b"\\nc', "1.5"]]


def test_html():
    out = escape.html(SCRIPT + "\"'&")
    assert "<" not in out and ">" not in out and '"' not in out and "'" not in out
    assert std_html.unescape(out) == SCRIPT + "\"'&"


def test_markdown_cell():
    assert escape.markdown_cell("a|b") == "a\\|b"
    assert escape.markdown_cell("a`|b") == "a\\`\\|b"
    assert escape.markdown_cell(SCRIPT) == "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert escape.markdown_cell("x\\|y") == "x\\\\\\|y"  # the backslash cannot eat the pipe's escape
    assert escape.markdown_cell("[a](http://evil) *b*") == "\\[a\\](http://evil) \\*b\\*"
    assert escape.markdown_cell("line1\r\nline2\nline3") == "line1 line2 line3"
    assert escape.markdown_cell("conv_1") == "conv_1"
    out = escape.markdown_cell(OSC8)
    assert "\x1b" not in out and "\n" not in out


@pytest.mark.parametrize("text", HOSTILE)
def test_markdown_cell_never_breaks_a_row(text):
    out = escape.markdown_cell(text)
    assert "\n" not in out and "<" not in out
    assert not re.search(r"(?<!\\)(\\\\)*\|", out)  # every pipe is escaped by an odd run of backslashes
    assert not re.search(r"(?<!\\)(\\\\)*`", out)


def test_markdown_code():
    assert escape.markdown_code("conv1") == "` conv1 `"
    assert escape.markdown_code("a`|b") == "`` a`\\|b ``"
    assert escape.markdown_code("``x\ny") == "``` ``x y ```"


def test_mermaid_label():
    assert escape.mermaid_label('a"b<c>&d') == "a#quot;b#lt;c#gt;#amp;d"
    assert escape.mermaid_label(SCRIPT) == "#lt;script#gt;alert(1)#lt;/script#gt;"
    assert escape.mermaid_label("#lt;") == "#35;lt;"
    assert escape.mermaid_label("%%{init: {'securityLevel':'loose'}}%%") == \
        "#37;#37;{init: {'securityLevel':'loose'}}#37;#37;"
    assert escape.mermaid_label("`**md**`\nx") == "#96;**md**#96; x"
    for text in HOSTILE:
        out = escape.mermaid_label(text)
        assert not set(out) & set('"<>\n\r`') and not CONTROL.search(out)


def test_mermaid_id_and_safe_ids():
    assert escape.mermaid_id("conv1", 0) == "conv1"
    assert escape.mermaid_id("conv 1", 4) == "n4"
    assert escape.mermaid_id("end", 2) == "n2"
    assert escape.mermaid_id("n7", 1) == "n1"  # a name shaped like a generated id is never kept
    names = ["conv1", "n1", "a b", 'x"]; click', "end", "conv1", "1abc", "ü"]
    ids = escape.safe_ids(names)
    assert list(ids) == ["conv1", "n1", "a b", 'x"]; click', "end", "1abc", "ü"]
    assert len(set(ids.values())) == len(ids)
    assert all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value) for value in ids.values())
    assert escape.safe_ids(names) == ids  # deterministic


def test_dot_label_and_id():
    assert escape.dot_label('a"b\\c') == 'a\\"b\\\\c'
    assert escape.dot_label("a\\n\nb") == "a\\\\n b"
    assert escape.dot_label(CLEAR) == "\\\\x1b[2J"
    quoted = f'"{escape.dot_label(chr(34) + "]; evil [")}"'
    assert re.fullmatch(r'"([^"\\]|\\.)*"', quoted)  # one well-formed DOT string
    assert escape.dot_id("conv1", 3) == "conv1"
    assert escape.dot_id("node", 3) == "n3"
    assert escape.dot_id('a"; x -> y', 5) == "n5"
    ids = escape.safe_ids(["graph", "n0", "ok", "a-b"], escape.dot_id)
    assert ids == {"graph": "n0", "n0": "n1", "ok": "ok", "a-b": "n3"}
