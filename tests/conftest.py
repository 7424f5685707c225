"""Shared helpers: build a report from inline YAML or a shipped spec."""

from __future__ import annotations

import textwrap

import pytest

from cnncalc.analysis.analyze import analyze
from cnncalc.errors import CnnCalcError
from cnncalc.language.document import load, loads
from cnncalc.zoo import path_of


def report_of(text: str, file: str = "test.yaml"):
    return analyze(loads(textwrap.dedent(text), file))


def zoo_report(name: str):
    return analyze(load(path_of(name)))


def error_of(text: str, file: str = "test.yaml"):
    """The diagnostic raised by a spec that must fail."""
    with pytest.raises(CnnCalcError) as info:
        report_of(text, file)
    return info.value.diagnostic


def one_layer(layer: str, input_shape="[32, 32, 3]"):
    """The single row of a one-layer network."""
    return report_of(f"input: {input_shape}\nlayers:\n  - {layer}\n").rows[0]


def torchvision_or_skip():
    """(torch, torchvision), the test skipped only when one is not installed. torchvision 0.28's
    wheels register fake kernels this CPU torch refuses: a no-op while importing (only the CPU
    forward pass is used), restored afterwards. A torchvision that is installed but does not
    import fails the test."""
    torch = pytest.importorskip("torch")
    original = torch.library.register_fake
    torch.library.register_fake = lambda *a, **k: (lambda f: f)
    try:
        torchvision = pytest.importorskip("torchvision")
    finally:
        torch.library.register_fake = original
    return torch, torchvision


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true",
                     help="rewrite tests/golden/ from the current output")


@pytest.fixture
def update_golden(request):
    return request.config.getoption("--update-golden")
