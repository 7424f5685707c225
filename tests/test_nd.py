"""1-D and 3-D networks without torch: input forms, counts written as formulas, receptive
fields per axis, the tiling lint on every axis, explain, FC-as-conv, convert's round trip,
and gradient checks of every windowed or spatial layer by central differences."""

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from cnncalc.analysis.analyze import analyze
from cnncalc.analysis.convert import fc_as_conv
from cnncalc.analysis.explain import explain
from cnncalc.cli import app
from cnncalc.layers.shape import Shape
from cnncalc.language import loads
from tests.conftest import error_of, report_of
from tests.test_engine import numerical_check

runner = CliRunner()


@pytest.mark.parametrize("text, shape", [
    ("[100, 3]", Shape((100,), 3)), ('"100x3"', Shape((100,), 3)),
    ("[224, 224, 3]", Shape((224, 224), 3)), ('"16x112x112x3"', Shape((16, 112, 112), 3)),
    ("[16, 112, 112, 3]", Shape((16, 112, 112), 3)),
])
def test_input_forms(text, shape):
    assert loads(f"input: {text}\nlayers: [relu]\n").input_shape == shape


def test_r3d_stem_counts_and_display():
    """torchvision's r3d_18 stem: Conv3d(3, 64, (3, 7, 7), (1, 2, 2), (1, 3, 3), bias=False)
    on 16x112x112: out (16 + 2 - 3)/1 + 1 = 16, (112 + 6 - 7)//2 + 1 = 56."""
    report = report_of("input: 16x112x112x3\nlayers:\n  - {type: conv, filters: 64, kernel: "
                       "[3, 7, 7], stride: [1, 2, 2], padding: [1, 3, 3], bias: false}\n"
                       "  - batchnorm\n")
    conv, bn = report.rows
    assert str(conv.output_shape) == "16x56x56x64"
    assert conv.totals.params == 3 * 7 * 7 * 3 * 64
    assert conv.totals.macs == 16 * 56 * 56 * 64 * (3 * 7 * 7 * 3)
    assert conv.totals.connections == 16 * 56 * 56 * 64 * (3 * 7 * 7 * 3)  # no bias
    assert bn.totals.trainable_params == 2 * 64 and bn.totals.non_trainable_params == 2 * 64
    assert report.totals.activations == 2 * 16 * 56 * 56 * 64
    table = runner.invoke(app, ["summarize", "-"], input="input: 16x112x112x3\nlayers:\n"
                          "  - {type: conv, filters: 64, kernel: [3, 7, 7], stride: [1, 2, 2], "
                          "padding: [1, 3, 3]}\n")
    assert table.exit_code == 0 and "16x56x56x64" in table.stdout
    assert "3x7x7/1x2x2 p1x3x3" in table.stdout


def test_1d_conv_counts():
    """M5's first layer (Dai et al. 2017): 128 filters of 80 at stride 4 on 32000 samples:
    floor((32000 - 80)/4) + 1 = 7981 outputs."""
    row = report_of("input: [32000, 1]\nlayers:\n"
                    "  - {type: conv, filters: 128, kernel: 80, stride: 4}\n").rows[0]
    assert row.output_shape == Shape((7981,), 128)
    assert row.totals.params == (80 * 1 + 1) * 128
    assert row.totals.macs == 7981 * 128 * 80
    assert row.settings == "80/4"


def test_deconv_pool_upsample_pad_crop_counts_in_3d():
    report = report_of("""
        input: [4, 6, 8, 5]
        layers:
          - {type: deconv, filters: 3, kernel: [2, 3, 3], stride: 2, padding: [0, 1, 1],
             output_padding: [1, 1, 0]}
          - {type: pool, mode: avg, kernel: [1, 2, 2]}
          - {type: upsample, scale: [2, 1, 1], mode: bilinear}
          - {type: zeropad, padding: [[1, 0], 2, [0, 3]]}
          - {type: crop, amount: [0, 1, 1, 1, 2, 0]}
          - {type: pool, output: [3, 2, 1]}
    """)
    deconv, pool, up, pad, crop, adaptive = report.rows
    # (n - 1) S - 2P + (F - 1) + output_padding + 1 per axis
    size = [(4 - 1) * 2 - 0 + 1 + 1 + 1, (6 - 1) * 2 - 2 + 2 + 1 + 1, (8 - 1) * 2 - 2 + 2 + 0 + 1]
    assert list(deconv.output_shape.spatial) == size == [9, 12, 15]
    assert deconv.totals.params == 5 * 3 * (2 * 3 * 3) + 3
    assert deconv.totals.macs == (4 * 6 * 8) * 5 * 3 * (2 * 3 * 3)
    assert pool.output_shape == Shape((9, 6, 7), 3)
    assert pool.totals.connections == 9 * 6 * 7 * 3 * (1 * 2 * 2)
    assert up.output_shape == Shape((18, 6, 7), 3)
    assert up.totals.flops == (2 ** 4 - 1) * 18 * 6 * 7 * 3  # 8 neighbours: 8 mul + 7 add
    assert pad.output_shape == Shape((19, 10, 10), 3)
    assert crop.output_shape == Shape((18, 8, 8), 3)
    assert adaptive.output_shape == Shape((3, 2, 1), 3)


def test_receptive_field_per_axis():
    """r' = r + (k - 1) j and j' = j S on every axis separately (Araujo et al. 2019)."""
    report = report_of("input: [16, 64, 64, 3]\nlayers:\n"
                       "  - {type: conv, filters: 4, kernel: [3, 7, 7], stride: [1, 2, 2], "
                       "padding: [1, 3, 3]}\n"
                       "  - {type: pool, kernel: 3, stride: 2, padding: 1}\n"
                       "  - {type: conv, filters: 4, kernel: [3, 1, 1]}\n")
    conv, pool, temporal = (row.field for row in report.rows)
    assert conv.size == (3, 7, 7) and conv.jump == (1, 2, 2)
    assert pool.size == (3 + 2 * 1, 7 + 2 * 2, 7 + 2 * 2) and pool.jump == (2, 4, 4)
    assert temporal.size == (5 + 2 * 2, 11, 11)


def test_tiling_lint_on_the_depth_axis():
    result = runner.invoke(app, ["validate", "-"], input="input: [5, 8, 8, 1]\nlayers:\n"
                           "  - {type: pool, kernel: 2}\n")
    assert "(5 - 2 + 0)/2 + 1 = 2.5; the last 1 slice of the input is never read" \
        in result.stdout
    assert "window-tiling" in result.stdout


def test_explain_shows_every_axis():
    net = loads("input: [9, 10, 11, 2]\nlayers:\n  - {name: c, type: conv, filters: 4, "
                "kernel: [3, 3, 5], stride: [1, 2, 2], padding: same}\n")
    lines = explain(net, analyze(net), "c")
    assert lines[0] == "c: conv 3x3x5/1x2x2 same"
    assert [line.split(":")[0] for line in lines[2:5]] == ["depth", "height", "width"]
    assert "params: (3x3x5x2 + 1) x 4 = 364" in lines


def test_fc_as_conv_in_3d():
    """An fc on a DxHxWxC volume is a conv whose kernel is the volume: same MACs."""
    net = loads("input: [4, 6, 6, 8]\nlayers:\n  - {type: conv, filters: 8, kernel: 3, "
                "padding: 1}\n  - flatten\n  - {type: fc, units: 10}\n")
    report = analyze(net)
    converted = analyze(fc_as_conv(net, report))
    assert converted.rows[-1].output_shape == Shape((1, 1, 1), 10)
    assert converted.rows[-1].settings == "4x6x6/1"
    assert converted.totals.macs == report.totals.macs
    assert converted.rows[-1].totals.params == (4 * 6 * 6 * 8 + 1) * 10


def test_convert_round_trip_keeps_totals(tmp_path):
    text = ("input: [20, 3]\nlayers:\n  - {type: conv, filters: 4, kernel: 5, padding: [[1, 3]]}\n"
            "  - {type: pool, kernel: [2], padding: [1]}\n  - {type: deconv, filters: 2, kernel: 3,"
            " stride: 2, output_padding: 1}\n  - {type: upsample, scale: 3}\n")
    spec, out = tmp_path / "a.yaml", tmp_path / "b.yaml"
    spec.write_text(text)
    assert runner.invoke(app, ["convert", str(spec), "-o", str(out)]).exit_code == 0
    assert yaml.safe_load(out.read_text())["input"] == [20, 3]
    first, second = analyze(loads(text)), analyze(loads(out.read_text()))
    assert first.totals == second.totals
    assert [r.output_shape for r in first.rows] == [r.output_shape for r in second.rows]


@pytest.mark.parametrize("text, why", [
    ("input: [32, 32, 3]\nlayers:\n  - {type: deconv, filters: 2, kernel: [2, 2, 2]}\n",
     "'kernel' has 3 values but the input has 2 spatial axes"),
    ("input: [8, 8, 8, 3]\nlayers:\n  - {type: upsample, scale: [2, 2]}\n",
     "'scale' has 2 values but the input has 3 spatial axes"),
    ("input: [8, 3]\nlayers:\n  - {type: pool, output: [2, 2]}\n",
     "'output' has 2 values but the input has 1 spatial axis"),
    ("input: [8, 8, 8, 3]\nlayers:\n  - {type: zeropad, padding: [[1, 1], [1, 1]]}\n",
     "'padding' has 2 values but the input has 3 spatial axes"),
])
def test_rank_mismatch_is_one_line_exit_1(text, why):
    diagnostic = error_of(text)
    assert diagnostic.exit_code == 1 and why in diagnostic.message
    assert diagnostic.span.line == 3


ND_GRADIENTS = {
    1: ["{type: conv, filters: 4, kernel: 3, stride: 2, padding: [[1, 2]], dilation: 2, "
        "groups: 2, activation: relu}",
        "{type: deconv, filters: 2, kernel: 3, stride: 2, padding: 1, output_padding: 1}",
        "{type: local, filters: 2, kernel: 3, stride: 2, padding: 1}",
        "{type: pool, mode: max, kernel: 3, stride: 2, padding: 1, ceil_mode: true}",
        "{type: pool, mode: avg, kernel: 2}", "{type: pool, mode: l2, kernel: 3}",
        "{type: pool, mode: min, output: 3}", "{type: pool, mode: avg, global: true}",
        "{type: subsample, kernel: 2}", "batchnorm", "{type: lrn, size: 3}",
        "{type: upsample, scale: 2, mode: bilinear}", "{type: zeropad, padding: [1, 2]}",
        "{type: crop, amount: [[2, 1]]}", "flatten", "{type: fc, units: 3}",
        "{type: groupnorm, groups: 2}", "{type: pixel_shuffle, factor: 2}"],
    3: ["{type: conv, filters: 4, kernel: [3, 1, 2], stride: [1, 2, 1], padding: same, "
        "groups: 2}",
        "{type: deconv, filters: 2, kernel: [1, 2, 3], stride: [2, 1, 2], dilation: [1, 2, 1]}",
        "{type: local, filters: 2, kernel: [2, 2, 1], stride: [1, 2, 2]}",
        "{type: pool, mode: max, kernel: [2, 3, 2], stride: 2, padding: [1, 1, 0], "
        "ceil_mode: true}",
        "{type: pool, mode: avg, kernel: 2, padding: 1}", "{type: pool, mode: l2, kernel: 2}",
        "{type: pool, mode: max, output: [2, 3, 1]}", "{type: pool, mode: avg, output: 2}",
        "{type: subsample, kernel: [1, 2, 2]}", "batchnorm", "instancenorm",
        "{type: upsample, scale: [1, 2, 2], mode: bilinear}", "{type: upsample, scale: 2}",
        "{type: zeropad, padding: [0, 1, 2, 0, 1, 1]}", "{type: crop, size: [3, 2, 4]}",
        "flatten", "{type: fc, units: 3}", "{type: pixel_unshuffle, factor: 2}"],
}


@pytest.mark.parametrize("rank, layer", [(r, layer) for r, layers in ND_GRADIENTS.items()
                                         for layer in layers])
def test_gradients_in_1d_and_3d(rank, layer):
    """Central differences agree with the backward pass of every spatial layer, on its input
    (through a conv before it, so that the gradient reaches weights too)."""
    shape = "[12, 4]" if rank == 1 else "[4, 6, 6, 4]"
    text = (f"input: {shape}\nlayers:\n  - {{type: conv, filters: 4, kernel: 1}}\n"
            f"  - {layer}\n")
    numerical_check(loads(text), np.random.default_rng(11))


def test_gate_multiply_in_3d_has_a_gradient():
    """An SE-style 1x1x1xC gate broadcast over a 3-D map."""
    numerical_check(loads(
        "input: [3, 4, 4, 3]\nlayers:\n  - {name: a, type: conv, filters: 3, kernel: 1}\n"
        "  - {name: g, type: pool, mode: avg, global: true}\n"
        "  - {type: multiply, inputs: [a, g]}\n"), np.random.default_rng(2))


def test_forward_runs_a_3d_network_with_the_predicted_shapes():
    result = runner.invoke(app, ["validate", "--forward", "-"], input=(
        "input: 6x10x12x3\nlayers:\n  - {type: conv, filters: 4, kernel: 3, padding: 1}\n"
        "  - batchnorm\n  - relu\n  - {type: pool, kernel: [1, 2, 2]}\n"
        "  - {type: deconv, filters: 2, kernel: [1, 2, 2], stride: [1, 2, 2]}\n"
        "  - {type: pool, global: true, mode: avg}\n  - flatten\n  - {type: fc, units: 5}\n"))
    assert result.exit_code == 0, result.output
    assert "output 1x1x1x5" in result.stdout


def test_input_sweep_keeps_the_rank():
    result = runner.invoke(app, ["summarize", "m5", "--input", "16000,32000"])
    assert result.exit_code == 0, result.output
    assert "16000x1" in result.stdout and "32000x1" in result.stdout
    cube = runner.invoke(app, ["summarize", "-", "--input", "8,16"],
                         input="input: [4, 4, 4, 2]\nlayers:\n  - {type: conv, filters: 1, kernel: 3}\n")
    assert cube.exit_code == 0 and "8x8x8x2" in cube.stdout and "16x16x16x2" in cube.stdout


@pytest.mark.parametrize("shape, hint", [
    ("[1, 32000]", "inputs are [length, channels]: [1, 32000] looks channels-first, did you "
                   "mean [32000, 1]?"),
    ("[3, 16, 112, 112]", "inputs are [depth, height, width, channels]: [3, 16, 112, 112] looks"
                          " channels-first, did you mean [16, 112, 112, 3]?"),
])
def test_channels_first_hint_in_1d_and_3d(shape, hint):
    diagnostic = error_of(f"input: {shape}\nlayers:\n  - {{type: conv, filters: 8, "
                          "kernel: 80}\n")
    assert hint in diagnostic.message


def test_fc_as_conv_sliding_in_3d_names_the_stride_per_axis():
    """Trained on 4x8x8 clips, the convolutionalised net run on 6x16x16: the fc sees the
    pool's output, whose units are 1 frame and 2 pixels apart (jump 1x2x2), so the 3x5x5
    outputs are the crops at those strides."""
    spec = ("input: [4, 8, 8, 2]\nlayers:\n  - {type: conv, filters: 3, kernel: 1}\n"
            "  - {type: pool, kernel: [1, 2, 2]}\n  - {type: fc, units: 5}\n")
    result = runner.invoke(app, ["summarize", "-", "--fc-as-conv", "--input", "6x16x16x2",
                                 "--format", "json"], input=spec)
    assert result.exit_code == 0, result.output
    import json
    sliding = json.loads(result.stdout)["sliding"]
    # (6 - 4)/1 + 1 = 3 frames, (8 - 4)/1 + 1 = 5 pooled positions per side
    assert sliding["positions"] == [3, 5, 5] and sliding["stride"] == [1, 2, 2]


def test_schema_accepts_the_per_axis_forms_and_refuses_four_axes():
    jsonschema = pytest.importorskip("jsonschema")
    from cnncalc.language.schema import spec_schema
    validator = jsonschema.Draft202012Validator(spec_schema())
    good = ("input: 16x112x112x3\nlayers:\n  - {type: conv, filters: 8, kernel: [3, 7, 7], "
            "padding: [[0, 1], 3, 3]}\n  - {type: pool, kernel: 2, padding: [0, 1, 0, 1, 1, 0]}\n"
            "  - {type: pool, output: [2, 1, 1]}\n")
    assert not list(validator.iter_errors(yaml.safe_load(good)))
    analyze(loads(good))  # and cnncalc builds it
    for bad in ("input: [8, 8, 8, 8, 3]\nlayers: [relu]\n",
                "input: [8, 3]\nlayers:\n  - {type: conv, filters: 1, kernel: [1, 1, 1, 1]}\n"):
        assert list(validator.iter_errors(yaml.safe_load(bad)))
