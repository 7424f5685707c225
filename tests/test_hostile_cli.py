"""Hostile input at the command line: names that try to inject terminal escapes, workflow
commands, HTML, spreadsheet formulas or Markdown; outputs that would overwrite the user's
files; option errors that must stay one line. Every name passes through render/escape.py."""

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from cnncalc.cli import app

runner = CliRunner()
ESC_NAME = "evil\x1b]8;;http://x\x1b\\\\click\x1b]8;;\x1b\\\\\x1b[2J"


def spec_with(tmp_path, name: str, file="s.yaml"):
    path = tmp_path / file
    path.write_text("input: [8, 8, 3]\nlayers:\n"
                    f"  - {{name: {json.dumps(name)}, type: conv, filters: 4, kernel: 3}}\n"
                    "  - {type: fc, units: 2}\n")
    return path


@pytest.mark.parametrize("command", [["summarize"], ["memory"], ["validate", "--strict"],
                                     ["graph"], ["summarize", "--format", "markdown"]])
def test_no_escape_sequence_reaches_the_terminal(tmp_path, command):
    path = spec_with(tmp_path, ESC_NAME)
    result = runner.invoke(app, [*command, str(path)])
    assert result.exit_code in (0, 1)
    assert "\x1b" not in result.stdout + result.stderr
    assert "evil" in result.stdout + result.stderr  # shown, made harmless


def test_error_lines_are_escaped_too(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(f"input: [8, 8, 3]\nlayers:\n  - {{type: {json.dumps(ESC_NAME)}}}\n")
    result = subprocess.run([sys.executable, "-m", "cnncalc", "summarize", str(path)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 2 and "\x1b" not in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_github_annotations_cannot_be_injected(tmp_path):
    """GitHub's rules: escape %, CR and LF everywhere, and : and , in properties; a file name
    with a newline and a forged command stays inside one annotation line."""
    name = "x\n::error file=README.md,line=1::Approved"
    folder = tmp_path / name
    folder.mkdir()
    path = folder / "s.yaml"
    path.write_text("input: [8, 8, 3]\nlayers: [{type: conv, filters: 4, kernel: 3, "
                    "groups: 2}]\n")
    result = runner.invoke(app, ["validate", "--format", "github", str(path)])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("::error file=")
    assert "%0A::error file%3DREADME.md%2Cline%3D1::Approved" in lines[0] or \
        "%0A%3A%3Aerror" in lines[0]
    assert not any(line.startswith("::error file=README.md") for line in lines)


def test_strict_github_annotates_warnings_as_errors(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("input: [10, 10, 3]\nlayers: [{type: conv, filters: 4, kernel: 3, "
                    "stride: 2}]\n")  # (10 - 3)/2 + 1 = 4.5: the window does not tile
    loose = runner.invoke(app, ["validate", "--format", "github", str(path)])
    strict = runner.invoke(app, ["validate", "--strict", "--format", "github", str(path)])
    assert loose.exit_code == 0 and "::warning " in loose.stdout
    assert strict.exit_code == 1 and "::error " in strict.stdout and "::warning" not in strict.stdout


def test_html_mermaid_csv_and_markdown_escape_names(tmp_path):
    path = spec_with(tmp_path, '<script>alert("x")</script>|=HYPERLINK("http://x")')
    page = runner.invoke(app, ["summarize", "--format", "html", str(path)]).stdout
    assert "<script>alert" not in page and "&lt;script&gt;" in page
    mermaid = runner.invoke(app, ["graph", str(path)]).stdout
    assert "<script>" not in mermaid and '"' not in mermaid.split('["', 2)[2].split('"]')[0]
    formula = spec_with(tmp_path, '=HYPERLINK("http://x","y")', "f.yaml")
    csv = runner.invoke(app, ["summarize", "--format", "csv", str(formula)]).stdout
    import csv as csvmod
    cell = list(csvmod.reader(csv.splitlines()))[1][1]
    assert cell.startswith("'=HYPERLINK")  # a leading quote: no spreadsheet formula
    markdown = runner.invoke(app, ["summarize", "--format", "markdown", str(path)]).stdout
    row = next(line for line in markdown.splitlines() if "script" in line)
    assert row.count(" | ") == len(next(line for line in markdown.splitlines()
                                         if line.startswith("| #")).split(" | ")) - 1


@pytest.mark.parametrize("command", [["summarize"], ["memory"], ["graph"]])
def test_output_never_overwrites_without_force_and_never_the_spec(tmp_path, command):
    spec = spec_with(tmp_path, "a")
    before = spec.read_text()
    itself = runner.invoke(app, [*command, str(spec), "--output", str(spec), "--force"])
    assert itself.exit_code == 2 and spec.read_text() == before
    existing = tmp_path / "out.txt"
    existing.write_text("mine")
    refused = runner.invoke(app, [*command, str(spec), "--output", str(existing)])
    assert refused.exit_code == 2 and "--force" in refused.stderr
    assert existing.read_text() == "mine"
    forced = runner.invoke(app, [*command, str(spec), "--output", str(existing), "--force"])
    assert forced.exit_code == 0 and existing.read_text() != "mine"
    missing = runner.invoke(app, [*command, str(spec), "--output", str(tmp_path / "no" / "x")])
    assert missing.exit_code == 2 and "does not exist" in missing.stderr


def test_schema_output_and_init_quote_names(tmp_path):
    target = tmp_path / "schema.json"
    assert runner.invoke(app, ["schema", "--output", str(target)]).exit_code == 0
    assert runner.invoke(app, ["schema", "--output", str(target)]).exit_code == 2
    name = tmp_path / "my net: v2"
    assert runner.invoke(app, ["init", str(name)]).exit_code == 0
    assert runner.invoke(app, ["validate", f"{name}.yaml"]).exit_code == 0


@pytest.mark.parametrize("args", [["summarize", "lenet5", "-q"], ["summarize"],
                                  ["frob"], ["summarize", "lenet5", "--depth", "-1"],
                                  ["memory", "lenet5", "--batch", "²"],
                                  ["memory", "lenet5", "--batch", "9" * 5000]])
def test_option_errors_are_one_line_exit_2(args):
    result = subprocess.run([sys.executable, "-m", "cnncalc", *args], capture_output=True,
                            text=True, check=False)
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.splitlines()) == 1 and "error:" in result.stderr
    assert "internal error" not in result.stderr and len(result.stderr) < 400


GOOD = "input: [8, 8, 3]\nlayers: [{type: conv, filters: 4, kernel: 3}, {type: fc, units: 2}]\n"
IMPOSSIBLE = "input: [8, 8, 3]\nlayers: [{type: conv, filters: 4, kernel: 3, groups: 2}]\n"
MALFORMED = "input: [8, 8, 3]\nlayers: [{type: conv, filters: four, kernel: 3}]\n"


@pytest.mark.parametrize("command", [["summarize"], ["validate"], ["memory"], ["run"],
                                     ["explain", "SPEC", "conv1"], ["graph"],
                                     ["compare", "SPEC", "lenet5"], ["report", "SPEC", "-o", "OUT"],
                                     ["convert", "SPEC", "-o", "OUT"]])
def test_exit_codes_follow_the_readme_table_for_every_command(tmp_path, command):
    """0 valid, 1 impossible, 2 malformed (README's table), for every command that reads a
    spec (layers, zoo, schema and init read none; their option errors are exit 2 as below)."""
    codes = []
    for text in (GOOD, IMPOSSIBLE, MALFORMED):
        path = tmp_path / "s.yaml"
        path.write_text(text)
        out = tmp_path / f"out{len(codes)}"
        args = [str(path) if a == "SPEC" else str(out) if a == "OUT" else a for a in command]
        if "SPEC" not in command:
            args.append(str(path))
        codes.append(runner.invoke(app, args).exit_code)
    assert codes == [0, 1, 2]
