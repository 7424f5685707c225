"""`cnncalc memory --convention torchinfo|torchsummary`: the peers' published figures,
reproduced line for line from their own golden outputs and README."""

import json

import pytest
from typer.testing import CliRunner

from cnncalc.analysis.analyze import analyze
from cnncalc.analysis.peer_memory import peer_figures, torchinfo_number
from cnncalc.cli import app
from cnncalc.language.document import load, loads
from cnncalc.zoo import path_of
from tests.conftest import torchvision_or_skip

runner = CliRunner()

TORCHINFO = "https://github.com/TylerYep/torchinfo/blob/main/tests/test_output/"
TORCHSUMMARY_README = "https://github.com/sksq96/pytorch-summary/blob/master/README.md"

# torchinfo's tests/fixtures/models.py SingleInputNet: conv 1->10 k5, F.max_pool2d 2, F.relu,
# conv 10->20 k5, Dropout2d, F.max_pool2d 2, F.relu, view(-1, 320), fc 50, F.relu, fc 10,
# F.log_softmax. The functional calls are layers here; torchinfo counts only the layers with
# parameters, so they do not change its figures.
SINGLE_INPUT_NET = """
input: [28, 28, 1]
layers:
  - {type: conv, filters: 10, kernel: 5}
  - {type: pool, kernel: 2}
  - relu
  - {type: conv, filters: 20, kernel: 5}
  - {type: dropout, rate: 0.3}
  - {type: pool, kernel: 2}
  - relu
  - flatten
  - {type: fc, units: 50}
  - relu
  - {type: fc, units: 10}
  - softmax
"""

# torchsummary's README VGG16 (torchvision's vgg16 of 2018: no adaptive pool; Linear-32 reads
# the 512x7x7 pool output through x.view, which torchsummary does not see): each Conv2d and
# Linear followed by a ReLU module (fused here: a second module), Dropout after fc6 and fc7.
README_VGG16 = ("input: [224, 224, 3]\nlayers:\n" + "".join(
    f"  - {{type: conv, filters: {c}, kernel: 3, padding: 1, activation: relu}}\n" if c
    else "  - {type: pool, kernel: 2, stride: 2}\n"
    for c in [64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0])
    + "  - {type: fc, units: 4096, activation: relu}\n  - dropout\n"
    + "  - {type: fc, units: 4096, activation: relu}\n  - dropout\n"
    + "  - {type: fc, units: 1000}\n")


def figures(convention, name=None, text=None, batch=1, width=4, input=None):
    network = load(path_of(name)) if name else loads(text)
    if input:
        from cnncalc.layers.shape import Shape
        network.input_shape = Shape(tuple(input[:-1]), input[-1])
    return peer_figures(network, analyze(network), convention, batch, width)


@pytest.mark.parametrize("source, name, text, batch, input, printed", [
    ("resnet152.out", "resnet152", None, 1, None,
     ["Input size (kB): 602.17", "Forward/backward pass size (MB): 360.87",
      "Params size (MB): 240.77", "Estimated Total Size (MB): 602.25"]),
    ("resnet50.out", "resnet50", None, 2, None,  # summary(resnet50(), input_size=(2, 3, 224, 224))
     ["Input size (MB): 1.20", "Forward/backward pass size (MB): 355.66",
      "Params size (MB): 102.23", "Estimated Total Size (MB): 459.10"]),
    ("eval_order_doesnt_matter.out", "resnet18", None, 1, None,
     ["Input size (kB): 602.17", "Forward/backward pass size (MB): 39.75",
      "Params size (MB): 46.76", "Estimated Total Size (MB): 87.11"]),
    ("resnet18_depth_consistency.out", "resnet18", None, 1, (64, 64, 3),  # (1, 3, 64, 64)
     ["Input size (kB): 49.21", "Forward/backward pass size (MB): 3.25",
      "Params size (MB): 46.76", "Estimated Total Size (MB): 50.06"]),
    ("single_input.out", None, SINGLE_INPUT_NET, 2, None,  # summary(model, (2, 1, 28, 28))
     ["Input size (kB): 6.33", "Forward/backward pass size (kB): 113.60",
      "Params size (kB): 87.36", "Estimated Total Size (kB): 207.29"]),
    ("single_input_batch_dim.out", None, SINGLE_INPUT_NET, 1, None,
     ["Input size (kB): 3.19", "Forward/backward pass size (kB): 56.80",
      "Params size (kB): 87.36", "Estimated Total Size (kB): 147.35"]),
])
def test_torchinfo_golden_outputs(source, name, text, batch, input, printed):
    """Each line as torchinfo's golden output file prints it (TORCHINFO + source)."""
    assert list(figures("torchinfo", name, text, batch, input=input).printed) == printed


def test_torchinfo_bytes_by_its_rule():
    """SingleInputNet at batch 2, worked by hand: input 2 x 28 x 28 x 4 B + the storage
    object's 56 B; outputs of conv1 (10x24x24), conv2 (20x8x8), fc1 (50), fc2 (10) x 2 x 4 B
    x batch; parameters 21,840 (torchinfo's test asserts total_params == 21840) x 4 B."""
    f = figures("torchinfo", text=SINGLE_INPUT_NET, batch=2)
    assert f.input_bytes == 2 * 28 * 28 * 4 + 56
    assert f.forward_backward_bytes == 2 * 2 * 4 * (10 * 24 * 24 + 20 * 8 * 8 + 50 + 10)
    assert f.params_bytes == 21_840 * 4
    assert f.total_bytes == f.input_bytes + f.forward_backward_bytes + f.params_bytes


def test_torchinfo_half_precision():
    """single_input_half.out (SingleInputNet in float16 at (2, 1, 28, 28), units fixed to MB):
    Input 0.00, Forward/backward 0.06, Params 0.04, Total 0.10: element size 2 throughout."""
    f = figures("torchinfo", text=SINGLE_INPUT_NET, batch=2, width=2)
    assert [round(v / 1e6, 2) for v in (f.input_bytes, f.forward_backward_bytes,
                                         f.params_bytes, f.total_bytes)] == [0.0, 0.06, 0.04, 0.1]


@pytest.mark.parametrize("num, text", [  # lines of torchinfo's golden outputs
    (64, ": 64"),  # single_linear_layer.out "Input size: 64"
    (856, ": 856"),  # lstm.out "Input size: 856"
    (284_000, " (kB): 284"),  # input_tensor.out "Forward/backward pass size (kB): 284"
    (1_046_390, " (MB): 1.05"),  # row_settings.out "Estimated Total Size (MB): 1.05"
    (1_670_000_000, " (GB): 1.67"),  # tmva_net_column_totals.out "(GB): 1.67"
])
def test_torchinfo_number_format(num, text):
    assert torchinfo_number(num) == text


def test_torchsummary_readme_vgg16():
    """torchsummary's README (TORCHSUMMARY_README), VGG16 at 3x224x224: Input size (MB): 0.57,
    Forward/backward pass size (MB): 218.59, Params size (MB): 527.79, Estimated Total Size
    (MB): 746.96."""
    f = figures("torchsummary", text=README_VGG16)
    assert list(f.printed) == ["Input size (MB): 0.57", "Forward/backward pass size (MB): 218.59",
                               "Params size (MB): 527.79", "Estimated Total Size (MB): 746.96"]
    # its rule, by hand: every module's output x 2 x 4 B; conv and fc outputs twice (+ ReLU)
    convs = [224 * 224 * 64] * 2 + [112 * 112 * 128] * 2 + [56 * 56 * 256] * 3 \
        + [28 * 28 * 512] * 3 + [14 * 14 * 512] * 3
    pools = [112 * 112 * 64, 56 * 56 * 128, 28 * 28 * 256, 14 * 14 * 512, 7 * 7 * 512]
    values = 2 * sum(convs) + sum(pools) + 3 * 4096 * 2 + 1000  # fc6, fc7: Linear+ReLU+Dropout
    assert f.forward_backward_bytes == 2 * values * 4
    assert f.params_bytes == 138_357_544 * 4


def test_torchsummary_todays_torchvision_vgg16():
    """torchvision's vgg16 gained AdaptiveAvgPool2d((7, 7)) (identity at 224): torchsummary
    1.5.1 then prints 218.78 (0.19 MB more: 2 x 7 x 7 x 512 x 4 B), as tests/test_memory.py's
    spec shows."""
    text = README_VGG16.replace("  - {type: fc, units: 4096, activation: relu}\n",
                                "  - {type: pool, mode: avg, output: [7, 7]}\n"
                                "  - {type: fc, units: 4096, activation: relu}\n", 1)
    assert figures("torchsummary", text=text).printed[1] == "Forward/backward pass size (MB): 218.78"


def test_torchsummary_batch_and_dtype():
    """batch_size=N multiplies the input and every output; the bytes are 4 a value whatever
    the dtype ("assume 4 bytes/number")."""
    one, eight = figures("torchsummary", text=README_VGG16), \
        figures("torchsummary", text=README_VGG16, batch=8, width=2)
    assert eight.input_bytes == 8 * one.input_bytes == 8 * 224 * 224 * 3 * 4
    assert eight.forward_backward_bytes == 8 * one.forward_backward_bytes
    assert eight.params_bytes == one.params_bytes


def test_cli_convention_json_and_table():
    result = runner.invoke(app, ["memory", "resnet152", "--convention", "torchinfo",
                                 "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["convention"]["printed"][1] == "Forward/backward pass size (MB): 360.87"
    assert data["convention"]["total_bytes"] == sum(data["convention"][k] for k in (
        "input_bytes", "forward_backward_bytes", "params_bytes"))
    assert "training_bytes" in data and "peak_inference_bytes" in data
    table = runner.invoke(app, ["memory", "resnet18", "--convention", "torchsummary"],
                          env={"COLUMNS": "160"})
    assert table.exit_code == 0 and "Forward/backward pass size (MB): 62.79" in table.stdout
    for format in ("markdown", "csv", "html"):
        out = runner.invoke(app, ["memory", "resnet18", "--convention", "torchinfo",
                                  "--format", format])
        assert out.exit_code == 0 and "Params size (MB): 46.76" in out.stdout


@pytest.mark.parametrize("args", [["--convention", "keras"],
                                  ["--convention", "torchinfo", "--input", "224,320"]])
def test_cli_convention_bad_input_is_one_line(args):
    result = runner.invoke(app, ["memory", "resnet18", *args])
    assert result.exit_code == 2
    assert result.stderr.startswith("--convention") and result.stderr.count("\n") == 1


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "squeezenet1_1", "googlenet"])
def test_torchsummary_itself_on_torchvision(name):
    """Where torchvision writes one module per spec layer, torchsummary 1.5.1 run on the model
    prints our lines (skipped without torchsummary and torchvision)."""
    torchsummary = pytest.importorskip("torchsummary")
    _, torchvision = torchvision_or_skip()
    import contextlib
    import io
    kw = {"aux_logits": False, "init_weights": False} if name == "googlenet" else {}
    model = getattr(torchvision.models, name)(weights=None, **kw)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        torchsummary.summary(model, (3, 224, 224), device="cpu")
    printed = [line for line in out.getvalue().splitlines() if "ize (MB): " in line]
    assert printed == list(figures("torchsummary", name).printed)
