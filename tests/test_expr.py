"""The argument-expression evaluator (cnncalc/language/expr.py): values written as formulas or taken from
published sources, every error with its offset, hostile input, and random expressions."""

from __future__ import annotations

import inspect
import math
import sys

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from cnncalc.language.expr import BOUND, ExprError, evaluate, is_expression, make_divisible, substitute_value

SHORTCUT = [{"type": "conv", "filters": 64, "kernel": 1}]
ARGS = {"k": 3, "d": 2, "c": 32, "w": 0.75, "act": "relu", "food": 1, "use_se": True, "stride": 1,
        "shortcut": SHORTCUT, "none": None}


def err(text: str, args=ARGS) -> ExprError:
    with pytest.raises(ExprError) as info:
        evaluate(text, args)
    return info.value


# --- values ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("k", "p"), [(3, 1), (5, 2), (7, 3)])
def test_same_padding_rule(k, p):
    """CS231n: a stride-1 conv keeps the size with P = (F - 1)/2; exact division gives an int."""
    value = evaluate("($k - 1) / 2", {"k": k})
    assert value == p and type(value) is int


@pytest.mark.parametrize(("k", "d"), [(3, 1), (3, 2), (5, 3), (7, 4)])
def test_dilated_same_padding(k, d):
    assert evaluate("($k-1)//2*$d", {"k": k, "d": d}) == (k - 1) // 2 * d


def test_whole_value_substitution_is_unchanged():
    assert evaluate("$shortcut", ARGS) is SHORTCUT
    assert evaluate("$act", ARGS) == "relu"
    assert evaluate(" ( $w ) ", ARGS) == 0.75
    assert evaluate("$none", ARGS) is None


def test_what_is_an_expression():
    assert is_expression("$k") and is_expression("$k * 2") and is_expression("max($c, 8)")
    for plain in ("relu", "same", "", "3 * 4", "max(1, 2)", 3, 0.5, None, ["$k"], {"a": "$k"}):
        assert not is_expression(plain)
    assert substitute_value("same", ARGS) == "same"
    assert substitute_value(["$k"], ARGS) == ["$k"]  # containers are the caller's to walk
    assert substitute_value("$k + 1", ARGS) == 4
    assert substitute_value("$shortcut", ARGS) is SHORTCUT


@pytest.mark.parametrize(("text", "value"), [
    ("7 / 2", 3.5), ("8 / 2", 4), ("-8 / 2", -4), ("7 // 2", 3), ("-7 // 2", -4), ("7 % 3", 1),
    ("-7 % 3", 2), ("2 + 3 * 4", 14), ("(2 + 3) * 4", 20), ("7 - 2 - 1", 4), ("2 * 3 // 4", 1),
    ("10 % 4 * 2", 4), ("-2 * 3", -6), ("- -2", 2), ("+2", 2), ("$c * $w", 24.0), ("0.5 + .25", 0.75),
    ("1e3", 1000.0), ("2.5e-1 * 4", 1.0), ("7.0 // 2", 3.0), ("max(1, 5, 3)", 5), ("min(4, 2.5)", 2.5),
    ("abs(3 - 10)", 7), ("round(2.5)", 2), ("round(3.5)", 4), ("round(-0.4)", 0), ("floor(-2.5)", -3),
    ("ceil(2.1)", 3), ("int(24.0)", 24), ("int($c * $w)", 24), ("int(7)", 7), ("floor(7)", 7),
    (f"{BOUND}", BOUND), (f"-{BOUND}", -BOUND), (f"{BOUND} - 1 + 1", BOUND),
])
def test_arithmetic(text, value):
    result = evaluate(text, ARGS)
    assert result == value and type(result) is type(value)


@pytest.mark.parametrize(("text", "value"), [
    ("$use_se and $stride == 1", True), ("$use_se and $stride > 1", False),
    ("not $use_se or $stride >= 2", False), ("not not $use_se", True), ("$k != 3", False),
    ("1 < 2 and 2 <= 2 and 3 > 2 and 3 >= 3 and 2 != 3", True), ("true == false", False),
    ("$use_se != false", True), ("$w == 0.75", True), ("2 == 2.0", True),
    ("1 == 1 or 2 == 3 and false", True), ("(true or false) and false", False),
    # short-circuit: the side not needed is parsed and its names checked, not computed
    ("$stride != 0 and 10 / $stride > 1", True), ("false and 1 / 0 == 1", False),
    ("true or $act + 1 == 2", True), ("false and max($shortcut, 1) == 1", False),
])
def test_conditions(text, value):
    assert evaluate(text, ARGS) is value


# torchvision/models/_utils.py, _make_divisible(v, divisor, min_value=None):
#     min_value defaults to divisor; new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
#     if new_v < 0.9 * v: new_v += divisor
# Each expected value below is worked by that formula by hand (shown), and matches torchvision's
# published channel widths.
@pytest.mark.parametrize(("expanded", "squeeze"), [
    (72, 24),    # 18: int(22)//8*8 = 16 < 0.9*18 = 16.2, so 16 + 8 = 24
    (120, 32),   # 30: int(34)//8*8 = 32
    (480, 120),  # 120: int(124)//8*8 = 120
    (672, 168),  # 168: int(172)//8*8 = 168
    (960, 240),  # 240: int(244)//8*8 = 240
])
def test_mobilenet_v3_large_se_squeeze(expanded, squeeze):
    """torchvision mobilenetv3.py: squeeze_channels = _make_divisible(expanded_channels // 4, 8)."""
    assert evaluate("make_divisible($e // 4, 8)", {"e": expanded}) == squeeze
    assert evaluate("make_divisible($e / 4, 8)", {"e": expanded}) == squeeze


@pytest.mark.parametrize(("text", "call", "value"), [
    ("make_divisible(32 * 0.75, 8)", (32 * 0.75, 8), 24),  # MobileNetV2 x0.75 stem: int(28)//8*8 = 24
    ("make_divisible(16 * 1.0 / 4, 8)", (4.0, 8), 8),  # MobileNetV3-Small first SE: max(8, int(8)//8*8)
    ("make_divisible(960 / 4, 8)", (240, 8), 240),
    ("make_divisible(24 * 0.75, 8)", (24 * 0.75, 8), 24),  # 18 -> 16 < 16.2 -> 24
    ("make_divisible(16 * 0.75, 8)", (16 * 0.75, 8), 16),  # 12: int(16) // 8 * 8 = 16
    ("make_divisible(24 * 0.5, 8)", (24 * 0.5, 8), 16),  # MobileNetV2 x0.5: 12 -> 16
    ("make_divisible(16 * 0.5, 8)", (16 * 0.5, 8), 8),  # 8: int(12) // 8 * 8 = 8
    ("make_divisible(32 * 1.4, 8)", (32 * 1.4, 8), 48),  # MobileNetV2 x1.4 stem, 48: int(48.8)//8*8
    ("make_divisible(64 * 1.4, 8)", (64 * 1.4, 8), 88),  # 89.6: int(93.6) // 8 * 8 = 88 >= 80.64
    ("make_divisible(96 * 1.4, 8)", (96 * 1.4, 8), 136),  # 134.4: int(138.4) // 8 * 8 = 136
    ("make_divisible(1280 * 1.4, 8)", (1280 * 1.4, 8), 1792),  # MobileNetV2 x1.4 last conv: 1792
    ("make_divisible(3, 8, 4)", (3, 8, 4), 4),  # min_value: max(4, int(7) // 8 * 8 = 0) = 4
    ("make_divisible(10, 8, 4)", (10, 8, 4), 16),  # int(14) // 8 * 8 = 8 < 9 -> 16
    ("make_divisible(3, 8, $none)", (3, 8, None), 8),  # a null min_value is the default (the divisor)
])
def test_make_divisible(text, call, value):
    assert evaluate(text, ARGS) == value
    assert make_divisible(*call) == value


# --- errors ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "offset", "message"), [
    ("$foo + 1", 0, "unknown argument '$foo'; did you mean '$food'? (arguments: $k, $d, $c,"),
    ("2 * $kk", 4, "unknown argument '$kk'; did you mean '$k'?"),
    ("1 + 2 / (3 - 3)", 6, "division by zero"),
    ("7 // 0", 2, "division by zero"),
    ("7 % 0.0", 2, "modulo by zero"),
    ("$act + 1", 0, "'$act' is 'relu', not a number"),
    ("1 + $act", 4, "'$act' is 'relu', not a number"),
    ("-$shortcut", 1, "'$shortcut' is a list, not a number"),
    ("$use_se + 1", 0, "'$use_se' is true, not a number"),
    ("$none * 2", 0, "'$none' is null, not a number"),
    ("not 1", 4, "'1' is 1, not true or false"),
    ("$k and true", 0, "'$k' is 3, not true or false"),
    ("$use_se == 1", 11, "cannot compare a boolean with '1'"),
    ("$act == 1", 0, "'$act' is 'relu', not a number"),
    ("2 # 3", 2, "unexpected character '#'"),
    ("(1 + 2", 0, "'(' at character 0 is never closed"),
    ("max(1, 2", 0, "'max(' at character 0 is never closed"),
    # what YAML leaves of `{filters: make_divisible($c * 0.75, 8)}`: the comma ended the value
    ("make_divisible($c * 0.75", 0, "'make_divisible(' at character 0 is never closed; inside "
                                    "{...} or [...] a comma ends the value: quote the expression"),
    ("(1 2)", 3, "expected ')' before '2'"),
    ("1 + 2)", 5, "unmatched ')'"),
    ("1 2", 2, "expected an operator before '2'"),
    ("1 +", 3, "the expression ends too early"),
    ("", 0, "the expression is empty"),
    ("  ", 2, "the expression is empty"),
    ("* 2", 0, "unexpected '*'"),
    ("max(1,)", 6, "unexpected ')'"),
    ("abs(1, 2)", 0, "abs() takes 1 argument, given 2"),
    ("1 + min(1)", 4, "min() takes 2 or more arguments, given 1"),
    ("make_divisible(1)", 0, "make_divisible() takes 2 to 3 arguments, given 1"),
    ("floor()", 0, "floor() takes 1 argument, given 0"),
    ("flor(2.5)", 0, "unknown function 'flor'; did you mean 'floor'? (functions: abs, ceil, floor,"),
    ("int(2.5)", 0, "int() needs a whole number, not 2.5 (use round, floor or ceil)"),
    ("make_divisible(10, 0)", 0, "make_divisible: the divisor must be a positive integer, not 0"),
    ("make_divisible(10, 2.5)", 0, "make_divisible: the divisor must be a positive integer, not 2.5"),
    ("2 ** 3", 2, "'**' (power) is not supported"),
    ("1 < 2 < 3", 6, "comparisons do not chain; use 'and' before '<'"),
    ("k - 1", 0, "bare word 'k': arguments are written $name; did you mean '$k'?"),
    ("True", 0, "bare word 'True': arguments are written $name; did you mean 'true'?"),
    ("$k + $", 5, "'$' must be followed by an argument name"),
    ("$ k", 0, "'$' must be followed by an argument name"),
    ("'a'", 0, "strings are not supported"),
    ("1e309", 0, "the number 1e309 is not finite"),
    ("1000000000000000001", 0, "the number 1000000000000000001 is beyond ±10**18"),
    (f"{BOUND} + 1", 20, "the result is beyond ±10**18"),
    ("1e308 * 10", 6, "the result is not a finite number"),
    ("round(1e300)", 0, "the result is beyond ±10**18"),
])
def test_errors(text, offset, message):
    error = err(text)
    assert error.message.startswith(message), error.message
    assert error.offset == offset and str(error) == error.message


def test_unknown_argument_lists_none_when_there_are_none():
    assert err("$k", None).message == "unknown argument '$k' (arguments: none here)"
    assert err("$k + 1", {}).offset == 0


def test_non_finite_argument_is_refused():
    assert err("$x + 1", {"x": math.inf}).message == "'$x' is inf, not a finite number"
    assert evaluate("$x", {"x": math.inf}) == math.inf  # whole-value substitution passes it on


def test_limits():
    assert evaluate("(" * 50 + "1" + ")" * 50, {}) == 1
    assert err("(" * 51 + "1" + ")" * 51).offset == 50
    assert err("(" * 51 + "1" + ")" * 51).message == "expression nested deeper than 50 levels"
    assert evaluate("-" * 50 + "1", {}) == 1
    assert err("not " * 51 + "true").offset == 200
    assert err("abs(" * 51 + "1" + ")" * 51).offset == 200
    assert evaluate("+".join(["1"] * 500), {}) == 500  # long flat expressions do not recurse
    too_long = err("1+" * 500 + "1")
    assert too_long.offset == 1000 and too_long.message.startswith("expression longer than 1,000")


# --- hostile input -----------------------------------------------------------------------------
@pytest.mark.parametrize("text", [
    "(" * 10_000 + "1" + ")" * 10_000, "(" * 10_000, "-" * 10_000 + "1", "1+" * 500_000 + "1",
    "$k" * 400_000, "__import__('os')", "__import__", "eval(1)", "().__class__", "exec", "open(1)",
    "²", "$k²", "\uff11", "٣", "1_000", "0x10", "1j", "$k;1", "$k.real", "[1", "{}", "$k\x00", "1e309",
    "-1e309", "9e999", "\u00a0$k",
], ids=lambda text: f"{text[:12]!r}x{len(text)}")
def test_hostile_input_is_an_expr_error(text):
    err(text)


@pytest.mark.parametrize("n", range(1, 25))
def test_growing_product_stops_at_the_bound(n):
    text = "*".join(["9"] * n)
    if 9**n <= BOUND:
        assert evaluate(text, {}) == 9**n
    else:  # 9**19 > 10**18 is computed at the 18th '*', offset 35
        assert err(text).offset == 35


def test_deepest_expression_fits_a_small_stack():
    """Fifty levels, each with every precedence level open, need well under 1000 frames."""
    level = "(true or true and 1 == 1 + 1 * "
    text = level * 24 + "not " * 26 + "true" + ")" * 24
    assert len(text) <= 1000
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack()) + 300)
    try:
        assert evaluate(text, {}) is True
    finally:
        sys.setrecursionlimit(limit)


# --- properties --------------------------------------------------------------------------------
PROP_ARGS = {"a": 7, "b": -3, "z": 0}
PREC = {"+": 5, "-": 5, "*": 6, "/": 6, "//": 6, "%": 6}


class Undefined(Exception):
    """The reference's verdict: the evaluator must raise ExprError."""


def reference(tree):
    """Python integers (floats only after an inexact '/'), checked after every step."""
    if isinstance(tree, int):
        value = tree
    elif isinstance(tree, str):
        value = PROP_ARGS[tree[1:]]
    elif tree[0] == "neg":
        value = -reference(tree[1])
    elif tree[0] in ("min", "max"):
        value = (min if tree[0] == "min" else max)(reference(tree[1]), reference(tree[2]))
    elif tree[0] == "abs":
        value = abs(reference(tree[1]))
    else:
        op, a, b = tree[0], reference(tree[1]), reference(tree[2])
        if op in ("/", "//", "%") and b == 0:
            raise Undefined
        value = {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b,
                 "/": lambda: a // b if isinstance(a, int) and isinstance(b, int) and a % b == 0 else a / b,
                 "//": lambda: a // b, "%": lambda: a % b}[op]()
    if (isinstance(value, int) and abs(value) > BOUND) or (isinstance(value, float)
                                                           and not math.isfinite(value)):
        raise Undefined
    return value


def render(tree) -> tuple[str, int]:
    """Text with only the parentheses precedence needs, and its nesting depth."""
    if isinstance(tree, (int, str)):
        return (str(tree), 1 if isinstance(tree, int) and tree < 0 else 0)
    if tree[0] == "neg":
        text, depth = render(tree[1])
        if isinstance(tree[1], tuple) and tree[1][0] in PREC:
            return f"-({text})", depth + 2
        return f"- {text}", depth + 1
    if tree[0] in ("min", "max", "abs"):
        parts = [render(t) for t in tree[1:]]
        return f"{tree[0]}({', '.join(p[0] for p in parts)})", 1 + max(p[1] for p in parts)
    op, (left, dl), (right, dr) = tree[0], render(tree[1]), render(tree[2])
    if isinstance(tree[1], tuple) and PREC.get(tree[1][0], 9) < PREC[op]:
        left, dl = f"({left})", dl + 1
    if isinstance(tree[2], tuple) and PREC.get(tree[2][0], 9) <= PREC[op]:
        right, dr = f"({right})", dr + 1
    return f"{left} {op} {right}", max(dl, dr)


leaves = st.integers(-30, 30) | st.integers(-BOUND, BOUND) | st.sampled_from(["$a", "$b", "$z"])
trees = st.recursive(leaves, lambda sub: st.tuples(st.sampled_from(sorted(PREC)), sub, sub)
                     | st.tuples(st.sampled_from(["neg", "abs"]), sub)
                     | st.tuples(st.sampled_from(["min", "max"]), sub, sub), max_leaves=25)


@settings(max_examples=400, deadline=None)
@given(trees)
def test_random_expressions_match_python(tree):
    text, depth = render(tree)
    assume(len(text) <= 1000 and depth <= 50)
    try:
        expected = reference(tree)
    except Undefined:
        err(text, PROP_ARGS)
        return
    value = evaluate(text, PROP_ARGS)
    assert value == expected and type(value) is type(expected), text


ALPHABET = [*"0123456789.eE$akz_()+-*/%<=>!, \t", "and ", "or ", "not ", "max(", "round(",
            "make_divisible(", "true", "²", "'"]
HOSTILE_ARGS = {"a": 3, "k": 0, "kz": 2.5, "z": [1], "e": True, "E": "relu", "a_": None, "ak": math.nan}


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(ALPHABET), max_size=60).map("".join) | st.text(max_size=200))
def test_random_text_raises_only_expr_error(text):
    try:
        evaluate(text, HOSTILE_ARGS)
    except ExprError as error:
        assert 0 <= error.offset <= len(text) and error.message
