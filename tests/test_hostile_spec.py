"""Hostile specs: every one answered with one line and the right exit code, never a traceback
(exit 70), never a wrong figure. Expected values come from the rules, not from our output."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from cnncalc.cli import app
from cnncalc.conventions import readable
from cnncalc.errors import CnnCalcError, show
from cnncalc.language import loads

runner = CliRunner()


def refused(text: str) -> CnnCalcError:
    with pytest.raises(CnnCalcError) as caught:
        loads(text, "net.yaml")
    return caught.value


def one_line(path, *args) -> tuple[int, str]:
    result = runner.invoke(app, ["validate", str(path), *args])
    lines = result.output.strip().splitlines()
    assert (result.exit_code not in (70,) and result.exception is None) or \
        isinstance(result.exception, SystemExit), result.output[-500:]
    return result.exit_code, lines


def conv(setting: str) -> str:
    return f"input: 32x32x3\nlayers:\n  - {{type: conv, kernel: 3, {setting}}}\n"


# --- 2. huge numbers ----------------------------------------------------------------------

def test_show_huge_int_counts_digits_without_str():
    value = int("f" * 4000, 16)  # 16**4000 - 1: floor(4000 * log10(16)) + 1 = 4817 digits
    assert show(value) == "an integer of 4,817 digits"
    assert show(10**4815) == "an integer of 4,816 digits"
    assert show(-(10**40)) == "a negative integer of 41 digits"
    assert show(123) == "123"


def test_hex_filters_of_4000_digits(tmp_path):
    spec = tmp_path / "net.yaml"
    spec.write_text(conv("filters: 0x" + "f" * 4000))
    code, lines = one_line(spec)
    assert code == 2 and len(lines) == 1
    assert lines[0].startswith(f"{spec}:3:38: error:")
    assert "'filters' must be at most 1,000,000,000,000 (received: an integer of 4,817 digits)" in lines[0]


def test_padding_of_401_digits_refused_not_overflowed():
    error = refused(conv("filters: 4, padding: 1" + "0" * 400))
    d = error.diagnostic
    assert (d.span.line, d.exit_code) == (3, 2)
    assert "'padding' must be at most" in d.message and d.received == "an integer of 401 digits"


def test_fc_units_of_3001_digits(tmp_path):
    spec = tmp_path / "net.yaml"
    spec.write_text("input: 32x32x3\nlayers:\n  - {type: fc, units: 1" + "0" * 3000 + "}\n")
    for command in ("validate", "summarize"):
        result = runner.invoke(app, [command, str(spec)])
        assert result.exit_code == 2, result.output[-300:]
        assert result.output.count("\n") == 1 and "'units' must be at most" in result.output


def test_decimal_integer_over_python_limit_is_one_line():
    error = refused("input: 32x32x3\nlayers:\n  - {type: fc, units: " + "1" * 5000 + "}\n")
    assert error.diagnostic.span[1:] == (3, 23) and error.exit_code == 2
    assert error.diagnostic.received == "an integer of 5,000 digits"


def test_input_with_5000_digits():
    error = refused('input: "1x1x' + "1" * 5000 + '"\nlayers: [relu]\n')
    assert error.diagnostic.span[1:] == (1, 8) and error.exit_code == 2
    assert len(error.diagnostic.format()) < 400


def test_readable_is_integer_exact():
    assert readable(138_357_544) == "138.4 M"
    assert readable(10**3000) == "1.0e3000"  # float(10**3000) would overflow
    assert readable(2 * 10**3000 + 5 * 10**2999) == "2.5e3000"
    assert readable(1_250) == "1.3 K"  # half up


def test_huge_key_is_truncated_in_the_message():
    key = "k" * 600_000
    error = refused(f"input: 32x32x3\nlayers:\n  - type: relu\n    ? {key}\n    : 1\n")
    text = error.diagnostic.format()
    assert error.diagnostic.span[1:] == (4, 7) and error.exit_code == 2
    assert "unknown setting 'kkkk" in text and len(text) < 300


def test_huge_block_argument_name_is_truncated():
    error = refused("input: 32x32x3\nblocks:\n  b: {args: [w], layers: [relu]}\nlayers:\n"
                    "  - block: b\n    w: 1\n    ? " + "w" * 100_000 + "\n    : 1\n")
    text = error.diagnostic.format()
    assert error.diagnostic.span[1:] == (7, 7) and "has no argument 'www" in text and len(text) < 300


def test_huge_layer_name_is_truncated():
    name = "n" * 100_000
    error = refused(f"input: 32x32x3\nlayers:\n  - {{type: relu, name: {name}}}\n"
                    f"  - {{type: relu, name: {name}}}\n")
    assert "duplicate layer name" in error.diagnostic.message and len(error.diagnostic.format()) < 400


# --- 4. wrong results accepted --------------------------------------------------------------

@pytest.mark.parametrize("layer, key", [("{type: batchnorm, eps: .inf}", "eps"),
                                         ("{type: elu, alpha: .inf}", "alpha"),
                                         ("{type: leaky_relu, negative_slope: .inf}", "negative_slope"),
                                         ("{type: lrn, alpha: .inf}", "alpha")])
def test_non_finite_numbers_refused(layer, key):
    error = refused(f"input: 32x32x3\nlayers:\n  - {layer}\n")
    assert error.diagnostic.span.line == 3 and error.exit_code == 2
    assert f"'{key}' must be a number" in error.diagnostic.message
    assert error.diagnostic.received == "inf"


def test_lrn_k_must_be_positive():
    error = refused("input: 32x32x3\nlayers:\n  - {type: lrn, k: 0, alpha: 0}\n")
    assert error.diagnostic.span[1:] == (3, 20) and error.exit_code == 2
    assert "'k' must be a number > 0" in error.diagnostic.message


@pytest.mark.parametrize("written", ["010", "1:30", "0b11", "1_000"])
def test_yaml_11_integers_are_not_integers(written):
    error = refused(conv(f"filters: {written}"))
    assert error.diagnostic.span[1:] == (3, 38) and error.exit_code == 2
    assert "'filters' must be a positive integer" in error.diagnostic.message
    assert error.diagnostic.received == repr(written)


@pytest.mark.parametrize("written, value", [("0o17", 15), ("0x1F", 31), ("12", 12)])
def test_yaml_12_integers(written, value):
    network = loads(conv(f"filters: {written}"))
    assert network.nodes[0].layer.filters == value


def test_input_with_leading_zeros_refused():
    error = refused('input: "010x010x3"\nlayers: [relu]\n')
    assert error.diagnostic.span[1:] == (1, 8) and error.exit_code == 2
    assert "without leading zeros" in error.diagnostic.message


@pytest.mark.parametrize("written", ["0.5", "'0.5'", "1.0000001M"])
def test_budget_count_must_be_whole(written):
    error = refused(f"input: 32x32x3\nlayers: [relu]\nbudget: {{params: {written}}}\n")
    assert error.diagnostic.span.line == 3 and error.exit_code == 2
    assert "'params' must be a whole count" in error.diagnostic.message


def test_budget_count_with_a_fraction_that_is_whole():
    network = loads("input: 32x32x3\nlayers: [relu]\nbudget: {params: 1.5M}\n")
    assert network.budget.params == 1_500_000


def test_layer_named_input_refused():
    error = refused("input: 32x32x3\nlayers:\n  - {type: relu, name: input}\n"
                    "  - {type: add, inputs: [input, relu1]}\n")
    assert error.diagnostic.span[1:] == (3, 24) and error.exit_code == 2
    assert "'input' is reserved" in error.diagnostic.message


# --- 1. reads capped ----------------------------------------------------------------------

def _run_cli(args, stdin):
    import subprocess
    import sys
    import time
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "cnncalc", *args], stdin=stdin,
                          capture_output=True, text=True, timeout=60, check=False)
    return done, time.monotonic() - start


def test_dev_zero_refused_at_the_cap_quickly():
    done, seconds = _run_cli(["validate", "/dev/zero"], None)
    assert done.returncode == 2 and seconds < 20
    assert done.stderr.strip() + done.stdout.strip() == \
        "/dev/zero: error: is larger than 16 MiB; refused"


def test_stdin_of_dev_zero_refused_at_the_cap_quickly():
    with open("/dev/zero", "rb") as zero:
        done, seconds = _run_cli(["validate", "-"], zero)
    assert done.returncode == 2 and seconds < 20
    assert done.stderr.strip() + done.stdout.strip() == \
        "<stdin>: error: is larger than 16 MiB; refused"


def test_stdin_over_the_cap_with_cli_runner():
    result = runner.invoke(app, ["validate", "-"], input=b"#" * (16 * 1024 * 1024 + 1))
    assert result.exit_code == 2 and "<stdin>: error: is larger than 16 MiB; refused" in result.output


def test_stdin_at_the_cap_is_read():
    text = "input: 8x8x3\nlayers: [relu]\n"
    result = runner.invoke(app, ["validate", "-"], input=text + "#" * (16 * 1024 * 1024 - len(text)))
    assert result.exit_code == 0, result.output[-300:]


# --- 3. expansion bounded ------------------------------------------------------------------

def _nested(inner: str, depth: int) -> str:
    for _ in range(depth):
        inner = f"{{layers: [{inner}]}}"
    return inner


def test_spec_argument_substituted_once_not_per_nesting_level():
    refs = ", ".join(["$a"] * 10)
    text = f"input: 8x8x3\nargs: {{a: [{refs}]}}\nlayers:\n  - {_nested('{type: relu, name: $a}', 8)}\n"
    error = refused(text)  # the name is a list of ten '$a' strings, inserted once
    assert error.diagnostic.span.line == 4 and error.exit_code == 2
    assert "'name' must be a non-empty string" in error.diagnostic.message
    assert error.diagnostic.received.startswith("['$a', '$a'")


def test_block_argument_default_substituted_once():
    refs = ", ".join(["$a"] * 10)
    text = (f"input: 8x8x3\nblocks:\n  b:\n    args: {{a: [{refs}]}}\n    layers:\n"
            f"      - {_nested('{type: relu, name: $a}', 8)}\nlayers:\n  - block: b\n")
    error = refused(text)
    assert error.diagnostic.span.line == 6 and "'name' must be" in error.diagnostic.message


def test_argument_value_is_not_read_as_an_argument_again():
    network = loads("input: 8x8x3\nargs: {k: $k}\nlayers:\n  - {type: relu, name: $k}\n")
    assert network.nodes[0].name == "$k"  # the value '$k' is inserted once, as written


def test_substitution_growth_refused_at_a_million_values():
    refs = ", ".join(["$a"] * 10)
    lines = ["input: 8x8x3", "blocks:", "  b0:", "    args: [a]",
             "    layers: [{type: relu, name: $a}]"]
    for i in range(1, 9):  # b_i passes ten copies of its argument on: 10**i values
        lines += [f"  b{i}:", "    args: [a]", f"    layers: [{{block: b{i - 1}, a: [{refs}]}}]"]
    lines += ["layers:", "  - {block: b8, a: x}"]
    error = refused("\n".join(lines) + "\n")
    assert error.exit_code == 2 and "expand to more than 1,000,000 values" in error.diagnostic.message
    assert error.diagnostic.span.line > 5


@pytest.mark.parametrize("layer", ["{type: relu, repeat: 1000000}",
                                   "{type: concat, repeat: 1000000, inputs: [input, input]}"])
def test_repeat_past_the_layer_limit_refused_up_front(layer):
    error = refused(f"input: 8x8x3\nlayers:\n  - {layer}\n")
    d = error.diagnostic
    assert d.exit_code == 2 and d.span.line == 3 and d.received == "1000000"
    assert "more than 200,000 layers" in d.message


def test_input_references_bounded():
    names = ", ".join(["input"] * 1000)
    error = refused(f"input: 8x8x3\nlayers:\n  - {{type: concat, repeat: 3000, inputs: [{names}]}}\n")
    # 2,000 layers of 1,000 names reach the limit; the 2,001st passes it
    assert error.exit_code == 2 and error.diagnostic.layer == "concat2001"
    assert "'inputs' name more than 2,000,000 layers" in error.diagnostic.message


# --- 5. positions ---------------------------------------------------------------------------

@pytest.mark.parametrize("text, where", [
    ("input: 8x8x3\nlayers: relu\n", (2, 9)),
    ("input: 8x8x3\nlayers:\n  - layers: relu\n", (3, 13)),
    ("input: 8x8x3\nlayers:\n  - branches: [[relu], relu]\n", (3, 24)),
    ("input: 8x8x3\nlayers:\n  - branches:\n      - [relu]\n      - relu\n", (5, 9)),
    ("input: 8x8x3\nlayers:\n  - residual: relu\n", (3, 15)),
    ("input: 8x8x3\nlayers:\n  - residual: {body: relu}\n", (3, 22)),
])
def test_a_scalar_where_a_layer_list_belongs_has_a_position(text, where):
    error = refused(text)
    assert error.diagnostic.span[1:] == where and error.exit_code == 2
    assert error.diagnostic.received == "'relu'"


def test_error_inside_a_block_names_the_call():
    text = ("input: 8x8x3\nblocks:\n  basic:\n    args: [w]\n    layers:\n"
            "      - {type: conv, filters: $w, kernel: 3}\n"
            "layers:\n  - {block: basic, w: 8}\n  - {block: basic, w: 0}\n")
    error = refused(text)
    d = error.diagnostic
    assert d.span[1:] == (6, 31) and d.exit_code == 2  # the line inside the block
    assert d.message.endswith("(in block 'basic' called at line 9)")
    assert "'filters' must be a positive integer" in d.message and d.received == "0"


def test_a_shape_error_inside_a_block_names_the_call(tmp_path):
    """The same block is called twice; the second call fails when expanded (groups 3 do not
    divide 4 filters), the first when analysed (groups 2 do not divide 3 input channels)."""
    from typer.testing import CliRunner

    from cnncalc.cli import app
    path = tmp_path / "b.yaml"
    path.write_text("input: [8, 8, 3]\nblocks:\n  pair: {args: {g: 1}, layers: [{type: conv, "
                    "filters: 4, kernel: 3, groups: $g}]}\nlayers:\n  - {block: pair}\n"
                    "  - {block: pair, g: 3}\n")
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    assert "(in block 'pair' called at line 6)" in result.stdout
    path.write_text(path.read_text().replace("  - {block: pair}\n", "  - {block: pair, g: 2}\n")
                    .replace("g: 3", "g: 1"))
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 1 and "must divide the input channels (3)" in result.stdout
    assert "(in block 'pair' called at line 5)" in result.stdout
