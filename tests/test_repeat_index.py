"""Loops: `$i` in repeated items (from 0), `index:` names, tables indexed, `repeat: 0`."""

from cnncalc.errors import EXIT_UNREADABLE
from tests.conftest import error_of, report_of


def test_the_index_counts_from_zero_and_reads_a_list():
    report = report_of("""
        input: [8, 8, 3]
        args: {widths: [4, 8, 16]}
        layers:
          - {name: c, type: conv, filters: "$widths[$i]", kernel: 1, repeat: 3}
    """)
    # 1x1 convs 3->4, 4->8, 8->16: weights c_in x c_out plus one bias per filter
    assert [r.totals.params for r in report.rows] == [3 * 4 + 4, 4 * 8 + 8, 8 * 16 + 16]
    assert [r.name for r in report.rows] == ["c.1", "c.2", "c.3"]  # copies named from 1


def test_an_inner_repeat_reads_the_outer_index_through_its_own_name():
    report = report_of("""
        input: [8, 8, 3]
        layers:
          - name: s
            repeat: 2
            index: s
            layers:
              - {type: conv, filters: "2 * $s + $i + 1", kernel: 1, repeat: "$s + 1"}
    """)
    # stage 0: one conv of 1 filter; stage 1: convs of 3 and 4 filters
    assert [r.output_shape.c for r in report.rows] == [1, 3, 4]


def test_the_repeat_count_of_a_nested_repeat_reads_the_outer_index():
    report = report_of("""
        input: [8, 8, 3]
        layers:
          - name: s
            repeat: 3
            layers: [{type: relu, repeat: "$i"}]
    """)
    assert len(report.rows) == 0 + 1 + 2


def test_repeat_zero_makes_nothing():
    report = report_of("""
        input: [8, 8, 3]
        layers:
          - {type: conv, filters: 4, kernel: 1}
          - {type: conv, filters: 9, kernel: 1, repeat: 0}
          - {block: b, n: 0}
        blocks:
          b:
            args: [n]
            layers: [{type: relu, repeat: $n}, {type: conv, filters: 2, kernel: 1}]
    """)
    assert [r.output_shape.c for r in report.rows] == [4, 2]


def test_a_conditional_chooses_one_side():
    report = report_of("""
        input: [8, 8, 3]
        args: {rates: [1, 2, 3]}
        layers:
          - {type: conv, filters: 4, kernel: 3, padding: "$rates[$i] if $i < 3 else 0",
             dilation: "$rates[$i] if $i < 3 else 1", repeat: 3}
    """)
    # padding = dilation keeps 8x8 for a 3x3 kernel
    assert [r.output_shape.as_list()[:2] for r in report.rows] == [[8, 8]] * 3


def test_an_index_out_of_range_is_one_line_at_the_character():
    d = error_of("""input: [8, 8, 3]
args: {rates: [12, 24, 36]}
layers:
  - {type: conv, filters: 4, kernel: 1, dilation: "$rates[$i]", repeat: 4}
""")
    assert d.exit_code == EXIT_UNREADABLE
    assert (d.span.line, d.span.column) == (4, 51 + len("$rates["))
    assert "index 3 is out of range: '$rates' has 3 items (0 to 2)" in d.message


def test_a_table_without_the_key_names_its_entries():
    d = error_of("""input: [8, 8, 3]
args: {depth: 20, blocks: {18: 2, 34: 3}}
layers:
  - {type: relu, repeat: "$blocks[$depth]"}
""")
    assert (d.span.line, d.span.column) == (4, 26 + len("$blocks["))
    assert "'$blocks' has no entry 20 (entries: 18, 34)" in d.message


def test_an_argument_called_i_keeps_its_meaning_unless_index_says_otherwise():
    report = report_of("""
        input: [8, 8, 3]
        blocks:
          b:
            args: {i: 5}
            layers:
              - {type: conv, filters: $i, kernel: 1, repeat: 2}
              - {type: conv, filters: "$i + 1", kernel: 1, repeat: 2, index: i}
        layers:
          - {block: b}
    """)
    assert [r.output_shape.c for r in report.rows] == [5, 5, 1, 2]


def test_a_name_template_names_each_copy():
    report = report_of("""
        input: [8, 8, 3]
        layers:
          - name: s
            repeat: 2
            index: s
            layers:
              - {name: "conv{$s + 1}_{$i + 1}", type: conv, filters: 4, kernel: 1, repeat: 2}
    """)
    assert [r.name for r in report.rows] == ["s.1.conv1_1", "s.1.conv1_2", "s.2.conv2_1",
                                             "s.2.conv2_2"]


def test_a_name_part_must_be_an_integer():
    d = error_of("""input: [8, 8, 3]
layers:
  - {name: "c{$i / 2}", type: relu, repeat: 2}
""")
    assert (d.span.line, d.span.column) == (3, 14) and "must be an integer" in d.message
