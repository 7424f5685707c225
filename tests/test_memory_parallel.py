"""memory --gpus N --strategy ...: per-device figures (analysis/parallel.py). DDP measured
with gloo on two CPU processes (slow); the sharded strategies by their formulas, ZeRO-2/3
against DeepSpeed's estimator; the refusals."""

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cnncalc.analysis.analyze import analyze
from cnncalc.analysis.parallel import (
    Parallel,
    bucket_sizes,
    deepspeed_zero2,
    deepspeed_zero3,
)
from cnncalc.analysis.simulate import StepSettings, simulate
from cnncalc.cli import app
from cnncalc.language.document import load
from cnncalc.zoo import path_of

runner = CliRunner()
MiB = 2**20
RESNET18_PARAMS = 11_689_512  # torchvision's resnet18, sum(p.numel())


def step(parallel, optimizer="sgd", batch=8, network=None, **options):
    network = network or load(path_of("resnet18"))
    return simulate(network, analyze(network),
                    StepSettings(batch, options.pop("dtype", "float32"), "training", optimizer,
                                 parallel=parallel, **options))


def test_buckets_reverse_order_first_1_mib_then_25():
    # parameters of 0.5, 0.75, 10, 20, 3 MiB: reversed 3 (>= 1: closes the first), 20, 10
    # (30 >= 25: closes), 0.75, 0.5 (the rest)
    sizes = [MiB // 2, 3 * MiB // 4, 10 * MiB, 20 * MiB, 3 * MiB]
    assert bucket_sizes(sizes) == [3 * MiB, 30 * MiB, MiB // 2 + 3 * MiB // 4]
    assert sum(bucket_sizes(sizes)) == sum(sizes)


def test_ddp_adds_one_copy_of_the_gradients():
    one, ddp = step(Parallel()), step(Parallel(2, "ddp"))
    grads = 4 * RESNET18_PARAMS
    assert ddp.peak - one.peak == grads
    assert ddp.at_rest - one.at_rest == grads


def test_ddp_bucket_view_keeps_no_second_copy():
    one, view = step(Parallel()), step(Parallel(2, "ddp", bucket_view=True))
    assert view.at_rest == one.at_rest  # the gradients are the buckets
    assert one.peak <= view.peak <= one.peak + 4 * RESNET18_PARAMS


@pytest.mark.parametrize("n", [2, 4])
def test_zero_stages_split_state_gradients_parameters(n):
    p = 4 * RESNET18_PARAMS
    one = step(Parallel(), "adam")
    z1, z2 = step(Parallel(n, "zero1"), "adam"), step(Parallel(n, "zero2"), "adam")
    # Adam: two moments and a step tensor per parameter (62 tensors on the CPU)
    assert one.resting["optimizer_state"] - z1.resting["optimizer_state"] == pytest.approx(
        2 * p * (1 - 1 / n), abs=62 * 4 * n)
    assert z2.resting["gradients"] == pytest.approx(p / n, abs=62 * n)
    z3 = step(Parallel(n, "zero3"), "adam")
    buffers = 4 * 9_600  # batch norm's running statistics: not sharded
    assert z3.resting["weights"] == pytest.approx(p / n + buffers, abs=62 * n)
    # between steps no unit is gathered; during the step the two largest are
    assert z3.breakdown["weights"] >= z3.resting["weights"]


def test_zero2_and_zero3_against_deepspeeds_estimator():
    """DeepSpeed's estimators assume fp16 parameters and gradients beside fp32 master
    weights, gradients and Adam's moments; autocast keeps float32 parameters, float32
    gradients (sharded) and the moments: 4P + 12P/N, DeepSpeed's 4P + 16P/N less the
    fp32 gradient copy of 4P/N. ZeRO-3 the same, the gathered units in place of the largest
    layer."""
    n, params = 4, RESNET18_PARAMS
    z2 = step(Parallel(n, "zero2"), "adam", backend="cuda", dtype="bfloat16", amp=True)
    states = z2.resting["weights"] + z2.resting["gradients"] + z2.resting["optimizer_state"]
    buffers = 4 * 9_600  # batch norm's running statistics (19,200 values): float32
    assert states == pytest.approx(deepspeed_zero2(params, n) - 4 * params // n + buffers,
                                   rel=0.001)
    assert deepspeed_zero3(params, 2_359_808, n) == 4 * 2_359_808 + int(18 * params / n)


@pytest.mark.slow
def test_ddp_resnet18_batch_8_per_process_within_5_percent_measured():
    """Two CPU processes, gloo: per-process peaks (the issue measured 308,932,052 B with
    DDP, 262,173,992 B without)."""
    pytest.importorskip("torch")
    root = Path(__file__).resolve().parents[1] / "benchmarks"
    sys.path.insert(0, str(root))
    import memory_ddp
    for parallel, ddp in ((Parallel(2, "ddp"), True), (Parallel(), False)):
        ours = step(parallel, backend="cpu").peak
        for peak in memory_ddp.measure("resnet18", 8, 2, ddp=ddp):
            assert abs(ours / peak - 1) <= 0.05, (ddp, ours, peak)


@pytest.mark.slow
@pytest.mark.parametrize("name, world", [("resnet18", 2), ("resnet18", 4), ("resnet18", 8),
                                         ("mobilenet_v2", 2)])
def test_fsdp2_batch_8_per_device_within_5_percent_measured(name, world):
    """FSDP2's fully_shard per top-level block and the root, as rank 0 of `world` over the
    fake process group (its collectives allocate nothing and run at once, so the peak is
    the same every run; over gloo it varies with when the asynchronous buffers are freed)."""
    pytest.importorskip("torch")
    root = Path(__file__).resolve().parents[1] / "benchmarks"
    sys.path.insert(0, str(root))
    import memory_ddp
    ours = step(Parallel(world, "fsdp"), backend="cpu", network=load(path_of(name))).peak
    measured = memory_ddp.measure_fake(name, 8, world)
    assert abs(ours / measured - 1) <= 0.05, (name, world, ours, measured)


@pytest.mark.parametrize("args, option", [
    (["--gpus", "0"], "--gpus"),
    (["--gpus", "2", "--strategy", "zero4"], "--strategy"),
    (["--strategy", "fsdp"], "--strategy"),
    (["--gpus", "1", "--strategy", "zero3"], "--strategy"),
    (["--bucket-view"], "--bucket-view"),
    (["--gpus", "2", "--strategy", "fsdp", "--bucket-view"], "--bucket-view"),
])
def test_bad_parallel_options_are_one_line_exit_2(args, option):
    result = runner.invoke(app, ["memory", "resnet18", "--mode", "training", *args])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(option)


def test_a_global_batch_is_split_evenly_over_the_devices():
    """--global-batch 32 --gpus 4 is --batch 8 per device (32 / 4), figure for figure."""
    import json
    args = ["memory", "resnet18", "--mode", "training", "--gpus", "4", "--format", "json"]
    split = CliRunner().invoke(app, [*args, "--global-batch", "32"])
    per_device = CliRunner().invoke(app, [*args, "--batch", str(32 // 4)])
    assert split.exit_code == per_device.exit_code == 0, split.output
    assert json.loads(split.output) == json.loads(per_device.output)


@pytest.mark.parametrize("extra, words", [
    (["--gpus", "4", "--global-batch", "30"], "must divide over the 4 devices"),
    (["--gpus", "2", "--global-batch", "8", "--batch", "4"], "replaces --batch"),
    (["--gpus", "2", "--global-batch", "0"], "a number of samples"),
])
def test_a_global_batch_that_does_not_divide_is_one_line_exit_2(extra, words):
    result = CliRunner().invoke(app, ["memory", "resnet18", "--mode", "training", *extra])
    assert result.exit_code == 2 and words in result.output
    assert result.output.count("\n") == 1


def test_fsdp_units_gather_one_block_forward_and_prefetch_one_backward():
    """FSDP2's schedule traced by hand: the root's parameters gathered throughout, a block's
    while it runs, in backward the block before it prefetched; a block's gradients
    reduce-scattered (1/N kept) when its backward ends."""
    from cnncalc.analysis.parallel import ROOT, Units
    from cnncalc.analysis.step import Tracker
    mem = Tracker()
    units = Units([ROOT, "a", "a", "b", ROOT], {ROOT: 400, "a": 800, "b": 1600}, 2, mem)
    seen = []
    for index in range(5):
        units.enter(index, False, "forward")
        seen.append(set(units.live))
    assert seen == [{ROOT}, {ROOT, "a"}, {ROOT, "a"}, {ROOT, "b"}, {ROOT}]
    assert mem.total == 400
    seen = []
    for index in (4, 3, 2, 1, 0):
        units.enter(index, True, "backward")
        if units.keys[index] is not ROOT:
            units.gradient(index, 100)
        seen.append(set(units.live))
    assert seen == [{ROOT, "b"}, {ROOT, "b", "a"}, {ROOT, "a"}, {ROOT, "a"}, {ROOT}]
    units.finish()
    assert units.live == {} and units.grads == {}
    assert mem.total == 1600 // 2 + 800 // 2  # the two blocks' gradient shards
    # the moment b is gathered with its flat all-gather buffer: root + b twice
    assert max(m.live_bytes for m in mem.timeline if "b (all-gather)" in m.layer) >= 400 + 2 * 1600
