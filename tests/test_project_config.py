"""`[tool.cnncalc]` in pyproject.toml: the specs a bare `cnncalc validate`, `summarize` or
`memory --batch 64` works on, and the defaults they take."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ZOO = ROOT / "cnncalc" / "zoo"
VGG16_PARAMS = 138_357_544  # torchvision's documented num_params for vgg16


def cnncalc(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "cnncalc", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "models").mkdir()
    for name in ("lenet5", "vgg16"):
        (tmp_path / "models" / f"{name}.yaml").write_text((ZOO / f"{name}.yaml").read_text())
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "demo"\n\n[tool.cnncalc]\nspecs = ["models/*.yaml"]\nbatch = 64\n'
        'dtype = "float16"\nbudget = {params = "30M"}\n')
    return tmp_path


def test_bare_validate_checks_every_spec_and_keeps_the_project_budget(project):
    done = cnncalc(project, "validate", "--format", "json")
    results = {Path(r["spec"]).name: r for r in json.loads(done.stdout)}
    assert set(results) == {"lenet5.yaml", "vgg16.yaml"}
    assert results["lenet5.yaml"]["exit_code"] == 0
    assert results["vgg16.yaml"]["exit_code"] == 1
    assert f"params {VGG16_PARAMS:,} over the budget of 30,000,000" in done.stdout
    assert done.returncode == 1


def test_a_limit_on_the_command_line_wins_over_the_project(project):
    done = cnncalc(project, "validate", "--max-params", "200M")
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_missions_command_memory_batch_64_with_no_spec(project):
    """`cnncalc memory --batch 64`: every project spec at batch 64, and the project's dtype."""
    bare = cnncalc(project, "memory", "--batch", "64", "--format", "json", "--", )
    assert bare.returncode == 0, bare.stderr
    explicit = cnncalc(project, "memory", "models/lenet5.yaml", "--batch", "64", "--dtype",
                       "float16", "--format", "json")
    first = json.loads(bare.stdout.split("\n}\n")[0] + "\n}")
    assert first == json.loads(explicit.stdout)
    assert first["batch"] == 64 and first["dtype"] == "float16"


def test_the_project_batch_is_the_default(project):
    done = cnncalc(project, "memory", "--format", "json")
    assert json.loads(done.stdout.split("\n}\n")[0] + "\n}")["batch"] == 64


def test_bare_summarize_shows_every_project_spec(project):
    done = cnncalc(project, "summarize", "--format", "csv")
    assert done.returncode == 0, done.stderr
    assert done.stdout.count(",TOTAL,") == 2
    assert f",TOTAL,,,1x1x1000,,{VGG16_PARAMS}," in done.stdout


def test_one_failing_spec_never_hides_the_others(project):
    (project / "models" / "broken.yaml").write_text("input: [8, 8, 3]\nlayers: [{type: conv}]\n")
    done = cnncalc(project, "summarize", "--format", "csv")
    assert done.returncode == 2
    assert done.stdout.count(",TOTAL,") == 2  # lenet5 and vgg16 still summarised
    assert done.stderr.count("\n") == 1 and "broken.yaml:2:" in done.stderr


def test_output_needs_one_spec(project):
    done = cnncalc(project, "summarize", "-o", "out.txt")
    assert done.returncode == 2 and "--output" in done.stderr
    assert not (project / "out.txt").exists()


@pytest.mark.parametrize(("text", "where", "words"), [
    ('[tool.cnncalc]\nspecs = ["m/*.yaml"]\nbatchh = 64\n', ":3:1:", "did you mean 'batch'"),
    ('[tool.cnncalc]\nspecs = ["m/*.yaml"]\ndtype = "float12"\n', ":3:1:", "dtype"),
    ('[tool.cnncalc]\nspecs = []\n', ":2:1:", "glob patterns"),
    ('[tool.cnncalc]\nspecs = ["nothing/*.yaml"]\n', "pyproject.toml:", "match no file"),
    ('[tool.cnncalc\nspecs = 1\n', "pyproject.toml:", "not valid TOML"),
    ('[tool.cnncalc]\nbudget = {params = "lots"}\n', ":2:1:", "'params' must be a whole count"),
])
def test_a_bad_project_table_is_one_line_exit_2(tmp_path, text, where, words):
    (tmp_path / "pyproject.toml").write_text(text)
    done = cnncalc(tmp_path, "validate")
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and where in done.stderr and words in done.stderr
    assert "Traceback" not in done.stderr


def test_no_spec_and_no_project_says_what_is_needed(tmp_path):
    done = cnncalc(tmp_path, "memory", "--batch", "64")
    assert done.returncode == 2
    assert "needs a spec" in done.stderr and "[tool.cnncalc]" in done.stderr
    assert done.stderr.count("\n") == 1


def test_a_command_given_a_spec_never_reads_the_project(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.cnncalc]\nbroken = \n")
    assert cnncalc(tmp_path, "summarize", "lenet5").returncode == 0
