"""Includes that are not specs: a symbolic link loop, a FIFO, a folder, an .env holding a
token; and outputs that would overwrite a file the spec includes. Each is refused on one line
(exit 2) without hanging and without echoing the file's content."""

import os
import threading

import pytest
from typer.testing import CliRunner

from cnncalc.cli import app

runner = CliRunner()
SECRET = "ghp_0123456789abcdefSECRET"


def spec_including(tmp_path, target: str):
    spec = tmp_path / "s.yaml"
    spec.write_text(f"include: {target}\ninput: [8, 8, 3]\nlayers: [relu]\n")
    return spec


def one_error(spec, *words):
    result = runner.invoke(app, ["validate", *words, str(spec)])
    assert result.exit_code == 2, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1 and "error" in lines[0], result.stdout
    return lines[0]


def test_a_symlink_loop_is_one_error(tmp_path):
    os.symlink(tmp_path / "b", tmp_path / "a")
    os.symlink(tmp_path / "a", tmp_path / "b")
    assert "symbolic link loop" in one_error(spec_including(tmp_path, "a"))


def test_a_fifo_is_refused_without_opening_it(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    done = []
    worker = threading.Thread(target=lambda: done.append(
        one_error(spec_including(tmp_path, "pipe"))), daemon=True)
    worker.start()
    worker.join(20)
    if not done:  # unblock the reader so the test run ends, then fail
        with open(tmp_path / "pipe", "w"):
            pass
        pytest.fail("an include of a FIFO hangs")
    assert "is not a regular file" in done[0]


def test_a_folder_is_refused(tmp_path):
    (tmp_path / "lib").mkdir()
    assert "is a folder" in one_error(spec_including(tmp_path, "lib"))


@pytest.mark.parametrize("content", [f"TOKEN={SECRET}\nOTHER=1\n", f"TOKEN: {SECRET}\n",
                                     f"{SECRET}: [1\n", f"- {SECRET}\n"])
def test_a_file_that_is_not_a_spec_is_never_echoed(tmp_path, content):
    (tmp_path / ".env").write_text(content)
    line = one_error(spec_including(tmp_path, ".env"))
    assert SECRET not in line and "blocks" in line


@pytest.mark.parametrize("command", [
    ["convert", "{spec}", "-o", "{out}", "--force"],
    ["export", "{spec}", "--to", "pytorch", "-o", "{out}", "--force"],
    ["summarize", "{spec}", "-o", "{out}", "--force"],
    ["graph", "{spec}", "-o", "{out}", "--force"],
    ["report", "{spec}", "-o", "{out}", "--force"]])
def test_force_never_overwrites_a_file_the_spec_includes(tmp_path, command):
    (tmp_path / "lib").mkdir()
    more = tmp_path / "lib" / "more.yaml"
    (tmp_path / "lib" / "inner.yaml").write_text("blocks:\n  c: {layers: [relu]}\n")
    more.write_text("include: inner.yaml\nblocks:\n  b: {layers: [relu]}\n")
    spec = tmp_path / "s.yaml"
    spec.write_text("include: lib/more.yaml\ninput: [8, 8, 3]\nlayers: [{block: b}, {block: c}]\n")
    for target in (more, tmp_path / "lib" / "inner.yaml"):
        before = target.read_text()
        result = runner.invoke(app, [w.format(spec=spec, out=target) for w in command])
        assert result.exit_code == 2
        assert "a file it includes; refusing to overwrite it" in result.stderr
        assert target.read_text() == before
