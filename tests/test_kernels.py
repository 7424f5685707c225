"""compute/kernels.py and engine.init_weights on their own: the tiled im2col convolution
against PyTorch whatever the tiling (one output row per tile, bands, several images per tile),
the pooling folds and the linear layer's pieces against PyTorch, and the He initialisation's
statistics against its formula. Torch comparisons skip without torch."""

import numpy as np
import pytest

from cnncalc.analysis.analyze import analyze
from cnncalc.compute import engine, kernels
from cnncalc.language.document import loads


def torch_or_skip():
    return pytest.importorskip("torch")


# (tile bytes, minimum columns): every tile one output row of one image; bands of a few rows;
# several whole images per tile; the whole batch in one tile
TILINGS = [(1, 1), (4096, 64), (1 << 16, 256), (1 << 30, 1 << 20)]


@pytest.mark.parametrize("tiling", TILINGS)
@pytest.mark.parametrize("rank, groups, stride, dilation, pad", [
    (2, 1, 1, 1, 1), (2, 2, 2, 1, 0), (2, 4, 1, 2, 2), (1, 1, 3, 1, 1), (3, 1, 2, 1, 1),
    (2, 8, 1, 1, 1)])  # the last: depthwise (one input channel per group)
def test_conv_agrees_with_torch_whatever_the_tiling(monkeypatch, tiling, rank, groups, stride,
                                                    dilation, pad):
    torch = torch_or_skip()
    monkeypatch.setattr(kernels, "TILE_BYTES", tiling[0])
    monkeypatch.setattr(kernels, "TILE_MIN_COLUMNS", tiling[1])
    rng = np.random.default_rng(rank * 100 + groups)
    side = {1: (29,), 2: (13, 11), 3: (7, 6, 5)}[rank]
    x = rng.standard_normal((3, 8, *side), dtype=np.float32)
    w = rng.standard_normal((16, 8 // groups, *(3,) * rank), dtype=np.float32)
    b = rng.standard_normal(16, dtype=np.float32)
    ours = kernels.conv(x, w, b, (stride,) * rank, (pad,) * (2 * rank), (dilation,) * rank,
                        groups)
    conv = {1: torch.nn.functional.conv1d, 2: torch.nn.functional.conv2d,
            3: torch.nn.functional.conv3d}[rank]
    theirs = conv(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b), stride, pad,
                  dilation, groups).numpy()
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4)


def test_conv_without_threadpoolctl_runs_the_tiles_in_turn(monkeypatch):
    torch = torch_or_skip()
    from cnncalc.compute import parallel
    monkeypatch.setattr(parallel, "_state", {"blas": (None, 1)})  # as if it were missing
    monkeypatch.setattr(kernels, "TILE_BYTES", 1)
    monkeypatch.setattr(kernels, "TILE_MIN_COLUMNS", 1)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 4, 9, 9), dtype=np.float32)
    w = rng.standard_normal((6, 4, 3, 3), dtype=np.float32)
    ours = kernels.conv(x, w, None, (1, 1), (1, 1, 1, 1), (1, 1), 1)
    theirs = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w), None, 1, 1)
    np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-4, atol=1e-4)
    assert "pool" not in parallel._state  # no thread was started


@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("kernel, stride, pad, ceil_mode", [
    (2, 2, 0, False), (3, 2, 1, True), (3, 1, 1, False), (5, 3, 2, True)])
def test_pool_agrees_with_torch(mode, kernel, stride, pad, ceil_mode):
    torch = torch_or_skip()
    x = np.random.default_rng(kernel).standard_normal((2, 3, 17, 14), dtype=np.float32)
    ours = kernels.pool(x, mode, (kernel, kernel), (stride, stride), (pad,) * 4, ceil_mode)
    pool = torch.nn.functional.max_pool2d if mode == "max" else torch.nn.functional.avg_pool2d
    theirs = pool(torch.from_numpy(x), kernel, stride, pad, ceil_mode=ceil_mode).numpy()
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("units, bias", [(1000, True), (500, False), (10, True)])
def test_linear_agrees_with_torch(units, bias):
    torch = torch_or_skip()
    rng = np.random.default_rng(units)
    x = rng.standard_normal((3, 300), dtype=np.float32)
    w = rng.standard_normal((units, 300), dtype=np.float32)
    b = rng.standard_normal(units, dtype=np.float32) if bias else None
    ours = kernels.linear(x, w, b)
    theirs = torch.nn.functional.linear(torch.from_numpy(x), torch.from_numpy(w),
                                        torch.from_numpy(b) if bias else None).numpy()
    assert ours.shape == (3, units) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4)


NET = """input: [16, 16, 64]
layers:
  - {type: conv, filters: 128, kernel: 3, padding: 1}
  - batchnorm
  - {type: fc, units: 200}
"""


def test_init_weights_is_he_normal_in_float32():
    network = loads(NET)
    report = analyze(network)
    weights = engine.init_weights(network, report, 7)
    assert all(v.dtype == np.float32 for v in weights.values())
    conv, fc = weights["conv1.weight"], weights["fc1.weight"]
    # He: std sqrt(2 / fan_in), fan_in = C_in x kh x kw for a conv, in_features for a linear
    for array, fan_in in ((conv, 64 * 3 * 3), (fc, 16 * 16 * 128)):
        std = np.sqrt(2 / fan_in)
        assert abs(array.mean()) < 5 * std / np.sqrt(array.size)  # 5 standard errors
        assert abs(array.std() / std - 1) < 5 / np.sqrt(2 * array.size)
        # normal, not uniform: 68.3 % within one std (erf(1/sqrt(2)))
        assert abs((np.abs(array) < std).mean() - 0.6827) < 0.01
    assert conv.shape == (128, 64, 3, 3) and fc.shape == (200, 16 * 16 * 128)
    assert not weights["conv1.bias"].any() and not weights["fc1.bias"].any()
    assert (weights["batchnorm1.weight"] == 1).all() and (weights["batchnorm1.running_var"] == 1).all()
    assert not weights["batchnorm1.bias"].any() and not weights["batchnorm1.running_mean"].any()


def test_init_weights_depend_on_the_seed_alone():
    network = loads(NET)
    report = analyze(network)
    first, again, other = (engine.init_weights(network, report, s) for s in (3, 3, 4))
    assert all(np.array_equal(first[k], again[k]) for k in first)
    assert not np.array_equal(first["conv1.weight"], other["conv1.weight"])
