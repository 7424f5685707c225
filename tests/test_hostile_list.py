"""The hostile tester's list, case by case: each input that once ended in an internal error
(exit 70), a hang or a silently wrong result now gets one line and exit 1 or 2."""

import time

import pytest
from typer.testing import CliRunner

from cnncalc.cli import app

runner = CliRunner()
HEAD = "input: [8, 8, 3]\nlayers:\n"


def one_line(result, codes=(1, 2)):
    stream = result.stdout if not result.stderr.strip() else result.stderr
    assert result.exit_code in codes, (result.exit_code, result.stderr[:300], result.stdout[:300])
    assert "internal error" not in result.stderr + result.stdout
    assert len(stream.strip().splitlines()) == 1, stream[:500]
    assert len(stream) < 2000  # no 600 KB echo
    return stream


SPECS = {
    "hex filters with 4,000 digits": HEAD + "  - {type: conv, filters: 0x" + "f" * 4000
    + ", kernel: 3}\n",
    "padding of 400 zeros": HEAD + "  - {type: conv, filters: 4, kernel: 3, padding: 1"
    + "0" * 400 + "}\n",
    "fc units with 3,000 digits": HEAD + "  - {type: fc, units: " + "9" * 3000 + "}\n",
    "block name a list": HEAD + "  - {block: [a]}\n",
    "block named 1": "input: [8, 8, 3]\nblocks: {1: {layers: [relu]}}\nlayers: [relu]\n",
    "budget dtype a list": HEAD + "  - relu\nbudget: {dtype: [float32]}\n",
    "lint ignore nested": HEAD + "  - relu\nlint: {ignore: [[a]]}\n",
    "layers a string": "input: [8, 8, 3]\nlayers: relu\n",
    "branch not a list": HEAD + "  - branches: [[relu], relu]\n",
    "eps infinite": HEAD + "  - {type: batchnorm, eps: .inf}\n",
    "alpha infinite": HEAD + "  - {type: elu, alpha: .inf}\n",
    "slope infinite": HEAD + "  - {type: leaky_relu, negative_slope: .inf}\n",
    "lrn k and alpha 0": HEAD + "  - {type: lrn, k: 0, alpha: 0}\n",
    "filters 010 (YAML 1.1 octal)": HEAD + "  - {type: conv, filters: 010, kernel: 3}\n",
    "kernel 1:30 (YAML 1.1 base 60)": HEAD + "  - {type: conv, filters: 4, kernel: 1:30}\n",
    "input with leading zeros": "input: 010x010x3\nlayers: [relu]\n",
    "budget of half a parameter": HEAD + "  - relu\nbudget: {params: 0.5}\n",
    "a layer named input": HEAD + "  - {type: relu, name: input}\n",
    "a number as a top-level key": "1: x\n",
    "a number as a layer setting key": HEAD + "  - {type: relu, 2: 3}\n",
    "a 600 KB key": HEAD + "  - {type: relu, " + "k" * 600_000 + ": 1}\n",
}


@pytest.mark.parametrize("name", list(SPECS))
def test_hostile_spec_is_one_line(name, tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(SPECS[name])
    for command in (["summarize", str(path)], ["validate", str(path)]):
        one_line(runner.invoke(app, command))


@pytest.mark.parametrize("args", [
    ["summarize", "lenet5", "--input", "1x1x" + "9" * 5000],
    ["memory", "lenet5", "--device-memory", "9" * 400],
    ["validate", "lenet5", "--max-params", "9" * 400],
    ["memory", "lenet5", "--batch", "²"],
    ["run", "lenet5", "--seed", "-1"],
])
def test_hostile_option_is_one_line(args):
    one_line(runner.invoke(app, args), codes=(2,))


@pytest.mark.parametrize("text", [
    # arguments substituted at every nesting level: 10^8 values once
    "input: [8, 8, 3]\nblocks:\n" + "".join(
        f"  b{i}: {{args: {{a: null}}, layers: [{{block: b{i + 1}, a: [$a, $a, $a, $a, $a, $a, "
        f"$a, $a, $a, $a]}}]}}\n" for i in range(8)) + "  b8: {args: {a: null}, layers: [relu]}\n"
    "layers: [{block: b0, a: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}]\n",
    HEAD + "  - {type: relu, repeat: 1000000}\n",
    HEAD + "  - {type: pool, mode: avg, output: [100000, 100000]}\n",
    HEAD + "  - {type: conv, filters: 1, kernel: 100000000000, padding: 100000000000}\n",
])
def test_blow_ups_end_quickly(text, tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(text)
    start = time.perf_counter()
    result = runner.invoke(app, ["validate", str(path)])
    assert time.perf_counter() - start < 10
    assert result.exit_code in (0, 1, 2) and "internal error" not in result.stdout + result.stderr
