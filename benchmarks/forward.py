"""Forward benchmark: cnncalc's NumPy engine against PyTorch on the CPU.

  python benchmarks/forward.py layers   VGG16 and ResNet-50 at batch 1 and 8 in one process,
                                        against the same layers in torch.nn.functional (the
                                        translation the tests check); conv GFLOP/s against
                                        the machine's NumPy matmul.
  python benchmarks/forward.py cli [R]  the issue's measurement, R rounds (default 5): the
                                        7-image forward = wall time of `cnncalc run vgg16
                                        --batch 8` minus `--batch 1`, against torchvision's
                                        vgg16 (eval, no_grad, as many threads as OpenBLAS)
                                        forward at batch 8 minus batch 1; ours and PyTorch's
                                        runs interleaved so the machine's noise falls on both.
  python benchmarks/forward.py init     engine.init_weights on VGG16, 5 runs.

cli --compare DIR also times another checkout's `cnncalc run` in the same rounds (e.g. a
`git worktree` of the commit before a change). --unset-blas-env runs the children without
OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE (OpenBLAS's own kernel choice, for comparison). The
BLAS that ran is printed (threadpoolctl)."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BLAS_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def child_env(unset_blas: bool) -> dict:
    env = {k: v for k, v in os.environ.items() if not (unset_blas and k in BLAS_ENV)}
    env["PYTHONPATH"] = str(ROOT)  # this checkout, whatever the venv's editable install says
    return env


def blas_info(env: dict) -> str:
    """The BLAS NumPy loads under `env`: library, version, kernel (architecture), threads."""
    code = ("import numpy, threadpoolctl\n"
            "for i in threadpoolctl.threadpool_info():\n"
            "    print(i.get('internal_api'), i.get('version'), 'kernel', i.get('architecture'),"
            " 'threads', i.get('num_threads'))")
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True).stdout.strip()


def best(fn, repeat=3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def spread(values: list[float]) -> str:
    return (f"min {min(values):.3f} / median {statistics.median(values):.3f} / "
            f"max {max(values):.3f} s")


# --- the measurement: whole `cnncalc run` processes against torchvision ------------

TORCH_CHILD = """
import sys, time
import numpy as np, torch, threadpoolctl
torch.set_num_threads(threadpoolctl.threadpool_info()[0]['num_threads'])
original = torch.library.register_fake  # torchvision 0.28's fake kernels vs the CPU torch
torch.library.register_fake = lambda *a, **k: (lambda f: f)
import torchvision
torch.library.register_fake = original
model = torchvision.models.vgg16().eval()
rng = np.random.default_rng(0)
x1, x8 = (torch.from_numpy(rng.standard_normal((n, 3, 224, 224), dtype=np.float32))
          for n in (1, 8))
with torch.no_grad():
    model(x1)  # warm-up (oneDNN primitives)
    times = []
    for x in (x1, x8):
        start = time.perf_counter()
        model(x)
        times.append(time.perf_counter() - start)
print(times[1] - times[0])
"""


def cnncalc_seconds(batch: int, env: dict, root: Path = ROOT) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "cnncalc", "run", "vgg16", "--batch", str(batch)],
                   env={**env, "PYTHONPATH": str(root)}, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, cwd=root)
    return time.perf_counter() - start


def cli(rounds: int, unset_blas: bool, other: Path | None = None) -> None:
    env = child_env(unset_blas)
    print("BLAS:", blas_info(env))
    roots = {"cnncalc": ROOT, **({f"other ({other})": other} if other else {})}
    ours: dict[str, list[float]] = {name: [] for name in roots}
    theirs = []
    for i in range(rounds):
        line = []
        for name, root in roots.items():
            one = cnncalc_seconds(1, env, root)
            eight = cnncalc_seconds(8, env, root)
            ours[name].append(eight - one)
            line.append(f"{name} {eight - one:.3f} s (batch 1 {one:.3f} s, batch 8 {eight:.3f} s)")
        done = subprocess.run([sys.executable, "-c", TORCH_CHILD], env=env, check=True,
                              capture_output=True, text=True)
        theirs.append(float(done.stdout.split()[-1]))
        ratios = ", ".join(f"{values[-1] / theirs[-1]:.2f}x" for values in ours.values())
        print(f"round {i + 1}: {'; '.join(line)}; PyTorch {theirs[-1]:.3f} s; ratio {ratios}",
              flush=True)
    print(f"PyTorch 7-image forward: {spread(theirs)}")
    for name, values in ours.items():
        ratios = [a / b for a, b in zip(values, theirs)]
        print(f"{name} 7-image forward: {spread(values)}; ratio per round: min "
              f"{min(ratios):.2f}x / median {statistics.median(ratios):.2f}x / max "
              f"{max(ratios):.2f}x")


# --- in one process: the engine against torch.nn.functional, layer by layer ---------------

def init(runs: int = 5) -> None:
    from cnncalc.analysis.analyze import analyze
    from cnncalc.compute import engine
    from cnncalc.language.document import load
    from cnncalc.zoo import path_of
    network = load(path_of("vgg16"))
    report = analyze(network)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        engine.init_weights(network, report, 0)
        times.append(time.perf_counter() - start)
    print(f"init_weights(vgg16): {spread(times)}")


def matmul_gflops() -> float:
    import numpy as np
    a = np.random.default_rng(0).standard_normal((2048, 2048), dtype=np.float32)
    seconds = best(lambda: a @ a)
    return 2 * 2048**3 / seconds / 1e9


def torch_time(network, weights, x):
    try:
        import torch
    except ImportError:
        return None
    sys.path.insert(0, str(ROOT / "tests"))
    from test_torch_forward import torch_layer  # the per-layer translation the tests check

    def forward():
        acts = {-1: torch.from_numpy(x)}
        with torch.no_grad():
            for i, node in enumerate(network.nodes):
                w = {k.split(".")[-1]: v for k, v in weights.items()
                     if k.rsplit(".", 1)[0] == node.name}
                acts[i] = torch_layer(node.layer, [acts[j] for j in node.inputs], w)
    return best(forward)


def layers() -> None:
    import numpy as np

    from cnncalc.analysis.analyze import analyze
    from cnncalc.compute import engine
    from cnncalc.language.document import load
    from cnncalc.zoo import path_of
    print("BLAS:", blas_info(child_env(False)))
    rate = matmul_gflops()
    print(f"NumPy float32 matmul (2048x2048): {rate:.1f} GFLOP/s")
    for name in ("vgg16", "resnet50"):
        network = load(path_of(name))
        report = analyze(network)
        weights = engine.init_weights(network, report, 0)
        conv_macs = sum(r.totals.macs for r in report.rows if r.type == "conv")
        for batch in (1, 8):
            x = np.random.default_rng(0).standard_normal((batch, 3, 224, 224), dtype=np.float32)
            result = {}

            def ours(network=network, report=report, x=x, weights=weights, result=result):
                result["r"] = engine.run(network, report, x, weights)
            ours_s = best(ours, repeat=2)
            conv_s = sum(s.seconds for s, r in zip(result["r"].steps, report.rows)
                         if r.type == "conv")
            theirs = torch_time(network, weights, x)
            conv_rate = 2 * conv_macs * batch / conv_s / 1e9
            ratio = f"{ours_s / theirs:.2f}x PyTorch ({theirs:.3f} s)" if theirs else "-"
            print(f"{name} batch {batch}: cnncalc {ours_s:.3f} s, {ratio}; conv layers "
                  f"{conv_rate:.1f} GFLOP/s = {conv_rate / rate:.0%} of matmul", flush=True)


def main(argv: list[str]) -> None:
    unset = "--unset-blas-env" in argv
    args = [a for a in argv if a != "--unset-blas-env"]
    other = None
    if "--compare" in args:
        at = args.index("--compare")
        other = Path(args[at + 1]).resolve()
        del args[at:at + 2]
    what = args[0] if args else "layers"
    sys.path.insert(0, str(ROOT))  # in-process modes: this checkout's cnncalc, not the venv's
    if unset and what != "cli":
        # in-process modes: the variables must be gone before NumPy loads OpenBLAS
        os.execve(sys.executable, [sys.executable, __file__, *args], child_env(True))
    if what == "cli":
        cli(int(args[1]) if len(args) > 1 else 5, unset, other)
    elif what == "init":
        init()
    else:
        layers()


if __name__ == "__main__":
    main(sys.argv[1:])
