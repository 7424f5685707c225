"""Differential tests against torch.nn on the CPU: output shapes, parameter counts, and the
settings PyTorch rejects. Hundreds of random configurations, seeded; skipped without torch."""

import random

import pytest

from cnncalc.errors import CnnCalcError
from tests.conftest import report_of

torch = pytest.importorskip("torch")
nn = torch.nn

CASES = 150  # per layer family


def ours(layer: str, h: int, w: int, c: int):
    """(output [h, w, c], trainable params) from cnncalc, or None if it refuses."""
    try:
        report = report_of(f"input: [{h}, {w}, {c}]\nlayers:\n  - {layer}\n")
    except CnnCalcError:
        return None
    row = report.rows[0]
    return row.output_shape.as_list(), row.totals.trainable_params


def theirs(module, h: int, w: int, c: int):
    """(output [h, w, c], params) from PyTorch, or None if it refuses."""
    try:
        module = module()
        with torch.no_grad():
            y = module(torch.zeros(1, c, h, w))
    except (RuntimeError, ValueError):
        return None
    shape = [1, 1, y.shape[1]] if y.dim() == 2 else [y.shape[2], y.shape[3], y.shape[1]]
    return shape, sum(p.numel() for p in module.parameters())


def pairs(rng, low, high):
    a = rng.randint(low, high)
    return (a, a) if rng.random() < 0.6 else (a, rng.randint(low, high))


@pytest.mark.parametrize("seed", range(CASES))
def test_conv(seed):
    rng = random.Random(seed)
    groups = rng.choice([1, 1, 2, 3, 4])
    cin = groups * rng.randint(1, 4) + (1 if rng.random() < 0.1 else 0)  # sometimes invalid
    cout = groups * rng.randint(1, 4)
    k, s, p, d = pairs(rng, 1, 5), pairs(rng, 1, 3), pairs(rng, 0, 3), pairs(rng, 1, 3)
    h, w = rng.randint(1, 24), rng.randint(1, 24)
    bias = rng.random() < 0.7
    layer = (f"{{type: conv, filters: {cout}, kernel: {list(k)}, stride: {list(s)}, "
             f"padding: {list(p)}, dilation: {list(d)}, groups: {groups}, "
             f"bias: {str(bias).lower()}}}")
    expected = theirs(lambda: nn.Conv2d(cin, cout, k, s, p, d, groups, bias), h, w, cin)
    assert ours(layer, h, w, cin) == expected, layer


@pytest.mark.parametrize("seed", range(CASES))
def test_pool(seed):
    rng = random.Random(1000 + seed)
    k, s = pairs(rng, 1, 5), pairs(rng, 1, 4)
    p = pairs(rng, 0, 3)  # above half the kernel sometimes: PyTorch refuses, so must we
    ceil = rng.random() < 0.5
    h, w, c = rng.randint(1, 30), rng.randint(1, 30), rng.randint(1, 3)
    mode = rng.choice(["max", "avg"])
    layer = (f"{{type: pool, mode: {mode}, kernel: {list(k)}, stride: {list(s)}, "
             f"padding: {list(p)}, ceil_mode: {str(ceil).lower()}}}")
    cls = nn.MaxPool2d if mode == "max" else nn.AvgPool2d
    expected = theirs(lambda: cls(k, s, p, ceil_mode=ceil), h, w, c)
    got = ours(layer, h, w, c)
    if expected is not None and min(expected[0][:2]) < 1:
        expected = None  # PyTorch returns an empty tensor; cnncalc calls it an error
    assert got == expected, layer


@pytest.mark.parametrize("seed", range(CASES))
def test_transposed_conv(seed):
    rng = random.Random(2000 + seed)
    groups = rng.choice([1, 1, 2])
    cin, cout = groups * rng.randint(1, 3), groups * rng.randint(1, 3)
    k, s, p, d = pairs(rng, 1, 4), pairs(rng, 1, 3), pairs(rng, 0, 2), pairs(rng, 1, 2)
    op = pairs(rng, 0, 2)  # at or above the stride and the dilation sometimes: refused
    h, w = rng.randint(1, 12), rng.randint(1, 12)
    layer = (f"{{type: deconv, filters: {cout}, kernel: {list(k)}, stride: {list(s)}, "
             f"padding: {list(p)}, output_padding: {list(op)}, dilation: {list(d)}, "
             f"groups: {groups}}}")
    expected = theirs(lambda: nn.ConvTranspose2d(cin, cout, k, s, p, op, groups, True, d),
                      h, w, cin)
    if expected is not None and min(expected[0][:2]) < 1:
        expected = None
    assert ours(layer, h, w, cin) == expected, layer


@pytest.mark.parametrize("seed", range(60))
def test_adaptive_pool(seed):
    rng = random.Random(3000 + seed)
    out = pairs(rng, 1, 9)
    h, w, c = rng.randint(1, 30), rng.randint(1, 30), 2
    mode = rng.choice(["max", "avg"])
    cls = nn.AdaptiveMaxPool2d if mode == "max" else nn.AdaptiveAvgPool2d
    expected = theirs(lambda: cls(out), h, w, c)
    assert ours(f"{{type: pool, mode: {mode}, output: {list(out)}}}", h, w, c) == expected


@pytest.mark.parametrize("layer, module, cin", [
    ("{type: fc, units: 10}", lambda: nn.Sequential(nn.Flatten(), nn.Linear(4 * 5 * 3, 10)), 3),
    ("batchnorm", lambda: nn.BatchNorm2d(3), 3),
    ("{type: upsample, scale: 2}", lambda: nn.Upsample(scale_factor=2), 3),
    ("{type: zeropad, padding: [1, 2, 3, 4]}", lambda: nn.ZeroPad2d((3, 4, 1, 2)), 3),
    ("{type: lrn, size: 5}", lambda: nn.LocalResponseNorm(5), 3),
])
def test_other_layers(layer, module, cin):
    assert ours(layer, 4, 5, cin) == theirs(module, 4, 5, cin)


@pytest.mark.parametrize("layer, module", [
    ("{type: batchnorm, affine: false}", lambda c: nn.BatchNorm2d(c, affine=False)),
    ("{type: groupnorm, groups: 2, affine: false}", lambda c: nn.GroupNorm(2, c, affine=False)),
    ("{type: instancenorm, affine: false}", lambda c: nn.InstanceNorm2d(c, affine=False)),
    ("{type: layernorm, affine: false}", lambda c: nn.LayerNorm(c, elementwise_affine=False)),
    ("{type: batchnorm, affine: true}", lambda c: nn.BatchNorm2d(c, affine=True)),
])
def test_norms_with_and_without_affine_count_as_torch_stores(layer, module):
    """Parameters as torch.nn's modules hold them; batch norm's running mean and variance
    (its float buffers; num_batches_tracked is a counter, not a value per channel) stay as
    non-trainable values with or without affine."""
    c = 6
    torch_module = module(c)
    params = sum(p.numel() for p in torch_module.parameters())
    buffers = sum(b.numel() for b in torch_module.buffers() if b.is_floating_point())
    row = report_of(f"input: [4, 5, {c}]\nlayers:\n  - {layer}\n").rows[0]
    assert (row.totals.trainable_params, row.totals.non_trainable_params) == (params, buffers)


def test_rejections_say_why():
    cases = [
        ("{type: conv, filters: 4, kernel: 3, groups: 2}", 3, "groups (2) must divide"),
        ("{type: pool, kernel: 2, padding: 2}", 3, "at most half the kernel"),
        ("{type: deconv, filters: 2, kernel: 3, stride: 2, output_padding: 2}", 2,
         "smaller than the stride or the dilation"),
    ]
    for layer, c, words in cases:
        with pytest.raises(CnnCalcError) as info:
            report_of(f"input: [8, 8, {c}]\nlayers:\n  - {layer}\n")
        assert words in info.value.diagnostic.message
