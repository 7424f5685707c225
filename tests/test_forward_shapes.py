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

from cnncalc.analysis.analyze import analyze
from cnncalc.cli import app
from cnncalc.compute import engine
from cnncalc.errors import CnnCalcError
from cnncalc.layers import REGISTRY
from cnncalc.language import loads
from tests.strategies import value_of

EXAMPLES = settings(max_examples=120, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@st.composite
def network(draw, ranks=(2,)):
    """A stem conv, then one layer of a random type with random declared settings (merge
    layers and two-input crops read the stem and a parallel conv of the same shape), on an
    input with one of `ranks` spatial axes."""
    rank = draw(st.sampled_from(ranks))
    type_name = draw(st.sampled_from(sorted(REGISTRY)))
    cls = REGISTRY[type_name]
    layer = {"type": type_name, "name": "probe"}
    for decl in cls.settings():
        if decl.required or draw(st.booleans()):
            value = value_of(decl.kind, draw, rank)
            if value is not None:
                layer[decl.name] = value
    side, channels = draw(st.integers(4, 12 if rank < 3 else 7)), draw(st.integers(1, 6))
    stem = {"type": "conv", "name": "stem", "filters": channels, "kernel": 1}
    layers = [stem]
    low, _ = cls.arity
    if low == 2 or (cls.arity == (1, 2) and draw(st.booleans())):
        layers.append({"type": "conv", "name": "side", "filters": channels, "kernel": 1,
                       "inputs": ["input"]})
        layer["inputs"] = ["stem", "side"]
    sides = [side] * rank if draw(st.booleans()) else \
        [draw(st.integers(4, 12 if rank < 3 else 7)) for _ in range(rank)]
    return {"input": [*sides, draw(st.integers(1, 3))], "layers": [*layers, layer]}


def forward_matches(doc):
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


@EXAMPLES
@given(network())
def test_forward_shape_equals_the_prediction_for_random_settings(doc):
    forward_matches(doc)


@EXAMPLES
@given(network(ranks=(1, 3)))
def test_forward_shape_equals_the_prediction_in_1d_and_3d(doc):
    """The same over 1-D ([L, C]) and 3-D ([D, H, W, C]) inputs: every layer type's random
    settings, with per-axis lists of the input's rank."""
    forward_matches(doc)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(network(ranks=(1, 2, 3)), st.sampled_from([["summarize", "--format", "json"], ["validate"],
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
