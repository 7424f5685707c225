"""MobileViT-XXS, XS and S (the zoo's hybrid CNNs with attention) against timm.

The figures were measured with torch 2.13.0 (CPU) and timm 1.0.31 on 2026-12-04 as
    model = timm.create_model(name, pretrained=False).eval()
    for module in model.modules():           # fused_attn False: the explicit matmuls
        if hasattr(module, "fused_attn"):
            module.fused_attn = fused
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, 3, 256, 256))
    counter.get_total_flops() // 2
FlopCounterMode counts convolutions, linear maps and matmuls (2 FLOPs per multiply-add) and
no fused attention kernel on the CPU: the fused figure leaves out q k^T and attention x v.
`test_figures_recomputed_with_timm` repeats the measurement when timm can be imported, and
`test_numpy_forward_equals_timm` copies a random timm MobileViT-XXS into the NumPy engine.
"""

import numpy as np
import pytest

from cnncalc.compute import engine
from cnncalc.analysis.analyze import analyze
from cnncalc.language.document import load
from cnncalc.zoo import path_of
from tests.conftest import zoo_report

# name: (parameters, buffers (batch-norm running statistics), MACs with fused_attn off,
#        MACs with fused_attn on)
TIMM = {
    "mobilevit_xxs": (1_272_024, 4_112, 407_364_096, 329_179_648),
    "mobilevit_xs": (2_317_848, 8_448, 1_025_911_808, 908_635_136),
    "mobilevit_s": (5_578_632, 12_256, 2_000_831_488, 1_823_196_160),
}


@pytest.mark.parametrize("name", sorted(TIMM))
def test_parameters_and_multiply_adds_equal_timms(name):
    params, buffers, macs, _ = TIMM[name]
    report = zoo_report(name)
    assert report.totals.trainable_params == params
    assert report.totals.non_trainable_params == buffers
    assert report.totals.macs == macs
    assert report.output_shape.as_list() == [1, 1, 1000]


@pytest.mark.parametrize("name", sorted(TIMM))
def test_the_fused_count_misses_exactly_the_attention_matmuls(name):
    """q k^T and attention x v over 2x2 patches: 2 x N x (N / 4) x C per attention layer."""
    _, _, unfused, fused = TIMM[name]
    attention = [r for r in zoo_report(name).rows if r.type == "attention"]
    assert len(attention) == 2 + 4 + 3
    matmuls = sum(2 * r.output_shape.positions * (r.output_shape.positions // 4)
                  * r.output_shape.c for r in attention)
    assert unfused - fused == matmuls


def timm_model(monkeypatch, name):
    torch = pytest.importorskip("torch")
    # torchvision 0.28's fake-op registration fails on this torch; timm imports it
    monkeypatch.setattr(torch.library, "register_fake", lambda *a, **k: (lambda f: f))
    timm = pytest.importorskip("timm")
    return torch, timm.create_model(name, pretrained=False).eval()


def multiply_adds(torch, model, fused):
    from torch.utils.flop_counter import FlopCounterMode
    for module in model.modules():
        if hasattr(module, "fused_attn"):
            module.fused_attn = fused
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, 3, 256, 256))
    return counter.get_total_flops() // 2


@pytest.mark.parametrize("name", [
    "mobilevit_xxs",
    pytest.param("mobilevit_xs", marks=pytest.mark.slow),
    pytest.param("mobilevit_s", marks=pytest.mark.slow)])
def test_figures_recomputed_with_timm(monkeypatch, name):
    torch, model = timm_model(monkeypatch, name)
    params, buffers, unfused, fused = TIMM[name]
    assert sum(p.numel() for p in model.parameters()) == params
    assert sum(b.numel() for key, b in model.named_buffers()
               if not key.endswith("num_batches_tracked")) == buffers
    assert multiply_adds(torch, model, fused=False) == unfused
    assert multiply_adds(torch, model, fused=True) == fused


def test_numpy_forward_equals_timm(monkeypatch):
    """A random timm MobileViT-XXS (running statistics perturbed), its arrays copied in
    order into the spec's layers, gives the same logits at 64x64."""
    torch, model = timm_model(monkeypatch, "mobilevit_xxs")
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for key, b in model.named_buffers():
            if key.endswith("running_var"):
                b.copy_(0.5 + torch.rand(b.shape, generator=generator))
            elif key.endswith("running_mean"):
                b.copy_(0.1 * torch.randn(b.shape, generator=generator))
    network = load(path_of("mobilevit_xxs"))
    network.input_shape = type(network.input_shape)((64, 64), 3)
    report = analyze(network)
    ours = engine.init_weights(network, report, 0)
    theirs = [v for key, v in model.state_dict().items() if not key.endswith("batches_tracked")]
    assert len(ours) == len(theirs)
    for key, value in zip(list(ours), theirs):
        assert ours[key].size == value.numel(), key
        ours[key] = value.numpy().reshape(ours[key].shape)
    x = np.random.default_rng(1).standard_normal((2, 3, 64, 64)).astype(np.float32)
    logits = engine.run(network, report, x.copy(), ours).output
    with torch.no_grad():
        expected = model(torch.tensor(x)).numpy()
    assert np.abs(logits.reshape(expected.shape) - expected).max() <= 1e-3 * max(
        1.0, float(np.abs(expected).max()))


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["training", "inference"])
def test_cpu_peak_within_5_percent_of_timms(monkeypatch, mode):
    """timm's MobileViT-XXS (fused_attn off: the math path) at batch 1, its CPU peak traced
    by benchmarks/memory_truth.py (SGD step or no_grad forward), against cnncalc's step
    simulation (measured 2026-12-04: training 75,315,832 B against 75,407,656; inference
    17,753,248 against 17,097,632)."""
    import sys
    from pathlib import Path

    from cnncalc.analysis.simulate import StepSettings, simulate
    torch, model = timm_model(monkeypatch, "mobilevit_xxs")
    for module in model.modules():
        if hasattr(module, "fused_attn"):
            module.fused_attn = False
    root = Path(__file__).resolve().parents[1] / "benchmarks"
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    import memory_truth
    theirs = memory_truth.measure(model, torch.randn(1, 3, 256, 256), mode,
                                  "sgd" if mode == "training" else None)["peak_bytes"]
    network = load(path_of("mobilevit_xxs"))
    ours = simulate(network, analyze(network),
                    StepSettings(1, "float32", mode, "sgd", backend="cpu")).peak
    assert abs(ours - theirs) <= 0.05 * theirs, (ours, theirs)
