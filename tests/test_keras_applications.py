"""Every keras.applications model read from its `.keras` file: parameters equal Keras's
`count_params()` with its trainable / non-trainable split, and MACs equal what
torch.utils.flop_counter.FlopCounterMode counts when Keras runs the model on the torch
backend (its FLOPs / 2). Keras builds the oracle models (weights=None: nothing downloaded);
cnncalc reads only the saved file's config.json."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")


def keras_app(name: str, size: int | None):
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip("the MACs oracle is FlopCounterMode on Keras's torch backend")
    kwargs = {"input_shape": (size, size, 3)} if size else {}
    return getattr(keras.applications, name)(weights=None, **kwargs)


def keras_counts(model) -> tuple[int, int]:
    """(all parameters, the non-trainable ones) as Keras counts them."""
    from math import prod
    frozen = sum(prod(w.shape) for w in model.non_trainable_weights)
    return model.count_params(), frozen


def flop_counter_macs(model, size: int) -> int:
    """FlopCounterMode over Keras's forward on the torch backend, with fake tensors (shapes
    only: the same count, without the arithmetic)."""
    torch = pytest.importorskip("torch")
    from torch._subclasses.fake_tensor import FakeTensorMode
    from torch.utils.flop_counter import FlopCounterMode
    with FakeTensorMode(allow_non_fake_inputs=True):
        x = torch.zeros(1, size, size, 3)
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(x, training=False)
    return counter.get_total_flops() // 2  # FLOPs = 2 x MACs


def cnncalc_totals(model, tmp_path, saved: bool = True):
    """Read from the `.keras` file model.save() writes, or (saved=False, quicker: no weights
    written) from model.to_json()'s config."""
    from cnncalc.analysis.analyze import analyze
    from cnncalc.load import open_spec
    path = tmp_path / f"{model.name}.{'keras' if saved else 'json'}"
    if saved:
        model.save(path)
    else:
        path.write_text(model.to_json())
    return analyze(open_spec(str(path))).totals


# (model, input size: None = the model's default): every family of keras.applications, its
# first member and the members that differ in structure (ResNet V2), so that the list runs in
# a few minutes on two busy cores; the other members (ResNet152, EfficientNetB7, DenseNet201,
# ConvNeXtBase, ...) differ only in widths and depths and were read once the same way
# (docs/interop.md).
# Keras cannot build NASNet on the torch backend, and keras 3.15 ships no RegNet.
MODELS = [
    ("MobileNetV2", None), ("ResNet50", None), ("ResNet101", None), ("ResNet50V2", None),
    ("VGG16", None), ("InceptionV3", None), ("InceptionResNetV2", None), ("Xception", None),
    ("MobileNet", None), ("MobileNetV3Small", 224), ("MobileNetV3Large", 224),
    ("EfficientNetB0", None), ("EfficientNetV2B0", None), ("DenseNet121", None),
    ("ConvNeXtTiny", None),
]


@pytest.mark.slow
@pytest.mark.parametrize("name,size", MODELS, ids=[m for m, _ in MODELS])
def test_keras_application_params_and_macs_equal_keras_and_flop_counter(name, size, tmp_path):
    model = keras_app(name, size)
    params, frozen = keras_counts(model)
    side = size or model.input_shape[1]
    macs = flop_counter_macs(model, side)
    totals = cnncalc_totals(model, tmp_path, saved=False)
    assert (totals.params, totals.non_trainable_params) == (params, frozen)
    assert totals.macs == macs


def test_mobilenet_v2_and_resnet50_match_the_issues_measurements(tmp_path):
    """Issue 25's figures, measured with keras 3.15 on the torch backend at 224."""
    for name, params, macs in (("MobileNetV2", 3_538_984, 300_774_272),
                               ("ResNet50", 25_636_712, 3_857_973_248)):
        totals = cnncalc_totals(keras_app(name, None), tmp_path)
        assert (totals.params, totals.macs) == (params, macs)
