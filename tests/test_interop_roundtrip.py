"""Spec -> PyTorch (`cnncalc export`) -> ONNX (torch.onnx.export, the legacy exporter) ->
spec (`cnncalc import`): every total survives the trip. An inference export has no Dropout
node, so the dropout layers' outputs leave the activation total, and only them."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOTALS = ("params", "trainable_params", "non_trainable_params", "connections", "macs", "flops")


def cnncalc(*args):
    done = subprocess.run([sys.executable, "-m", "cnncalc", *args], cwd=ROOT,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def summary(spec, *args):
    return json.loads(cnncalc("summarize", spec, *args, "--format", "json"))


@pytest.mark.slow
@pytest.mark.parametrize("name, size", [
    ("resnet18", "64x64x3"), ("mobilenet_v2", "64x64x3"), ("shufflenet_v2_x1_0", "64x64x3"),
    ("squeezenet1_1", "64x64x3"), ("convnext_tiny", "64x64x3"), ("r3d_18", "8x32x32x3"),
    ("m5", "4000x1")])
def test_spec_to_pytorch_to_onnx_to_spec_keeps_every_total(tmp_path, name, size):
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    model_py, model_onnx = tmp_path / "model.py", tmp_path / "model.onnx"
    cnncalc("export", name, "--input", size, "--to", "pytorch", "-o", str(model_py))
    spec = importlib.util.spec_from_file_location(f"roundtrip_{name}", model_py)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    *spatial, channels = map(int, size.split("x"))
    torch.onnx.export(module.Model().eval(), (torch.randn(1, channels, *spatial),),
                      str(model_onnx), dynamo=False, do_constant_folding=False,
                      training=torch.onnx.TrainingMode.PRESERVE)  # keep batch norms as such
    before, after = summary(name, "--input", size), summary(str(model_onnx))
    assert {k: after["totals"][k] for k in TOTALS} == {k: before["totals"][k] for k in TOTALS}
    dropped = sum(layer["activations"] for layer in before["layers"]
                  if layer["type"] == "dropout")
    assert after["totals"]["activations"] == before["totals"]["activations"] - dropped
    assert after["layers"][-1]["output_shape"] == before["layers"][-1]["output_shape"]
