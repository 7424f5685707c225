"""Per-layer-family tables: shapes and counts, expected values written as formulas.

Shape formulas are PyTorch's documented ones (torch.nn.Conv2d / MaxPool2d "Shape" sections)
and TensorFlow's for padding 'same'; parameter counts are PyTorch's parameter tensors.
"""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cnncalc.layers.geometry import slide, window
from cnncalc.layers.shape import Shape
from tests.conftest import one_layer


def torch_out(size, k, s=1, p=0, d=1):
    """floor((H + 2p - d(k-1) - 1)/s + 1): torch.nn.Conv2d's documented output size."""
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


CONV = [
    # (layer, input, expected output, params, MACs)
    ("{type: conv, filters: 16, kernel: 3}", "[32, 32, 3]",
     [torch_out(32, 3), torch_out(32, 3), 16], 16 * 3 * 3 * 3 + 16, 30 * 30 * 16 * 3 * 3 * 3),
    ("{type: conv, filters: 16, kernel: 3, padding: 1, stride: 2}", "[32, 32, 3]",
     [torch_out(32, 3, 2, 1)] * 2 + [16], 16 * 27 + 16, 16 * 16 * 16 * 27),
    ("{type: conv, filters: 8, kernel: 3, dilation: 2}", "[32, 32, 4]",
     [torch_out(32, 3, 1, 0, 2)] * 2 + [8], 8 * 4 * 9 + 8, 28 * 28 * 8 * 4 * 9),
    ("{type: conv, filters: 64, kernel: 3, groups: 4, padding: 1}", "[16, 16, 32]",
     [16, 16, 64], 64 * (32 // 4) * 9 + 64, 16 * 16 * 64 * (32 // 4) * 9),
    ("{type: conv, filters: 32, kernel: 3, groups: 32, padding: 1}", "[16, 16, 32]",
     [16, 16, 32], 32 * 1 * 9 + 32, 16 * 16 * 32 * 9),  # depthwise
    ("{type: conv, filters: 8, kernel: [3, 5], stride: [1, 2], padding: [1, 2]}", "[20, 30, 3]",
     [torch_out(20, 3, 1, 1), torch_out(30, 5, 2, 2), 8], 8 * 3 * 3 * 5 + 8,
     torch_out(20, 3, 1, 1) * torch_out(30, 5, 2, 2) * 8 * 3 * 15),
    ("{type: conv, filters: 8, kernel: 3, bias: false}", "[10, 10, 2]",
     [8, 8, 8], 8 * 2 * 9, 8 * 8 * 8 * 2 * 9),
    ("{type: conv, filters: 4, kernel: 3, padding: [0, 2, 1, 1]}", "[10, 10, 1]",
     [(10 + 0 + 2 - 3) + 1, (10 + 1 + 1 - 3) + 1, 4], 4 * 9 + 4, 10 * 10 * 4 * 9),
    ("{type: conv, filters: 4, kernel: 3, stride: 2, padding: same}", "[7, 8, 1]",
     [-(-7 // 2), -(-8 // 2), 4], 4 * 9 + 4, 4 * 4 * 4 * 9),  # TF: ceil(W/S)
    ("{type: conv, filters: 4, kernel: 3, padding: valid}", "[7, 7, 1]",
     [5, 5, 4], 4 * 9 + 4, 5 * 5 * 4 * 9),
]


@pytest.mark.parametrize("layer, shape, out, params, macs", CONV)
def test_conv(layer, shape, out, params, macs):
    row = one_layer(layer, shape)
    assert row.output_shape.as_list() == out
    assert row.totals.params == params
    assert row.totals.macs == macs
    biases = 0 if "bias: false" in layer else out[2]
    assert row.totals.flops == 2 * macs + out[0] * out[1] * biases
    assert row.totals.connections == macs + out[0] * out[1] * biases


def test_conv_fused_activation_adds_one_flop_per_output():
    plain = one_layer("{type: conv, filters: 4, kernel: 3}", "[8, 8, 1]")
    fused = one_layer("{type: conv, filters: 4, kernel: 3, activation: relu}", "[8, 8, 1]")
    assert fused.totals.flops - plain.totals.flops == 6 * 6 * 4
    assert fused.settings.endswith("+relu")


def test_same_padding_puts_the_odd_pixel_after():
    # TensorFlow: pad_along = max((out-1)*S + F - W, 0); top = pad_along // 2, rest at bottom
    rows, _ = window(Shape((8, 8), 1), (3, 3), (2, 2), "same").axes
    pad_along = max((4 - 1) * 2 + 3 - 8, 0)
    assert (rows.before, rows.after) == (pad_along // 2, pad_along - pad_along // 2)
    assert (rows.before, rows.after) == (0, 1)


def torch_pool_out(size, k, s, p=0, ceil=False):
    """MaxPool2d's documented size, with its rule that the last window starts in the input."""
    span = size + 2 * p - k
    out = (-(-span // s) if ceil else span // s) + 1
    if ceil and (out - 1) * s >= size + p:
        out -= 1
    return out


POOL = [
    ("{type: pool, kernel: 2, stride: 2}", "[224, 224, 64]", [112, 112, 64]),
    ("{type: pool, kernel: 3, stride: 2}", "[55, 55, 96]", [27, 27, 96]),  # AlexNet, overlap
    ("{type: pool, kernel: 3, stride: 2, ceil_mode: true}", "[112, 112, 64]",
     [torch_pool_out(112, 3, 2, ceil=True)] * 2 + [64]),  # 56, GoogLeNet
    ("{type: pool, kernel: 2, stride: 2, padding: 1, ceil_mode: true}", "[5, 5, 1]",
     [torch_pool_out(5, 2, 2, 1, True)] * 2 + [1]),  # 3, not 4: the last window would start in padding
    ("{type: pool, mode: avg, global: true}", "[7, 7, 512]", [1, 1, 512]),
    ("{type: pool, mode: avg, kernel: [2, 3]}", "[8, 9, 3]", [4, 3, 3]),
]


@pytest.mark.parametrize("layer, shape, out", POOL)
def test_pool_shapes(layer, shape, out):
    row = one_layer(layer, shape)
    assert row.output_shape.as_list() == out
    assert row.totals.params == row.totals.macs == 0


def test_ceil_mode_correction_matters():
    assert torch_pool_out(5, 2, 2, 1, ceil=True) == 3
    assert slide(5, 2, 2, 1, 1, ceil_mode=True).out == 3


@pytest.mark.parametrize("mode, per_window", [("max", 4 - 1), ("min", 4 - 1), ("avg", 4),
                                              ("l2", 2 * 4)])
def test_pool_flops_per_output(mode, per_window):
    row = one_layer(f"{{type: pool, mode: {mode}, kernel: 2}}", "[8, 8, 3]")
    assert row.totals.flops == 4 * 4 * 3 * per_window
    assert row.totals.connections == 4 * 4 * 3 * 4


def test_fc_flattens_in_chw_order():
    row = one_layer("{type: fc, units: 10}", "[4, 4, 8]")
    assert row.output_shape.as_list() == [1, 1, 10]
    assert row.totals.params == 4 * 4 * 8 * 10 + 10
    assert row.notes == ["flattens 4x4x8 = 128 values in C,H,W order"]


def test_fc_without_bias():
    row = one_layer("{type: fc, units: 10, bias: false}", "[1, 1, 20]")
    assert row.totals.params == 200 and row.totals.flops == 2 * 200


def test_batchnorm_params_are_pytorch_parameters_and_buffers():
    row = one_layer("batchnorm", "[8, 8, 64]")
    assert row.totals.trainable_params == 2 * 64  # weight, bias
    assert row.totals.non_trainable_params == 2 * 64  # running_mean, running_var
    assert row.totals.params == 4 * 64


def test_batchnorm_with_a_shift_only_is_keras_scale_false():
    """Keras's BatchNormalization(scale=False): beta trained; moving mean and variance not."""
    row = one_layer("{type: batchnorm, scale: false}", "[8, 8, 64]")
    assert row.totals.trainable_params == 64  # beta
    assert row.totals.non_trainable_params == 2 * 64  # moving mean and variance


def test_rescale_has_no_params_and_one_flop_per_op_and_element():
    row = one_layer("{type: rescale, scale: 0.5, offset: -1}", "[5, 6, 3]")
    assert row.output_shape.as_list() == [5, 6, 3]
    assert row.totals.params == 0 and row.totals.macs == 0
    assert row.totals.flops == 2 * 5 * 6 * 3  # a multiply and an add per element
    assert one_layer("{type: rescale, scale: [1, 2, 3]}", "[5, 6, 3]").totals.flops == 5 * 6 * 3


def test_rescale_statistics_are_keras_normalizations_mean_variance_and_count():
    row = one_layer("{type: rescale, statistics: true}", "[5, 6, 3]")
    assert row.totals.non_trainable_params == 2 * 3 + 1 and row.totals.trainable_params == 0


@pytest.mark.parametrize("layer", ["relu", "relu6", "sigmoid", "tanh", "softmax", "gelu",
                                   "silu", "hardswish", "{type: leaky_relu, negative_slope: 0.2}",
                                   "{type: elu, alpha: 1.0}"])
def test_activations_keep_shape_and_cost_one_flop_per_element(layer):
    row = one_layer(layer, "[5, 6, 7]")
    assert row.output_shape.as_list() == [5, 6, 7]
    assert row.totals.params == 0 and row.totals.macs == 0
    assert row.totals.flops == 5 * 6 * 7


@pytest.mark.parametrize("layer, shape, out", [
    ("flatten", "[7, 7, 512]", [1, 1, 7 * 7 * 512]),
    ("{type: dropout, rate: 0.5}", "[1, 1, 4096]", [1, 1, 4096]),
    ("{type: lrn, size: 5}", "[55, 55, 96]", [55, 55, 96]),
    ("{type: rbf, units: 10}", "[1, 1, 84]", [1, 1, 10]),
    ("{type: subsample, kernel: 2}", "[28, 28, 6]", [14, 14, 6]),
])
def test_other_layers_shape(layer, shape, out):
    assert one_layer(layer, shape).output_shape.as_list() == out


@given(size=st.integers(1, 200), k=st.integers(1, 9), s=st.integers(1, 5),
       p=st.integers(0, 4), d=st.integers(1, 3))
def test_output_size_equals_counting_window_positions(size, k, s, p, d):
    """The formula against brute force: count starts i*S whose dilated window fits."""
    effective = d * (k - 1) + 1
    if effective > size + 2 * p:
        return
    positions = sum(1 for start in range(0, size + 2 * p, s) if start + effective <= size + 2 * p)
    window = slide(size, k, s, p, p, d)
    assert window.out == positions == torch_out(size, k, s, p, d)
    last_end = (positions - 1) * s + effective
    assert window.leftover == size + 2 * p - last_end


def torch_deconv_out(size, k, s=1, p=0, op=0, d=1):
    """ConvTranspose2d's documented size: (H-1)S - 2P + D(K-1) + output_padding + 1."""
    return (size - 1) * s - 2 * p + d * (k - 1) + op + 1


DECONV = [
    ("{type: deconv, filters: 16, kernel: 2, stride: 2}", "[28, 28, 32]",
     [torch_deconv_out(28, 2, 2)] * 2 + [16], 32 * 16 * 2 * 2 + 16),
    ("{type: deconv, filters: 8, kernel: 3, stride: 2, padding: 1, output_padding: 1}",
     "[7, 7, 4]", [torch_deconv_out(7, 3, 2, 1, 1)] * 2 + [8], 4 * 8 * 9 + 8),
    ("{type: deconv, filters: 8, kernel: 3, dilation: 2, groups: 2}", "[5, 6, 4]",
     [torch_deconv_out(5, 3, d=2), torch_deconv_out(6, 3, d=2), 8], 4 * (8 // 2) * 9 + 8),
]


@pytest.mark.parametrize("layer, shape, out, params", DECONV)
def test_deconv(layer, shape, out, params):
    row = one_layer(layer, shape)
    assert row.output_shape.as_list() == out
    assert row.totals.params == params  # weight [in, out/groups, kh, kw] + bias
    h, w, _ = (int(v) for v in shape.strip("[]").split(","))
    assert row.totals.macs == h * w * (params - out[2])  # every input meets its group's weights


def test_deconv_output_padding_must_be_below_stride_or_dilation():
    from tests.conftest import error_of
    diagnostic = error_of("input: [4, 4, 1]\nlayers:\n  - {type: deconv, filters: 1, kernel: 3, "
                          "stride: 2, output_padding: 2}\n")
    assert "smaller than the stride or the dilation" in diagnostic.message


def torch_adaptive_bins(size, out):
    """PyTorch: bin i covers floor(i*size/out) .. ceil((i+1)*size/out)."""
    import math
    return [math.ceil((i + 1) * size / out) - math.floor(i * size / out) for i in range(out)]


@pytest.mark.parametrize("size, out", [(7, 1), (7, 7), (10, 3), (13, 6), (5, 8)])
def test_adaptive_pool_matches_pytorch_bins(size, out):
    row = one_layer(f"{{type: pool, mode: avg, output: [{out}, {out}]}}", f"[{size}, {size}, 2]")
    assert row.output_shape.as_list() == [out, out, 2]
    bins = torch_adaptive_bins(size, out)
    assert row.totals.connections == 2 * sum(bins) * sum(bins)  # inputs read, all windows


@pytest.mark.parametrize("layer, shape, out", [
    ("{type: upsample, scale: 2}", "[14, 14, 8]", [28, 28, 8]),
    ("{type: upsample, scale: [2, 3], mode: bilinear}", "[4, 5, 1]", [8, 15, 1]),
    ("{type: zeropad, padding: [1, 2, 3, 4]}", "[10, 10, 3]", [10 + 1 + 2, 10 + 3 + 4, 3]),
    ("{type: crop, amount: [1, 2, 3, 4]}", "[10, 10, 3]", [10 - 1 - 2, 10 - 3 - 4, 3]),
    ("{type: crop, size: [6, 4]}", "[10, 10, 3]", [6, 4, 3]),
    ("{type: local, filters: 4, kernel: 3}", "[5, 5, 2]", [3, 3, 4]),
])
def test_resizing_and_local_shapes(layer, shape, out):
    assert one_layer(layer, shape).output_shape.as_list() == out


def test_local_layer_has_one_weight_set_per_output_unit():
    row = one_layer("{type: local, filters: 4, kernel: 3}", "[5, 5, 2]")
    assert row.totals.params == 3 * 3 * 4 * (3 * 3 * 2 + 1)


def test_new_layer_type_counts():
    """Counts as docs/counting.md states them: GroupNorm(2, 8) and LayerNorm2d hold 2C params
    (PyTorch's affine weight and bias), InstanceNorm none by default, a layer scale C; pixel
    shuffle moves C r^2 channels into an r-times larger map (ESPCN)."""
    from cnncalc.analysis.analyze import analyze
    from cnncalc.language import loads
    report = analyze(loads(
        "input: [6, 8, 8]\nlayers:\n  - {type: groupnorm, groups: 2}\n  - layernorm\n"
        "  - instancenorm\n  - scale\n  - hardsigmoid\n  - {type: channel_shuffle, groups: 4}\n"
        "  - {type: pixel_shuffle, factor: 2}\n  - {type: pixel_unshuffle, factor: 2}\n"))
    rows = {r.type: r for r in report.rows}
    assert rows["groupnorm"].totals.params == rows["layernorm"].totals.params == 2 * 8
    assert rows["instancenorm"].totals.params == 0 and rows["scale"].totals.params == 8
    assert rows["groupnorm"].totals.flops == 8 * 6 * 8 * 8  # 8 per element with affine
    assert rows["instancenorm"].totals.flops == 6 * 6 * 8 * 8
    assert rows["pixel_shuffle"].output_shape.as_list() == [12, 16, 8 // 2 ** 2]
    assert rows["pixel_unshuffle"].output_shape.as_list() == [6, 8, 8]
    assert sum(rows[k].totals.flops for k in ("channel_shuffle", "pixel_shuffle")) == 0


def test_slice_splits_channels_as_shufflenet_v2_does():
    """ShuffleNetV2's basic unit: split 116 channels in two halves, convolve one (1x1 58->58),
    concat and shuffle: 116 channels out, only the conv's 58 x 58 weights (no bias)."""
    from cnncalc.analysis.analyze import analyze
    from cnncalc.errors import CnnCalcError
    from cnncalc.language import loads
    report = analyze(loads(
        "input: [28, 28, 116]\nlayers:\n  - {name: left, type: slice, channels: [0, 58]}\n"
        "  - {name: right, type: slice, channels: [58, 116], inputs: [input]}\n"
        "  - {name: c, type: conv, filters: 58, kernel: 1, bias: false}\n"
        "  - {type: concat, inputs: [left, c]}\n  - {type: channel_shuffle, groups: 2}\n"))
    assert report.output_shape.as_list() == [28, 28, 116]
    assert report.totals.params == 58 * 58
    with pytest.raises(CnnCalcError) as outside:
        analyze(loads("input: [4, 4, 8]\nlayers:\n  - {type: slice, channels: [4, 9]}\n"))
    assert outside.value.exit_code == 1 and "outside the input's 8" in outside.value.diagnostic.message
    with pytest.raises(CnnCalcError) as empty:
        loads("input: [4, 4, 8]\nlayers:\n  - {type: slice, channels: [4, 4]}\n")
    assert empty.value.exit_code == 2
