"""Weight sharing (`shares:`): a layer reusing another's weights, as a PyTorch module called
several times. torchinfo's golden outputs (github.com/TylerYep/torchinfo, tests/test_output)
count such a module's parameters once and its mult-adds at every call."""

import numpy as np
import pytest

from cnncalc.analysis.analyze import analyze
from cnncalc.errors import EXIT_INCONSISTENT, EXIT_UNREADABLE
from cnncalc.language.document import loads
from tests.conftest import error_of, report_of

RECURSIVE = """
    input: [28, 28, 64]
    layers:
      - {name: conv1, type: conv, filters: 64, kernel: 3, padding: 1}
      - {shares: conv1, repeat: 5}
    """


def test_torchinfo_recursive_net_counts_the_shared_conv_once():
    """torchinfo's RecursiveNet: one Conv2d(64, 64, 3, 1, 1) applied six times to
    1x64x28x28. recursive.out prints Total params 36,928 and mult-adds 173.71 M; torchinfo's
    mult-adds count the bias too (params x output positions per call)."""
    report = report_of(RECURSIVE)
    assert report.totals.params == 36_928 == 3 * 3 * 64 * 64 + 64
    assert report.totals.trainable_params == 36_928
    assert [r.totals.params for r in report.rows] == [36_928, 0, 0, 0, 0, 0]
    assert report.totals.macs == 6 * 3 * 3 * 64 * 64 * 28 * 28  # every call
    assert round((report.totals.macs + 6 * 64 * 28 * 28) / 1e6, 2) == 173.71
    assert all("shares conv1" in r.settings for r in report.rows[1:])
    assert "uses the weights of 'conv1'" in report.rows[1].notes[0]


def test_memory_holds_the_shared_weights_once():
    from cnncalc.analysis.memory import build
    network = loads_network(RECURSIVE)
    model = build(network, analyze(network))
    assert model.param_values == model.trainable_values == 3 * 3 * 64 * 64 + 64


def loads_network(text):
    import textwrap
    return loads(textwrap.dedent(text), "test.yaml")


def test_a_shared_layer_may_change_its_stride_but_not_its_weights():
    """TridentNet-like: the same 3x3 weights at dilation 1 and 2 (same shapes), counted once."""
    report = report_of("""
        input: [16, 16, 8]
        layers:
          - {name: a, type: conv, filters: 8, kernel: 3, padding: 1}
          - {name: b, type: conv, filters: 8, kernel: 3, padding: 2, dilation: 2, shares: a,
             inputs: [input]}
          - {type: add, inputs: [a, b]}
        """)
    assert report.totals.params == 3 * 3 * 8 * 8 + 8
    assert report.totals.macs == 2 * 3 * 3 * 8 * 8 * 16 * 16


BAD = [
    ("""input: [8, 8, 3]
layers:
  - {name: a, type: conv, filters: 4, kernel: 3, padding: 1}
  - {type: conv, filters: 4, kernel: 3, padding: 1, shares: a}
""", 4, 61, EXIT_INCONSISTENT, ["cannot use the weights of 'a' (weight 4x3x3x3, bias 4)",
                                "needs weight 4x4x3x3, bias 4"]),
    ("""input: [8, 8, 3]
layers:
  - {name: r, type: relu}
  - {shares: r}
""", 4, 14, EXIT_INCONSISTENT, ["'r' has no weights to share"]),
    ("""input: [8, 8, 3]
layers:
  - {name: a, type: conv, filters: 3, kernel: 1}
  - {shares: b}
""", 4, 14, EXIT_UNREADABLE, ["'shares' names no earlier layer"]),
    ("""input: [8, 8, 3]
layers:
  - {name: g, layers: [{type: conv, filters: 3, kernel: 1}]}
  - {shares: g}
""", 4, 14, EXIT_UNREADABLE, ["'shares' must name an earlier layer, not a group"]),
    ("""input: [8, 8, 3]
layers:
  - {name: a, type: conv, filters: 3, kernel: 1}
  - {shares: a, filters: 3}
""", 4, 17, EXIT_UNREADABLE, ["'filters' needs 'type'"]),
    ("""input: [8, 8, 3]
layers:
  - {name: a, type: conv, filters: 3, kernel: 1}
  - {shares: [a, a]}
""", 4, 14, EXIT_UNREADABLE, ["'shares' must be a layer name"]),
]


@pytest.mark.parametrize("text, line, column, code, words", BAD)
def test_sharing_errors(text, line, column, code, words):
    diagnostic = error_of(text, "s.yaml")
    assert (diagnostic.span.line, diagnostic.span.column, diagnostic.exit_code) == \
        (line, column, code), diagnostic.format()
    for word in words:
        assert word in diagnostic.format(), diagnostic.format()


def test_the_numpy_run_uses_the_same_arrays_and_sums_their_gradients():
    """y = conv(conv(x)) with one weight W: the run holds W once, and d sum(y)/dW (summed over
    both uses) matches central differences."""
    from cnncalc.compute import engine
    network = loads_network("""
        input: [5, 5, 2]
        layers:
          - {name: c, type: conv, filters: 2, kernel: 3, padding: 1, activation: tanh}
          - {shares: c}
        """)
    report = analyze(network)
    weights = {k: v.astype(np.float64) for k, v in engine.init_weights(network, report, 0).items()}
    assert sorted(weights) == ["c.bias", "c.weight"]
    rng = np.random.default_rng(1)
    weights["c.bias"] = rng.standard_normal(2)
    x = rng.standard_normal((1, 2, 5, 5))
    result = engine.run(network, report, x, weights, backward=True)
    assert result.param_bytes == (2 * 2 * 3 * 3 + 2) * 8
    w = weights["c.weight"]
    for index in [(0, 0, 0, 0), (1, 1, 2, 1), (0, 1, 1, 2)]:
        old = w[index]
        w[index] = old + 1e-6
        up = engine.run(network, report, x, weights).output.sum()
        w[index] = old - 1e-6
        down = engine.run(network, report, x, weights).output.sum()
        w[index] = old
        assert abs((up - down) / 2e-6 - result.grads["c.weight"][index]) < 1e-5


def test_torch_module_called_twice_agrees():
    torch = pytest.importorskip("torch")
    from cnncalc.compute import engine
    network = loads_network("""
        input: [6, 6, 3]
        layers:
          - {name: c, type: conv, filters: 3, kernel: 3, padding: 1, activation: relu}
          - {shares: c}
        """)
    report = analyze(network)
    weights = engine.init_weights(network, report, 0)
    conv = torch.nn.Conv2d(3, 3, 3, padding=1)
    assert report.totals.params == sum(p.numel() for p in conv.parameters())
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(weights["c.weight"]))
        conv.bias.copy_(torch.from_numpy(weights["c.bias"]))
        x = np.random.default_rng(0).standard_normal((2, 3, 6, 6)).astype(np.float32)
        theirs = torch.relu(conv(torch.relu(conv(torch.from_numpy(x))))).numpy()
    ours = engine.run(network, report, x, weights).output
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)


TOWER = """
    input: [8, 8, 3]
    blocks:
      tower:
        args: {c: 4, extra: false}
        layers:
          - {type: conv, filters: $c, kernel: 3, padding: 1}
          - relu
          - {type: conv, filters: 4, kernel: 1, when: $extra}
          - {type: pool, kernel: 2}
    layers:
      - {block: tower, name: a}
"""


def test_a_group_or_block_call_shares_every_layer_of_another():
    """`shares: a` on a block call: each conv uses a's conv at the same place; relu and pool
    hold no weights and share nothing. Params once: 3x3x3x4 + 4; MACs twice."""
    report = report_of(TOWER + "      - {block: tower, name: b, shares: a, inputs: [input]}\n"
                       "      - {name: g, shares: a, inputs: [input], layers: [{type: conv, "
                       "filters: 4, kernel: 3, padding: 1}, relu, {type: pool, kernel: 2}]}\n")
    rows = {r.name: r for r in report.rows}
    assert report.totals.params == 3 * 3 * 3 * 4 + 4
    assert report.totals.macs == 3 * (8 * 8 * 4 * 3 * 3 * 3)
    assert rows["b.conv1"].shares == rows["g.conv1"].shares == "a.conv1"
    assert rows["b.relu1"].shares is None and "shares" not in rows["b.pool1"].settings


GROUP_BAD = [
    (TOWER + "      - {block: tower, name: b, shares: a.conv1}\n", 13, 37, EXIT_UNREADABLE,
     ["'shares' on a group or block call must name an earlier group"]),
    (TOWER + "      - {block: tower, name: b, shares: a, extra: true}\n", 13, 37,
     EXIT_UNREADABLE, ["'b' shares 'a', which has no layer 'conv2' (the structures differ)"]),
    (TOWER + "      - {block: tower, name: b, shares: a, c: 5, inputs: [input]}\n", 7, 9,
     EXIT_INCONSISTENT, ["cannot use the weights of 'a.conv1' (weight 4x3x3x3, bias 4)",
                         "needs weight 5x3x3x3, bias 5"]),
]


@pytest.mark.parametrize("text, line, column, code, words", GROUP_BAD)
def test_group_sharing_errors(text, line, column, code, words):
    import textwrap
    diagnostic = error_of(textwrap.dedent(text), "s.yaml")
    assert (diagnostic.span.line, diagnostic.span.column, diagnostic.exit_code) == \
        (line, column, code), diagnostic.format()
    for word in words:
        assert word in diagnostic.format(), diagnostic.format()


def test_training_step_holds_shared_weights_and_gradients_once():
    """One Conv2d called three times (torchinfo's RecursiveNet pattern) in a PyTorch SGD step,
    measured by benchmarks/memory_truth.py: its weights and gradient exist once, so the
    simulated peak stays within the step model's 5% of the measured one."""
    torch = pytest.importorskip("torch")
    from tests.test_memory_step import predicted, truth
    oracle = truth()

    class Recursive(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = torch.nn.Conv2d(16, 16, 3, padding=1)
            self.fc = torch.nn.Linear(16 * 16 * 16, 10)

        def forward(self, x):
            for _ in range(3):
                x = torch.relu(self.conv1(x))
            return self.fc(torch.flatten(x, 1))

    network = loads_network("""
        input: [16, 16, 16]
        layers:
          - {name: conv1, type: conv, filters: 16, kernel: 3, padding: 1}
          - relu
          - {shares: conv1}
          - relu
          - {shares: conv1}
          - relu
          - flatten
          - {name: fc, type: fc, units: 10}
        """)
    torch.manual_seed(0)
    measured = oracle.measure(Recursive(), torch.randn(4, 16, 16, 16), "training", "sgd",
                              False)
    ours = predicted(network, 4, "training", "sgd", backend="cpu")
    assert abs(ours.peak / measured["peak_bytes"] - 1) <= 0.05, (ours, measured)
    weights = 4 * (3 * 3 * 16 * 16 + 16 + 16 * 16 * 16 * 10 + 10)  # float32, conv1 once
    assert ours.at_rest == pytest.approx(measured["at_rest_bytes"], rel=0.001)
    assert measured["at_rest_bytes"] >= weights
