"""`include:`: blocks from other files, relative to the including file; cycles, missing and
oversized files refused with one line at the include entry."""

import os
import textwrap

import pytest
from typer.testing import CliRunner

from cnncalc.analysis.analyze import analyze
from cnncalc.cli import app
from cnncalc.errors import EXIT_UNREADABLE, CnnCalcError
from cnncalc.language.document import load

runner = CliRunner()

CBR = """
    blocks:
      cbr:
        args: {out: null}
        layers:
          - {type: conv, filters: $out, kernel: 3, padding: 1, bias: false}
          - batchnorm
          - relu
    """


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def error(path):
    with pytest.raises(CnnCalcError) as info:
        analyze(load(path))
    return info.value.diagnostic


def test_blocks_come_from_a_file_relative_to_the_spec(tmp_path, monkeypatch):
    write(tmp_path / "lib" / "blocks.yaml", CBR)
    spec = write(tmp_path / "nets" / "net.yaml", """
        input: [8, 8, 3]
        include: ../lib/blocks.yaml
        layers:
          - {block: cbr, out: 4}
        """)
    monkeypatch.chdir(tmp_path / "lib")  # not where the spec is
    report = analyze(load(spec))
    # conv 3x3x3x4 without bias; batch norm 2x4 trained and 2x4 running statistics
    assert report.totals.trainable_params == 3 * 3 * 3 * 4 + 2 * 4
    assert report.totals.non_trainable_params == 2 * 4


def test_nested_and_diamond_includes_read_each_file_once(tmp_path):
    write(tmp_path / "base.yaml", CBR)
    write(tmp_path / "a.yaml", "include: base.yaml\nblocks:\n  two: {layers: [{block: cbr, "
                               "out: 2}, {block: cbr, out: 2}]}\n")
    write(tmp_path / "b.yaml", "include: [base.yaml]\nblocks:\n  one: {layers: [{block: cbr, "
                               "out: 2}]}\n")
    spec = write(tmp_path / "net.yaml", "input: [4, 4, 1]\ninclude: [a.yaml, b.yaml]\n"
                                        "layers:\n  - {block: two}\n  - {block: one}\n")
    report = analyze(load(spec))
    assert [r.type for r in report.rows].count("conv") == 3


def test_an_error_inside_an_included_block_points_into_that_file(tmp_path):
    write(tmp_path / "lib.yaml", "blocks:\n  bad:\n    layers:\n      - {type: conv, "
                                 "filters: 4, kernal: 3}\n")
    spec = write(tmp_path / "net.yaml", "input: [8, 8, 3]\ninclude: lib.yaml\nlayers:\n"
                                        "  - {block: bad}\n")
    d = error(spec)
    assert d.span.file.endswith("lib.yaml") and (d.span.line, d.span.column) == (4, 34)
    assert "did you mean 'kernel'" in d.format()


def test_standard_input_includes_relative_to_the_current_folder(tmp_path, monkeypatch):
    write(tmp_path / "lib.yaml", CBR)
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["validate", "-"], input="input: [8, 8, 3]\ninclude: lib.yaml\n"
                                                         "layers:\n  - {block: cbr, out: 4}\n")
    assert result.exit_code == 0, result.output


def cases(tmp_path):
    """(spec path, line, column, words) for each refused include."""
    write(tmp_path / "a.yaml", "include: b.yaml\nblocks:\n  x: {layers: [relu]}\n")
    write(tmp_path / "b.yaml", "blocks:\n  y: {layers: [relu]}\ninclude:\n  - a.yaml\n")
    write(tmp_path / "self.yaml", "input: [4, 4, 1]\ninclude: self.yaml\nlayers: [relu]\n")
    (tmp_path / "folder.yaml").mkdir()
    write(tmp_path / "dup.yaml", CBR)
    write(tmp_path / "typo.yaml", "blocks:\n  x: {layers: [relu]}\ndescriptoin: x\n")
    big = tmp_path / "big.yaml"
    with open(big, "wb") as handle:
        handle.write(b"# " + b"x" * (16 * 1024 * 1024) + b"\nblocks: {}\n")
    return [
        ("input: [4, 4, 1]\ninclude: a.yaml\nlayers: [relu]\n", 4, 5,
         ["include cycle: a.yaml -> b.yaml -> a.yaml", "received: 'a.yaml'"]),
        (None, 2, 10, ["include cycle: self.yaml -> self.yaml"]),
        ("input: [4, 4, 1]\ninclude: [dup.yaml, nothere.yaml]\nlayers: [relu]\n", 2, 21,
         ["included file does not exist", "nothere.yaml"]),
        ("input: [4, 4, 1]\ninclude: folder.yaml\nlayers: [relu]\n", 2, 10,
         ["included file", "is a folder"]),
        ("input: [4, 4, 1]\ninclude: big.yaml\nlayers: [relu]\n", 2, 10,
         ["is larger than 16 MiB; refused"]),
        ("input: [4, 4, 1]\ninclude: 3\nlayers: [relu]\n", 2, 10,
         ["'include' must be a file path or a list of file paths"]),
        ("input: [4, 4, 1]\ninclude: dup.yaml\nblocks:\n  cbr: {layers: [relu]}\n"
         "layers: [relu]\n", 4, 3, ["block 'cbr' is defined twice", "dup.yaml"]),
        ("input: [4, 4, 1]\ninclude: typo.yaml\nlayers: [relu]\n", 3, 1,
         ["unknown key 'descriptoin'", "did you mean 'description'"]),
    ]


def test_refused_includes_say_where_and_why(tmp_path):
    for i, (text, line, column, words) in enumerate(cases(tmp_path)):
        spec = tmp_path / "self.yaml" if text is None else write(tmp_path / f"net{i}.yaml", text)
        d = error(spec)
        assert (d.span.line, d.span.column, d.exit_code) == (line, column, EXIT_UNREADABLE), \
            d.format()
        for word in words:
            assert word in d.format(), d.format()
        assert "\n" not in d.format()


def test_a_fifo_is_refused_quickly(tmp_path):
    """A FIFO is not a regular file: refused before it is opened (an open would block)."""
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)  # nobody writes: opening it would block; it is never opened
    spec = write(tmp_path / "net.yaml", "input: [4, 4, 1]\ninclude: pipe.yaml\nlayers: [relu]\n")
    d = error(spec)
    assert (d.span.line, d.span.column) == (2, 10) and "is not a regular file" in d.message
