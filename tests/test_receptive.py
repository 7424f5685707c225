"""Receptive fields (Araujo et al., Distill 2019): size, jump and start, worked by hand."""

import json
from fractions import Fraction

from typer.testing import CliRunner

from cnncalc.analysis.analyze import analyze
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
