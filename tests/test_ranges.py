"""Ranges of copies in `inputs:` (d.*, d.2..4, d.*.layer) and the repeat-one-copy lint."""

from cnncalc.analysis.lint import check
from cnncalc.errors import EXIT_UNREADABLE
from cnncalc.language.document import loads
from tests.conftest import error_of, report_of

DENSE = """input: [8, 8, 16]
layers:
  - {name: x, type: relu}
  - name: l
    repeat: 3
    layers:
      - {name: d, type: conv, filters: 8, kernel: 1}
      - {type: concat, inputs: [x, l.*.d]}
"""


def test_every_copy_so_far_grows_the_concat_as_densenet_does():
    report = report_of(DENSE)
    concats = [r.output_shape.c for r in report.rows if r.type == "concat"]
    assert concats == [16 + 8 * k for k in (1, 2, 3)]  # the input and k layers of 8
    # each conv reads the concat before it: 16, 24, 32 channels in
    convs = [r.totals.params for r in report.rows if r.type == "conv"]
    assert convs == [(16 + 8 * k) * 8 + 8 for k in (0, 1, 2)]


def test_a_range_of_copies():
    report = report_of(DENSE + "  - {type: concat, inputs: [l.2..3.d]}\n")
    assert report.rows[-1].output_shape.c == 8 + 8


def test_a_bare_repeated_name_is_its_last_copy_and_the_lint_says_so():
    text = DENSE + "  - {type: concat, inputs: [x, l]}\n"
    report = report_of(text)
    assert report.rows[-1].output_shape.c == 16 + (16 + 8 * 3)  # x and the last copy's concat
    warnings = [w for w in check(loads(text, "t.yaml"), report) if w.rule == "repeat-one-copy"]
    assert len(warnings) == 1 and warnings[0].span.line == 9
    assert "'l': that is its last copy only; write 'l.*'" in warnings[0].message


def test_one_input_naming_a_repeated_item_is_not_ambiguous():
    text = DENSE + "  - {type: relu, inputs: [l]}\n"
    report = report_of(text)
    assert not [w for w in check(loads(text, "t.yaml"), report) if w.rule == "repeat-one-copy"]


def test_a_range_naming_nothing_and_other_bad_ranges():
    for ref, words in [("l.3..2.d", "names nothing"), ("l.2..5.d", "copy 4 of 'l' is not made yet"),
                       ("m.*", "'m' in 'm.*' is no repeated item"),
                       ("l.*.e", "copy 1 of 'l' has no layer 'e'"),
                       ("l.0..1", "copies are named from 1")]:
        d = error_of(DENSE + f"  - {{type: concat, inputs: [x, {ref}]}}\n")
        assert d.exit_code == EXIT_UNREADABLE
        assert (d.span.line, d.span.column) == (9, 32), ref
        assert words in d.message, (ref, d.message)


def test_repeat_zero_leaves_a_range_empty():
    d = error_of("""input: [8, 8, 3]
layers:
  - {name: r, type: relu, repeat: 0}
  - {type: concat, inputs: [input, r.*]}
""")
    assert "'r.*' names nothing: 'r' has no copy made so far (repeat: 0)" in d.message
