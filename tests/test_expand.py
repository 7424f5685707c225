"""Graph structures: repeat, blocks, residual, branches, inputs; correct use and each error."""

import pytest

from cnncalc.errors import EXIT_INCONSISTENT, EXIT_UNREADABLE
from tests.conftest import error_of, report_of


def shapes(report):
    return {r.name: r.output_shape.as_list() for r in report.rows}


def test_repeat_a_layer_and_a_named_list():
    report = report_of("""
        input: [8, 8, 3]
        layers:
          - {type: conv, filters: 4, kernel: 3, padding: 1, repeat: 3}
          - name: stage
            repeat: 2
            layers:
              - {type: conv, filters: 4, kernel: 1}
        """)
    assert [r.name for r in report.rows] == ["conv1", "conv2", "conv3", "stage.1.conv1",
                                             "stage.2.conv1"]
    # (3x3x3 + 1) x 4, then twice (3x3x4 + 1) x 4, then twice (1x1x4 + 1) x 4
    assert report.totals.params == 28 * 4 + 2 * 37 * 4 + 2 * 5 * 4


def test_block_with_arguments_and_defaults():
    report = report_of("""
        input: [16, 16, 3]
        blocks:
          cbr:
            args: {out: null, stride: 1}
            layers:
              - {name: conv, type: conv, filters: $out, kernel: 3, stride: $stride, padding: 1}
              - relu
        layers:
          - {block: cbr, out: 8}
          - {block: cbr, name: down, out: 16, stride: 2}
        """)
    assert shapes(report)["cbr1.conv"] == [16, 16, 8]
    assert shapes(report)["down.conv"] == [8, 8, 16]
    assert report.group_kinds["down"] == "cbr"


def test_residual_identity_and_projection():
    report = report_of("""
        input: [8, 8, 4]
        layers:
          - name: r1
            residual:
              - {type: conv, filters: 4, kernel: 3, padding: 1}
          - name: r2
            residual:
              body: [{type: conv, filters: 8, kernel: 3, stride: 2, padding: 1}]
              shortcut: [{type: conv, filters: 8, kernel: 1, stride: 2}]
        """)
    s = shapes(report)
    assert s["r1.add"] == [8, 8, 4] and s["r2.add"] == [4, 4, 8]
    add = next(r for r in report.rows if r.name == "r1.add")
    assert len(add.input_shapes) == 2
    assert add.totals.flops == 8 * 8 * 4  # one add per element


def test_branches_concat_and_identity_branch():
    report = report_of("""
        input: [8, 8, 16]
        layers:
          - name: mix
            branches:
              - [{type: conv, filters: 8, kernel: 1}]
              - [{type: conv, filters: 4, kernel: 3, padding: 1}]
              - []
        """)
    assert report.output_shape.as_list() == [8, 8, 8 + 4 + 16]


def test_inputs_reach_back_and_group_names_stand_for_their_last_layer():
    report = report_of("""
        input: [8, 8, 3]
        layers:
          - {name: a, type: conv, filters: 4, kernel: 1}
          - name: body
            layers:
              - {type: conv, filters: 4, kernel: 3, padding: 1}
              - relu
          - {name: sum, type: add, inputs: [a, body]}
          - {name: cat, type: concat, inputs: [sum, input]}
        """)
    assert shapes(report)["cat"] == [8, 8, 4 + 3]


def test_crop_with_two_inputs_centres_the_first():
    report = report_of("""
        input: [64, 64, 8]
        layers:
          - {name: skip, type: conv, filters: 8, kernel: 1}
          - {name: small, type: pool, kernel: 2}
          - {name: crop, type: crop, inputs: [skip, small]}
        """)
    assert shapes(report)["crop"] == [32, 32, 8]


def test_nesting_and_depth_keep_totals():
    report = report_of("""
        input: [8, 8, 3]
        blocks:
          two:
            layers: [{type: conv, filters: 3, kernel: 1}, relu]
        layers:
          - {block: two, name: s, repeat: 2}
          - flatten
        """)
    full = report.outline()
    assert [(x.level, x.label, x.is_group) for x in full][:4] == [
        (0, "s", True), (1, "1", True), (2, "conv1", False), (2, "relu1", False)]
    collapsed = report.outline(depth=0)
    assert [(x.label, x.is_group) for x in collapsed] == [("s", True), ("flatten1", False)]
    assert collapsed[0].totals.params == 2 * (3 * 3 + 3)  # both copies of the 1x1 conv
    assert sum(x.totals.macs for x in collapsed) == report.totals.macs


# (spec text, line, column, exit code, words the message must contain)
BAD = [
    ("""input: [8, 8, 3]
layers:
  - {block: nope}
""", 3, 13, EXIT_UNREADABLE, ["unknown block", "none defined"]),
    ("""input: [8, 8, 3]
blocks:
  a:
    layers: [{block: b}]
  b:
    layers: [{block: a}]
layers:
  - {block: a}
""", 6, 22, EXIT_UNREADABLE, ["block 'a' uses itself (a -> b -> a)"]),
    ("""input: [8, 8, 3]
blocks:
  a:
    layers: [{block: a}]
layers:
  - {block: a}
""", 4, 22, EXIT_UNREADABLE, ["block 'a' uses itself (a -> a)"]),
    ("""input: [8, 8, 3]
blocks:
  c:
    args: {out: null}
    layers: [{type: conv, filters: $out, kernel: 1}]
layers:
  - {block: c}
""", 7, 5, EXIT_UNREADABLE, ["block 'c' needs argument 'out'"]),
    ("""input: [8, 8, 3]
blocks:
  c:
    args: {out: null}
    layers: [{type: conv, filters: $out, kernel: 1}]
layers:
  - {block: c, out: 4, outs: 5}
""", 7, 24, EXIT_UNREADABLE, ["block 'c' has no argument 'outs'", "did you mean 'out'?"]),
    ("""input: [8, 8, 3]
blocks:
  c:
    args: {out: null}
    layers: [{type: conv, filters: $width, kernel: 1}]
layers:
  - {block: c, out: 4}
""", 5, 36, EXIT_UNREADABLE, ["unknown block argument '$width'"]),
    ("""input: [8, 8, 3]
layers:
  - {type: conv, filters: $out, kernel: 1}
""", 3, 27, EXIT_UNREADABLE, ["outside a block"]),
    ("""input: [8, 8, 3]
layers:
  - residual:
      body: [{type: conv, filters: 5, kernel: 1}]
""", 3, 5, EXIT_INCONSISTENT, ["add needs inputs of one shape", "8x8x5", "8x8x3"]),
    ("""input: [8, 8, 3]
layers:
  - {name: a, type: conv, filters: 4, kernel: 1, inputs: [b]}
  - {name: b, type: relu}
""", 3, 59, EXIT_UNREADABLE, ["names no earlier layer", "received: 'b'"]),
    ("""input: [8, 8, 3]
layers:
  - {name: a, type: relu, inputs: [a]}
""", 3, 36, EXIT_UNREADABLE, ["names no earlier layer"]),
    ("""input: [8, 8, 3]
layers:
  - {name: a, type: relu}
  - {type: add, inputs: [a]}
""", 4, 25, EXIT_UNREADABLE, ["add takes 2 or more inputs, given 1"]),
    ("""input: [8, 8, 3]
layers:
  - {name: a, type: conv, filters: 2, kernel: 3}
  - {type: concat, inputs: [a, input]}
""", 4, 28, EXIT_INCONSISTENT, ["concat needs inputs of one height and width", "6x6x2",
                                 "8x8x3"]),
    ("""input: [8, 8, 3]
layers:
  - {repeat: -1, type: relu}
""", 3, 14, EXIT_UNREADABLE, ["'repeat' must be an integer from 0 to 1000000"]),
    ("""input: [8, 8, 3]
layers:
  - {branches: [[relu]]}
""", 3, 16, EXIT_UNREADABLE, ["two or more"]),
    ("""input: [8, 8, 3]
layers:
  - {branches: [[relu], [relu]], merge: sum}
""", 3, 41, EXIT_UNREADABLE, ["'merge' must be one of add, multiply, concat"]),
    ("""input: [8, 8, 3]
layers:
  - {type: relu, layers: [relu]}
""", 3, 18, EXIT_UNREADABLE, ["cannot also have 'layers'"]),
]


@pytest.mark.parametrize("text, line, column, code, words", BAD)
def test_graph_errors(text, line, column, code, words):
    diagnostic = error_of(text, "g.yaml")
    assert (diagnostic.span.line, diagnostic.span.column, diagnostic.exit_code) == \
        (line, column, code), diagnostic.format()
    for word in words:
        assert word in diagnostic.format()


def test_argument_arithmetic_keeps_the_size_with_p_equal_to_f_minus_1_over_2():
    """CS231n: with S = 1, P = (F - 1)/2 preserves the size; written once as an expression."""
    from cnncalc.analysis.analyze import analyze
    from cnncalc.language import loads
    spec = ("input: [16, 16, 3]\nblocks:\n  same: {args: {k: 3}, layers: [{type: conv, "
            "filters: 8, kernel: $k, padding: ($k - 1) // 2}]}\nlayers:\n"
            "  - {block: same, k: 3}\n  - {block: same, k: 5}\n  - {block: same, k: 7}\n")
    report = analyze(loads(spec))
    assert [r.output_shape.as_list() for r in report.rows] == [[16, 16, 8]] * 3
    assert [r.totals.params for r in report.rows] == [3 * 3 * 3 * 8 + 8, 5 * 5 * 8 * 8 + 8,
                                                      7 * 7 * 8 * 8 + 8]


def test_an_expression_error_points_at_the_character():
    from cnncalc.errors import CnnCalcError
    from cnncalc.language import loads
    line = "  same: {args: {k: 3}, layers: [{type: conv, filters: 8, padding: ($kk - 1) // 2, kernel: 3}]}"
    spec = f"input: [16, 16, 3]\nblocks:\n{line}\nlayers:\n  - {{block: same}}\n"
    with pytest.raises(CnnCalcError) as caught:
        loads(spec, "e.yaml")
    d = caught.value.diagnostic
    assert (d.span.line, d.span.column) == (3, line.index("$kk") + 1)
    assert "unknown argument '$kk'; did you mean '$k'?" in d.message and d.exit_code == 2


def test_when_leaves_optional_parts_out():
    """MobileNetV3's block: the SE part only `when: $se`; the shortcut only when stride 1."""
    from cnncalc.analysis.analyze import analyze
    from cnncalc.language import loads
    spec = ("input: [8, 8, 16]\nblocks:\n  blk:\n    args: {se: false, s: 1}\n    layers:\n"
            "      - {type: conv, filters: 16, kernel: 3, padding: 1, stride: $s}\n"
            "      - {when: $se, layers: [{type: pool, global: true}, {type: conv, filters: 16, "
            "kernel: 1}]}\n      - {type: relu, when: $s == 1}\nlayers:\n"
            "  - {block: blk}\n  - {block: blk, se: true, s: 2}\n")
    report = analyze(loads(spec))
    assert [r.type for r in report.rows] == ["conv", "relu", "conv", "pool", "conv"]


def test_trainable_false_counts_parameters_as_non_trainable():
    """A frozen conv (3x3x3x8 + 8 = 224 params) and a frozen block; params are unchanged, the
    split moves, and training memory drops the optimizer state of the frozen part."""
    from cnncalc.analysis.analyze import analyze
    from cnncalc.language import loads
    spec = ("input: [8, 8, 3]\nblocks:\n  two: {layers: [{type: conv, filters: 8, kernel: 1}, "
            "batchnorm]}\nlayers:\n  - {type: conv, filters: 8, kernel: 3, trainable: false}\n"
            "  - {block: two, trainable: false}\n  - {type: fc, units: 2}\n")
    totals = analyze(loads(spec)).totals
    frozen = (3 * 3 * 3 * 8 + 8) + (8 * 8 + 8) + 2 * 8  # conv, block conv, block bn's gamma/beta
    assert totals.trainable_params == 6 * 6 * 8 * 2 + 2  # only the fc
    assert totals.non_trainable_params == frozen + 2 * 8  # + bn's running statistics
    assert totals.params == frozen + 2 * 8 + 6 * 6 * 8 * 2 + 2


def test_when_must_be_true_or_false():
    from cnncalc.errors import CnnCalcError
    from cnncalc.language import loads
    with pytest.raises(CnnCalcError) as caught:
        loads("input: [8, 8, 3]\nlayers:\n  - {type: relu, when: maybe}\n", "w.yaml")
    assert "'when' must be true or false" in caught.value.diagnostic.message
    assert caught.value.diagnostic.span.line == 3


def test_inputs_on_a_block_call_and_a_group():
    """Two heads read the same stem: the second block call and the group name `stem` as their
    input instead of the layer before them (8x8x4 each)."""
    from cnncalc.analysis.analyze import analyze
    from cnncalc.language import loads
    spec = ("input: [8, 8, 3]\nblocks:\n  head: {layers: [{type: conv, filters: 4, kernel: 1}]}\n"
            "layers:\n  - {type: conv, filters: 6, kernel: 3, padding: 1, name: stem}\n"
            "  - {block: head, name: h1}\n  - {block: head, name: h2, inputs: stem}\n"
            "  - {layers: [{type: conv, filters: 2, kernel: 1}], name: g, inputs: [stem]}\n")
    report = analyze(loads(spec))
    rows = {r.name: r for r in report.rows}
    assert rows["h2.conv1"].inputs == ("stem",) and rows["g.conv1"].inputs == ("stem",)
    assert rows["h2.conv1"].totals.params == 1 * 1 * 6 * 4 + 4  # reads stem's 6 channels


def test_torchinfo_frozen_layers_of_resnet18():
    """torchinfo's frozen_layers.out (github.com/TylerYep/torchinfo): ResNet-18 with conv1,
    bn1, layer1 and layer2 frozen prints Total params 11,689,512, Trainable 11,006,440,
    Non-trainable 683,072. Frozen here: two layers, a group (layer1) and two block calls
    (layer2's). torchinfo counts parameters only; cnncalc adds batch norm's running mean and
    variance (buffers) to the non-trainable values: 2 x (64 + 4x64 + 5x128 + 5x256 + 5x512)."""
    from cnncalc.analysis.analyze import analyze
    from cnncalc.language import loads
    text = """input: [224, 224, 3]
include: resnet  # the zoo's ResNet family: its `unit` block reads these arguments
args: {depth: 18, groups: 1, width_per_group: 64, s1x1: 1, s3x3: 2}
layers:
  - {name: conv1, type: conv, filters: 64, kernel: 7, stride: 2, padding: 3, bias: false,
     trainable: false}
  - {name: bn1, type: batchnorm, trainable: false}
  - relu
  - {name: maxpool, type: pool, kernel: 3, stride: 2, padding: 1}
  - {name: layer1, trainable: false, layers: [{block: unit, planes: 64, repeat: 2}]}
  - name: layer2
    layers:
      - {block: unit, planes: 128, stride: 2, trainable: false}
      - {block: unit, planes: 128, trainable: false}
  - {name: layer3, layers: [{block: unit, planes: 256, stride: 2}, {block: unit, planes: 256}]}
  - {name: layer4, layers: [{block: unit, planes: 512, stride: 2}, {block: unit, planes: 512}]}
  - {name: avgpool, type: pool, mode: avg, output: [1, 1]}
  - {name: fc, type: fc, units: 1000}
"""
    totals = analyze(loads(text, "frozen.yaml")).totals
    running = 2 * (64 + 4 * 64 + 5 * 128 + 5 * 256 + 5 * 512)
    assert totals.params - running == 11_689_512
    assert totals.trainable_params == 11_006_440
    assert totals.non_trainable_params == 683_072 + running
