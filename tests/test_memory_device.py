"""memory --device / --backend cuda: allocated, reserved, the context, what nvidia-smi shows,
the fit answer and the largest batch (unmeasured: no GPU; the rules are in
tests/test_cuda_allocator.py), and the one-line refusals."""

import json

import pytest
from typer.testing import CliRunner

from cnncalc.analysis.cuda_allocator import replay
from cnncalc.analysis.memory_report import CUDA_CONTEXT, MemorySettings, memory_report
from cnncalc.analysis.analyze import analyze
from cnncalc.analysis.simulate import CudaSettings, StepSettings, simulate
from cnncalc.cli import app
from cnncalc.language.document import load, loads
from cnncalc.zoo import path_of

runner = CliRunner()
MiB, GiB = 2**20, 2**30
CUBLAS = 4096 * 1024 * 2 + 16 * 1024 * 8  # CUBLAS_WORKSPACE_CONFIG :4096:2:16:8


def memory_json(*args):
    result = runner.invoke(app, ["memory", *args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_cuda_keys_add_up():
    data = memory_json("resnet18", "--device", "a100-80gb", "--batch", "8", "--mode",
                       "training", "--optimizer", "adam")
    assert data["backend"] == "cuda" and data["device"] == "a100-80gb"
    assert data["capacity_bytes"] == 80 * GiB  # the table's 80 GiB
    assert data["context_bytes"] == 287 * MiB  # PR #86509's lazy-loading figure
    assert data["device_bytes"] == data["reserved_bytes"] + data["context_bytes"]
    assert data["allocated_bytes"] <= data["reserved_bytes"]
    assert data["fits"] is True
    # the allocator counts blocks of at least 512 B: at least the tensors' peak
    assert data["allocated_bytes"] >= data["peak_bytes"]


def test_context_overridable_and_fit_uses_device_bytes():
    small = memory_json("resnet18", "--backend", "cuda", "--batch", "64", "--mode", "training",
                        "--cuda-context", "500MiB", "--device-memory", "1GiB")
    assert small["context_bytes"] == 500 * MiB
    assert small["fits"] is (small["device_bytes"] <= GiB)


def test_largest_batch_is_the_last_whose_device_bytes_fit():
    network = load(path_of("resnet18"))
    settings = MemorySettings((1,), mode="training", backend="cuda", device_memory=4 * GiB)
    report = memory_report(network, settings)
    best = report.max_batch(4 * GiB)
    assert best > 0
    assert report.total(best) <= 4 * GiB < report.total(best + 1)
    step = report.step(best, "training")
    assert report.total(best) == step.reserved + CUDA_CONTEXT


def test_cublas_workspace_is_allocated_and_32_mib_on_hopper():
    """A one-layer net: what the allocator holds at rest after the step begins is the
    workspace; the same net on an H100 holds 32 MiB instead (PR #120925)."""
    network = loads("input: [1, 1, 1]\nlayers:\n  - {type: fc, units: 1}\n")
    report = analyze(network)
    default = simulate(network, report, StepSettings(1, mode="inference", backend="cuda"))
    hopper = simulate(network, report, StepSettings(1, mode="inference", backend="cuda",
                                                    cuda=CudaSettings(compute_major=9)))
    # weight, bias, the batch and the output: four 512 B blocks beside the workspace
    assert default.allocated == CUBLAS + 4 * 512
    assert hopper.allocated == 32 * MiB + 4 * 512
    # 8,519,680 B is a 1-10 MiB request: a 20 MiB segment; the rest: one 2 MiB small segment
    assert default.reserved == 20 * MiB + 2 * MiB
    assert hopper.reserved == 32 * MiB + 2 * MiB  # >= 10 MiB: rounded to 2 MiB


# NVIDIA's CUDA GPUs list (developer.nvidia.com/cuda-gpus): compute capability per board
@pytest.mark.parametrize("name, capability", [
    ("v100", "7.0"), ("t4", "7.5"), ("a100-40gb", "8.0"), ("a100-80gb", "8.0"),
    ("rtx3090", "8.6"), ("l4", "8.9"), ("rtx4090", "8.9"), ("h100-sxm", "9.0"),
    ("h100-pcie", "9.0"), ("h200", "9.0")])
def test_device_table_holds_each_gpus_compute_capability(name, capability):
    from cnncalc.analysis.devices import table
    assert table()[name].compute_capability == capability


def test_the_cublas_workspace_follows_the_devices_compute_capability():
    """The same step on an A100 (8.0) and an H100 (9.0): 32 MiB - 8,519,680 B more live at
    the peak on the Hopper board, from the table's compute capability (the allocator's
    blocks, split or not, differ by about as much)."""
    args = ("resnet18", "--batch", "8", "--mode", "training")
    ampere = memory_json(*args, "--device", "a100-80gb")
    hopper = memory_json(*args, "--device", "h100-sxm")
    assert hopper["peak_bytes"] - ampere["peak_bytes"] == 32 * MiB - CUBLAS
    assert hopper["allocated_bytes"] - ampere["allocated_bytes"] > 20 * MiB


def test_expandable_segments_and_max_split_size_change_reserved_only():
    network = load(path_of("resnet18"))
    report = analyze(network)
    base = simulate(network, report, StepSettings(16, mode="training", backend="cuda"))
    for cuda in (CudaSettings(expandable_segments=True), CudaSettings(max_split_size_mb=64)):
        other = simulate(network, report, StepSettings(16, mode="training", backend="cuda",
                                                       cuda=cuda))
        assert other.peak == base.peak  # the tensors do not change
    assert replay([("alloc", 1, 100)]).reserved == 2 * MiB


@pytest.mark.parametrize("args, option", [
    (["--device", "a100-80g"], "did you mean 'a100-80gb'"),
    (["--device", "t4", "--backend", "cpu"], "--backend"),
    (["--max-split-size-mb", "20", "--backend", "cuda"], "--max-split-size-mb"),
    (["--expandable-segments"], "--expandable-segments"),
    (["--cuda-context", "1GiB", "--backend", "cpu"], "--cuda-context"),
    (["--isa", "avx2"], "--isa"),
])
def test_bad_device_options_are_one_line_exit_2(args, option):
    result = runner.invoke(app, ["memory", "resnet18", *args])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and option in lines[0] and "Traceback" not in result.output


def cuda_truth():
    """benchmarks/memory_truth_cuda.py, imported (it needs torch)."""
    torch = pytest.importorskip("torch")
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parents[1] / "benchmarks"
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    import memory_truth_cuda
    return torch, memory_truth_cuda


def test_cuda_benchmark_passes_the_allocator_conf_to_cnncalc(monkeypatch):
    """The GPU-day command asks cnncalc with the same PYTORCH_CUDA_ALLOC_CONF it runs under."""
    _, bench = cuda_truth()
    monkeypatch.setenv("PYTORCH_CUDA_ALLOC_CONF", "max_split_size_mb:128,expandable_segments:True")
    ours = bench.predicted("resnet18", 2, "training", "sgd", False, "h100-sxm")
    monkeypatch.delenv("PYTORCH_CUDA_ALLOC_CONF")
    plain = bench.predicted("resnet18", 2, "training", "sgd", False, "h100-sxm")
    assert ours["peak_bytes"] == plain["peak_bytes"]  # the same tensors
    # expandable segments split every block whose rest is 512 B or more (should_split), so
    # no large block is taken whole: allocated can only shrink
    assert ours["allocated_bytes"] <= plain["allocated_bytes"]
    assert ours["capacity_bytes"] == 80 * GiB


def test_cuda_benchmark_says_when_there_is_no_gpu():
    torch, bench = cuda_truth()
    if torch.cuda.is_available():
        return  # on a GPU machine the command measures instead (run it by hand)
    assert bench.run(["resnet18"], [1]) == 2
