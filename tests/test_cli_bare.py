"""The bare forms `summarize SPEC` and `validate SPEC...` run without typer (cli/bare.py):
the same bytes on stdout and stderr and the same exit code as through typer, and typer is
never imported."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from cnncalc.cli.bare import run_bare

ENV = {**os.environ, "COLUMNS": "120"}


def cnncalc(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cnncalc", *args], capture_output=True,
                          text=True, check=False, env=ENV, cwd=cwd)


@pytest.fixture
def specs(tmp_path):
    files = {
        "ok.yaml": "input: [32, 32, 3]\nlayers:\n  - {type: conv, filters: 8, kernel: 3}\n"
                   "  - relu\n  - {type: fc, units: 10}\n",
        "window.yaml": "input: [8, 8, 3]\nlayers:\n  - {type: conv, filters: 4, kernel: 9}\n",
        "syntax.yaml": "input: [8, 8, 3]\nlayers:\n  - {type: conv, filters: 4\n",
        "unknown.yaml": "input: [8, 8, 3]\nlayers:\n  - {type: convv, filters: 4}\n",
        "budget.yaml": "input: [32, 32, 3]\nbudget: {params: 10}\nlayers:\n"
                       "  - {type: conv, filters: 8, kernel: 3}\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return tmp_path


# (bare arguments, the options that send the same request through typer: each the default)
CASES = [
    (["summarize", "vgg16"], ["--format", "table"]),
    (["summarize", "resnet18"], ["--rf"]),  # a lint warning on stderr
    (["summarize", "ok.yaml"], ["--format", "table"]),
    (["summarize", "window.yaml"], ["--format", "table"]),  # exit 1, one line
    (["summarize", "syntax.yaml"], ["--format", "table"]),  # exit 2
    (["summarize", "unknown.yaml"], ["--format", "table"]),
    (["summarize", "missing.yaml"], ["--format", "table"]),
    (["validate", "ok.yaml"], ["--format", "text"]),
    (["validate", "vgg16", "ok.yaml", "window.yaml", "budget.yaml", "missing.yaml"],
     ["--format", "text"]),
    (["validate", "syntax.yaml", "unknown.yaml"], ["--format", "text"]),
]


@pytest.mark.parametrize("bare, defaults", CASES, ids=[" ".join(c[0]) for c in CASES])
def test_bare_form_prints_what_typer_prints(specs, bare, defaults):
    quick, typed = cnncalc(*bare, cwd=specs), cnncalc(*bare, *defaults, cwd=specs)
    assert "Traceback" not in quick.stderr
    assert (quick.returncode, quick.stdout, quick.stderr) == \
        (typed.returncode, typed.stdout, typed.stderr)


@pytest.mark.parametrize("bare, expected_exit", [(["summarize", "vgg16"], 0),
                                                 (["validate", "vgg16", "resnet18"], 0),
                                                 (["summarize", "window.yaml"], 1)])
def test_bare_form_never_imports_typer(specs, bare, expected_exit):
    code = (f"import sys; from cnncalc.cli import main; sys.argv = ['cnncalc', *{bare!r}]\n"
            "try:\n    main()\nexcept SystemExit as exc:\n    code = exc.code\n"
            "assert not [m for m in sys.modules if m.split('.')[0] in ('typer', 'click')], "
            "'typer imported'\nsys.exit(code)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False, cwd=specs)
    assert done.returncode == expected_exit, done.stderr


@pytest.mark.parametrize("argv", [[], ["summarize"], ["summarize", "-"],
                                  ["summarize", "vgg16", "--depth", "1"],
                                  ["summarize", "vgg16", "resnet18"], ["validate"],
                                  ["validate", "vgg16", "--strict"], ["--help"],
                                  ["memory", "vgg16"], ["summarize", "--help"]])
def test_anything_else_goes_to_typer(argv):
    assert run_bare(argv) is None
