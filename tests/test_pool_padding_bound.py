"""Pooling windows far larger than the input: a window is reduced over the input cells it
covers instead of over a padded copy (kernel 20,000 and padding 10,000 on an 8x8 input made
a 4.8 GB copy and ran 19 s). The result and the gradient are PyTorch's."""

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from cnncalc.compute import kernels

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(("mode", "kernel", "stride", "padding", "ceil"), [
    ("max", 7, 1, 3, False), ("avg", 7, 1, 3, False), ("max", 6, 2, 3, True),
    ("avg", 5, 3, 2, True), ("max", 9, 4, 4, False)])
def test_windows_over_mostly_padding_match_pytorch(mode, kernel, stride, padding, ceil):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x = np.random.default_rng(0).standard_normal((2, 3, 3, 2)).astype(np.float32)
    pads = (padding,) * 4
    # (3 + 2p)(2 + 2p) padded cells against 3 * 2 input cells: the clipped path
    _, extra, _ = kernels.pool_geometry(x.shape, (kernel,) * 2, (stride,) * 2, pads, ceil)
    assert kernels.padding_dominates(x.shape, pads, extra)
    got = kernels.pool(x, mode, (kernel,) * 2, (stride,) * 2, pads, ceil)
    tx = torch.from_numpy(x).requires_grad_(True)
    if mode == "max":
        want = F.max_pool2d(tx, kernel, stride, padding, ceil_mode=ceil)
    else:
        want = F.avg_pool2d(tx, kernel, stride, padding, ceil_mode=ceil, count_include_pad=True)
    np.testing.assert_allclose(got, want.detach().numpy(), rtol=1e-6, atol=1e-6)
    dy = np.random.default_rng(1).standard_normal(got.shape).astype(np.float32)
    want.backward(torch.from_numpy(dy))
    grad = kernels.pool_grad(x, got, dy, mode, (kernel,) * 2, (stride,) * 2, pads, ceil)
    np.testing.assert_allclose(grad, tx.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_a_20000_window_on_8x8_runs_quickly(tmp_path):
    spec = tmp_path / "pool.yaml"
    spec.write_text("input: [8, 8, 3]\nlayers:\n  - {type: pool, kernel: 20000, padding: 10000}\n")
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "cnncalc", "run", "--backward", str(spec)],
                            capture_output=True, text=True, check=False, timeout=60, cwd=ROOT,
                            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    assert time.perf_counter() - start < 15
