"""Bad specs: one diagnostic each, with line, column, message and exit code (yamllint style)."""

import pytest

from cnncalc.errors import EXIT_INCONSISTENT, EXIT_UNREADABLE
from tests.conftest import error_of

HEAD = "input: [32, 32, 3]\nlayers:\n"

# (spec text, line, column, exit code, words the message must contain)
CASES = [
    (HEAD + "  - {type: conv, filter: 8, kernel: 3}\n", 3, 18, EXIT_UNREADABLE,
     ["unknown setting 'filter'", "did you mean 'filters'?"]),
    (HEAD + "  - {type: convolution, filters: 8, kernel: 3}\n", 3, 12, EXIT_UNREADABLE,
     ["unknown layer type", "did you mean 'conv'?", "received: 'convolution'", "pool"]),
    (HEAD + "  - {type: conv, filters: true, kernel: 3}\n", 3, 27, EXIT_UNREADABLE,
     ["'filters' must be a positive integer", "received: true"]),
    (HEAD + "  - {type: conv, filters: 8.5, kernel: 3}\n", 3, 27, EXIT_UNREADABLE,
     ["'filters' must be", "received: 8.5"]),
    (HEAD + "  - {type: conv, filters: 0, kernel: 3}\n", 3, 27, EXIT_UNREADABLE,
     ["'filters' must be a positive integer", "received: 0"]),
    (HEAD + "  - {type: conv, filters: null, kernel: 3}\n", 3, 27, EXIT_UNREADABLE,
     ["received: null"]),
    # a 3-D kernel on a 2-D input: the spec is well formed, the network impossible (exit 1)
    (HEAD + "  - {type: conv, filters: 8, kernel: [3, 3, 3]}\n", 3, 38, EXIT_INCONSISTENT,
     ["'kernel' has 3 values but the input has 2 spatial axes", "received: [3, 3, 3]"]),
    (HEAD + "  - {type: conv, filters: 8, kernel: [3, 3, 3, 3]}\n", 3, 38, EXIT_UNREADABLE,
     ["'kernel' must be a positive integer or [height, width] (one per spatial axis)"]),
    (HEAD + "  - {type: pool, kernel: 2, stride: [2, 2, 1]}\n", 3, 37, EXIT_INCONSISTENT,
     ["'stride' has 3 values but the input has 2 spatial axes"]),
    ("input: [100, 3]\nlayers:\n  - {type: conv, filters: 8, kernel: 3, padding: [1, 1, 1]}\n",
     3, 50, EXIT_INCONSISTENT, ["'padding' has 3 values but the input has 1 spatial axis"]),
    (HEAD + "  - {type: conv, filters: 8}\n", 3, 5, EXIT_UNREADABLE, ["conv needs 'kernel'"]),
    (HEAD + "  - {type: conv, filters: 8, kernel: 3, groups: 2}\n", 3, 49, EXIT_INCONSISTENT,
     ["layer 'conv1'", "groups (2) must divide the input channels (3)"]),
    (HEAD + "  - {type: conv, filters: 6, kernel: 3, groups: 4}\n", 3, 49, EXIT_INCONSISTENT,
     ["groups (4) must divide filters (6)"]),
    ("input: [3, 3, 3]\nlayers:\n  - {type: conv, filters: 8, kernel: 5}\n", 3, 38,
     EXIT_INCONSISTENT, ["window spans 5", "padded input has only 3"]),
    (HEAD + "  - {type: pool, kernel: 2, padding: 2}\n", 3, 38, EXIT_UNREADABLE,
     ["pool padding must be at most half the kernel"]),
    (HEAD + "  - {type: conv, filters: 8, kernel: 3, padding: foo}\n", 3, 50, EXIT_UNREADABLE,
     ["'padding' must be", "received: 'foo'"]),
    (HEAD + "  - {type: pool, mode: mean, kernel: 2}\n", 3, 24, EXIT_UNREADABLE,
     ["'mode' must be one of max, avg, min, l2", "received: 'mean'"]),
    (HEAD + "  - {name: a, type: relu}\n  - {name: a, type: relu}\n", 4, 12, EXIT_UNREADABLE,
     ["duplicate layer name 'a'", "line 3"]),
    (HEAD + "  - {type: conv, filters: 2, kernel: 1, connections: [[0], [7]]}\n", 3, 54,
     EXIT_INCONSISTENT, ["reads input map 7", "has 3 maps"]),
    (HEAD + "  - {type: conv, filters: 3, kernel: 1, connections: [[0], [1]]}\n", 3, 54,
     EXIT_UNREADABLE, ["2 rows but there are 3 filters"]),
    (HEAD + "  - 42\n", 3, 5, EXIT_UNREADABLE, ["layers[0]", "a layer must be a type name"]),
    (HEAD + "  - {filters: 3}\n", 3, 5, EXIT_UNREADABLE, ["layer has no 'type'"]),
    # [32, 32] and 32x32 are 1-D inputs (length 32, 32 channels); four spatial axes are not
    ("input: [8, 8, 8, 8, 3]\nlayers: [relu]\n", 1, 8, EXIT_UNREADABLE,
     ["'input' must be [height, width, channels]", "received: [8, 8, 8, 8, 3]"]),
    ("input: [32]\nlayers: [relu]\n", 1, 8, EXIT_UNREADABLE, ["'input' must be"]),
    ("input: 8x8x8x8x3\nlayers: [relu]\n", 1, 8, EXIT_UNREADABLE, ["'input' must be"]),
    ("layers: [relu]\n", 1, 1, EXIT_UNREADABLE, ["the spec has no 'input'"]),
    ("input: [8, 8, 1]\n", 1, 1, EXIT_UNREADABLE, ["the spec has no 'layers'"]),
    ("input: [8, 8, 1]\nlayers: []\n", 2, 9, EXIT_UNREADABLE, ["non-empty list"]),
    ("input: [8, 8, 1]\nlayer: [relu]\n", 2, 1, EXIT_UNREADABLE,
     ["unknown key 'layer' in the spec", "did you mean 'layers'?"]),
    ("- relu\n", 1, 1, EXIT_UNREADABLE, ["a spec must be a mapping"]),
    ("just text\n", 1, 1, EXIT_UNREADABLE, ["a spec must be a mapping"]),
    ("", 1, 1, EXIT_UNREADABLE, ["the file is empty"]),
    ("input: [1, 2\nlayers: x\n", 2, 7, EXIT_UNREADABLE, ["not valid YAML"]),
    ("input: !!python/object/apply:os.system ['echo owned']\nlayers: [relu]\n", 1, 8,
     EXIT_UNREADABLE, ["YAML tags are not allowed"]),
    ("input: [8, 8, 1]\ninput: [8, 8, 1]\nlayers: [relu]\n", 2, 1, EXIT_UNREADABLE,
     ["duplicate key"]),
]


@pytest.mark.parametrize("text, line, column, code, words", CASES)
def test_error_position_message_and_exit_code(text, line, column, code, words):
    diagnostic = error_of(text, "bad.yaml")
    assert (diagnostic.span.line, diagnostic.span.column) == (line, column), diagnostic.format()
    assert diagnostic.exit_code == code
    line_text = diagnostic.format()
    assert line_text.startswith(f"bad.yaml:{line}:{column}: error: ")
    assert "\n" not in line_text
    for word in words:
        assert word in line_text


def test_python_tag_is_never_executed(tmp_path):
    marker = tmp_path / "owned"
    error_of(f"input: !!python/object/apply:os.system ['touch {marker}']\nlayers: [relu]\n")
    assert not marker.exists()


def test_alias_bomb_is_refused():
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]']
    for i in range(1, 9):
        prev = chr(ord("a") + i - 1)
        cur = chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},"
                     f"*{prev},*{prev},*{prev}]")
    diagnostic = error_of("\n".join(lines) + "\n")
    assert "alias bomb" in diagnostic.message


SHAPE_REFUSALS = [  # (layer on an 8x8x3 input, what the shape rule was given)
    ("{type: conv, filters: 4, kernel: 9}", "(received: input 8x8x3)"),
    ("{type: pixel_shuffle, factor: 2}", "(received: input 8x8x3)"),
    ("{type: pixel_unshuffle, factor: 3}", "(received: input 8x8x3)"),
    ("{type: crop, size: [9, 9]}", "(received: input 8x8x3)"),
    ("{type: pool, kernel: 2, stride: 2, output: [1, 1]}", "(received: "),
    ("{type: add, inputs: [input, input2]}", "(received: 8x8x3, 4x4x3)"),
    ("{type: concat, inputs: [input, input2]}", "(received: 8x8x3, 4x4x3)"),
]


@pytest.mark.parametrize("layer, received", SHAPE_REFUSALS,
                         ids=[layer for layer, _ in SHAPE_REFUSALS])
def test_a_shape_rule_refusal_says_what_it_received(layer, received):
    text = ("input: [8, 8, 3]\nlayers:\n"
            "  - {name: input2, type: pool, kernel: 2, stride: 2}\n"
            f"  - {layer}\n")
    if "input2" not in layer:
        text = f"input: [8, 8, 3]\nlayers:\n  - {layer}\n"
    line = error_of(text, "bad.yaml").format()
    assert line.endswith(")") and received in line, line
