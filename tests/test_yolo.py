"""Ultralytics YOLO model YAML read as a spec: counts written as the modules' formulas, the
scale and nc options, import, and one-line refusals of bad files (no Ultralytics needed)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from cnncalc.analysis.analyze import analyze
from cnncalc.errors import CnnCalcError
from cnncalc.load import open_spec

TINY = """\
nc: 2
scales:            # the first listed (s) is the default, as in Ultralytics' parse_model
  s: [1.0, 0.5, 64]
  n: [0.33, 0.25, 1024]
backbone:
  - [-1, 1, Conv, [32, 3, 2]]        # 0: 16 channels (32 x 0.5), 32x32 at 64
  - [-1, 2, C2f, [64, True]]         # 1: 32 channels, two Bottlenecks of c = 16
  - [-1, 1, Conv, [128, 3, 2]]       # 2: min(128, 64) x 0.5 = 32 channels, 16x16
head:
  - [-1, 1, nn.Upsample, [None, 2, "nearest"]]   # 3: 32x32
  - [[-1, 1], 1, Concat, [1]]        # 4: 32 + 32 channels
  - [[1, 4], 1, Detect, [nc]]        # 5: two levels of 32 and 64 channels
"""


def conv(c1, c2, k):
    """Ultralytics' Conv: a bias-free k x k conv and a BatchNorm's weight and bias."""
    return c1 * c2 * k * k + 2 * c2


def write(tmp_path, text, name="tiny.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def totals(path, args=None, input_override=None):
    return analyze(open_spec(path, input_override, args)).totals


def tiny_trainable(nc=2):
    c = 16                                                   # C2f's hidden width: 32 x 0.5
    c2f = conv(16, 2 * c, 1) + 2 * 2 * conv(c, c, 3) + conv((2 + 2) * c, 32, 1)  # 2 Bottlenecks
    head = 0
    for x in (32, 64):                                      # Detect: c2 = 64, c3 = 32
        head += conv(x, 64, 3) + conv(64, 64, 3) + (64 * 64 + 64)        # box: 4 x reg_max
        head += conv(x, 32, 3) + conv(32, 32, 3) + (32 * nc + nc)        # classes
    return conv(3, 16, 3) + c2f + conv(32, 32, 3) + head


def bn_channels(nc=2):
    """Every BatchNorm's channels (cnncalc counts their running mean and variance)."""
    c2f = 2 * 16 + 2 * 2 * 16 + 32
    head = 2 * (64 + 64 + 32 + 32)
    return 16 + c2f + 32 + head


def test_counts_are_the_modules_formulas(tmp_path):
    t = totals(write(tmp_path, TINY))
    assert t.trainable_params == tiny_trainable()
    # non-trainable: running statistics, and the DFL conv's 16 frozen weights (0..15)
    assert t.non_trainable_params == 2 * bn_channels() + 16


def test_first_scale_is_the_default_and_input_is_640(tmp_path):
    network = open_spec(write(tmp_path, TINY))
    assert network.input_shape.as_list() == [640, 640, 3]
    first = analyze(network).rows[0]                       # conv0.conv at scale s
    assert first.output_shape.as_list() == [320, 320, 16]
    assert first.totals.macs == 320 * 320 * 16 * 3 * 3 * 3


def test_scale_and_nc_options(tmp_path):
    path = write(tmp_path, TINY)
    n = analyze(open_spec(path, "64x64x3", {"scale": "n"})).rows[0]
    assert n.output_shape.as_list() == [32, 32, 8]          # make_divisible(32 x 0.25, 8)
    t = totals(path, {"nc": 5})
    assert t.trainable_params == tiny_trainable(nc=5)


def test_depth_gain_rounds_as_parse_model(tmp_path):
    """n: depth 0.33 makes C2f's 2 repeats max(round(0.66), 1) = 1 Bottleneck."""
    network = open_spec(write(tmp_path, TINY), "64x64x3", {"scale": "n"})
    names = [node.name for node in network.nodes]
    assert any(n.startswith("c2f1.m0.") for n in names)
    assert not any(n.startswith("c2f1.m1.") for n in names)


def test_classify_head_reads_224(tmp_path):
    path = write(tmp_path, """\
        nc: 10
        backbone:
          - [-1, 1, Conv, [16, 3, 2]]
        head:
          - [-1, 1, Classify, [nc]]
        """)
    network = open_spec(path)
    assert network.input_shape.as_list() == [224, 224, 3]
    t = analyze(network).totals
    # Conv, then Classify: Conv(16, 1280, 1), global pool, Linear(1280, 10)
    assert t.trainable_params == conv(3, 16, 3) + conv(16, 1280, 1) + 1280 * 10 + 10


def test_model_activation_replaces_silu(tmp_path):
    path = write(tmp_path, """\
        activation: nn.LeakyReLU(0.1)
        backbone:
          - [-1, 1, Conv, [16, 3, 2]]
        head:
          - [-1, 1, Conv, [16, 1, 1]]
        """)
    types = [node.layer.type_name for node in open_spec(path).nodes]
    assert types.count("leaky_relu") == 2 and "silu" not in types


def test_import_writes_a_spec_with_the_same_counts(tmp_path):
    path = write(tmp_path, TINY)
    out = tmp_path / "net.yaml"
    result = cli("import", path, "--scale", "n", "--arg", "nc=3", "-o", out)
    assert result.returncode == 0, result.stderr
    written = out.read_text()
    assert "backbone" not in written and "blocks:" in written
    assert totals(str(out)) == totals(path, {"scale": "n", "nc": 3})


# Bad input: one line naming the file and the row, exit 2.

def refusal(tmp_path, text, args=None):
    with pytest.raises(CnnCalcError) as info:
        totals(write(tmp_path, text), args)
    d = info.value.diagnostic
    assert "\n" not in d.format()
    return d


ROWS = "backbone:\n  - [-1, 1, Conv, [16, 3, 2]]\nhead:\n"


def test_unknown_module_is_named_with_its_row(tmp_path):
    d = refusal(tmp_path, ROWS + "  - [-1, 1, FancyBlock, [16]]\n")
    assert d.exit_code == 2 and d.span.line == 4
    assert "row 1" in d.message and "'FancyBlock'" in d.message


def test_refused_module_says_why(tmp_path):
    d = refusal(tmp_path, ROWS + "  - [-1, 1, RTDETRDecoder, [16]]\n")
    assert d.exit_code == 2 and "'RTDETRDecoder'" in d.message and "transformer" in d.message


def test_scale_not_listed(tmp_path):
    d = refusal(tmp_path, TINY, {"scale": "x"})
    assert d.exit_code == 2 and "no scale 'x'" in d.message and "s, n" in d.message
    assert refusal(tmp_path, "scale: [n]\n" + TINY).exit_code == 2


@pytest.mark.parametrize("row, words", [
    ("[-1, 1, Conv]", "[from, repeats, module, args]"),
    ("[5, 1, Conv, [16]]", "names no earlier row"),
    ("[-1, two, Conv, [16]]", "repeats"),
    ("[-1, 1, Conv, 16]", "args must be a list"),
    ("[-1, 1, Conv, []]", "do not fit"),
    ("[-1, 1, 7, [16]]", "module must be a name"),
    ("[-1, 1000000000, C2f, [16]]", "repeats must be an integer from 1 to 10,000"),
    ("[-1, 1, Conv, [16, {a: 1}]]", "do not fit"),
    ("[-1, 1, Conv, [{a: 1}]]", "c2 must be a positive integer"),
])
def test_malformed_rows(tmp_path, row, words):
    d = refusal(tmp_path, ROWS + f"  - {row}\n")
    assert d.exit_code == 2 and d.span.line == 4 and "row 1" in d.message and words in d.message


def test_unknown_top_level_key_and_bad_options(tmp_path):
    assert "'colour'" in refusal(tmp_path, "colour: red\n" + ROWS +
                                 "  - [-1, 1, Conv, [8]]\n").message
    assert "--arg" in refusal(tmp_path, TINY, {"depth": 2}).message
    assert "nc" in refusal(tmp_path, TINY, {"nc": 0}).message


def test_an_impossible_network_exits_1(tmp_path):
    """A Concat of rows of different sizes is a network that cannot be built (exit 1)."""
    d = refusal(tmp_path, ROWS + "  - [-1, 1, Conv, [16, 3, 2]]\n  - [[-1, 0], 1, Concat, [1]]\n")
    assert d.exit_code == 1 and d.span.line == 5  # the Concat's row


def test_layers_point_at_their_rows(tmp_path):
    """Warnings and errors about an expanded layer name the YOLO file's row."""
    network = open_spec(write(tmp_path, TINY))
    lines = {node.name.split(".")[0]: node.span.line for node in network.nodes}
    assert lines["conv0"] == 6 and lines["c2f1"] == 7 and lines["detect5"] == 12
    assert {node.span.file for node in network.nodes} == {str(tmp_path / "tiny.yaml")}


def cli(*args):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.run([sys.executable, "-m", "cnncalc", *map(str, args)],
                          capture_output=True, text=True, env=env, check=False)


def test_cli_refusal_is_one_line_exit_2(tmp_path):
    path = write(tmp_path, ROWS + "  - [-1, 1, FancyBlock, [16]]\n")
    result = cli("summarize", path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{path}:4:") and "FancyBlock" in lines[0]


def test_import_refuses_a_spec(tmp_path):
    path = write(tmp_path, "input: [8, 8, 3]\nlayers:\n  - relu\n", "spec.yaml")
    result = cli("import", path, "-o", tmp_path / "out.yaml")
    assert result.returncode == 2 and "a spec needs no import" in result.stderr
    assert not (tmp_path / "out.yaml").exists()


def test_c2psa_attention_counts(tmp_path):
    """C2PSA(256): c = 128, 128 // 64 = 2 heads of 64 values, key_dim 32 (attn_ratio 0.5);
    Ultralytics' Attention: qkv ConvBN to 128 + 2 x 2 x 32, q^T k and v attn^T per head over
    N = 16 x 16 positions, a 3x3 depthwise pe ConvBN on v, a proj ConvBN; then the ffn."""
    path = write(tmp_path, """\
        backbone:
          - [-1, 1, Conv, [256, 3, 2]]
        head:
          - [-1, 1, C2PSA, [256]]
        """)
    report = analyze(open_spec(path, "32x32x3"))
    rows = [r for r in report.rows if r.name.startswith("c2psa1.")]
    c, heads, key, value, n = 128, 2, 32, 64, 16 * 16
    qkv = c + 2 * heads * key
    params = (conv(256, 2 * c, 1) + conv(c, qkv, 1) + (c * 9 + 2 * c) + conv(c, c, 1)
              + conv(c, 2 * c, 1) + conv(2 * c, c, 1) + conv(2 * c, 256, 1))
    weights = 256 * 2 * c + c * qkv + c * 9 + c * c + c * 2 * c + 2 * c * c + 2 * c * 256
    attention = heads * n * n * key + heads * n * n * value  # q^T k, then v attn^T
    assert sum(r.totals.trainable_params for r in rows) == params
    assert sum(r.totals.macs for r in rows) == n * weights + attention


def test_any_value_in_any_argument_is_a_count_or_one_line(tmp_path):
    """Every argument of every row of TINY replaced by odd values: counts, or one line."""
    import yaml
    rows = yaml.safe_load(TINY)
    odd = [None, True, 0, -1, 0.5, "x", [], [1, 2, 3, 4], {"a": 1}, 10 ** 6]
    for part in ("backbone", "head"):
        for r, row in enumerate(rows[part]):
            for a in range(len(row[3]) + 1):
                for value in odd:
                    doc = yaml.safe_load(TINY)
                    args = doc[part][r][3]
                    args[a:a + 1] = [value]
                    path = write(tmp_path, yaml.safe_dump(doc), "odd.yaml")
                    try:
                        totals(path, None, "64x64x3")
                    except CnnCalcError as error:
                        assert "\n" not in error.diagnostic.format()
                        assert error.diagnostic.exit_code in (1, 2)
