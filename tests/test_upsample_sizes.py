"""An upsample to another layer's size shows the sizes, not a scale it does not use."""

from tests.conftest import report_of


def test_upsample_to_another_layer_s_size_shows_both_sizes():
    report = report_of("""
input: [520, 520, 3]
layers:
  - {name: small, type: pool, mode: avg, output: [33, 33]}
  - {type: upsample, mode: bilinear, inputs: [small, input]}
  - {type: upsample, scale: 2}
""")
    assert report.rows[1].settings == "33x33 -> 520x520 bilinear"
    assert report.rows[1].output_shape.as_list() == [520, 520, 3]
    assert report.rows[2].settings == "x2 nearest"  # a scale: as before
