"""`cnncalc export --to pytorch` of layers that share weights (`shares:`): the module computes
`cnncalc run`'s network, each sharing layer with its own stride, padding, dilation and type
and the owner's weights (a conv exported as `self.conv1(x)` once ran at the owner's stride)."""

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.test_export_pytorch import agree

DOCS_EXAMPLE = """
input: [8, 8, 3]
layers:
  - {name: conv1, type: conv, filters: 3, kernel: 3, padding: 1}
  - {type: conv, filters: 3, kernel: 3, stride: 2, padding: 1, shares: conv1}
  - {shares: conv1}
  - {type: conv, filters: 3, kernel: 3, padding: 2, dilation: 2, shares: conv1, inputs: [input]}
  - {type: deconv, filters: 3, kernel: 3, stride: 2, padding: 1, output_padding: 1,
     shares: conv1, activation: relu}
"""


def test_sharing_layers_with_their_own_settings_export_as_run_computes(tmp_path):
    pytest.importorskip("torch")
    _, model_py = agree(tmp_path, "-", stdin=DOCS_EXAMPLE)
    text = model_py.read_text()
    assert "F.conv2d(" in text and "F.conv_transpose2d(" in text
    assert text.count("nn.Conv2d(") == 1  # one set of weights


def test_a_conv_sharing_with_the_owners_settings_calls_the_owners_module(tmp_path):
    pytest.importorskip("torch")
    _, model_py = agree(tmp_path, "-", stdin="input: [6, 6, 2]\nlayers:\n"
                        "  - {name: c, type: conv, filters: 2, kernel: 3, padding: 1}\n"
                        "  - {shares: c}\n")
    assert model_py.read_text().count("self.c(") == 2


@st.composite
def sharing_spec(draw) -> str:
    """An owner conv on C channels giving C, then 1-3 layers sharing its weights with random
    own settings: convs (stride, padding, dilation; asymmetric padding) and deconvs."""
    rank = draw(st.sampled_from([1, 2]))
    c = draw(st.integers(1, 3))
    k = draw(st.sampled_from([1, 2, 3]))
    size = draw(st.integers(7, 10))
    bias = draw(st.booleans())
    lines = [f"input: [{', '.join([str(size)] * rank)}, {c}]", "layers:",
             f"  - {{name: own, type: conv, filters: {c}, kernel: {k}, padding: "
             f"{(k - 1) // 2}, bias: {str(bias).lower()}}}"]
    size += 2 * ((k - 1) // 2) - (k - 1)  # the owner: n + 2P - (k - 1)
    for _ in range(draw(st.integers(1, 3))):
        d = draw(st.integers(1, 2))
        s = draw(st.integers(1, 2))
        reach = d * (k - 1)
        if draw(st.booleans()) and size > reach:  # a conv fits: floor((n + P - reach - 1)/S) + 1
            padding = draw(st.one_of(st.integers(0, reach // 2 + 1).map(str), st.just("same"),
                                     st.just(f"[{', '.join(['0, 1'] * rank)}]")))
            if padding == "same":
                s = 1
            total = 0 if padding == "same" else 1 if padding.startswith("[") else 2 * int(padding)
            size = size if padding == "same" else (size + total - reach - 1) // s + 1
            kind = "conv"
            extra = f"padding: {padding}"
        else:  # a deconv: (n - 1)S - 2P + reach + output_padding + 1
            kind = "deconv"
            p, op = draw(st.integers(0, reach // 2)), draw(st.integers(0, max(s, d) - 1))
            size = (size - 1) * s - 2 * p + reach + op + 1
            extra = f"padding: {p}, output_padding: {op}"
        act = draw(st.sampled_from(["", ", activation: relu"]))
        lines.append(f"  - {{type: {kind}, filters: {c}, kernel: {k}, stride: {s}, "
                     f"dilation: {d}, {extra}, bias: {str(bias).lower()}, shares: own{act}}}")
    return "\n".join(lines) + "\n"


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(sharing_spec())
def test_random_sharing_specs_export_as_run_computes(tmp_path, text):
    pytest.importorskip("torch")
    import tempfile
    agree(Path(tempfile.mkdtemp(dir=tmp_path)), "-", stdin=text)
