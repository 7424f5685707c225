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
    torch = pytest.importorskip("torch")
    from torch.utils.flop_counter import FlopCounterMode
    x = torch.zeros(1, size, size, 3)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x, training=False)
    return counter.get_total_flops() // 2  # FLOPs = 2 x MACs


def cnncalc_totals(model, tmp_path):
    from cnncalc.analysis.analyze import analyze
    from cnncalc.language.document import open_spec
    path = tmp_path / f"{model.name}.keras"
    model.save(path)
    return analyze(open_spec(str(path))).totals


# (model, input size for the MACs: None = the model's default), chosen so that the whole list
# runs in minutes on two cores; the big ones are read at a smaller input (Keras allows any
# input of 32 pixels or more with weights=None).
MODELS = [
    ("MobileNetV2", None), ("ResNet50", None), ("ResNet101", None), ("ResNet152", 160),
    ("ResNet50V2", None), ("ResNet101V2", 160), ("ResNet152V2", 160),
    ("VGG16", None), ("VGG19", 160),
    ("InceptionV3", None), ("InceptionResNetV2", None), ("Xception", None),
    ("MobileNet", None), ("MobileNetV3Small", 224), ("MobileNetV3Large", 224),
    ("EfficientNetB0", None), ("EfficientNetB1", None), ("EfficientNetB2", 224),
    ("EfficientNetB3", 224), ("EfficientNetB4", 224), ("EfficientNetB5", 224),
    ("EfficientNetB6", 224), ("EfficientNetB7", 224),
    ("EfficientNetV2B0", None), ("EfficientNetV2B1", None), ("EfficientNetV2B2", None),
    ("EfficientNetV2B3", None), ("EfficientNetV2S", 224), ("EfficientNetV2M", 224),
    ("EfficientNetV2L", 224),
    ("DenseNet121", None), ("DenseNet169", 160), ("DenseNet201", 160),
    ("ConvNeXtTiny", None), ("ConvNeXtSmall", 160), ("ConvNeXtBase", 128),
]


@pytest.mark.slow
@pytest.mark.parametrize("name,size", MODELS, ids=[m for m, _ in MODELS])
def test_keras_application_params_and_macs_equal_keras_and_flop_counter(name, size, tmp_path):
    model = keras_app(name, size)
    params, frozen = keras_counts(model)
    side = size or model.input_shape[1]
    macs = flop_counter_macs(model, side)
    totals = cnncalc_totals(model, tmp_path)
    assert (totals.params, totals.non_trainable_params) == (params, frozen)
    assert totals.macs == macs


def test_mobilenet_v2_and_resnet50_match_the_issues_measurements(tmp_path):
    """Issue 25's figures, measured with keras 3.15 on the torch backend at 224."""
    for name, params, macs in (("MobileNetV2", 3_538_984, 300_774_272),
                               ("ResNet50", 25_636_712, 3_857_973_248)):
        totals = cnncalc_totals(keras_app(name, None), tmp_path)
        assert (totals.params, totals.macs) == (params, macs)
