"""Branch order as the spec writes it: a residual whose `shortcut:` comes before its `body:`
runs the shortcut first (torchvision's RegNet computes `self.proj(x) + self.f(x)`), so the
projection's output is alive through the body (measured: RegNetY-400MF inference)."""

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cnncalc.cli import app
from cnncalc.language.document import loads

SPEC = """
input: [8, 8, 4]
layers:
  - residual:
      {first}:
        - {{name: {first_name}, type: conv, filters: 8, kernel: 1}}
      {second}:
        - {{name: {second_name}, type: conv, filters: 8, kernel: 1}}
"""


@pytest.mark.parametrize("first, second", [("body", "shortcut"), ("shortcut", "body")])
def test_residual_runs_in_the_written_order(first, second):
    network = loads(SPEC.format(first=first, second=second, first_name=first + "_conv",
                                second_name=second + "_conv"))
    names = [node.name.split(".")[-1] for node in network.nodes]
    assert names.index(first + "_conv") < names.index(second + "_conv")


@pytest.mark.slow
@pytest.mark.parametrize("batch", [1, 8])
def test_regnet_y_400mf_inference_within_5_percent(batch):
    """Shortcut first: 1.000 at batch 1 and 8 (body first: 0.977 and 0.942), 2026-12-04."""
    torch = pytest.importorskip("torch")
    root = Path(__file__).resolve().parents[1] / "benchmarks"
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    import memory_truth
    torch.manual_seed(0)
    measured = memory_truth.measure(memory_truth.build("regnet_y_400mf"),
                                    torch.randn(batch, 3, 224, 224), "inference", None)
    result = CliRunner().invoke(app, ["memory", "regnet_y_400mf", "--batch", str(batch),
                                      "--backend", "cpu", "--format", "json"])
    ours = json.loads(result.stdout)["peak_inference_bytes"]
    assert abs(ours / measured["peak_bytes"] - 1) <= 0.05
