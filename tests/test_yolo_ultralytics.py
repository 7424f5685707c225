"""The YOLO model YAMLs shipped with Ultralytics, read by cnncalc, against the model Ultralytics
builds from the same YAML and scale: parameters (sum of p.numel(); cnncalc also counts the
BatchNorms' running mean and variance, so those buffers are added) and MACs (torch's
FlopCounterMode in eval mode, batch 1, FLOPs / 2). Ultralytics is a test oracle only."""

from __future__ import annotations

import copy
import importlib.util
import os
from pathlib import Path

import pytest

from cnncalc.analysis.analyze import analyze
from cnncalc.errors import CnnCalcError
from cnncalc.load import open_spec

SPEC = importlib.util.find_spec("ultralytics")
MODELS = Path(SPEC.origin).parent / "cfg" / "models" if SPEC else None
SHIPPED = sorted(str(p.relative_to(MODELS)) for p in MODELS.rglob("*.yaml")) if SPEC else []
needs_ultralytics = pytest.mark.skipif(SPEC is None, reason="ultralytics is not installed")


def totals(rel: str, scale: str | None = None):
    network = open_spec(str(MODELS / rel), None, {"scale": scale} if scale else None)
    return network, analyze(network).totals


# Figures Ultralytics prints for these models ("parameters, gradients" in the YAML's scale
# comments; MACs measured with FlopCounterMode at 640 as issue 25 reports them). The 16
# parameters without a gradient are the DFL's frozen 1x1 conv (weights 0..15).
PUBLISHED = [
    ("v8/yolov8.yaml", "n", 3_157_200, 3_157_184, 4_371_993_600),
    ("v5/yolov5.yaml", "s", 9_153_152, 9_153_152 - 16, 11_997_721_600),
    ("11/yolo11.yaml", "n", 2_624_080, 2_624_064, 3_271_251_200),  # C2PSA: attention
]


@needs_ultralytics
@pytest.mark.parametrize("rel, scale, params, gradients, macs", PUBLISHED)
def test_published_figures(rel, scale, params, gradients, macs):
    _, t = totals(rel, scale)
    assert t.trainable_params == gradients
    assert t.trainable_params + 16 == params
    assert t.macs == macs


def build(rel: str, scale: str | None, meta: bool):
    """Ultralytics' model of the YAML at the scale; on the meta device (no weights made)
    with the heads' bias_init (initial bias values, which change no count) switched off,
    as it reads a value."""
    import contextlib
    from unittest import mock

    import torch
    from ultralytics.nn import tasks
    from ultralytics.nn.modules import head as heads
    d = copy.deepcopy(tasks.yaml_model_load(MODELS / rel))
    if scale:
        d["scale"] = scale
    kind = {"Segment": tasks.SegmentationModel, "Pose": tasks.PoseModel, "OBB": tasks.OBBModel,
            "Classify": tasks.ClassificationModel}.get(d["head"][-1][2], tasks.DetectionModel)
    with contextlib.ExitStack() as stack:
        if meta:
            stack.enter_context(torch.device("meta"))
            for cls in vars(heads).values():
                if isinstance(cls, type) and "bias_init" in vars(cls):
                    stack.enter_context(mock.patch.object(cls, "bias_init", lambda self: None))
        return kind(d, verbose=False), d.get("channels", 3)


def oracle(rel: str, scale: str | None, side: int, macs: bool, meta: bool = False):
    """(params + BN running statistics, trainable params, MACs) of Ultralytics' model.

    meta: on the meta device (no arithmetic: seconds instead of minutes for YOLOv9-E), the
    model runs in training mode, which returns the heads' raw outputs, and the DFL that the
    inference path applies to the box outputs is called on them; the rest of the inference
    path (anchors, decoding, sigmoid) has no conv or matmul to count."""
    torch = pytest.importorskip("torch")
    os.environ.setdefault("YOLO_OFFLINE", "1")
    from torch.utils.flop_counter import FlopCounterMode
    model, channels = build(rel, scale, meta)
    params = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    stats = sum(b.numel() for n, b in model.named_buffers()
                if n.endswith(("running_mean", "running_var")))
    counted = None
    if macs:
        model = model.train(meta) if meta else model.eval()
        x = torch.zeros(1, channels, side, side, device="meta" if meta else "cpu")
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            out = model(x)
            if meta and isinstance(out, dict):
                out = out.get("one2many", out)  # end2end heads: the DFL runs on one set
                model.model[-1].dfl(out["boxes"])  # as Detect._inference does
        counted = counter.get_total_flops() // 2
    return params + stats, trainable, counted


def check(rel: str, scale: str | None = None, macs: bool = True, meta: bool = False):
    network, t = totals(rel, scale)
    side = network.input_shape.as_list()[0]
    params, trainable, counted = oracle(rel, scale, side, macs, meta)
    assert (t.params, t.trainable_params) == (params, trainable)
    if macs:
        assert t.macs == counted


@needs_ultralytics
@pytest.mark.parametrize("scale", ["n", "s"])
def test_the_example_in_specs_against_ultralytics(scale):
    """specs/formats/tiny-yolo.yaml, the README's YOLO example (written here, not shipped by
    Ultralytics), at both its scales."""
    check(str(Path(__file__).resolve().parent.parent / "specs" / "formats" / "tiny-yolo.yaml"), scale)


@needs_ultralytics
def test_yolov8n_segment_against_ultralytics():
    check("v8/yolov8-seg.yaml", "n")


@needs_ultralytics
def test_yolov3_tiny_against_ultralytics():
    """No scales: depth and width multiples of 1; MaxPool2d, ZeroPad2d, a two-level Detect."""
    check("v3/yolov3-tiny.yaml")


def refused_module(rel: str, message: str) -> bool:
    """The refusal names a module the file uses (or its end2end head)."""
    text = (MODELS / rel).read_text()
    quoted = message.split("'")
    named = [quoted[i] for i in range(1, len(quoted), 2)]
    return "end2end" in message or any(f", {m}, " in text for m in named)


@pytest.mark.slow
@needs_ultralytics
@pytest.mark.parametrize("rel", SHIPPED)
def test_every_shipped_yaml_is_exact_or_refused(rel):
    """At the first scale listed: exact against Ultralytics, or one line naming the module."""
    try:
        totals(rel)
    except CnnCalcError as error:
        d = error.diagnostic
        assert d.exit_code == 2 and "\n" not in d.format(), d.format()
        assert refused_module(rel, d.message), d.message
        return
    check(rel, meta=True)


@pytest.mark.slow
@needs_ultralytics
@pytest.mark.parametrize("rel, scale", [("v8/yolov8.yaml", "s"), ("v8/yolov8-pose.yaml", "m"),
                                        ("v5/yolov5.yaml", "m"), ("v6/yolov6.yaml", "s"),
                                        ("11/yolo11.yaml", "m"), ("12/yolo12.yaml", "l")])
def test_other_scales(rel, scale):
    """Other scales (width and max_channels at work; C3k2's C3k at m; A2C2f's gamma at l)."""
    check(rel, scale, meta=True)
