"""explain: the arithmetic of one layer with its numbers put in."""


from typer.testing import CliRunner

from cnncalc.cli import app

runner = CliRunner()


def test_explain_shows_the_notes_arithmetic():
    result = runner.invoke(app, ["explain", "vgg16", "conv2_1", "--input", "224x224x3"])
    text = result.stdout
    assert "height: (112 - 3 + 2x1)/1 + 1 = 112" in text
    assert "params: (3x3x64 + 1) x 128 = 73,856" in text
    first = runner.invoke(app, ["explain", "vgg16", "conv1_2"]).stdout
    assert "(224 - 3 + 2x1)/1 + 1 = 224" in first
    assert "receptive field: 5x5" in first and "memory: 224x224x64 = 3,211,264 values" in first


def test_explain_non_integer_size_and_unknown_layer():
    text = runner.invoke(app, ["explain", "-", "conv1"], input="input: [224, 224, 3]\nlayers:\n"
                         "  - {type: conv, filters: 96, kernel: 11, stride: 4}\n").stdout
    assert "(224 - 11 + 2x0)/4 + 1 = 54.25, rounded down to 54" in text
    bad = runner.invoke(app, ["explain", "vgg16", "conv9_9"])
    assert bad.exit_code == 2 and "no layer called 'conv9_9'" in bad.stderr


def test_channels_first_input_gets_a_hint(tmp_path):
    """[3, 32, 32] is PyTorch's C, H, W habit; cnncalc reads H, W, C, so a 3x3 conv leaves a
    1-row map and the 2x2 pool cannot fit: the error says how to write the input."""
    path = tmp_path / "cf.yaml"
    path.write_text("input: [3, 32, 32]\nlayers:\n  - {type: conv, filters: 8, kernel: 3}\n"
                    "  - {type: pool, kernel: 2}\n")
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    assert "looks channels-first, did you mean [32, 32, 3]?" in result.stdout


def test_explain_deconv_and_batchnorm(tmp_path):
    """ConvTranspose2d: out = (H - 1)S - 2P + D(F - 1) + output_padding + 1 = (4-1)2 + 1 + 1 = 8;
    params 2x2 x 8 x 16 + 16; batch norm: 2C trainable and 2C running statistics."""
    path = tmp_path / "d.yaml"
    path.write_text("input: [4, 4, 8]\nlayers:\n  - {type: deconv, filters: 16, kernel: 2, "
                    "stride: 2, name: up}\n  - {type: batchnorm, name: bn}\n")
    up = runner.invoke(app, ["explain", str(path), "up"]).stdout
    assert f"= {(4 - 1) * 2 + 1 * (2 - 1) + 1}" in up and f"= {2 * 2 * 8 * 16 + 16:,}" in up
    assert f"= {4 * 4 * 2 * 2 * 8 * 16:,}" in up  # MACs: every input meets every weight once
    bn = runner.invoke(app, ["explain", str(path), "bn"]).stdout
    assert f"= {2 * 16} trainable" in bn and f"= {2 * 16} non-trainable" in bn


def test_explain_and_validate_agree_on_tiling(tmp_path):
    """W=10, F=3, P=1, S=2: (10 - 3 + 2)/2 + 1 = 5.5; the row left over is padding, so no
    input is lost and validate is silent. W=5, F=2, S=2: 2.5; the last input row is unread."""
    path = tmp_path / "t.yaml"
    path.write_text("input: [10, 10, 1]\nlayers:\n  - {type: conv, filters: 1, "
                    "kernel: 3, stride: 2, padding: 1, name: a}\n  - {type: conv, filters: 1, "
                    "kernel: 2, stride: 2, name: b}\n")
    a = runner.invoke(app, ["explain", str(path), "a"]).stdout
    assert "= 5.5, rounded down to 5: the cells left over are padding" in a
    b = runner.invoke(app, ["explain", str(path), "b"]).stdout
    assert "= 2.5, rounded down to 2: the last 1 row of the input is never read" in b
    warnings = runner.invoke(app, ["validate", str(path)]).stdout
    assert "layer 'a'" not in warnings and "layer 'b': window does not tile" in warnings


def test_explain_local_and_lrn(tmp_path):
    """A locally-connected layer has one (3x3x2 + 1) set of weights per output unit: 6x6x4 of
    them; LRN counts 2n + 3 FLOPs per value (n squares, n - 1 adds, scale, add k, power,
    divide)."""
    path = tmp_path / "l.yaml"
    path.write_text("input: [8, 8, 2]\nlayers:\n  - {type: local, filters: 4, kernel: 3, "
                    "name: loc}\n  - {type: lrn, size: 5, name: n}\n")
    loc = runner.invoke(app, ["explain", str(path), "loc"]).stdout
    assert f"= {(3 * 3 * 2 + 1) * 6 * 6 * 4:,}" in loc and f"= {6 * 6 * 4 * 3 * 3 * 2:,}" in loc
    lrn = runner.invoke(app, ["explain", str(path), "n"]).stdout
    assert f"= {6 * 6 * 4 * (2 * 5 + 3):,}" in lrn
