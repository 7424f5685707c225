"""Every output format from the same report: golden files (rewrite with --update-golden),
rows that add up to totals, schema validation, diagrams, CI annotations and budgets."""

import csv
import io
import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from cnncalc.cli import app
from cnncalc.language.schema import spec_schema
from cnncalc.zoo import names, path_of

runner = CliRunner()
GOLDEN = Path(__file__).parent / "golden"
WIDE = {"COLUMNS": "120", "NO_COLOR": "1"}


def run(*args, env=WIDE, input=None):
    return runner.invoke(app, list(args), env=env, input=input)


@pytest.mark.parametrize("name, args", [
    ("lenet5.table.txt", ["summarize", "lenet5"]),
    ("lenet5.md", ["summarize", "lenet5", "--format", "markdown"]),
    ("lenet5.csv", ["summarize", "lenet5", "--format", "csv"]),
    ("resnet18.depth1.txt", ["summarize", "resnet18", "--depth", "1", "--no-rf"]),
    ("vgg16.memory.md", ["memory", "vgg16", "--batch", "64", "--format", "markdown"]),
])
def test_golden(name, args, update_golden):
    result = run(*args)
    assert result.exit_code == 0, result.output
    path = GOLDEN / name
    if update_golden:
        path.write_text(result.stdout)
    assert result.stdout == path.read_text(), "differs; rerun with --update-golden if intended"


def test_golden_numbers_come_from_the_notes():
    """The golden files are checked against outside figures too, not only against themselves."""
    table = (GOLDEN / "lenet5.table.txt").read_text()
    for figure in ("122,304", "5,880", "151,600", "2,000", "48,120", "10,164", "340,908",
                   "60,000"):
        assert figure in table
    memory = (GOLDEN / "vgg16.memory.md").read_text()
    assert f"| forward_bytes | {64 * 15_237_608 * 4:,} |" in memory  # the notes' rows, batch 64


def test_csv_rows_add_up_to_the_total_row():
    rows = list(csv.DictReader(io.StringIO(run("summarize", "resnet50", "--format", "csv").stdout)))
    body, total = rows[:-1], rows[-1]
    assert total["name"] == "TOTAL"
    for key in ("params", "connections", "macs", "flops", "activations"):
        assert sum(int(r[key]) for r in body) == int(total[key])
    assert int(total["params"]) == 25_610_152 and int(total["trainable_params"]) == 25_557_032


def test_markdown_totals_match_json():
    md = run("summarize", "vgg16", "--format", "markdown").stdout
    assert "| macs | 15,470,264,320 | 15.5 G |" in md
    assert md.count("\n| ") >= 21


@pytest.mark.parametrize("fmt, marker", [("html", "<!DOCTYPE html>"), ("svg", "<svg")])
def test_html_and_svg_are_the_rich_table(fmt, marker, tmp_path):
    out = tmp_path / f"lenet.{fmt}"
    result = run("summarize", "lenet5", "--format", fmt, "--output", str(out))
    assert result.exit_code == 0 and result.stdout == ""
    text = out.read_text()
    assert marker in text and "C3" in text


def test_no_ansi_off_a_terminal_or_with_no_color():
    assert "\x1b[" not in run("summarize", "vgg16").stdout
    assert "\x1b[" not in run("memory", "vgg16").stdout


def test_spec_from_standard_input():
    text = path_of("lenet5").read_text()
    data = json.loads(run("summarize", "-", "--format", "json", input=text).stdout)
    assert data["totals"]["connections"] == 340_908


def test_schema_accepts_every_shipped_spec():
    schema = json.loads(run("schema").stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for name in names():
        errors = list(validator.iter_errors(yaml.safe_load(path_of(name).read_text())))
        assert not errors, (name, errors[0].message)
    assert schema == spec_schema()


@pytest.mark.parametrize("text", [
    "input: [32, 32, 3]\nlayers:\n  - {type: conv, filter: 8, kernel: 3}\n",  # unknown key
    "input: [32, 32, 3]\nlayers:\n  - {type: conv, filters: true, kernel: 3}\n",  # bool
    "input: [32, 32, 3]\nlayers:\n  - {type: convolution, filters: 8, kernel: 3}\n",
    "layers: [relu]\n",  # no input
    "input: [32, 32, 3]\nlayers:\n  - {type: pool, mode: mean, kernel: 2}\n",
    "input: [32, 32, 3]\nlayers: [relu]\nbudget: {parms: 5M}\n",
])
def test_wrong_specs_are_rejected_by_the_schema_and_by_validate(text, tmp_path):
    validator = jsonschema.Draft202012Validator(spec_schema())
    assert list(validator.iter_errors(yaml.safe_load(text)))
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    assert run("validate", str(path)).exit_code == 2


def test_graph_mermaid_and_dot_show_branches():
    mermaid = run("graph", "resnet18").stdout
    assert mermaid.startswith("flowchart TD") and "-->" in mermaid
    adds = [line for line in mermaid.splitlines() if ": add" in line]
    assert adds  # each residual add has two incoming edges
    add_id = adds[0].split("[")[0].strip()
    assert sum(line.endswith(f"--> {add_id}") for line in mermaid.splitlines()) == 2
    dot = run("graph", "googlenet", "--format", "dot").stdout
    assert dot.startswith("digraph cnncalc {") and dot.rstrip().endswith("}")
    assert "concat" in dot


def test_validate_github_annotations_and_json(tmp_path):
    path = tmp_path / "net.yaml"
    path.write_text("input: [32, 32, 3]\nlayers:\n  - {type: conv, filters: 8, kernel: 3}\n"
                    "  - {type: conv, filters: 8, kernel: 3, groups: 3}\n")
    result = run("validate", "--format", "github", str(path))
    assert result.exit_code == 1
    assert result.stdout.startswith(f"::error file={path},line=4,col=")
    data = json.loads(run("validate", "--format", "json", str(path), "lenet5").stdout)
    assert [d["exit_code"] for d in data] == [1, 0]
    assert data[0]["problems"][0]["line"] == 4 and data[1]["totals"]["params"] == 60_840


def test_budgets_from_the_spec_and_the_command_line(tmp_path):
    path = tmp_path / "net.yaml"
    path.write_text(path_of("vgg16").read_text().replace(
        "name: VGG-16", "name: VGG-16\nbudget: {params: 100M, memory: 1GiB, batch: 8}"))
    result = run("validate", str(path))
    assert result.exit_code == 1
    assert "params 138,357,544 over the budget of 100,000,000 (most: fc6 102,764,544" in \
        result.stdout
    assert "inference memory" not in result.stdout  # 8 x 6,422,528 x 4 B + params < 1 GiB
    assert run("validate", str(path), "--max-params", "200M").exit_code == 0
    tight = run("validate", "vgg16", "--max-memory", "100MiB")
    assert tight.exit_code == 1 and "over the budget of 100.0 MiB" in tight.stdout
    assert run("validate", "vgg16", "--max-macs", "16G").exit_code == 0
    assert run("validate", "vgg16", "--max-macs", "15G").exit_code == 1
    bad = run("validate", "vgg16", "--max-params", "lots")
    assert bad.exit_code == 2 and "--max-params" in bad.stderr


def test_zoo_init_and_compare(tmp_path, monkeypatch):
    zoo = json.loads(run("zoo", "--format", "json").stdout)
    assert {row["name"] for row in zoo} == set(names())
    assert next(r for r in zoo if r["name"] == "vgg16")["macs"] == 15_470_264_320
    assert "vgg16" in run("zoo").stdout
    monkeypatch.chdir(tmp_path)
    assert run("init", "mine").exit_code == 0 and run("validate", "mine.yaml").exit_code == 0
    assert run("init", "mine").exit_code == 2  # never overwrites
    assert run("init", "copy", "--from", "resnet18").exit_code == 0
    same = json.loads(run("compare", "copy.yaml", "resnet18", "--format", "json").stdout)
    assert all(t["difference"] == 0 for t in same["totals"]) and same["layers"] == []
    diff = json.loads(run("compare", "vgg11", "vgg16", "--format", "json").stdout)
    params = next(t for t in diff["totals"] if t["key"] == "params")
    assert params["difference"] == 138_357_544 - 132_863_336
    assert any(layer.get("only_in") == "b" for layer in diff["layers"])  # conv1_2 is new


def test_input_sweep_one_row_per_size():
    data = json.loads(run("summarize", "resnet18", "--input", "224,448", "--format",
                          "json").stdout)
    macs = [row["macs"] for row in data["sweep"]]
    assert [row["input"] for row in data["sweep"]] == [[224, 224, 3], [448, 448, 3]]
    assert macs[1] - 512_000 == 4 * (macs[0] - 512_000)  # convs scale with area; fc does not
    memory = json.loads(run("memory", "vgg16", "--input", "224,384", "--format", "json").stdout)
    assert memory["sweep"][0]["activation_values"] == 15_237_608


def test_schema_and_graph_write_files(tmp_path):
    schema_file, graph_file = tmp_path / "s.json", tmp_path / "g.mmd"
    assert run("schema", "--output", str(schema_file)).exit_code == 0
    assert json.loads(schema_file.read_text())["$schema"].endswith("2020-12/schema")
    assert run("graph", "lenet5", "--output", str(graph_file)).exit_code == 0
    assert graph_file.read_text().startswith("flowchart TD")
    assert run("graph", "lenet5", "--format", "png").exit_code == 2


def test_memory_output_file_and_formats(tmp_path):
    out = tmp_path / "m.txt"
    assert run("memory", "vgg16", "--output", str(out)).exit_code == 0
    assert "58.1 MiB" in out.read_text() and "\x1b[" not in out.read_text()
    rows = list(csv.reader(io.StringIO(run("memory", "lenet5", "--format", "csv").stdout)))
    assert rows[0] == ["name", "type", "values_per_sample", "bytes", "allocates"]
    assert ["TOTAL", "forward_bytes", "", str(4 * 9118), ""] in rows  # LeNet-5: 9,118 values
    assert "<svg" in run("memory", "lenet5", "--format", "svg").stdout
