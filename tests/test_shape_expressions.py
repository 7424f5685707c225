"""Blocks that read what enters them: $in_channels, $in_size, $in_layer; `add: false`."""

from cnncalc.errors import EXIT_INCONSISTENT, EXIT_UNREADABLE
from cnncalc.load import open_spec
from tests.conftest import error_of, report_of

BLOCKS = """
blocks:
  half:  # a 1x1 conv to half the channels entering, then a pool to half the size
    layers:
      - {type: conv, filters: $in_channels // 2, kernel: 1}
      - {type: pool, kernel: "$in_size[0] // ($in_size[0] // 2)"}
  mb:
    args: [out, stride]
    layers:
      - residual:
          - {type: conv, filters: $in_channels * 4, kernel: 1}
          - {type: conv, filters: $out, kernel: 3, stride: $stride, padding: 1}
        add: $stride == 1 and $in_channels == $out
"""


def test_a_block_reads_the_channels_and_sizes_entering_it():
    report = report_of("input: [16, 16, 12]\nlayers:\n  - {block: half}\n  - {block: half}\n"
                       + BLOCKS)
    convs = [r for r in report.rows if r.type == "conv"]
    assert [c.output_shape.c for c in convs] == [12 // 2, 12 // 4]
    assert [c.totals.params for c in convs] == [12 * 6 + 6, 6 * 3 + 3]
    assert report.output_shape.as_list() == [4, 4, 3]


def test_the_residual_exists_only_where_the_shape_is_kept():
    report = report_of("input: [8, 8, 8]\nlayers:\n  - {block: mb, out: 8, stride: 1}\n"
                       "  - {block: mb, out: 16, stride: 1}\n  - {block: mb, out: 16, stride: 2}\n"
                       + BLOCKS)
    assert [r.type for r in report.rows].count("add") == 1  # only the first keeps 8x8x8
    expanded = [r.output_shape.c for r in report.rows if r.type == "conv"][::2]
    assert expanded == [4 * 8, 4 * 8, 4 * 16]  # each reads its own input width


def test_the_shape_follows_the_input_given_on_the_command_line(tmp_path):
    spec = tmp_path / "n.yaml"
    spec.write_text("input: [16, 16, 12]\nlayers:\n  - {block: half}\n" + BLOCKS)
    assert open_spec(str(spec), "16x16x20").nodes[0].layer.filters == 20 // 2


def test_in_layer_names_the_layer_a_block_reads():
    report = report_of("""
input: [8, 8, 4]
blocks:
  cat_with_input:
    layers:
      - {name: c, type: conv, filters: 2, kernel: 1}
      - {type: concat, inputs: [$in_layer, c]}
layers:
  - {name: stem, type: conv, filters: 6, kernel: 1}
  - {block: cat_with_input}
""")
    assert report.output_shape.c == 6 + 2


def test_the_shape_outside_a_block_is_an_error_at_the_character():
    d = error_of("""input: [8, 8, 3]
layers:
  - {type: conv, filters: $in_channels, kernel: 1}
""")
    assert d.exit_code == EXIT_UNREADABLE and (d.span.line, d.span.column) == (3, 27)
    assert "exists only inside a block's layers" in d.message


def test_a_shape_that_cannot_be_computed_is_the_layer_s_own_error():
    d = error_of("""input: [4, 4, 3]
layers:
  - {name: big, type: conv, filters: 8, kernel: 5}
  - {block: half}
""" + BLOCKS)
    assert d.exit_code == EXIT_INCONSISTENT and d.span.line == 3
