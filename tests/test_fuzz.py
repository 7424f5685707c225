"""Fuzzing every command with specs near the grammar (hypothesis): random structures, random
settings with hostile values (huge, negative, non-finite, wrong types, typos), and random
damage to valid specs. Whatever comes in, a command ends with exit 0, 1 or 2, an error is one
line on stderr, nothing is an internal error, and every run is quick."""

import time

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cnncalc.cli import app
from cnncalc.layers import REGISTRY
from tests.strategies import value_of

runner = CliRunner()
FUZZ = settings(max_examples=80, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

KEYS = sorted({d.name for cls in REGISTRY.values() for d in cls.settings()}
              | {"type", "name", "inputs", "repeat", "layers", "block", "residual", "branches",
                 "merge", "body", "shortcut", "filter", "kernal"})
hostile_number = st.one_of(st.integers(-3, 9), st.integers(10**6, 10**30), st.just(0),
                           st.floats(allow_nan=True, allow_infinity=True),
                           st.just(10**400))
scalar = st.one_of(hostile_number, st.booleans(), st.none(),
                   st.sampled_from(["same", "valid", "relu", "max", "$a", "$b", "input",
                                    "x" * 300, "\x1b[2J", "1:30", "010", "0x1f", "²"]),
                   st.text(max_size=8))
value = st.recursive(scalar, lambda inner: st.one_of(
    st.lists(inner, max_size=5), st.dictionaries(st.sampled_from(KEYS), inner, max_size=4)),
    max_leaves=12)
@st.composite
def declared_layer(draw):
    """A layer of a random type with settings drawn from its own declarations."""
    cls = REGISTRY[draw(st.sampled_from(sorted(REGISTRY)))]
    out = {"type": cls.type_name}
    for decl in cls.settings():
        if decl.required or draw(st.booleans()):
            found = value_of(decl.kind, draw)
            if found is not None:
                out[decl.name] = found
    return out


layer = st.one_of(
    declared_layer(), declared_layer(), declared_layer(),
    st.sampled_from([*sorted(REGISTRY), "convolution", "Relu"]),
    st.builds(lambda t, extra: {"type": t, **extra}, st.sampled_from(sorted(REGISTRY)),
              st.dictionaries(st.sampled_from(KEYS), value, max_size=4)),
)
item = st.recursive(layer, lambda inner: st.one_of(
    st.builds(lambda body, n: {"repeat": n, "layers": body}, st.lists(inner, min_size=1,
              max_size=3), st.one_of(st.integers(0, 40), hostile_number)),
    st.builds(lambda body: {"residual": body}, st.lists(inner, min_size=1, max_size=3)),
    st.builds(lambda bs, m: {"branches": bs, "merge": m}, st.lists(st.lists(inner, max_size=2),
              min_size=1, max_size=3), st.sampled_from(["concat", "add", "multiply", "sum"])),
    st.builds(lambda a: {"block": "b", "a": a}, value),
), max_leaves=8)
document = st.fixed_dictionaries(
    {"input": st.one_of(*[st.sampled_from([[16, 16, 3], [8, 8, 1], [32, 32, 3], [32, 3],
                                            [6, 8, 8, 2]])] * 6,
                        st.lists(st.integers(-1, 40), min_size=2, max_size=4),
                        st.sampled_from(["8x8x3", "16x16x1", "010x010x3", "1x1x" + "9" * 50]),
                        value),
     "layers": st.one_of(*[st.lists(declared_layer(), min_size=1, max_size=5)] * 3,
                         st.lists(item, min_size=0, max_size=6), value)},
    optional={"blocks": st.just({"b": {"args": {"a": 4}, "layers": [
                  {"type": "conv", "filters": "$a", "kernel": 1}]}}),
              "budget": st.one_of(st.just({"params": "5M", "memory": "1GiB"}), st.dictionaries(
                  st.sampled_from(["params", "macs", "memory", "dtype", "batch", "bogus"]),
                  value, max_size=3)),
              "lint": st.one_of(st.just({"ignore": ["fc-dominates"]}), value),
              "name": st.one_of(st.text(max_size=20), value)})


COMMANDS = [["summarize", "--format", "json", "-"], ["validate", "-"],
            ["memory", "--mode", "training", "-"], ["graph", "-"], ["explain", "-", "conv1"],
            ["compare", "-", "lenet5"], ["validate", "--forward", "-"], ["run", "-"],
            ["summarize", "--format", "html", "-"]]


def check(command, text):
    start = time.perf_counter()
    result = runner.invoke(app, command, input=text)
    elapsed = time.perf_counter() - start
    assert result.exit_code in (0, 1, 2), (command, result.exit_code, result.stderr[:300], text)
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    if result.exit_code and command[0] != "validate":  # validate reports on stdout
        assert len(result.stderr.strip().splitlines()) == 1, (command, result.stderr[:500])
    assert elapsed < 10, (command, elapsed, text[:300])


@FUZZ
@given(document, st.sampled_from(COMMANDS))
def test_specs_near_the_grammar(doc, command):
    check(command, yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))


VALID = """input: [16, 16, 3]
blocks:
  pair: {args: {w: 8}, layers: [{type: conv, filters: $w, kernel: 3, padding: 1}, relu]}
layers:
  - {block: pair, w: 8, name: p1}
  - residual: [{type: conv, filters: 8, kernel: 3, padding: 1}, batchnorm]
  - branches: [[{type: conv, filters: 4, kernel: 1}], [{type: pool, kernel: 3, stride: 1, padding: 1}]]
  - {type: pool, global: true}
  - {type: fc, units: 10}
"""


@FUZZ
@given(st.lists(st.tuples(st.integers(0, len(VALID)), st.integers(0, 6),
                          st.sampled_from(["", "[", "]", "{", "}", ":", "-", "$", "\n  ", "0",
                                           "99999999999999999999", "&a", "*a", "!!str", "\t",
                                           "'", '"'])), min_size=1, max_size=4),
       st.sampled_from(COMMANDS))
def test_damaged_specs(edits, command):
    text = VALID
    for position, cut, insert in edits:
        at = min(position, len(text))
        text = text[:at] + insert + text[at + cut:]
    check(command, text)
