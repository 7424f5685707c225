"""Properties over random specs and random bytes (hypothesis): nothing crashes, invariants
hold. The loader fuzz runs in CI with a bounded number of examples."""

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnncalc.analysis.analyze import analyze
from cnncalc.analysis.memory import build
from cnncalc.errors import CnnCalcError
from cnncalc.language.document import loads
from cnncalc.language.yamlsource import load_bytes

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

conv = st.fixed_dictionaries({
    "type": st.just("conv"), "filters": st.integers(1, 16), "kernel": st.integers(1, 5),
    "stride": st.integers(1, 3), "padding": st.integers(0, 2), "dilation": st.integers(1, 2),
})
pool = st.fixed_dictionaries({
    "type": st.just("pool"), "mode": st.sampled_from(["max", "avg", "min", "l2"]),
    "kernel": st.integers(1, 3), "stride": st.integers(1, 3),
    "ceil_mode": st.booleans(),
})
simple = st.sampled_from(["relu", "batchnorm", "sigmoid", "dropout", "tanh"])
layer = st.one_of(conv, pool, simple)
spec = st.fixed_dictionaries({
    "input": st.lists(st.integers(1, 64), min_size=3, max_size=3),
    "layers": st.lists(layer, min_size=1, max_size=8),
})


def analyse(doc):
    """The report, or None when cnncalc (rightly) refuses the network."""
    try:
        return analyze(loads(yaml.safe_dump(doc)))
    except CnnCalcError as exc:
        assert exc.exit_code in (1, 2) and "\n" not in exc.diagnostic.format()
        return None


@FAST
@given(spec)
def test_random_specs_never_crash_and_totals_are_sums(doc):
    report = analyse(doc)
    if report is None:
        return
    totals = report.totals.as_dict()
    for key in totals:
        assert totals[key] == sum(row.as_dict()[key] for row in report.rows)
    assert all(row.output_shape.size > 0 for row in report.rows)


@FAST
@given(spec, st.integers(1, 4))
def test_conv_and_pool_params_do_not_depend_on_the_input_size(doc, grow):
    small = analyse(doc)
    doc = {**doc, "input": [doc["input"][0] * grow + 8, doc["input"][1] * grow + 8,
                            doc["input"][2]]}
    big = analyse(doc)
    if small is None or big is None:
        return
    for a, b in zip(small.rows, big.rows):
        if a.type in ("conv", "pool"):
            assert a.totals.params == b.totals.params


@FAST
@given(spec, st.integers(1, 64))
def test_memory_grows_with_batch_and_is_linear_in_it(doc, batch):
    report = analyse(doc)
    if report is None:
        return
    network = loads(yaml.safe_dump(doc))
    model = build(network, report)
    assert model.forward_bytes(batch, 4) == batch * model.forward_bytes(1, 4)
    assert model.training_bytes(batch + 1, 4, "adam") > model.training_bytes(batch, 4, "adam")
    assert model.peak_inference_bytes(batch + 1, 4) > model.peak_inference_bytes(batch, 4)
    assert model.peak_values <= model.activation_values


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_never_produce_a_traceback(data):
    try:
        doc = load_bytes(data, "fuzz.yaml")
    except CnnCalcError:
        return
    try:
        from cnncalc.language.document import parse_document
        analyze(parse_document(doc, "fuzz.yaml"))
    except CnnCalcError:
        pass


yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 300) | st.floats(allow_nan=False) |
    st.sampled_from(["conv", "relu", "pool", "fc", "$x", "same", "input", "add"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["type", "filters", "kernel", "stride", "padding", "layers", "input",
                         "name", "inputs", "repeat", "block", "blocks", "residual", "branches",
                         "units", "args", "groups"]), inner, max_size=5),
    max_leaves=25)


@settings(max_examples=300, deadline=None)
@given(yaml_values)
def test_random_yaml_documents_never_produce_a_traceback(value):
    try:
        analyze(loads(yaml.safe_dump(value)))
    except CnnCalcError:
        pass
