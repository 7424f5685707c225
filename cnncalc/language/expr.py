"""Arithmetic in block arguments: a small, safe evaluator for spec strings that contain `$`.

Which strings are expressions: a string value is an expression when it contains `$`; every other
value (numbers, lists, strings without `$` such as `relu` or `same`) is left as it is. `$name`
alone returns the argument's value unchanged, whatever it is (a list, a mapping, a layer), as
before. There is no escape for a literal `$`. Argument names must be identifiers
(`[A-Za-z_][A-Za-z0-9_]*`); a bare word such as `width` is an error, never an argument.

Grammar, loosest first (Python's precedence; comparisons do not chain):

    or, and, not  (booleans only)       ==  !=  <  <=  >  >=  (numbers, or two booleans)
    +  -          *  /  //  %           unary - +
    atoms: 12, 0.75, 1e-3, true, false, $name, (expr), [a, b, ...] (a list),
           round floor ceil abs int (1 argument), min max (2 or more), make_divisible(v, d[, min])

Numbers: `/` gives an int when it divides exactly, else a float; other operators follow Python
(an int and a float give a float). A setting that needs an integer must reject a float: write
`int(x)` (whole numbers only), `round(x)` (Python's: halves to even), `floor` or `ceil`.
Integers are bounded by 10**18, floats must be finite; there is no `**`, no string operation.
`and`/`or` short-circuit: the skipped side is parsed and its names checked, not computed.
Text longer than 1,000 characters or nested (parentheses, calls, unary operators) deeper than
50 is refused. Every error is an ExprError with the 0-based character offset of the problem.
"""

from __future__ import annotations

import difflib
import math
import operator
import re
from collections.abc import Mapping

MAX_LENGTH = 1000
MAX_DEPTH = 50
BOUND = 10**18

_TOKEN = re.compile(r"""(?P<ws>[ \t\r\n]+)
    | (?P<num>(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)
    | (?P<arg>\$[A-Za-z_][A-Za-z0-9_]*)
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<op>\*\*|//|==|!=|<=|>=|[-+*/%<>(),\[\]])""", re.VERBOSE)
_BINARY = {"or": 1, "and": 2, "==": 4, "!=": 4, "<": 4, "<=": 4, ">": 4, ">=": 4,
           "+": 5, "-": 5, "*": 6, "/": 6, "//": 6, "%": 6}
_NOT, _UNARY = 3, 7  # binding power of prefix operators' operands
_KEYWORDS = ("true", "false", "and", "or", "not", "if", "else")
_OPS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
        "//": operator.floordiv, "%": operator.mod}
_SKIP = object()  # the value of a side that `and`/`or` does not compute


class ExprError(ValueError):
    """A bad expression: `message`, and `offset`, the 0-based character where the problem is."""

    def __init__(self, message: str, offset: int):
        super().__init__(message)
        self.message, self.offset = message, offset


def is_expression(text: object) -> bool:
    """True when `text` is a string containing `$` (see the module docstring)."""
    return isinstance(text, str) and "$" in text


def substitute_value(value: object, args: Mapping | None) -> object:
    """`value` evaluated if it is an expression, else unchanged."""
    return evaluate(value, args) if is_expression(value) else value


def evaluate(text: str, args: Mapping | None) -> object:
    """The value of the expression `text` with `$name` read from `args` (None: no arguments)."""
    if len(text) > MAX_LENGTH:
        raise ExprError(f"expression longer than {MAX_LENGTH:,} characters ({len(text):,})", MAX_LENGTH)
    parser = _Parser(text, args if args is not None else {})
    value = parser.choice(False)[0]
    kind, tok, at = parser.tokens[parser.i]
    if kind != "end":
        raise ExprError("unmatched ')'" if tok == ")" else f"expected an operator before '{tok}'", at)
    return value


def make_divisible(v, divisor, min_value=None):
    """torchvision's `_make_divisible` (models/_utils.py): round v to a multiple of divisor, >= 0.9 v."""
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def _describe(value) -> str:
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    return "a mapping" if isinstance(value, Mapping) else "a list" if isinstance(value, list) else repr(value)


def _num(operand, text: str):
    value, start, end = operand
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ExprError(f"'{text[start:end]}' is {_describe(value)}, not a number", start)
    if isinstance(value, float) and not math.isfinite(value):
        raise ExprError(f"'{text[start:end]}' is {value}, not a finite number", start)
    return value


def _bool(operand, text: str) -> bool:
    value, start, end = operand
    if not isinstance(value, bool):
        raise ExprError(f"'{text[start:end]}' is {_describe(value)}, not true or false", start)
    return value


def _checked(value, at: int):
    if isinstance(value, float) and not math.isfinite(value):
        raise ExprError("the result is not a finite number", at)
    if isinstance(value, int) and abs(value) > BOUND:
        raise ExprError("the result is beyond ±10**18", at)
    return value


def _arith(op: str, a, b):
    if op in ("/", "//", "%") and b == 0:
        raise ZeroDivisionError("modulo by zero" if op == "%" else "division by zero")
    if op == "/" and isinstance(a, int) and isinstance(b, int) and a % b == 0:
        return a // b
    return _OPS[op](a, b)


def _int(x):
    if isinstance(x, float) and not x.is_integer():
        raise ValueError(f"int() needs a whole number, not {x!r} (use round, floor or ceil)")
    return int(x)


def _divisible(v, divisor, min_value=None):
    if not isinstance(divisor, int) or divisor <= 0:
        raise ValueError(f"make_divisible: the divisor must be a positive integer, not {divisor!r}")
    return make_divisible(v, divisor, min_value)


def _log(x, base=math.e):
    if x <= 0 or base <= 0 or base == 1:
        raise ValueError(f"log needs a positive number (and a positive base other than 1), "
                         f"not {x!r}" + (f" in base {base!r}" if base != math.e else ""))
    return math.log(x, base)


def _log2(x):
    if x <= 0:
        raise ValueError(f"log2 needs a positive number, not {x!r}")
    return math.log2(x)


def _pow(x, y):
    if (isinstance(y, int) and abs(y) > 64) or (isinstance(y, float) and abs(y) > 1e4):
        raise ValueError(f"pow: the exponent {y!r} is too large")
    if x == 0 and y < 0:
        raise ValueError("pow: 0 to a negative power")
    if x < 0 and not float(y).is_integer():
        raise ValueError("pow: a negative number to a fractional power")
    return x ** y


def _len(items):
    return len(items)


def regnet_widths(w_0, w_a, w_m, depth, quantum=8):
    """RegNet's quantised widths (Radosavovic et al. 2020, eq. 2-4; torchvision's
    BlockParams.from_init_params): u_j = w_0 + w_a * j for j < depth, s_j = round(log(u_j /
    w_0) / log(w_m)), w_j = w_0 * w_m ** s_j rounded to a multiple of `quantum`. Returns the
    stages as [[width, blocks], ...] (runs of equal widths)."""
    if not (isinstance(depth, int) and 1 <= depth <= 1000) or w_0 <= 0 or w_a < 0 or w_m <= 1:
        raise ValueError("regnet_widths needs w_0 > 0, w_a >= 0, w_m > 1 and a depth from 1 to "
                         f"1000 (given {w_0!r}, {w_a!r}, {w_m!r}, {depth!r})")
    stages: list = []
    for j in range(depth):
        u = j * w_a + w_0  # torchvision: torch.arange(depth) * w_a + w_0 (float32 there)
        s = round(math.log(u / w_0) / math.log(w_m))
        width = round(w_0 * w_m ** s / quantum) * quantum
        if stages and stages[-1][0] == width:
            stages[-1][1] += 1
        else:
            stages.append([width, 1])
    return stages


# name -> (fewest arguments, most arguments or None, function)
_FUNCTIONS = {"abs": (1, 1, abs), "ceil": (1, 1, math.ceil), "floor": (1, 1, math.floor),
              "int": (1, 1, _int), "round": (1, 1, round), "min": (2, None, min),
              "max": (2, None, max), "make_divisible": (2, 3, _divisible),
              "log": (1, 2, _log), "log2": (1, 1, _log2), "pow": (2, 2, _pow),
              "regnet_widths": (4, 5, regnet_widths), "len": (1, 1, _len)}


def _dym(word: str, options) -> str:
    close = difflib.get_close_matches(word, list(options), 1, 0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def _tokenize(text: str) -> list:
    tokens, i = [], 0
    while i < len(text):
        m = _TOKEN.match(text, i)
        if m is None:
            c = text[i]
            why = ("'$' must be followed by an argument name" if c == "$" else
                   "strings are not supported" if c in "'\"" else f"unexpected character '{c}'")
            raise ExprError(why, i)
        if m.group() == "**":
            raise ExprError("'**' (power) is not supported", i)
        if m.lastgroup != "ws":
            tokens.append((m.lastgroup, m.group(), i))
        i = m.end()
    return [*tokens, ("end", "", len(text))]


class _Parser:
    """A Pratt parser that computes as it parses; operands are (value, start, end) triples."""

    def __init__(self, text: str, args: Mapping):
        self.text, self.args, self.tokens, self.i, self.depth = text, args, _tokenize(text), 0, 0

    def choice(self, skip: bool):
        """`a if condition else b` (Python's conditional, loosest of all). Only the side chosen
        is computed: an error computing `a` counts only when `a` is chosen (it is then parsed
        again without computing, once, to find where it ends)."""
        start, depth, failed = self.i, self.depth, None
        try:
            left = self.expr(0, skip)
        except ExprError as error:
            if skip:
                raise  # a syntax error or an unknown name: wrong on either side
            failed, self.i, self.depth = error, start, depth
            left = self.expr(0, True)
        kind, tok, at = self.tokens[self.i]
        if not (kind == "name" and tok == "if"):
            if failed is not None:
                raise failed
            return left
        self.i += 1
        condition = self.expr(0, skip)
        self.expect("else", f"'if' at character {at} needs 'else' and the other value", at)
        chosen = skip or _bool(condition, self.text)
        other = self.choice(skip or chosen)
        if failed is not None and not skip and chosen:
            raise failed
        value = _SKIP if skip else left[0] if chosen else other[0]
        return value, left[1], other[2]

    def index(self, operand, skip: bool):
        """`$list[i]` (from 0; negative counts from the end) or `$table[key]`."""
        while self.tokens[self.i][1] == "[":
            at = self.tokens[self.i][2]
            self.enter(at)
            self.i += 1
            key = self.choice(skip)
            self.depth -= 1
            end = self.expect("]", f"'[' at character {at} is never closed", at)
            operand = (_SKIP if skip else self.item(operand, key), operand[1], end)
        return operand

    def item(self, operand, key):
        value, start, end = operand
        name, k = self.text[start:end], key[0]
        if isinstance(value, Mapping):
            if isinstance(k, (int, float, str)) and not isinstance(k, bool) and k in value:
                return value[k]
            shown = ", ".join(_describe(e).strip("'") for e in list(value)[:20])
            raise ExprError(f"'{name}' has no entry {_describe(k)} (entries: {shown})", key[1])
        if not isinstance(value, list):
            raise ExprError(f"'{name}' is {_describe(value)}, not a list or a table", start)
        if isinstance(k, bool) or not isinstance(k, int):
            raise ExprError(f"a list index must be an integer, not {_describe(k)}", key[1])
        if not -len(value) <= k < len(value):
            raise ExprError(f"index {k} is out of range: '{name}' has {len(value)} item"
                            f"{'s' * (len(value) != 1)} (0 to {len(value) - 1})", key[1])
        return value[k]

    def expr(self, bp: int, skip: bool):
        left, chained = self.index(self.prefix(skip), skip), False
        while True:
            kind, op, at = self.tokens[self.i]
            power = _BINARY.get(op, 0) if kind in ("op", "name") else 0
            if power <= bp:
                return left
            self.i += 1
            if op in ("and", "or"):
                first = skip or _bool(left, self.text)
                short = not skip and first == (op == "or")
                right = self.expr(power, skip or short)
                value = _SKIP if skip else first if short else _bool(right, self.text)
            elif power == 4:
                if chained:
                    raise ExprError(f"comparisons do not chain; use 'and' before '{op}'", at)
                right, chained = self.expr(power, skip), True
                value = _SKIP if skip else self.compare(op, left, right)
            else:
                right = self.expr(power, skip)
                value = _SKIP if skip else self.compute(lambda a, b, o=op: _arith(o, a, b),
                                                        [left, right], at)
            left = (value, left[1], right[2])

    def compare(self, op: str, left, right) -> bool:
        a, b = left[0], right[0]
        if op in ("==", "!=") and isinstance(a, bool) and isinstance(b, bool):
            return (a == b) == (op == "==")
        if isinstance(a, bool) or isinstance(b, bool):
            bad = right if isinstance(a, bool) else left
            raise ExprError(f"cannot compare a boolean with '{self.text[bad[1]:bad[2]]}'", bad[1])
        a, b = _num(left, self.text), _num(right, self.text)
        return {"==": a == b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]

    def compute(self, function, operands, at: int, numbers: int | None = None):
        """function(*values) with the first `numbers` operands (default all) checked as numbers."""
        count = len(operands) if numbers is None else numbers
        values = [_num(o, self.text) if n < count else o[0] for n, o in enumerate(operands)]
        try:
            return _checked(function(*values), at)
        except (ArithmeticError, ValueError) as error:
            raise ExprError(str(error), at) from None

    def prefix(self, skip: bool):
        kind, tok, start = self.tokens[self.i]
        self.i += 1
        if kind == "num":
            value = float(tok) if any(c in tok for c in ".eE") else int(tok)
            if abs(value) > BOUND if isinstance(value, int) else not math.isfinite(value):
                raise ExprError(f"the number {tok} is beyond ±10**18" if isinstance(value, int)
                                else f"the number {tok} is not finite", start)
            return value, start, start + len(tok)
        if kind == "arg":
            if tok[1:] not in self.args and tok[1:] in ("in_channels", "in_size", "in_layer"):
                raise ExprError(f"'{tok}' is what enters a block call: it exists only inside a "
                                "block's layers", start)
            if tok[1:] not in self.args:
                known = ", ".join("$" + str(a) for a in self.args) or "none here"
                raise ExprError(f"unknown argument '{tok}'{_dym(tok, ['$' + str(a) for a in self.args])}"
                                f" (arguments: {known})", start)
            return (_SKIP if skip else self.args[tok[1:]]), start, start + len(tok)
        if kind == "name" and tok in ("true", "false"):
            return tok == "true", start, start + len(tok)
        if tok == "[":  # a list: [a, b, ...]
            self.enter(start)
            items = [self.choice(skip)] if self.tokens[self.i][1] != "]" else []
            while self.tokens[self.i][1] == ",":
                self.i += 1
                items.append(self.choice(skip))
            self.depth -= 1
            end = self.expect("]", f"'[' at character {start} is never closed", start)
            return (_SKIP if skip else [item[0] for item in items]), start, end
        if tok in ("-", "+", "not", "("):
            self.enter(start)
            operand = (self.choice(skip) if tok == "(" else
                       self.expr(_NOT if tok == "not" else _UNARY, skip))
            self.depth -= 1
            end = operand[2]
            if tok == "(":
                end = self.expect(")", f"'(' at character {start} is never closed", start)
                value = operand[0]
            elif skip:
                value = _SKIP
            elif tok == "not":
                value = not _bool(operand, self.text)
            else:
                value = self.compute(lambda x: -x if tok == "-" else +x, [operand], start)
            return value, start, end
        if kind == "name" and self.tokens[self.i][1] == "(":
            return self.call(tok, start, skip)
        if kind == "name":
            options = ["$" + str(a) for a in self.args] + [*_KEYWORDS, *_FUNCTIONS]
            raise ExprError(f"bare word '{tok}': arguments are written $name{_dym(tok, options)}", start)
        if kind == "end":
            raise ExprError("the expression ends too early" if self.text.strip() else
                            "the expression is empty", start)
        raise ExprError(f"unexpected '{tok}'", start)

    def call(self, name: str, start: int, skip: bool):
        if name not in _FUNCTIONS:
            raise ExprError(f"unknown function '{name}'{_dym(name, _FUNCTIONS)} "
                            f"(functions: {', '.join(sorted(_FUNCTIONS))})", start)
        low, high, function = _FUNCTIONS[name]
        self.enter(start)
        self.i += 1  # the '('
        operands = [self.choice(skip)] if self.tokens[self.i][1] != ")" else []
        while self.tokens[self.i][1] == ",":
            self.i += 1
            operands.append(self.choice(skip))
        self.depth -= 1
        end = self.expect(")", f"'{name}(' at character {start} is never closed" + (
            "; inside {...} or [...] a comma ends the value: quote the expression "
            "('make_divisible($c, 8)') or write the layer one key per line"
            if self.tokens[self.i][0] == "end" and operands else ""), start)
        if not low <= len(operands) <= (high or len(operands)):
            want = f"{low} or more" if high is None else f"{low}" if low == high else f"{low} to {high}"
            raise ExprError(f"{name}() takes {want} argument{'s' * (want != '1')}, given {len(operands)}",
                            start)
        if skip:
            return _SKIP, start, end
        numbers = 2 if name == "make_divisible" and operands[-1][0] is None else None
        if name == "len":
            if not isinstance(operands[0][0], (list, Mapping)):
                raise ExprError(f"len() takes a list or a table, not {_describe(operands[0][0])}",
                                operands[0][1])
            numbers = 0
        return self.compute(function, operands, start, numbers), start, end

    def enter(self, at: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExprError(f"expression nested deeper than {MAX_DEPTH} levels", at)

    def expect(self, tok: str, message: str, at: int) -> int:
        """Consume `tok`; return the offset after it. Otherwise: `message` at `at`."""
        kind, found, where = self.tokens[self.i]
        if found != tok:
            raise ExprError(message if kind == "end" else f"expected '{tok}' before '{found}'",
                            at if kind == "end" else where)
        self.i += 1
        return where + len(tok)


__all__ = ["BOUND", "MAX_DEPTH", "MAX_LENGTH", "ExprError", "evaluate", "is_expression",
           "make_divisible", "substitute_value"]
