"""tests/layer_cases.py keeps, per registered layer type, its PyTorch reference and the networks
the forward, gradient, export and step tests run: a type without them fails here, by name."""

import pytest

from cnncalc.language.document import loads
from cnncalc.layers import REGISTRY
from tests.layer_cases import CASES


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_registered_layer_type_has_its_cases(name):
    assert name in CASES, f"layer type {name!r} has no entry in tests/layer_cases.py"
    cases = CASES[name]
    assert cases.agree, f"layer type {name!r} has no network compared with PyTorch"
    assert cases.gradient, f"layer type {name!r} has no gradient-checked network"
    assert callable(cases.torch), f"layer type {name!r} has no PyTorch reference"


def test_no_cases_for_a_type_that_is_not_registered():
    assert sorted(set(CASES) - set(REGISTRY)) == []


ALL = [(name, kind, index, case) for name, cases in sorted(CASES.items())
       for kind in ("agree", "gradient") for index, case in enumerate(getattr(cases, kind))]


@pytest.mark.parametrize("name, kind, index, case", ALL,
                         ids=[f"{n}-{k}-{i}" for n, k, i, _ in ALL])
def test_each_case_holds_a_layer_of_its_type(name, kind, index, case):
    network = loads(case.spec())
    assert name in [node.layer.type_name for node in network.nodes]
