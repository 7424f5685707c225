"""Fuzzing every command with specs near the grammar (hypothesis): random structures, random
settings with hostile values (huge, negative, non-finite, wrong types, typos), and random
damage to valid specs. Whatever comes in, a command ends with exit 0, 1 or 2, an error is one
line on stderr, nothing is an internal error, and every run is quick."""

import time

import pytest

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


# --- the newer features, every command ---------------------------------------------------
# Specs built from the features added since the first fuzz test: expressions over block and
# spec arguments, include:, when:, shares:, named inputs, 1-D and 3-D inputs, every registered
# layer type; each then damaged by one hostile value at a random key. Every command runs on
# them: exit 0, 1 or 2, one line on stderr, within bounded time and memory.

ALL_COMMANDS = [
    ["summarize", "{spec}"], ["summarize", "--format", "csv", "{spec}"],
    ["summarize", "--format", "svg", "{spec}"], ["summarize", "--mode", "training", "{spec}"],
    ["validate", "--strict", "{spec}"], ["validate", "--forward", "{spec}"],
    ["memory", "{spec}"], ["memory", "--mode", "training", "--checkpoint", "2", "{spec}"],
    ["memory", "--format", "html", "{spec}"],
    ["report", "{spec}", "-o", "{out}/r.html", "--force"],
    ["export", "{spec}", "--to", "pytorch", "-o", "{out}/m.py", "--force"],
    ["convert", "{spec}", "-o", "{out}/c.yaml", "--force"],
    ["compare", "{spec}", "lenet5"], ["graph", "--format", "dot", "{spec}"],
    ["run", "{spec}"], ["run", "--backward", "{spec}"], ["explain", "{spec}", "c1"],
]
shapes = st.sampled_from([[16, 2], [12, 12, 3], [8, 8, 1], [6, 6, 6, 2], [32, 1]])


@st.composite
def featured_spec(draw) -> dict:
    """A spec using expressions, include, when, sharing and named inputs, at rank 1 to 3."""
    shape = draw(shapes)
    doc: dict = {"args": {"w": draw(st.sampled_from([2, 4, 8])), "k": draw(
        st.sampled_from([1, 3])), "use": draw(st.booleans())}}
    if draw(st.booleans()):
        doc["inputs"] = {"image": shape, "extra": [*shape[:-1], 1]}
    else:
        doc["input"] = shape
    if draw(st.booleans()):
        doc["include"] = "lib.yaml"
    layers = [{"name": "c1", "type": "conv", "filters": "$w", "kernel": "$k",
               "padding": "($k - 1) // 2"}]
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["shared", "when", "block", "declared", "merge", "repeat"]))
        if kind == "shared":
            layers.append({"type": "conv", "filters": "$w", "kernel": "$k", "shares": "c1",
                           "stride": draw(st.integers(1, 2)), "padding": "same",
                           "inputs": ["input"]})
        elif kind == "when":
            layers.append({"type": "conv", "filters": "$w * 2", "kernel": 1, "when": "$use"})
        elif kind == "block" and "include" in doc:
            layers.append({"block": "pair", "n": "$w"})
        elif kind == "merge" and "inputs" in doc:
            layers.append({"type": "concat", "inputs": [layers[-1].get("name", "c1"), "extra"]})
        elif kind == "repeat":
            layers.append({"repeat": draw(st.integers(1, 3)), "layers": ["relu"]})
        else:
            layers.append(draw(declared_layer()))
    doc["layers"] = layers
    if draw(st.booleans()):  # one hostile value somewhere
        target = draw(st.sampled_from(layers))
        if isinstance(target, dict):
            target[draw(st.sampled_from([*KEYS, "when", "shares", "trainable"]))] = draw(value)
    return doc


LIBRARY = """blocks:
  pair:
    args: {n: 4}
    layers:
      - {type: conv, filters: $n, kernel: 3, padding: same}
      - {type: batchnorm, when: true}
      - relu
"""


def check_bounded(command, tmp, text):
    """`command` on the spec `text` written in `tmp`: exit 0/1/2, one line on stderr for an
    error, no internal error; within 15 s and 1 GiB more peak memory (ru_maxrss)."""
    import resource
    spec = tmp / "s.yaml"
    spec.write_text(text)
    words = [w.format(spec=spec, out=tmp) for w in command]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    result = runner.invoke(app, words)
    elapsed = time.perf_counter() - start
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        (words, repr(result.exception), text)
    assert result.exit_code in (0, 1, 2), (words, result.exit_code, result.stderr[:300], text)
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    if result.exit_code and command[0] != "validate":
        assert len(result.stderr.strip().splitlines()) == 1, (words, result.stderr[:500], text)
    assert elapsed < 15, (words, elapsed, text[:300])
    assert grown < 2**30, (words, grown, text[:300])
    return result.exit_code


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(featured_spec(), st.sampled_from(ALL_COMMANDS))
def test_newer_features_through_every_command(tmp_path, doc, command):
    (tmp_path / "lib.yaml").write_text(LIBRARY)
    check_bounded(command, tmp_path, yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))


@pytest.mark.parametrize("command", ALL_COMMANDS, ids=lambda c: " ".join(c[:3]))
def test_every_command_on_a_spec_with_every_newer_feature(tmp_path, command):
    """A valid spec using every newer feature: every command succeeds on it."""
    (tmp_path / "lib.yaml").write_text(LIBRARY)
    text = yaml.safe_dump({
        "args": {"w": 4, "k": 3, "use": False},
        "inputs": {"image": [12, 12, 3], "extra": [12, 12, 1]}, "include": "lib.yaml",
        "layers": [{"name": "c1", "type": "conv", "filters": "$w", "kernel": "$k",
                    "padding": "($k - 1) // 2"},
                   {"type": "conv", "filters": "$w", "kernel": "$k", "shares": "c1",
                    "dilation": 2, "padding": 2, "inputs": ["input"]},
                   {"type": "conv", "filters": 8, "kernel": 1, "when": "$use"},
                   {"block": "pair", "n": "$w * 2", "name": "p"},
                   {"type": "concat", "inputs": ["p", "extra"]},
                   {"type": "pool", "global": True}, {"type": "fc", "units": 3}]},
        sort_keys=False)
    assert check_bounded(command, tmp_path, text) == 0
