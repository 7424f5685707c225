"""Bad input never crashes, huge input never hangs: a corpus of bad specs with the expected
answer for each (tests/corpus, first line `# expect: EXIT LINE:COL message`), and generated
cases that cannot live in a file of their own."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cnncalc.cli import app

runner = CliRunner()
CORPUS = Path(__file__).parent / "corpus"


def corpus():
    for path in sorted(CORPUS.glob("*.yaml")):
        first = path.read_text().split("\n", 1)[0]
        if not first.startswith("# expect: "):
            code, where, message = 2, "1:1", "the file is empty"
        else:
            code, where, message = first.removeprefix("# expect: ").split(" ", 2)
            line, column = where.split(":")
            where = f"{int(line) + 1}:{column}"  # the expectation line comes first
        yield pytest.param(path, int(code), where, message, id=path.stem)


@pytest.mark.parametrize("path, code, where, message", list(corpus()))
def test_corpus(path, code, where, message):
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == code, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output
    assert lines[0].startswith(f"{path}:{where}: error: "), lines[0]
    assert message in lines[0]
    assert "(received: " in lines[0], lines[0]  # the standard's form: what it was given


def test_python_tags_are_never_executed():
    marker = Path("/tmp/cnncalc-owned")
    marker.unlink(missing_ok=True)
    runner.invoke(app, ["validate", str(CORPUS / "python-tag.yaml")])
    assert not marker.exists()


def one_line(args, code=2):
    result = runner.invoke(app, args)
    assert result.exit_code == code, result.output
    text = result.stdout + result.stderr
    assert text.count("\n") == 1 and "Traceback" not in text
    return text


def test_not_utf8(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("input: [8, 8, 3]\nname: caf\xe9\nlayers: [relu]\n".encode("latin-1"))
    assert f"{path}:2:10: error: not UTF-8 text (received: byte 0xe9)" in one_line(
        ["validate", str(path)])


def test_directory_missing_and_unreadable(tmp_path, monkeypatch):
    assert "is a directory" in one_line(["validate", str(tmp_path)])
    assert "no such file" in one_line(["validate", str(tmp_path / "nope.yaml")])
    path = tmp_path / "locked.yaml"
    path.write_text("input: [8, 8, 3]\nlayers: [relu]\n")

    def denied(self):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(Path, "read_bytes", denied)  # root reads anything; simulate it
    assert "permission denied" in one_line(["validate", str(path)])


def test_a_50_mb_spec_is_refused_up_front(tmp_path):
    path = tmp_path / "huge.yaml"
    with path.open("w") as handle:
        handle.write("input: [8, 8, 3]\nlayers:\n")
        line = "  - {type: conv, filters: 8, kernel: 1, padding: 0}\n"
        handle.write(line * (50 * 2**20 // len(line)))
    start = time.perf_counter()
    text = one_line(["validate", str(path)])
    assert "bytes; specs above" in text and time.perf_counter() - start < 1


def test_alias_bomb_refused_in_under_a_second(tmp_path):
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]']
    for i in range(1, 12):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 10) + "]")
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\ninput: [8, 8, 3]\nlayers: [relu]\n")
    start = time.perf_counter()
    assert "alias bomb" in one_line(["validate", str(path)])
    assert time.perf_counter() - start < 1


@pytest.mark.parametrize("text", [
    "input: [8, 8, 3]\nlayers: " + "[" * 100_000 + "]" * 100_000 + "\n",
    "input: [8, 8, 3]\nlayers:\n" + "".join("  " * i + "- layers:\n" for i in range(1, 400)),
], ids=["brackets", "indentation"])
def test_very_deep_nesting_is_refused(tmp_path, text):
    path = tmp_path / "deep.yaml"
    path.write_text(text)
    done = subprocess.run([sys.executable, "-m", "cnncalc", "validate", str(path)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 2 and "nest" in done.stdout and done.stdout.count("\n") == 1


def test_astronomical_input_is_exact(tmp_path):
    path = tmp_path / "big.yaml"
    side = 10**6
    path.write_text(f"input: [{side}, {side}, 3]\nlayers:\n"
                    "  - {type: conv, filters: 64, kernel: 3, padding: 1}\n")
    import json
    data = json.loads(runner.invoke(app, ["summarize", str(path), "--format", "json"]).stdout)
    assert data["totals"]["macs"] == side * side * 64 * 3 * 3 * 3  # integers, never floats
    memory = json.loads(runner.invoke(app, ["memory", str(path), "--format", "json",
                                            "--batch", "1000"]).stdout)
    assert memory["forward_bytes"] == 1000 * (side * side * 3 + side * side * 64) * 4


def test_entry_point_never_shows_a_traceback_on_bad_options():
    env = {**os.environ, "COLUMNS": "100"}
    for args in (["summarize"], ["summarize", "vgg16", "--depth", "-1"],
                 ["memory", "vgg16", "--batch", "x"], ["nonsense"]):
        done = subprocess.run([sys.executable, "-m", "cnncalc", *args], capture_output=True,
                              text=True, env=env, check=False)
        assert done.returncode == 2 and "Traceback" not in done.stderr, args
