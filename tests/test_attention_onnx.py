"""ONNX import of the layer norm that exporters before opset 17 write without the
LayerNormalization op (ReduceMean, Sub, Pow, ReduceMean, Add, Sqrt, Div, then Mul and Add):
PyTorch's legacy exporter at opset 13, against the module's parameters and FlopCounterMode."""

from __future__ import annotations

import contextlib
import io
import warnings

import pytest

from cnncalc.analysis.analyze import analyze
from cnncalc.interop.onnx_import import load_onnx

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
nn = torch.nn


class ChannelsLastNorm(nn.Module):
    """A conv, then ConvNeXt's LayerNorm2d (permute, nn.LayerNorm, permute back)."""

    def __init__(self, **norm):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.norm = nn.LayerNorm(8, **norm)

    def forward(self, x):
        return self.norm(self.conv(x).permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


def imported(module, x, tmp_path, opset=13):
    path = tmp_path / "model.onnx"
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(module.eval(), (x,), str(path), dynamo=False, opset_version=opset)
    network, _, _ = load_onnx(str(path))
    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert "LayerNormalization" not in ops
    return network, analyze(network), ops


@pytest.mark.parametrize("norm, types, eps", [
    ({"eps": 1e-6}, ["conv", "layernorm"], 1e-6),
    ({}, ["conv", "layernorm"], 1e-5),
    ({"bias": False}, ["conv", "layernorm", "scale"], 1e-5),
    ({"elementwise_affine": False}, ["conv", "layernorm"], 1e-5),
])
def test_layer_norm_before_opset_17_is_imported(tmp_path, norm, types, eps):
    module = ChannelsLastNorm(**norm)
    x = torch.randn(1, 3, 8, 8)
    network, report, ops = imported(module, x, tmp_path)
    assert {"ReduceMean", "Sub", "Pow", "Sqrt", "Div"} <= ops
    assert [node.layer.type_name for node in network.nodes] == types
    assert network.nodes[1].layer.eps == eps
    assert network.nodes[1].layer.affine == (types == ["conv", "layernorm"] and
                                             norm.get("elementwise_affine", True))
    assert report.totals.params == sum(p.numel() for p in module.parameters())


def test_convnext_tiny_at_opset_13_imports_with_torchvisions_counts(tmp_path, monkeypatch):
    """torchvision's ConvNeXt-Tiny, exported at opset 13, at 64x64: its parameters and the
    multiply-adds FlopCounterMode counts (cnncalc refused its layer norms before)."""
    monkeypatch.setattr(torch.library, "register_fake", lambda *a, **k: (lambda f: f))
    models = pytest.importorskip("torchvision.models")
    model = models.convnext_tiny().eval()
    x = torch.zeros(1, 3, 64, 64)
    network, report, _ = imported(model, x, tmp_path)
    from torch.utils.flop_counter import FlopCounterMode
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x)
    assert report.totals.params == sum(p.numel() for p in model.parameters())
    assert report.totals.macs == counter.get_total_flops() // 2
    norms = sum(node.layer.type_name == "layernorm" for node in network.nodes)
    assert norms == 1 + 3 + (3 + 3 + 9 + 3) + 1  # stem, downsamplers, blocks, head
