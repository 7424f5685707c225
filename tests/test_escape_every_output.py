"""One escaping rule in every output (render/escape.py): a layer name holding a newline that
would start a `::error::` line in a GitHub log, ESC sequences, BEL, NUL-like C0 controls, DEL
and a right-to-left override reaches no output raw, in any format of any command, nor the
header comment `import` writes from an ONNX file's producer."""

import xml.dom.minidom

import pytest
from typer.testing import CliRunner

from cnncalc.cli import app

runner = CliRunner()
HOSTILE = "a\n::error::pwn\x1b[2J\x07\x01\x0b\x7f\u202e\x9b"
# every C0 control but tab and newline (which structure text), DEL, C1, bidi overrides
RAW = [chr(c) for c in (*range(0x00, 0x09), *range(0x0b, 0x20), *range(0x7f, 0xa0))] + \
    ["\u202e", "\u2028"]

OUTPUTS = [  # (command, file it writes or None for standard output)
    *[(["summarize", "--format", f], None) for f in
      ("table", "json", "csv", "markdown", "html", "svg")],
    *[(["memory", "--format", f], None) for f in
      ("table", "json", "csv", "markdown", "html", "svg")],
    (["memory", "--mode", "training", "--layers"], None),
    (["validate", "--strict"], None), (["validate", "--strict", "--format", "github"], None),
    (["validate", "--strict", "--format", "json"], None),
    (["graph"], None), (["graph", "--format", "dot"], None),
    (["compare", "lenet5"], None), (["compare", "lenet5", "--format", "json"], None),
    (["run"], None), (["report", "-o", "{out}"], "r.html"),
    (["convert", "-o", "{out}"], "c.yaml"), (["export", "--to", "pytorch", "-o", "{out}"],
                                             "m.py"),
    (["explain", "{spec}", HOSTILE], None),
]


def hostile_spec(tmp_path):
    import json
    spec = tmp_path / "s.yaml"
    spec.write_text("input: [8, 8, 3]\nlayers:\n"
                    f"  - {{name: {json.dumps(HOSTILE)}, type: conv, filters: 4, kernel: 3}}\n"
                    "  - {type: fc, units: 2}\n")
    return spec


@pytest.mark.parametrize(("command", "written"), OUTPUTS, ids=lambda v: " ".join(v)
                         if isinstance(v, list) else str(v))
def test_no_control_character_of_a_name_reaches_any_output(tmp_path, command, written):
    spec = hostile_spec(tmp_path)
    out = tmp_path / (written or "none")
    words = [w.format(out=out, spec=spec) for w in command]
    if "{spec}" not in command:
        words = [words[0], str(spec), *words[1:]]
    result = runner.invoke(app, words)
    assert result.exit_code in (0, 1), result.output
    text = out.read_text() if written else result.stdout + result.stderr
    assert [c for c in RAW if c in text] == []
    assert not any(line.startswith("::error::pwn") for line in text.splitlines())
    assert "pwn" in text or written == "m.py"  # shown, made harmless
    if "svg" in command or "html" in command:
        body = text[text.index("<svg"):text.index("</svg>") + 6] if "<svg" in text else None
        if body:  # well-formed XML
            xml.dom.minidom.parseString(body)


def test_import_keeps_the_producers_controls_out_of_the_header_comment(tmp_path):
    onnx = pytest.importorskip("onnx")
    from tests.test_onnx_files import model
    made = model()
    made.producer_name = "evil\x1b[2J\nlayers: []\r"
    path = tmp_path / "m.onnx"
    onnx.save(made, str(path))
    out = tmp_path / "m.yaml"
    result = runner.invoke(app, ["import", str(path), "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert [c for c in RAW if c in text] == []
    assert text.splitlines()[0].startswith("# imported by cnncalc import")
    assert "evil\\x1b[2J layers: []" in text.splitlines()[0]
    assert "layers: []" not in text.splitlines()[1:]
