"""Options consistent across commands: -o/--output wherever a file is written, --input and
--arg wherever a spec is analysed, --columns honoured by every tabular format or refused."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LENET_C1 = (5 * 5 * 1 + 1) * 6  # 156 params (the notes' LeNet-5 table)
LENET_C1_MACS = 28 * 28 * 6 * 5 * 5 * 1  # 117,600


def cnncalc(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cnncalc", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize("argv", [
    ["summarize", "lenet5"], ["memory", "lenet5"], ["graph", "lenet5"], ["schema"],
    ["compare", "lenet5", "lenet5"], ["report", "lenet5"],
])
def test_short_o_writes_the_file(tmp_path, argv):
    out = tmp_path / "out.txt"
    done = cnncalc(*argv, "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert out.stat().st_size > 0


def test_compare_takes_input_for_both():
    done = cnncalc("compare", "lenet5", "lenet5", "--input", "36x36x1", "--format", "json")
    data = json.loads(done.stdout)
    assert data["a"]["input"] == data["b"]["input"] == [36, 36, 1]
    bad = cnncalc("compare", "lenet5", "vgg16", "--arg", "nothing=1")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "nothing" in bad.stderr


def test_validate_and_graph_take_input():
    done = cnncalc("validate", "lenet5", "--input", "36x36x1")
    assert done.returncode == 0, done.stderr
    graph = cnncalc("graph", "lenet5", "--input", "36x36x1")
    assert "32x32x6" in graph.stdout  # C1: (36 - 5)/1 + 1 = 32


def test_convert_takes_input(tmp_path):
    out = tmp_path / "flat.yaml"
    assert cnncalc("convert", "lenet5", "-o", str(out), "--input", "36x36x1").returncode == 0
    assert "input: [36, 36, 1]" in out.read_text()


def test_columns_choose_the_csv_columns():
    done = cnncalc("summarize", "lenet5", "--format", "csv", "--columns", "name,params,macs")
    rows = list(csv.reader(io.StringIO(done.stdout)))
    assert rows[0] == ["name", "params", "macs"]
    assert rows[1] == ["C1", str(LENET_C1), str(LENET_C1_MACS)]
    assert rows[-1][0] == "TOTAL" and rows[-1][1] == "60840"  # LeNet-5 with its 840 RBF values


def test_columns_choose_the_markdown_columns():
    done = cnncalc("summarize", "lenet5", "--format", "markdown", "--columns", "name,params")
    assert "| name | params |" in done.stdout and f"| C1 | {LENET_C1:,} |" in done.stdout
    assert "MACs" not in done.stdout.split("| total |")[0]


@pytest.mark.parametrize("format", ["json", "html", "svg"])
def test_columns_are_refused_where_they_cannot_apply(format):
    done = cnncalc("summarize", "lenet5", "--format", format, "--columns", "name")
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "--columns" in done.stderr and format in done.stderr and done.stdout == ""
