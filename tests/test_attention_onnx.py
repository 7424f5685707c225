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


def imported(module, x, tmp_path, opset=13, **options):
    path = tmp_path / "model.onnx"
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(module.eval(), (x,), str(path), dynamo=False, opset_version=opset,
                          **options)
    network, _, _ = load_onnx(str(path))
    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
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
    assert "LayerNormalization" not in ops
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
    network, report, ops = imported(model, x, tmp_path)
    assert "LayerNormalization" not in ops
    from torch.utils.flop_counter import FlopCounterMode
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x)
    assert report.totals.params == sum(p.numel() for p in model.parameters())
    assert report.totals.macs == counter.get_total_flops() // 2
    norms = sum(node.layer.type_name == "layernorm" for node in network.nodes)
    assert norms == 1 + 3 + (3 + 3 + 9 + 3) + 1  # stem, downsamplers, blocks, head


def exported_then_imported(tmp_path, spec_text, size):
    """The spec -> `cnncalc export --to pytorch` -> torch.onnx.export -> cnncalc's import."""
    import importlib.util

    from cnncalc.interop.pytorch_export import export
    from cnncalc.language.document import loads
    before = loads(spec_text)
    model_py = tmp_path / "model.py"
    model_py.write_text(export(before, analyze(before), "spec"))
    spec = importlib.util.spec_from_file_location(f"attention_{abs(hash(spec_text))}", model_py)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    *spatial, channels = size
    network, report, _ = imported(module.Model(), torch.randn(1, channels, *spatial), tmp_path,
                                  opset=17, do_constant_folding=False,
                                  training=torch.onnx.TrainingMode.PRESERVE)  # batch norms kept
    return analyze(before), network, report


ROUND_TRIPS = [
    ("{type: attention, heads: 2}", [6, 4, 8]),
    ("{type: attention, heads: 2, key_dim: 3, patch: [2, 1]}", [6, 4, 8]),
    ("{type: attention, heads: 2, key_dim: 1, qkv: false, out: false, layout: per_head}",
     [4, 4, 12]),
    ("{type: attention, heads: 4, bias: false}", [12, 8]),
    ("{type: attention, heads: 2, areas: 4}", [4, 6, 8]),
]


@pytest.mark.parametrize("layer, size", ROUND_TRIPS)
def test_exported_attention_is_imported_as_attention(tmp_path, layer, size):
    """MatMul, Split, Reshape, Transpose, Mul, Softmax, MatMul, ...: one attention layer with
    the settings it was exported from."""
    text = (f"input: {size}\nlayers:\n  - {{type: conv, filters: {size[-1]}, kernel: 1}}\n"
            f"  - {layer}\n  - relu\n")
    ours, network, theirs = exported_then_imported(tmp_path, text, size)
    from cnncalc.language.document import loads
    expected = loads(text).nodes[1].layer
    assert [n.layer.type_name for n in network.nodes] == ["conv", "attention", "relu"]
    assert network.nodes[1].layer.at(len(size) - 1) == expected.at(len(size) - 1)
    assert (theirs.totals.params, theirs.totals.macs, theirs.totals.flops) == \
        (ours.totals.params, ours.totals.macs, ours.totals.flops)


def test_mobilevit_xxs_round_trip_keeps_every_count(tmp_path):
    """The zoo's MobileViT-XXS at 64x64 through PyTorch and ONNX: the same totals, with
    its nine attention layers imported as attention."""
    from cnncalc.zoo import path_of
    text = path_of("mobilevit").read_text().replace("input: [256, 256, 3]",  # the family:
                                                    "input: [64, 64, 3]")  # size xxs
    assert "size: xxs" in text
    ours, network, theirs = exported_then_imported(tmp_path, text, [64, 64, 3])
    assert sum(n.layer.type_name == "attention" for n in network.nodes) == 2 + 4 + 3
    for total in ("trainable_params", "non_trainable_params", "macs", "flops"):
        assert getattr(theirs.totals, total) == getattr(ours.totals, total), total
