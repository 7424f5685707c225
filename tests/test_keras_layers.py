"""Keras layers beyond keras.applications' usual set, each in a small model Keras builds:
cnncalc's output shape, parameters (with Keras's trainable / non-trainable split) and MACs
equal Keras's own shapes, count_params() and FlopCounterMode's count on the torch backend."""

from __future__ import annotations

import os
from math import prod

import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")
torch = pytest.importorskip("torch")
if keras.backend.backend() != "torch":
    pytest.skip("the MACs oracle is FlopCounterMode on Keras's torch backend",
                allow_module_level=True)
L = keras.layers


def flop_counter_macs(model, shape) -> int:
    from torch.utils.flop_counter import FlopCounterMode
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, *shape), training=False)
    return counter.get_total_flops() // 2  # FLOPs = 2 x MACs


def check(model, tmp_path, saved=False):
    from cnncalc.analysis.analyze import analyze
    from cnncalc.load import open_spec
    path = tmp_path / ("m.keras" if saved else "m.json")
    if saved:
        model.save(path)
    else:
        path.write_text(model.to_json())
    report = analyze(open_spec(str(path)))
    shape = report.rows[-1].output_shape
    keras_out = tuple(model.output_shape[1:])
    if len(keras_out) == 1:  # a vector: cnncalc's 1x1xK
        assert shape.c == keras_out[0] and all(s == 1 for s in shape.spatial)
    else:
        assert (*shape.spatial, shape.c) == keras_out
    frozen = sum(prod(w.shape) for w in model.non_trainable_weights)
    assert (report.totals.params, report.totals.non_trainable_params) == \
        (model.count_params(), frozen)
    assert report.totals.macs == flop_counter_macs(model, model.input_shape[1:])


def functional(shape, body):
    x = keras.Input(shape)
    return keras.Model(x, body(x))


@pytest.mark.parametrize("padding", ["same", "valid"])
@pytest.mark.parametrize("stride,kernel", [(1, (3, 5)), (2, (3, 4)), (3, (2, 5))])
def test_conv_transpose_keras_lengths(tmp_path, padding, stride, kernel):
    """Keras's output length: H S ('same'), H S + max(F - S, 0) ('valid')."""
    model = functional((7, 6, 3), L.Conv2DTranspose(5, kernel, strides=stride, padding=padding))
    check(model, tmp_path)


def test_a_transposed_conv_pytorch_cannot_express_is_refused(tmp_path):
    """'same' with stride 1 and an even kernel crops unevenly: no output_padding does it."""
    from cnncalc.errors import CnnCalcError
    model = functional((7, 6, 3), L.Conv2DTranspose(5, 4, padding="same"))
    with pytest.raises(CnnCalcError, match=r"Conv2DTranspose.*output_padding"):
        check(model, tmp_path)


def test_conv1d_causal_dilated_and_separable1d(tmp_path):
    def body(x):
        x = L.Conv1D(8, 3, padding="causal", dilation_rate=2, activation="relu")(x)
        x = L.SeparableConv1D(6, 5, strides=2, padding="same", depth_multiplier=2)(x)
        x = L.MaxPooling1D(2)(x)
        return L.GlobalAveragePooling1D()(x)
    check(functional((31, 4), body), tmp_path)


def test_conv3d_pool3d_and_upsampling3d(tmp_path):
    def body(x):
        x = L.Conv3D(4, 3, strides=2, padding="same", use_bias=False)(x)
        x = L.BatchNormalization(scale=False)(x)
        x = L.AveragePooling3D(2, padding="same")(x)
        return L.UpSampling3D(2)(x)
    check(functional((9, 10, 11, 2), body), tmp_path)


def test_two_dimensional_odds_and_ends(tmp_path):
    def body(x):
        x = L.Rescaling(1 / 127.5, offset=-1)(x)
        x = L.ZeroPadding2D(((1, 2), (0, 3)))(x)
        x = L.DepthwiseConv2D(3, strides=2, depth_multiplier=3, padding="same")(x)
        x = L.LeakyReLU(negative_slope=0.1)(x)
        a = L.Cropping2D(((1, 0), (2, 1)))(x)
        a = L.UpSampling2D(2, interpolation="bilinear")(a)
        a = L.Conv2D(9, 2, dilation_rate=2, padding="same", activation="elu")(a)
        b = L.MaxPooling2D(3, strides=1, padding="same")(a)
        x = L.Concatenate()([a, b])
        x = L.LayerNormalization(epsilon=1e-6)(x)
        x = L.Dense(5, activation="gelu")(x)  # at every position: a 1x1 conv
        x = L.Dropout(0.3)(x)
        g = L.GlobalMaxPooling2D(keepdims=True)(x)
        x = L.Multiply()([x, L.Activation("hard_sigmoid")(g)])
        x = L.Add()([x, L.ReLU(max_value=6.0)(x)])
        x = L.Flatten()(x)
        return L.Dense(3, activation="softmax")(x)
    check(functional((16, 15, 3), body), tmp_path, saved=True)


def test_normalization_adapted_and_given(tmp_path):
    """Adapted: mean, variance and count kept as weights (2C + 1); given: fixed numbers."""
    def body(x):
        x = L.Normalization()(x)
        x = L.Normalization(mean=[1.0, 2.0, 3.0], variance=[4.0, 5.0, 6.0])(x)
        x = L.Conv2D(4, 3)(x)
        x = x * 0.5 + 1.0  # keras.ops on a KerasTensor: scalar arithmetic
        return L.GlobalAveragePooling2D()(x)
    check(functional((8, 8, 3), body), tmp_path)


def test_a_nested_sequential_inside_a_functional_model(tmp_path):
    inner = keras.Sequential([L.Conv2D(6, 3, padding="same"), L.BatchNormalization(),
                              L.Activation("swish")])
    check(functional((12, 12, 3), lambda x: L.GlobalAveragePooling2D()(inner(x))), tmp_path)


def test_a_sequential_model(tmp_path):
    model = keras.Sequential([keras.Input((28, 28, 1)), L.Conv2D(32, 3, activation="relu"),
                              L.MaxPooling2D(), L.Conv2D(64, 3, activation="relu"),
                              L.MaxPooling2D(), L.Flatten(), L.Dropout(0.5),
                              L.Dense(10, activation="softmax")])
    check(model, tmp_path, saved=True)


def test_a_functional_model_used_as_a_layer(tmp_path):
    """Transfer learning's shape: a base model called on the input, a new head after it."""
    base = functional((12, 12, 3), lambda x: L.Add()([L.Conv2D(3, 3, padding="same")(x), x]))
    check(functional((12, 12, 3), lambda x: L.Dense(4)(L.GlobalAveragePooling2D()(base(x)))),
          tmp_path, saved=True)
