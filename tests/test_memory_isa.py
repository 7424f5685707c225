"""The CPU's instruction set in the `--backend cpu` model (analysis/machine.py, ctx.isa).

Detection is tested on /proc/cpuinfo lines and oneDNN's cap variable; the two ISAs' models
against PyTorch measured both ways on this machine: in a child process with
ONEDNN_MAX_CPU_ISA=AVX2 (oneDNN reads it once, at its first primitive) and as the machine is.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cnncalc.analysis.machine import cpu_flags, detect
from cnncalc.layers.stepmem import AVX2, AVX512
from tests.test_memory_step import LENET5, TOLERANCE, network_of, predicted

ROOT = Path(__file__).resolve().parents[1]
AVX512_LINE = "flags\t\t: fpu sse4_2 avx avx2 avx512f avx512dq avx512bw avx512vl avx512_bf16\n"
AVX2_LINE = "flags\t\t: fpu sse4_2 avx avx2 fma\n"


def test_flags_read_from_cpuinfo():
    assert {"avx2", "avx512f"} <= cpu_flags("processor\t: 0\n" + AVX512_LINE)
    assert cpu_flags("no flags here") == set()


@pytest.mark.parametrize("cpuinfo, environ, isa", [
    (AVX512_LINE, {}, AVX512),
    (AVX2_LINE, {}, AVX2),
    ("", {}, AVX2),  # no /proc/cpuinfo (macOS, Windows): the AVX2 model
    (AVX512_LINE, {"ONEDNN_MAX_CPU_ISA": "AVX2"}, AVX2),
    (AVX512_LINE, {"DNNL_MAX_CPU_ISA": "avx2_vnni"}, AVX2),
    (AVX512_LINE, {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE"}, AVX512),
    (AVX512_LINE, {"ONEDNN_MAX_CPU_ISA": "ALL"}, AVX512),
    (AVX2_LINE, {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE_AMX"}, AVX2),  # a cap never raises
])
def test_detected_isa_follows_flags_and_onednn_cap(cpuinfo, environ, isa):
    assert detect(cpuinfo, environ) is isa


def test_channel_block_pads_to_8_on_avx2_and_16_on_avx512():
    """ShuffleNetV2's first conv (24 channels) inference: its temporary output is padded to
    32 channels on AVX-512 (the issue's 0.91x), 24 on AVX2; the forward transient is that
    temporary beyond the output (3-channel input: not reordered)."""
    text = "input: [32, 32, 3]\nlayers:\n  - {type: conv, filters: 24, kernel: 3, padding: 1}\n"
    network = network_of(text=text)
    n, hw = 2, 32 * 32
    weights = (3 * 3 * 3 * 24 + 24) * 4
    batch = n * hw * 3 * 4
    for isa, block in (("avx2", 24), ("avx512", 32)):
        peak = predicted(network, n, "inference", backend="cpu", isa=isa).peak
        assert peak == weights + batch + n * hw * block * 4 + n * hw * 24 * 4


MEASURE = """
import json, sys, torch
sys.path[:0] = [{root!r}, {bench!r}]
import memory_truth
from tests.test_memory_step import torch_lenet5, torch_resnet18
torch.manual_seed(0)
if {case!r} == "lenet5":
    r = memory_truth.measure(torch_lenet5(), torch.randn(8, 1, 32, 32), "training", "sgd", True)
else:
    r = memory_truth.measure(torch_resnet18(), torch.randn(2, 3, 64, 64), "training", "adam")
print(json.dumps(r["peak_bytes"]))
"""


def measured_in_child(case, cap):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("DNNL_MAX_CPU_ISA", None)
    if cap:
        env["ONEDNN_MAX_CPU_ISA"] = cap
    else:
        env.pop("ONEDNN_MAX_CPU_ISA", None)
    code = MEASURE.format(root=str(ROOT), bench=str(ROOT / "benchmarks"), case=case)
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=600, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.parametrize("case", ["lenet5", "resnet18"])
def test_both_isas_within_5_percent_of_pytorch_measured_both_ways(case):
    """LeNet-5 under bf16 autocast (AVX2: ATen's slow im2col conv; AVX-512: oneDNN's bf16
    path) and ResNet-18 at 64x64 with Adam (AVX2: oneDNN's gemm fallback on layer4's 2x2
    maps; AVX-512: the jit kernel), each ISA against PyTorch run under it."""
    pytest.importorskip("torch")
    ways = [("avx2", "AVX2")] + ([("avx512", None)] if detect() is AVX512 else [])
    for isa, cap in ways:  # an AVX2 machine measures the AVX2 way only
        if case == "lenet5":
            ours = predicted(network_of(text=LENET5), 8, "training", "sgd", backend="cpu",
                             amp=True, dtype="bfloat16", isa=isa)
        else:
            ours = predicted(network_of(zoo="resnet18", size=64), 2, "training", "adam",
                             backend="cpu", isa=isa)
        measured = measured_in_child(case, cap)
        assert abs(ours.peak / measured - 1) <= TOLERANCE, (isa, ours.peak, measured)


@pytest.mark.slow
@pytest.mark.parametrize("batch", [1, 8])
def test_shufflenet_inference_on_this_machine_within_5_percent(batch):
    """torchvision's ShuffleNetV2: its first conv's temporary output is padded to 32 channels
    on AVX-512 (the AVX2 model gave 0.912 at batch 8 here; the detected ISA 1.000)."""
    torch = pytest.importorskip("torch")
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import memory_truth
    from typer.testing import CliRunner
    from cnncalc.cli import app
    torch.manual_seed(0)
    measured = memory_truth.measure(memory_truth.build("shufflenet_v2_x1_0"),
                                    torch.randn(batch, 3, 224, 224), "inference", None)
    result = CliRunner().invoke(app, ["memory", "shufflenet_v2_x1_0", "--batch", str(batch),
                                      "--backend", "cpu", "--format", "json"])
    ours = json.loads(result.stdout)["peak_inference_bytes"]
    assert abs(ours / measured["peak_bytes"] - 1) <= TOLERANCE
