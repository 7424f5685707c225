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


NAMED = """
input: [8, 8, 4]
layers:
  - {name: a, type: conv, filters: 8, kernel: 1}
  - {name: b, type: conv, filters: 8, kernel: 1}
  - {name: c, type: concat, inputs: [b, a]}
  - {name: d, type: conv, filters: 64, kernel: 1}
  - {name: e, type: conv, filters: 4, kernel: 1}
"""


def test_named_tensor_lives_until_the_forward_returns():
    """`a`, named by `c`, is a local of the forward: alive through d (the peak) by default,
    freed after c with --free-at-last-use: the peaks differ by a's bytes, 8x8x8 float32."""
    from cnncalc.analysis.analyze import analyze
    from cnncalc.analysis.simulate import StepSettings, simulate
    network = loads(NAMED)
    report = analyze(network)
    held = simulate(network, report, StepSettings(1, mode="inference"))
    freed = simulate(network, report, StepSettings(1, mode="inference", free_at_last_use=True))
    assert held.layer == freed.layer == "d"
    assert held.peak - freed.peak == 8 * 8 * 8 * 4


@pytest.mark.slow
@pytest.mark.parametrize("batch", [1, 8])
def test_unet_inference_as_export_writes_it_within_5_percent(tmp_path, batch):
    """U-Net (572x572) run as `cnncalc export` writes it (its skip tensors are locals until
    forward returns), 2026-12-04: batch 1 0.967 (freed at last use: 0.772), batch 8 0.958
    (3,377,747,976 against 3,524,220,936 B)."""
    torch = pytest.importorskip("torch")
    import importlib.util
    root = Path(__file__).resolve().parents[1] / "benchmarks"
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    import memory_truth
    module = tmp_path / "unet_model.py"
    assert CliRunner().invoke(app, ["export", "unet", "--to", "pytorch", "-o",
                                    str(module)]).exit_code == 0
    spec = importlib.util.spec_from_file_location("unet_model", module)
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    torch.manual_seed(0)
    measured = memory_truth.measure(loaded.Model(), torch.randn(batch, 1, 572, 572),
                                    "inference", None)
    result = CliRunner().invoke(app, ["memory", "unet", "--batch", str(batch), "--backend",
                                      "cpu", "--format", "json"])
    ours = json.loads(result.stdout)["peak_inference_bytes"]
    assert abs(ours / measured["peak_bytes"] - 1) <= 0.05


@pytest.mark.slow
def test_r3d_18_training_with_the_strided_3d_backward_clone():
    """torchvision's R3D-18, SGD, batch 1: the peak is in layer2's first (stride-2) conv's
    backward, which makes its input gradient twice: 449,695,344 B measured 2026-12-04;
    without the clone cnncalc said 0.981, with it 1.009."""
    torch = pytest.importorskip("torch")
    root = Path(__file__).resolve().parents[1] / "benchmarks"
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    import memory_truth
    torchvision = memory_truth._torchvision()
    torch.manual_seed(0)
    measured = memory_truth.measure(torchvision.models.video.r3d_18(weights=None),
                                    torch.randn(1, 3, 16, 112, 112), "training", "sgd")
    result = CliRunner().invoke(app, ["memory", "r3d_18", "--mode", "training", "--backend",
                                      "cpu", "--format", "json"])
    ours = json.loads(result.stdout)["peak_bytes"]
    assert abs(ours / measured["peak_bytes"] - 1) <= 0.05
