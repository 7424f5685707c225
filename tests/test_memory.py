"""Memory: the notes' VGG16 and LeNet-5 figures, a residual peak worked by hand, the rules."""

import json

import pytest
from typer.testing import CliRunner

from cnncalc.analysis.analyze import analyze
from cnncalc.analysis.memory import build
from cnncalc.conventions import DTYPES, binary
from cnncalc.language.budget import parse_size
from cnncalc.cli import app
from cnncalc.language.document import load, loads
from cnncalc.zoo import path_of

runner = CliRunner()

VGG16_ROWS = [  # the notes' "memory" column, row by row (224*224*3 = 150K ... 1000)
    224 * 224 * 3, 224 * 224 * 64, 224 * 224 * 64, 112 * 112 * 64, 112 * 112 * 128,
    112 * 112 * 128, 56 * 56 * 128, 56 * 56 * 256, 56 * 56 * 256, 56 * 56 * 256, 28 * 28 * 256,
    28 * 28 * 512, 28 * 28 * 512, 28 * 28 * 512, 14 * 14 * 512, 14 * 14 * 512, 14 * 14 * 512,
    14 * 14 * 512, 7 * 7 * 512, 4096, 4096, 1000]


def model_of(name=None, text=None, inplace=True):
    network = load(path_of(name)) if name else loads(text)
    return build(network, analyze(network), inplace)


def test_vgg16_forward_is_the_sum_of_the_notes_rows_not_24m():
    m = model_of("vgg16")
    assert sum(VGG16_ROWS) == 15_237_608  # the rows add up to 15.2M, not the printed "24M"
    assert m.activation_values == sum(VGG16_ROWS)
    assert m.forward_bytes(1, 4) == sum(VGG16_ROWS) * 4
    assert binary(m.forward_bytes(1, 4)) == "58.1 MiB"
    assert m.param_values == 138_357_544


def test_vgg16_training_rule():
    m = model_of("vgg16")
    outputs = sum(VGG16_ROWS) - 224 * 224 * 3
    for optimizer, k in (("sgd", 2), ("momentum", 3), ("adam", 4)):
        expected = 4 * (2 * 64 * outputs + 64 * 224 * 224 * 3 + k * 138_357_544)
        assert m.training_bytes(64, 4, optimizer) == expected


def test_vgg16_inference_peak_is_the_two_largest_neighbours():
    m = model_of("vgg16")
    assert m.peak_values == 224 * 224 * 64 * 2  # conv1_1's output while conv1_2 writes its own
    assert m.peak_layer == "stage1.conv1_2"  # the zoo's VGG family groups each stage
    assert m.peak_inference_bytes(1, 4) == 4 * (224 * 224 * 64 * 2 + 138_357_544)


def test_lenet5_activations():
    m = model_of("lenet5")
    # input 32x32, C1 28x28x6, S2 14x14x6, C3 10x10x16, S4 5x5x16, C5 120, F6 84, output 10
    assert m.activation_values == 32 * 32 + 28 * 28 * 6 + 14 * 14 * 6 + 10 * 10 * 16 \
        + 5 * 5 * 16 + 120 + 84 + 10
    assert m.param_values == 60_000 + 840
    assert m.im2col_values == (5 * 5 * 1) * (28 * 28)  # C1: 25 rows x 784 columns


RESIDUAL = """
input: [8, 8, 4]
layers:
  - residual:
      - {type: conv, filters: 4, kernel: 3, padding: 1}
      - relu
      - {type: conv, filters: 4, kernel: 3, padding: 1}
  - relu
"""


def test_residual_inference_peak_worked_by_hand():
    # values per sample: x = 256. conv1 writes 256 while x is kept for the shortcut (512);
    # relu works in place; conv2 writes 256 while x and conv1's buffer are live (768);
    # add writes 256 while x and conv2 are live (768); the last relu is in place.
    m = model_of(text=RESIDUAL)
    assert m.peak_values == 3 * 8 * 8 * 4
    # a plain chain of the same layers never holds more than two tensors
    chain = model_of(text=RESIDUAL.replace("  - residual:\n      - {", "  - {")
                     .replace("      - relu\n      - {", "  - relu\n  - {"))
    assert chain.peak_values == 2 * 8 * 8 * 4


def test_inplace_relu_and_dropout_allocate_nothing_unless_told():
    text = "input: [4, 4, 2]\nlayers:\n  - {type: conv, filters: 2, kernel: 1}\n  - relu\n" \
           "  - {type: dropout, rate: 0.5}\n  - flatten\n"
    default, counted = model_of(text=text), model_of(text=text, inplace=False)
    assert [x.allocates for x in default.layers] == ["yes", "in place", "in place", "view"]
    assert default.activation_values == 32 + 32
    assert counted.activation_values == 32 + 3 * 32  # relu and dropout now allocate


def test_relu_reading_a_shared_tensor_is_not_in_place():
    text = ("input: [4, 4, 2]\nlayers:\n  - {name: a, type: conv, filters: 2, kernel: 1}\n"
            "  - relu\n  - {type: add, inputs: [a, relu1]}\n")
    assert model_of(text=text).layers[1].allocates == "yes"


def test_alexnet_conv1_im2col_is_363_by_3025():
    m = model_of(text="input: [227, 227, 3]\nlayers:\n  - {type: conv, filters: 96, kernel: 11, "
                      "stride: 4}\n")
    assert m.im2col_values == 363 * 3025  # the notes' X_col: [363 x 3025]
    # in the whole 2012 AlexNet the largest is conv2's: 96 maps x 5 x 5 rows, 27 x 27 columns
    whole = model_of("alexnet")
    assert whole.im2col_values == (96 * 5 * 5) * (27 * 27) and whole.im2col_layer == "conv2"


@pytest.mark.parametrize("dtype, width", [("float64", 8), ("float32", 4), ("float16", 2),
                                          ("bfloat16", 2), ("int8", 1)])
def test_dtype_widths(dtype, width):
    assert DTYPES[dtype] == width
    m = model_of("lenet5")
    assert m.forward_bytes(3, width) == 3 * m.activation_values * width


@pytest.mark.parametrize("mode", ["inference", "training"])
def test_max_batch_is_the_largest_that_fits(mode):
    m = model_of("resnet50")
    budget = 24 * 2**30
    best = m.max_batch(budget, mode, 4, "adam")
    assert m.total(mode, best, 4, "adam") <= budget < m.total(mode, best + 1, 4, "adam")
    if mode == "inference":  # linear in batch: the closed form agrees
        assert best == (budget // 4 - m.param_values) // m.peak_values


def test_max_batch_zero_when_nothing_fits():
    assert model_of("vgg16").max_batch(10 * 2**20, "inference", 4, "sgd") == 0


@pytest.mark.parametrize("text, expected", [("24GiB", 24 * 2**30), ("512 MiB", 512 * 2**20),
                                            ("16GB", 16 * 10**9), ("1000", 1000),
                                            ("1.5GiB", 3 * 2**29)])
def test_parse_size(text, expected):
    assert parse_size(text) == expected


def test_torchsummary_forward_backward_figure_for_torchvision_vgg16():
    """torchsummary prints 'Forward/backward pass size (MB): 218.78' for torchvision's vgg16:
    every module's output (ReLUs, dropout and the adaptive pool included) x 2 x 4 bytes, in
    MiB. The same modules written as a spec, with nothing in place, give that figure."""
    convs = "".join(f"  - {{type: conv, filters: {c}, kernel: 3, padding: 1}}\n  - relu\n"
                    if c else "  - {type: pool, kernel: 2}\n"
                    for c in [64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0,
                              512, 512, 512, 0])
    text = ("input: [224, 224, 3]\nlayers:\n" + convs
            + "  - {type: pool, mode: avg, output: [7, 7]}\n  - flatten\n"
            + "  - {type: fc, units: 4096}\n  - relu\n  - dropout\n"
            + "  - {type: fc, units: 4096}\n  - relu\n  - dropout\n  - {type: fc, units: 1000}\n")
    m = model_of(text=text, inplace=False)
    assert round(m.output_values * 2 * 4 / 2**20, 2) == 218.78


def test_cli_json_keys_and_vgg16_note():
    result = runner.invoke(app, ["memory", "vgg16", "--batch", "64", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    for key in ("batch", "dtype", "bytes_per_value", "mode", "activation_values",
                "param_values", "forward_bytes", "peak_inference_bytes", "training_bytes",
                "im2col_bytes"):
        assert key in data
    assert data["activation_values"] == 15_237_608
    assert data["forward_bytes"] == 64 * 15_237_608 * 4
    assert "24M" in data["note"]


def test_cli_table_batch_list_and_device_memory():
    result = runner.invoke(app, ["memory", "vgg16", "--batch", "1,8,64", "--device-memory",
                                 "24GiB", "--mode", "training"], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    assert "58.1 MiB" in result.stdout and "Largest batch in 24.0 GiB (training)" in result.stdout
    assert "By batch size" in result.stdout
    data = json.loads(runner.invoke(app, ["memory", "vgg16", "--device-memory", "24GiB",
                                          "--mode", "training", "--format", "json"]).stdout)
    assert data["max_batch"] > 0


@pytest.mark.parametrize("args, words", [
    (["--batch", "0"], "--batch"), (["--batch", "a,b"], "--batch"),
    (["--dtype", "float8"], "--dtype"), (["--mode", "train"], "--mode"),
    (["--optimizer", "rmsprop"], "--optimizer"), (["--device-memory", "lots"], "--device-memory"),
])
def test_cli_bad_options_are_one_line(args, words):
    result = runner.invoke(app, ["memory", "vgg16", *args])
    assert result.exit_code == 2
    assert result.stderr.startswith(words) and result.stderr.count("\n") == 1


@pytest.mark.parametrize("name, published", [("vgg16", 108.45), ("resnet50", 177.83)])
def test_torchinfo_forward_backward_figures(name, published):
    """torchinfo prints 'Forward/backward pass size (MB)': 108.45 for torchvision's vgg16 and
    177.83 for resnet50. Its rule: the outputs of the layers that hold parameters (conv,
    batch norm, linear), x 2 for gradients, x 4 bytes, in decimal megabytes."""
    report = analyze(load(path_of(name)))
    with_params = sum(r.output_shape.size for r in report.rows if r.totals.params)
    assert round(with_params * 2 * 4 / 1e6, 2) == published
    # and its "Params size (MB)": 553.43 and 102.23
    assert round(report.totals.trainable_params * 4 / 1e6, 2) == {"vgg16": 553.43,
                                                                  "resnet50": 102.23}[name]


def test_memory_layers_depth_collapses_groups_and_keeps_totals():
    """--depth 0 shows layer1..layer4 of ResNet-18 as one line each; the held values of the
    lines add up to the same total as every layer's (the forward activations less the input:
    the notes' rule)."""
    from cnncalc.render.memory_table import collapsed
    network = load(path_of("resnet18"))
    model = build(network, analyze(network))
    flat, grouped = collapsed(model.layers, None), collapsed(model.layers, 0)
    assert [row[0] for row in grouped if row[1] == "group"] == ["layer1", "layer2", "layer3",
                                                                 "layer4"]
    assert sum(row[3] for row in grouped) == sum(row[3] for row in flat) == model.output_values
    result = runner.invoke(app, ["memory", "resnet18", "--layers", "--depth", "0"])
    assert result.exit_code == 0 and " layer1 " in result.stdout
    assert "layer1.basic1" not in result.stdout
