"""The JSON Schema accepts what the spec language accepts inside blocks: an argument
expression anywhere in a value (`($k - 1) // 2`, `not ($s == 1)`, `make_divisible(...)`), and
as an item of a list setting (`channels: [0, $c // 2]`); it still refuses a non-number."""

import textwrap

import pytest
import yaml

from cnncalc.language.schema import spec_schema
from tests.conftest import report_of

jsonschema = pytest.importorskip("jsonschema")

SPEC = """
input: [8, 8, 4]
blocks:
  half:
    args: {c: null, k: 3}
    layers:
      - {type: conv, filters: $c, kernel: $k, padding: ($k - 1) // 2, when: not ($k == 1)}
      - {type: slice, channels: [0, $c // 2]}
      - {type: conv, filters: "max(1, $c // 4)", kernel: [$k, 1], padding: [($k - 1) // 2, 0]}
layers:
  - {block: half, c: 8}
"""


def errors(text):
    validator = jsonschema.Draft202012Validator(spec_schema())
    return list(validator.iter_errors(yaml.safe_load(textwrap.dedent(text))))


def test_expressions_in_values_and_list_items_are_accepted():
    assert errors(SPEC) == []
    # and the language reads the same spec: 8 maps, 4 kept, then max(1, 8 // 4) = 2 filters
    assert [r.output_shape.as_list() for r in report_of(SPEC).rows] == [
        [8, 8, 8], [8, 8, 4], [8, 8, 2]]


def test_a_list_item_that_is_not_a_number_or_an_expression_is_refused():
    assert errors(SPEC.replace("[0, $c // 2]", "[0, half]"))
