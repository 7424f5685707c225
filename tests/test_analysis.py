"""Receptive fields, lints, FC-as-conv and explain, against hand-worked figures."""

import json
from fractions import Fraction

import pytest
from typer.testing import CliRunner

from cnncalc.analysis.analyze import analyze
from cnncalc.analysis.convert import fc_as_conv, sliding
from cnncalc.cli import app
from cnncalc.spec.document import load
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
    f = {r.name: r.field for r in analyze(load(path_of("vgg16"))).rows}
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


def lint_rules(text, *options):
    path = "/tmp/cnncalc-lint-test.yaml"
    with open(path, "w") as handle:
        handle.write(text)
    result = runner.invoke(app, ["validate", *options, path])
    return result, [line.rsplit("[", 1)[1].rstrip("]") for line in result.stdout.splitlines()
                    if ": warning: " in line]


def test_alexnet_at_224_is_the_famous_case():
    result, rules = lint_rules("input: [224, 224, 3]\nlayers:\n  - {type: conv, filters: 96, "
                               "kernel: 11, stride: 4}\n")
    assert "window-tiling" in rules
    assert "(224 - 11 + 0)/4 + 1 = 54.25" in result.stdout and "an input of 227" in result.stdout
    assert result.exit_code == 0


@pytest.mark.parametrize("layers, rule", [
    ("  - {type: conv, filters: 8, kernel: 3}\n", "conv-keeps-size"),
    ("  - {type: conv, filters: 8, kernel: 3, padding: 1}\n  - {type: conv, filters: 8, "
     "kernel: 5, padding: 2}\n", "large-filter"),
    ("  - {type: pool, kernel: 4, stride: 4}\n", "pool-window"),
    ("  - {type: fc, units: 10}\n", "fc-large-input"),
    ("  - {type: pool, kernel: 2, stride: 2}\n  - {type: fc, units: 4096}\n", "fc-dominates"),
])
def test_each_rule_fires(layers, rule):
    result, rules = lint_rules("input: [32, 32, 3]\nlayers:\n" + layers)
    assert rule in rules, result.stdout


def test_input_not_divisible_and_rf_larger_than_input():
    _, rules = lint_rules("input: [30, 30, 3]\nlayers:\n" +
                          "  - {type: conv, filters: 8, kernel: 3, padding: 1, repeat: 16}\n")
    assert "input-divisible" in rules and "rf-exceeds-input" in rules  # 16 x 2 + 1 = 33 > 30


def test_rules_can_be_ignored_per_spec_and_per_run_and_strict_fails():
    text = "input: [32, 32, 3]\nlayers:\n  - {type: conv, filters: 8, kernel: 3}\n"
    plain, rules = lint_rules(text)
    assert rules == ["conv-keeps-size"] and plain.exit_code == 0
    assert lint_rules(text, "--strict")[0].exit_code == 1
    assert lint_rules(text, "--ignore", "conv-keeps-size")[1] == []
    assert lint_rules(text, "--strict", "--ignore", "conv-keeps-size")[0].exit_code == 0
    assert lint_rules("lint: {ignore: [conv-keeps-size]}\n" + text)[1] == []
    bad, _ = lint_rules(text, "--ignore", "conv-keep-size")
    assert bad.exit_code == 2 and "did you mean 'conv-keeps-size'" in bad.stderr


def test_vgg16_lints_only_its_first_fc():
    result, rules = lint_rules(path_of("vgg16").read_text())
    assert rules == ["fc-dominates"]
    fc6 = 7 * 7 * 512 * 4096 + 4096  # the notes: FC 7x7x512 -> 4096 holds 102.8M of 138.4M
    assert f"holds {fc6:,} of the {138_357_544:,} parameters (74%)" in result.stdout


def test_fc_as_conv_vgg16_at_384():
    network = load(path_of("vgg16"))
    original = analyze(network)
    converted = fc_as_conv(network, original)
    same = analyze(converted)
    assert same.totals.params == original.totals.params  # the same parameter counts
    fc6 = next(n for n in converted.nodes if n.name == "fc6").layer
    assert (fc6.type_name, fc6.kernel, fc6.filters) == ("conv", (7, 7), 4096)  # F=7, K=4096
    fc7 = next(n for n in converted.nodes if n.name == "fc7").layer
    assert fc7.kernel == (1, 1)
    converted.input_shape = type(network.input_shape)((384, 384), 3)
    big = analyze(converted)
    assert big.output_shape.as_list() == [6, 6, 1000]  # (12 - 7)/1 + 1 = 6
    slide = sliding(original, big, network)
    assert slide.positions == (6, 6) and slide.stride == 32 and slide.crop == (224, 224)
    assert slide.macs_separate == 36 * original.totals.macs
    assert slide.macs_one_pass < slide.macs_separate


def test_summarize_fc_as_conv_says_36_crops():
    result = runner.invoke(app, ["summarize", "vgg16", "--fc-as-conv", "--input", "384x384x3"],
                           env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "36 crops of 224x224 at stride 32" in " ".join(result.stdout.split())


def test_convert_writes_an_equivalent_spec_and_never_overwrites(tmp_path):
    out = tmp_path / "vgg_conv.yaml"
    result = runner.invoke(app, ["convert", "--fc-as-conv", "vgg16", "-o", str(out)])
    assert result.exit_code == 0, result.output
    written = analyze(load(out))
    assert written.totals.params == 138_357_544
    assert all(r.type != "fc" for r in written.rows)
    again = runner.invoke(app, ["convert", "--fc-as-conv", "vgg16", "-o", str(out)])
    assert again.exit_code == 2 and "--force" in again.stderr


def test_convert_keeps_a_graph_network():
    out = "/tmp/cnncalc-resnet18-flat.yaml"
    result = runner.invoke(app, ["convert", "resnet18", "-o", out, "--force"])
    assert result.exit_code == 0
    flat, original = analyze(load(out)), analyze(load(path_of("resnet18")))
    assert flat.totals == original.totals


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


def test_convert_never_collides_names_and_keeps_lint_and_budget(tmp_path):
    """`a.1` flattened to `a_1` must not clash with a layer the spec calls `a_1`, and the
    spec's `lint:` and `budget:` survive: the written spec validates to the same totals."""
    spec = tmp_path / "s.yaml"
    spec.write_text("input: [8, 8, 3]\nlint: {ignore: [input-divisible]}\n"
                    "budget: {params: 1M, batch: 4}\nlayers:\n"
                    "  - {name: a, repeat: 2, type: conv, filters: 4, kernel: 3, padding: 1}\n"
                    "  - {name: a_1, type: relu}\n")
    out = tmp_path / "flat.yaml"
    assert runner.invoke(app, ["convert", str(spec), "-o", str(out)]).exit_code == 0
    text = out.read_text()
    assert "a_1_2" in text and "ignore: [input-divisible]" in text and "params: 1000000" in text
    result = runner.invoke(app, ["validate", "--format", "json", str(out)])
    assert result.exit_code == 0
    params = (3 * 3 * 3 * 4 + 4) + (3 * 3 * 4 * 4 + 4)  # conv 3->4, then conv 4->4
    assert json.loads(result.stdout)[0]["totals"]["params"] == params
