"""Silently wrong or unhelpful answers (issue 26): an image written without its channels,
1-D networks described as 1-D, readable figures rounded across unit boundaries, other
frameworks' layer names, options that do not apply to a mode, trainable on shared weights,
errors that name layers by their names, and words that point to nothing a user can open."""

import json

import pytest
from typer.testing import CliRunner

from cnncalc.cli import app
from cnncalc.conventions import binary, readable

runner = CliRunner()


def spec(tmp_path, text: str):
    path = tmp_path / "s.yaml"
    path.write_text(text)
    return str(path)


MNIST_WITHOUT_CHANNELS = "input: [28, 28]\nlayers:\n  - {type: conv, filters: 4, kernel: 3}\n" \
                         "  - flatten\n  - {type: fc, units: 10}\n"


def test_a_square_two_element_input_warns_of_missing_channels(tmp_path):
    result = runner.invoke(app, ["validate", "--strict", spec(tmp_path, MNIST_WITHOUT_CHANNELS)])
    assert result.exit_code == 1
    assert "input [28, 28] is a 1-D signal of length 28 with 28 channels; a 28x28 image with " \
           "one channel is [28, 28, 1] [input-no-channels]" in result.stdout


@pytest.mark.parametrize("shape", ["[16000, 1]", "[100, 40]", "[3, 3]", "[28, 28, 1]"])
def test_signals_and_images_with_channels_do_not_warn(tmp_path, shape):
    path = spec(tmp_path, f"input: {shape}\nlayers: [relu]\n")
    assert "input-no-channels" not in runner.invoke(app, ["validate", path]).stdout


def test_a_1d_network_is_described_as_1d(tmp_path):
    path = spec(tmp_path, MNIST_WITHOUT_CHANNELS.replace("  - flatten\n", ""))
    table = runner.invoke(app, ["summarize", path]).stdout
    assert "(input length 28, 28 channels)" in table
    rows = json.loads(runner.invoke(app, ["summarize", "--format", "json", path]).stdout)["layers"]
    notes = [note for row in rows for note in row["notes"]]
    # conv 3 on 28 positions: 28 - 3 + 1 = 26 positions of 4 channels, flattened channel-major
    assert f"flattens 26x4 = {26 * 4} values in C,L order" in notes
    assert not any("C,H,W" in note for note in notes)
    explained = runner.invoke(app, ["explain", path, "fc1"]).stdout
    assert f"input flattened: 26x4 = {26 * 4} values (C,L)" in explained


@pytest.mark.parametrize(("n", "text"), [
    (999_960, "1.0 M"),  # 999.96 K rounds to 1000.0 K: the next unit
    (999_949, "999.9 K"), (999_950, "1.0 M"), (999_999_999, "1.0 G"), (1_000, "1.0 K"),
    (999, "999"), (138_357_544, "138.4 M"), (-999_960, "-1.0 M"),
])
def test_readable_rounds_across_unit_boundaries(n, text):
    assert readable(n) == text


@pytest.mark.parametrize(("n", "text"), [
    (2**20 - 1, "1.0 MiB"), (1024 * 1023, "1023.0 KiB"), (2**30 - 2**10, "1.0 GiB"),
    (1023, "1023 B")])
def test_binary_rounds_across_unit_boundaries(n, text):
    assert binary(n) == text


@pytest.mark.parametrize(("written", "meant"), [
    ("linear", "fc"), ("Dense", "fc"), ("Conv2d", "conv"), ("conv1d", "conv"),
    ("MaxPool2d", "pool"), ("AvgPool2d", "pool"), ("BatchNorm2d", "batchnorm"),
    ("ConvTranspose2d", "deconv"), ("LayerNormalization", "layernorm"),
    ("Concatenate", "concat"), ("LeakyReLU", "leaky_relu")])
def test_other_frameworks_layer_names_suggest_ours(tmp_path, written, meant):
    result = runner.invoke(app, ["validate", spec(
        tmp_path, f"input: [8, 8, 3]\nlayers:\n  - {{type: {written}}}\n")])
    assert result.exit_code == 2
    assert f"did you mean '{meant}'?" in result.stdout


@pytest.mark.parametrize("option", [["--checkpoint", "2"], ["--micro-batch", "1"]])
def test_training_only_memory_options_are_refused_in_inference(option):
    result = runner.invoke(app, ["memory", "lenet5", *option])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"{option[0]}: error: applies to training only; add " \
                                    f"--mode training (received: '{option[1]}')"


def test_memory_header_says_one_segment():
    result = runner.invoke(app, ["memory", "lenet5", "--mode", "training", "--checkpoint", "1"])
    assert result.exit_code == 0
    assert "checkpoint 1 segment," in result.stdout


def test_memory_states_its_rules_not_a_source_the_user_cannot_open():
    for words in (["memory", "lenet5", "--layers"], ["memory", "lenet5", "--format", "html"]):
        assert "notes" not in runner.invoke(app, words).stdout


def test_trainable_on_a_layer_sharing_frozen_weights_is_an_error(tmp_path):
    path = spec(tmp_path, "input: [8, 8, 3]\nlayers:\n"
                "  - {name: c1, type: conv, filters: 3, kernel: 3, padding: 1, trainable: false}\n"
                "  - {name: c2, shares: c1, trainable: true}\n")
    result = runner.invoke(app, ["validate", path])
    assert result.exit_code == 2
    assert ":4:39: error: layer 'c2': 'trainable' cannot differ from the weights' owner" \
        in result.stdout


def test_sharing_frozen_weights_without_trainable_is_fine(tmp_path):
    path = spec(tmp_path, "input: [8, 8, 3]\nlayers:\n"
                "  - {name: c1, type: conv, filters: 3, kernel: 3, padding: 1, trainable: false}\n"
                "  - {name: c2, shares: c1}\n")
    result = runner.invoke(app, ["summarize", "--format", "json", path])
    assert result.exit_code == 0
    # conv 3x3, 3 -> 3 channels, with bias, counted once and frozen
    assert json.loads(result.stdout)["totals"]["trainable_params"] == 0


@pytest.mark.parametrize(("item", "words"), [
    ("{name: stem, type: conv, filters: 2, kernel: 3, when: maybe}", "layer 'stem': 'when'"),
    ("{name: stem, type: conv, filters: 2, kernel: 3, trainable: 2}", "layer 'stem': 'trainable'"),
    ("{name: stem, shares: nothing}", "layer 'stem': 'shares' names no earlier layer"),
    ("{name: stem, repeat: x, layers: [relu]}", "group 'stem': 'repeat'"),
])
def test_errors_name_a_named_layer_by_its_name(tmp_path, item, words):
    result = runner.invoke(app, ["validate", spec(tmp_path, f"input: [8, 8, 3]\nlayers:\n"
                                                            f"  - {item}\n")])
    assert result.exit_code == 2
    assert words in result.stdout and "layers[0]" not in result.stdout


def test_slice_channels_are_documented_as_start_and_end():
    from cnncalc.layers import REGISTRY
    kinds = {d.name: d.kind for d in REGISTRY["slice"].settings()}
    assert kinds["channels"].text == "[start, end], two integers >= 0"


def test_an_unnamed_item_is_called_by_its_place_not_as_a_layer_name(tmp_path):
    result = runner.invoke(app, ["validate", spec(tmp_path, "input: [8, 8, 3]\nlayers:\n"
                                                            "  - {shares: nothing}\n")])
    assert result.exit_code == 2
    assert "error: layers[0]: 'shares' names no earlier layer" in result.stdout
