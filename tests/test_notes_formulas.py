"""Formulas and worked examples from the notes (shared/seeds/000, 001, 004)."""

from tests.conftest import one_layer, report_of, zoo_report


def test_output_size_w11_f3_p0_s2_is_5():
    # (W1 - F + 2P)/S + 1 = (11 - 3 + 0)/2 + 1 = 5 on an 11x11x9 input, K = 2 filters
    row = one_layer("{type: conv, filters: 2, kernel: 3, stride: 2}", "[11, 11, 9]")
    assert row.output_shape.as_list() == [(11 - 3 + 0) // 2 + 1, 5, 2]
    assert row.totals.params == (3 * 3 * 9 + 1) * 2  # F x F x input depth + 1, per filter


def test_alexnet_conv1():
    row = one_layer("{type: conv, filters: 96, kernel: 11, stride: 4}", "[227, 227, 3]")
    assert row.output_shape.as_list() == [(227 - 11) // 4 + 1, 55, 96]
    assert row.totals.activations == 55 * 55 * 96 == 290_400  # neurons
    assert row.totals.params == 96 * 11 * 11 * 3 + 96 == 34_944  # shared weights + biases
    assert row.totals.macs == 55 * 55 * 96 * (11 * 11 * 3)  # im2col: W_row 96x363 . X_col 363x3025


def test_stride_that_does_not_tile_w10_f3_p0_s2():
    report = report_of("""
        input: [10, 10, 3]
        layers:
          - {type: conv, filters: 4, kernel: 3, stride: 2}
        """)
    assert not report.rows[0].tiles
    (warning,) = report.warnings
    assert "(10 - 3 + 0)/2 + 1 = 4.5" in warning.message
    assert "1 row and 1 column" in warning.message


def test_fc_over_7x7x512_equals_conv_f7_k4096():
    fc = one_layer("{type: fc, units: 4096}", "[7, 7, 512]")
    conv = one_layer("{type: conv, filters: 4096, kernel: 7}", "[7, 7, 512]")
    assert conv.output_shape.as_list() == fc.output_shape.as_list() == [1, 1, 4096]
    assert conv.totals.params == fc.totals.params == 7 * 7 * 512 * 4096 + 4096
    assert conv.totals.macs == fc.totals.macs


def test_vgg16_at_384_reaches_12x12x512_before_the_head():
    from cnncalc.analysis.analyze import analyze
    from cnncalc.load import open_spec
    report = analyze(open_spec("vgg16", "384x384x3"))
    pool5 = [r for r in report.rows if r.type == "pool"][-1]
    assert pool5.output_shape.as_list() == [384 // 2 // 2 // 2 // 2 // 2, 12, 512]


def test_one_by_one_conv_changes_depth_only():
    row = one_layer("{type: conv, filters: 1, kernel: 1}", "[32, 32, 3]")
    assert row.output_shape.as_list() == [32, 32, 1]
    assert row.totals.params == 3 + 1  # n weights and 1 bias


def test_keras_summary_params():
    report = zoo_report("keras_mnist")
    weighted = [r.totals.params for r in report.rows if r.totals.params]
    assert weighted == [(3 * 3 * 1 + 1) * 32, (3 * 3 * 32 + 1) * 64, (3 * 3 * 64 + 1) * 128,
                        (128 + 1) * 64, (64 + 1) * 10]
    assert weighted == [320, 18496, 73856, 8256, 650]

