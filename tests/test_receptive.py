"""Receptive fields (Araujo et al., Distill 2019): size, jump and start, worked by hand."""

import json
from fractions import Fraction

from typer.testing import CliRunner

from cnncalc.analysis.analyze import analyze
from cnncalc.cli import app
from cnncalc.language.document import load
from cnncalc.zoo import path_of
from tests.conftest import report_of

runner = CliRunner()


def fields(text):
    return {r.name: r.field for r in report_of(text).rows}


def test_three_stacked_3x3_convs_see_7x7():
    f = fields("""
        input: [32, 32, 3]
        layers:
          - {type: conv, filters: 8, kernel: 3, padding: 1, repeat: 3}
        """)
    # the notes: three 3x3 layers see 7x7; sizes 3, 5, 7, jump 1
    assert [f[n].size for n in ("conv1", "conv2", "conv3")] == [(3, 3), (5, 5), (7, 7)]
    assert f["conv3"].jump == (1, 1) and f["conv3"].start == (0, 0)


def test_stride_pool_and_dilation_by_hand():
    f = fields("""
        input: [64, 64, 3]
        layers:
          - {name: a, type: conv, filters: 8, kernel: 7, stride: 2, padding: 3}
          - {name: p, type: pool, kernel: 3, stride: 2, padding: 1}
          - {name: d, type: conv, filters: 8, kernel: 3, dilation: 2, padding: 2}
        """)
    # a: r = 1 + (7-1)1 = 7, j = 2, start = 0 + (3 - 3)1 = 0
    assert (f["a"].size, f["a"].jump, f["a"].start) == ((7, 7), (2, 2), (0, 0))
    # p: r = 7 + (3-1)2 = 11, j = 4, start = 0 + (1 - 1)2 = 0
    assert (f["p"].size, f["p"].jump, f["p"].start) == ((11, 11), (4, 4), (0, 0))
    # d: effective kernel 2(3-1)+1 = 5: r = 11 + (5-1)4 = 27, j = 4, start = 0 + (2 - 2)4 = 0
    assert (f["d"].size, f["d"].jump) == ((27, 27), (4, 4))


def test_unpadded_start_moves_to_the_window_centre():
    f = fields("input: [10, 10, 1]\nlayers:\n  - {type: conv, filters: 1, kernel: 3, stride: 2}\n")
    assert f["conv1"].start == (Fraction(1), Fraction(1))  # centre of pixels 0..2


def test_branched_field_takes_the_largest_path():
    f = fields("""
        input: [32, 32, 3]
        layers:
          - name: mix
            branches:
              - [{type: conv, filters: 4, kernel: 1}]
              - [{type: conv, filters: 4, kernel: 5, padding: 2}]
        """)
    assert f["mix.concat"].size == (5, 5)


def test_misaligned_paths_are_reported():
    report = report_of("""
        input: [32, 32, 3]
        layers:
          - {name: a, type: conv, filters: 4, kernel: 3, padding: 1}
          - {name: b, type: conv, filters: 4, kernel: 2, stride: 1, padding: [0, 1, 0, 1], inputs: [input]}
          - {type: add, inputs: [a, b]}
        """)
    assert [w.rule for w in report.warnings] == ["rf-misaligned"]


def test_vgg16_pool5_sees_212_pixels():
    f = {r.name.rsplit(".", 1)[-1]: r.field for r in analyze(load(path_of("vgg16"))).rows}
    assert f["conv5_3"].size == (196, 196)  # Araujo et al. 2019: VGG-16's 212 at pool5
    assert f["pool5"].size == (212, 212) and f["pool5"].jump == (32, 32)


def test_json_has_receptive_field_jump_start():
    data = json.loads(runner.invoke(app, ["summarize", "vgg16", "--format", "json"]).stdout)
    pool5 = data["layers"][17]
    assert pool5["receptive_field"] == [212, 212] and pool5["jump"] == [32, 32]
    assert pool5["start"] == [15.5, 15.5]


def test_no_rf_hides_the_column():
    shown = runner.invoke(app, ["summarize", "vgg16"], env={"COLUMNS": "200"}).stdout
    hidden = runner.invoke(app, ["summarize", "vgg16", "--no-rf"], env={"COLUMNS": "200"}).stdout
    assert " RF " in shown and " RF " not in hidden


SE_BLOCK = """
    input: [32, 32, 8]
    layers:
      - {name: x, type: conv, filters: 8, kernel: 3, stride: 2, padding: 1}
      - {name: squeeze, type: pool, mode: avg, global: true}
      - {name: reduce, type: conv, filters: 2, kernel: 1}
      - relu
      - {name: expand, type: conv, filters: 8, kernel: 1}
      - hardsigmoid
      - {name: se, type: multiply, inputs: [x, expand]}
      - {name: after, type: conv, filters: 8, kernel: 3, stride: 2, padding: 1}
    """


def test_a_squeeze_excitation_gate_keeps_the_maps_jump_and_start():
    """x: 3x3/2 p1 on 32: r 3, j 2, s 0. The global pool, one 16-wide window, sees
    r = 3 + (16-1)2 = 33 centred at s = 0 + (15/2)2 = 15. The gate scales every position of x:
    the product keeps x's jump 2 and start 0 (not the gate's start 15, which misaligned every
    later residual add), and each unit now depends on the union of x's window [-1, 1] and the
    gate's [15 - 16, 15 + 16] = [-1, 31]: 33 pixels."""
    f = fields(SE_BLOCK)
    assert (f["squeeze"].size, f["squeeze"].start) == ((33, 33), (15, 15))
    assert (f["se"].jump, f["se"].start) == (f["x"].jump, f["x"].start) == ((2, 2), (0, 0))
    assert f["se"].size == (33, 33)
    # the next 3x3/2 p1 conv: r = 33 + (3-1)2 = 37, j = 2x2 = 4, s = 0 + (1 - 1)2 = 0
    assert (f["after"].size, f["after"].jump, f["after"].start) == ((37, 37), (4, 4), (0, 0))


def test_union_of_paths_of_different_sizes_at_one_resolution():
    """A 1x1 path (r 1) and a 5x5 p2 path (r 5) at the same place: the union is 5 wide."""
    f = fields("""
        input: [16, 16, 3]
        layers:
          - {name: a, type: conv, filters: 4, kernel: 1}
          - {name: b, type: conv, filters: 4, kernel: 5, padding: 2, inputs: [input]}
          - {name: s, type: add, inputs: [a, b]}
        """)
    assert (f["s"].size, f["s"].jump, f["s"].start) == ((5, 5), (1, 1), (0, 0))


def test_mobilenet_v3_like_blocks_give_no_misaligned_warnings():
    """Inverted residuals with optional squeeze-excitation (MobileNetV3, Howard et al. 2019):
    every block's residual add merges maps of one jump, whatever the gates before it."""
    report = report_of("""
        input: [64, 64, 3]
        blocks:
          bneck:
            args: {exp: null, out: null, k: 3, s: 1, se: false, res: false}
            layers:
              - name: body
                residual:
                  body:
                    - {type: conv, filters: $exp, kernel: 1, bias: false}
                    - hardswish
                    - {name: dw, type: conv, filters: $exp, kernel: $k, stride: $s,
                       padding: ($k - 1) // 2, groups: $exp, bias: false}
                    - hardswish
                    - name: gate
                      when: $se
                      layers:
                        - {type: pool, mode: avg, global: true}
                        - {type: conv, filters: "make_divisible($exp / 4, 8)", kernel: 1}
                        - relu
                        - {type: conv, filters: $exp, kernel: 1}
                        - hardsigmoid
                    - {type: multiply, inputs: [dw, gate], when: $se}
                    - {type: conv, filters: $out, kernel: 1, bias: false}
                when: $res
              - name: plain
                when: not $res
                layers:
                  - {type: conv, filters: $exp, kernel: 1, bias: false}
                  - {name: dw, type: conv, filters: $exp, kernel: $k, stride: $s,
                     padding: ($k - 1) // 2, groups: $exp, bias: false}
                  - {name: gate, when: $se, layers: [{type: pool, mode: avg, global: true},
                     {type: conv, filters: $exp, kernel: 1}, hardsigmoid]}
                  - {type: multiply, inputs: [dw, gate], when: $se}
                  - {type: conv, filters: $out, kernel: 1, bias: false}
        layers:
          - {type: conv, filters: 16, kernel: 3, stride: 2, padding: 1}
          - {block: bneck, exp: 16, out: 16, se: true, res: true}
          - {block: bneck, exp: 64, out: 24, s: 2}
          - {block: bneck, exp: 72, out: 24, res: true}
          - {block: bneck, exp: 72, out: 40, k: 5, s: 2, se: true}
          - {block: bneck, exp: 120, out: 40, k: 5, se: true, res: true}
          - {block: bneck, exp: 120, out: 40, k: 5, se: true, res: true}
        """)
    assert [w.format() for w in report.warnings if w.rule == "rf-misaligned"] == []
    adds = [r for r in report.rows if r.type == "add"]
    assert len(adds) == 4
    # stem 2, then strides 2 and 2: the last blocks sit at jump 8 (not a gate's 64 x ...)
    assert adds[-1].field.jump == (8, 8) and adds[0].field.jump == (2, 2)


def test_zoo_networks_with_gates_keep_their_jumps():
    """MobileNetV3-L, EfficientNet-B0 and RegNetY-400MF scale maps by SE gates; their deepest
    maps (more than one position: not the gates themselves) sit at jump 32 (five stride-2
    stages), and no residual add is misaligned. Before, a gated map took its gate's field and
    these networks gave 13, 25 and 32 rf-misaligned warnings."""
    for name in ("mobilenet_v3_large", "efficientnet_b0", "regnet_y_400mf"):
        report = analyze(load(path_of(name)))
        assert [w for w in report.warnings if w.rule == "rf-misaligned"] == [], name
        maps = [r for r in report.rows if r.output_shape.positions > 1]
        assert max(max(r.field.jump) for r in maps) == 2 ** 5, name
