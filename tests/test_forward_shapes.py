"""Torch-free: for random settings of every layer type, the NumPy forward pass gives the shape
the shape rule predicts, and no random network makes the CLI fail with an internal error.
Settings are drawn from each type's own declarations, so a new layer type is covered here
without writing anything."""

import json

import numpy as np
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cnncalc import declare
from cnncalc.analysis.analyze import analyze
from cnncalc.cli import app
from cnncalc.compute import engine
from cnncalc.errors import CnnCalcError
from cnncalc.layers import REGISTRY
from cnncalc.spec import loads

EXAMPLES = settings(max_examples=120, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def value_of(kind, draw):
    """A small value a spec could write for a setting of this kind."""
    if isinstance(kind, declare.Int):
        return draw(st.integers(kind.min, min(kind.min + 5, kind.max or kind.min + 5)))
    if isinstance(kind, declare.Pair):
        return draw(st.one_of(st.integers(max(kind.min, 1), 4),
                              st.lists(st.integers(max(kind.min, 1), 4), min_size=2, max_size=2)))
    if isinstance(kind, declare.Padding):
        return draw(st.one_of(st.integers(0, 2), st.sampled_from(["same", "valid"]),
                              st.lists(st.integers(0, 2), min_size=4, max_size=4)))
    if isinstance(kind, declare.Choice):
        return draw(st.sampled_from(kind.options))
    if isinstance(kind, declare.Bool):
        return draw(st.booleans())
    if isinstance(kind, declare.Number):
        low = kind.min + (0.01 if kind.open_min else 0)
        return draw(st.floats(low, kind.max if kind.max is not None else low + 2))
    return None  # connection tables: covered by LeNet-5's C3


@st.composite
def network(draw):
    """A stem conv, then one layer of a random type with random declared settings (merge
    layers and two-input crops read the stem and a parallel conv of the same shape)."""
    type_name = draw(st.sampled_from(sorted(REGISTRY)))
    cls = REGISTRY[type_name]
    layer = {"type": type_name, "name": "probe"}
    for decl in cls.settings():
        if decl.required or draw(st.booleans()):
            value = value_of(decl.kind, draw)
            if value is not None:
                layer[decl.name] = value
    side, channels = draw(st.integers(4, 12)), draw(st.integers(1, 6))
    stem = {"type": "conv", "name": "stem", "filters": channels, "kernel": 1}
    layers = [stem]
    low, _ = cls.arity
    if low == 2 or (cls.arity == (1, 2) and draw(st.booleans())):
        layers.append({"type": "conv", "name": "side", "filters": channels, "kernel": 1,
                       "inputs": ["input"]})
        layer["inputs"] = ["stem", "side"]
    return {"input": [side, side, draw(st.integers(1, 3))], "layers": [*layers, layer]}


@EXAMPLES
@given(network())
def test_forward_shape_equals_the_prediction_for_random_settings(doc):
    try:
        net = loads(yaml.safe_dump(doc, sort_keys=False))
        report = analyze(net)
    except CnnCalcError as exc:
        assert exc.exit_code in (1, 2)
        assume(False)  # rightly refused: nothing to run
    x = np.random.default_rng(0).standard_normal(
        (2, report.input_shape.c, *report.input_shape.spatial)).astype("float32")
    result = engine.run(net, report, x, engine.init_weights(net, report, 0))
    for step in result.steps:
        assert step.real == step.predicted, (step.name, doc)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(network(), st.sampled_from([["summarize", "--format", "json"], ["validate"],
                                   ["memory", "--mode", "training"], ["validate", "--forward"]]))
def test_no_random_network_is_an_internal_error(doc, command):
    result = CliRunner().invoke(app, [*command, "-"], input=yaml.safe_dump(doc))
    assert result.exit_code in (0, 1, 2), (result.exit_code, result.stderr, doc)
    assert "internal error" not in result.stderr
    if result.exit_code and command[0] != "validate":
        assert len(result.stderr.strip().splitlines()) == 1  # one line, no traceback
    if result.exit_code == 2 and command[0] == "validate":  # validate reports on stdout
        assert result.stdout.count("error: ") == 1 and result.stdout.startswith("<stdin>:")
    if command[-1] == "json" and result.exit_code == 0:
        assert json.loads(result.stdout)["layers"][-1]["name"] == "probe"
