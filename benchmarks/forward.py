"""Forward benchmark: VGG16 and ResNet-50 at batch 1 and 8, cnncalc's NumPy engine against
PyTorch on the CPU in one process, and the engine's conv GFLOP/s against the machine's NumPy
matmul GFLOP/s. Run: python benchmarks/forward.py (PyTorch needed for the comparison)."""

from __future__ import annotations

import time

import numpy as np

from cnncalc.analysis.analyze import analyze
from cnncalc.compute import engine
from cnncalc.language.document import load
from cnncalc.zoo import path_of


def best(fn, repeat=3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def matmul_gflops() -> float:
    a = np.random.default_rng(0).standard_normal((2048, 2048)).astype(np.float32)
    seconds = best(lambda: a @ a)
    return 2 * 2048**3 / seconds / 1e9


def torch_time(network, report, weights, x):
    try:
        import torch
    except ImportError:
        return None
    import sys
    sys.path.insert(0, str(path_of("vgg16").parents[1] / "tests"))
    from test_torch_forward import torch_layer  # the per-layer translation the tests check

    def forward():
        acts = {-1: torch.from_numpy(x)}
        with torch.no_grad():
            for i, node in enumerate(network.nodes):
                w = {k.split(".")[-1]: v for k, v in weights.items()
                     if k.rsplit(".", 1)[0] == node.name}
                acts[i] = torch_layer(node.layer, [acts[j] for j in node.inputs], w)
    return best(forward)


def main() -> None:
    rate = matmul_gflops()
    print(f"NumPy float32 matmul (2048x2048): {rate:.1f} GFLOP/s")
    for name in ("vgg16", "resnet50"):
        network = load(path_of(name))
        report = analyze(network)
        weights = engine.init_weights(network, report, 0)
        conv_macs = sum(r.totals.macs for r in report.rows if r.type == "conv")
        for batch in (1, 8):
            x = np.random.default_rng(0).standard_normal((batch, 3, 224, 224)).astype("float32")
            result = {}

            def ours(network=network, report=report, x=x, weights=weights, result=result):
                result["r"] = engine.run(network, report, x, weights)
            ours_s = best(ours, repeat=2)
            conv_s = sum(s.seconds for s, r in zip(result["r"].steps, report.rows)
                         if r.type == "conv")
            theirs = torch_time(network, report, weights, x)
            conv_rate = 2 * conv_macs * batch / conv_s / 1e9
            ratio = f"{ours_s / theirs:.2f}x PyTorch ({theirs:.3f} s)" if theirs else "-"
            print(f"{name} batch {batch}: cnncalc {ours_s:.3f} s, {ratio}; conv layers "
                  f"{conv_rate:.1f} GFLOP/s = {conv_rate / rate:.0%} of matmul")


if __name__ == "__main__":
    main()
