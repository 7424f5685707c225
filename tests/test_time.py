"""cnncalc time, devices and calibrate: the device table's datasheet figures, the roofline
per layer, bad input, and the calibration file's life (tests use a tmp XDG_CACHE_HOME)."""

import json
import subprocess
import sys
from math import ceil

import pytest
from typer.testing import CliRunner

from cnncalc.analysis import devices
from cnncalc.analysis.calibration import Calibration, cache_path, load, machine_id, store
from cnncalc.analysis.timing import (GPU_BANDWIDTH_EFFICIENCY, GPU_EFFICIENCY,
                                     GPU_KERNEL_OVERHEAD)
from cnncalc.cli import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    """Every test has its own empty cache directory: no calibration unless it writes one."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


def run(*args, input=None):
    return runner.invoke(app, [str(a) for a in args], input=input)


def spec(tmp_path, text: str) -> str:
    path = tmp_path / "net.yaml"
    path.write_text(text)
    return str(path)


# --- the device table: dense figures from the datasheets ---------------------------------

@pytest.mark.parametrize("name, dtype, published", [
    # NVIDIA H100 datasheet, SXM: BF16 1,979 TFLOPS "with sparsity" -> 989.5 dense
    ("h100-sxm", "bf16", 1979e12 / 2), ("h100-sxm", "fp32", 67e12),
    ("h100-sxm", "tf32", 989e12 / 2), ("h100-sxm", "int8", 3958e12 / 2),
    # H100 PCIe: BF16 1,513 with sparsity
    ("h100-pcie", "bf16", 1513e12 / 2), ("h100-pcie", "fp32", 51e12),
    # H200 SXM: the H100 SXM's tensor rates
    ("h200", "bf16", 1979e12 / 2),
    # A100 datasheet: BF16 312, TF32 156, FP32 19.5, INT8 624 TOPS (dense)
    ("a100-40gb", "bf16", 312e12), ("a100-80gb", "bf16", 312e12), ("a100-80gb", "tf32", 156e12),
    ("a100-80gb", "fp32", 19.5e12), ("a100-80gb", "int8", 624e12),
    ("v100", "fp16", 125e12), ("v100", "fp32", 15.7e12),  # V100 SXM2 datasheet
    ("t4", "fp16", 65e12), ("t4", "fp32", 8.1e12), ("t4", "int8", 130e12),  # T4 datasheet
    ("l4", "bf16", 242e12 / 2), ("l4", "fp32", 30.3e12),  # L4: 242 with sparsity
    ("l40s", "bf16", 362.05e12), ("l40s", "fp32", 91.6e12),  # L40S: "362.05 | 733*"
    # GA102 and Ada whitepapers: FP16 tensor with FP32 accumulate, dense
    ("rtx3090", "fp16", 71e12), ("rtx4090", "fp16", 165.2e12), ("rtx4090", "fp32", 82.6e12),
])
def test_device_table_holds_the_dense_datasheet_peaks(name, dtype, published):
    assert devices.table()[name].peak_flops[dtype] == pytest.approx(published, rel=1e-3)


@pytest.mark.parametrize("name, bandwidth, gib", [
    ("a100-40gb", 1555e9, 40), ("a100-80gb", 2039e9, 80), ("h100-sxm", 3.35e12, 80),
    ("h100-pcie", 2.0e12, 80), ("h200", 4.8e12, 141), ("v100", 900e9, 32), ("t4", 320e9, 16),
    ("l4", 300e9, 24), ("l40s", 864e9, 48), ("rtx3090", 936e9, 24), ("rtx4090", 1008e9, 24),
    ("a10g", 600e9, 24),
])
def test_device_table_bandwidth_and_memory(name, bandwidth, gib):
    device = devices.table()[name]
    assert device.bandwidth == bandwidth
    assert device.memory_bytes == gib * 2**30


def test_every_gpu_names_its_source_and_the_cpu_is_measured():
    table = devices.table()
    required = {"v100", "t4", "a10g", "a100-40gb", "a100-80gb", "l4", "l40s", "h100-sxm",
                "h100-pcie", "h200", "rtx3090", "rtx4090", "cpu"}
    assert required <= set(table)
    for device in table.values():
        assert device.source
        assert device.measured == (device.name == "cpu")
        if not device.measured:
            assert device.url.startswith("https://") and device.peak_flops["fp32"] > 0
            # tensor peaks at least the plain fp32 one (a sparse figure would be 2x dense)
            assert all(v >= device.peak_flops["fp32"] for v in device.peak_flops.values())


def test_devices_json_lists_every_device():
    result = run("devices", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert set(rows) == set(devices.table())
    assert rows["h100-sxm"]["peak_flops"]["bf16"] == 989.5e12
    assert set(rows["t4"]) >= {"name", "peak_flops", "bandwidth", "memory_bytes", "source"}


def test_devices_custom_device_is_described():
    result = run("devices", "--format", "json", "--device",
                 "flops=100e12,flops.fp32=10e12,bandwidth=1e12,memory=16GiB")
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)
    assert row["peak_flops"]["fp32"] == 10e12 and row["peak_flops"]["bf16"] == 100e12
    assert row["bandwidth"] == 1e12 and row["memory_bytes"] == 16 * 2**30


@pytest.mark.parametrize("text, field", [
    ("flops=abc,bandwidth=1e12", "flops"), ("flops=1e12,bandwidth=-3", "bandwidth"),
    ("flops=1e12", "bandwidth"), ("bandwidth=1e12", "flops"),
    ("flops=1e12,bandwidth=1e12,memory=lots", "memory"), ("flops=1e12,speed=2", "speed"),
    ("flops.fp64=1e12,bandwidth=1e12", "flops.fp64"),
])
def test_malformed_custom_device_is_one_line_naming_the_field(tmp_path, text, field):
    result = run("time", "lenet5", "--device", text)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"'{field}'" in lines[0] and lines[0].startswith("--device")


def test_unknown_device_suggests_a_near_name():
    result = run("time", "lenet5", "--device", "a100-80g")
    assert result.exit_code == 2
    assert "did you mean 'a100-80gb'" in result.stderr and len(result.stderr.splitlines()) == 1


# --- the roofline -------------------------------------------------------------------------

CONV_NET = """name: one conv
input: [56, 56, 64]
layers:
  - {name: c, type: conv, filters: 64, kernel: 3, padding: 1, bias: false}
  - {name: r, type: relu}
  - {name: f, type: flatten}
"""


def time_json(*args):
    result = run("time", *args, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_compute_bound_conv_time_is_flops_over_efficiency_times_peak(tmp_path):
    # a device with little compute and much bandwidth: the conv is compute-bound
    out = time_json(spec(tmp_path, CONV_NET), "--device", "flops=1e12,bandwidth=1e15",
                    "--batch", 4)
    macs = 4 * 56 * 56 * 64 * 64 * 3 * 3  # batch x positions x filters x (C x k x k)
    conv = out["layers"][0]
    assert conv["bound"] == "compute" and conv["kind"] == "conv"
    assert conv["seconds"] == pytest.approx(2 * macs / (GPU_EFFICIENCY["conv"] * 1e12))


def test_memory_bound_relu_time_is_bytes_over_bandwidth(tmp_path):
    out = time_json(spec(tmp_path, CONV_NET), "--device", "flops=1e15,bandwidth=1e9",
                    "--batch", 2, "--dtype", "float16")
    relu = out["layers"][1]
    moved = 2 * (56 * 56 * 64) * 2 * 2  # batch x values x (read + write) x 2 bytes
    assert relu["bound"] == "memory"
    assert relu["seconds"] == pytest.approx(moved / (GPU_BANDWIDTH_EFFICIENCY * 1e9))
    assert out["layers"][2] == {**out["layers"][2], "seconds": 0, "bound": "none"}  # a view


def test_tiny_layers_on_a_fast_device_hit_the_overhead_floor(tmp_path):
    out = time_json(spec(tmp_path, CONV_NET), "--device", "h100-sxm")
    relu = out["layers"][1]
    assert relu["bound"] == "overhead" and relu["seconds"] == GPU_KERNEL_OVERHEAD
    assert out["status"] == "unmeasured prediction"


def test_step_images_per_second_and_epoch(tmp_path):
    out = time_json("resnet50", "--device", "a100-80gb", "--batch", 64, "--images", 1281167)
    step = sum(layer["seconds"] for layer in out["layers"])
    assert out["total_seconds"] == pytest.approx(step)
    assert out["images_per_second"] == pytest.approx(64 / step)
    assert out["epoch_seconds"] == pytest.approx(ceil(1281167 / 64) * step)
    assert {"device", "batch", "mode", "layers", "total_seconds", "images_per_second"} <= set(out)
    assert {"name", "seconds", "bound"} <= set(out["layers"][0])


def test_float32_convs_use_tf32_and_bf16_is_faster(tmp_path):
    fp32 = time_json(spec(tmp_path, CONV_NET), "--device", "a100-80gb", "--batch", 256)
    conv = fp32["layers"][0]
    macs = 256 * 56 * 56 * 64 * 64 * 9
    assert conv["seconds"] == pytest.approx(max(
        2 * macs / (GPU_EFFICIENCY["conv"] * 156e12),  # cuDNN's TF32 by default
        4 * (256 * 56 * 56 * 64 * 2 + 64 * 64 * 9) / (GPU_BANDWIDTH_EFFICIENCY * 2039e9)))
    bf16 = time_json(spec(tmp_path, CONV_NET), "--device", "a100-80gb", "--batch", 256,
                     "--dtype", "bfloat16")
    assert bf16["total_seconds"] < fp32["total_seconds"]


def test_a_dtype_the_device_lacks_is_exit_2():
    result = run("time", "lenet5", "--device", "v100", "--dtype", "bfloat16")
    assert result.exit_code == 2 and "v100 has no dense peak for bfloat16" in result.stderr


@pytest.mark.parametrize("option", [["--images", "0"], ["--batch", "-1"], ["--batch", "0"],
                                    ["--batch", "x"], ["--mode", "eval"],
                                    ["--amp"]])
def test_bad_options_exit_2(option):
    result = run("time", "lenet5", "--device", "t4", *option)
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1


def test_table_prints_the_answer_first():
    result = run("time", "resnet18", "--device", "t4", "--batch", 32, "--images", 50000)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("ResNet-18 on t4") and "unmeasured" in lines[0]
    assert lines[1].startswith("Step: ") and "images/s" in lines[1]
    assert lines[2].startswith("Epoch of 50,000 images")


def test_layer_kinds_come_from_the_layers(tmp_path):
    net = spec(tmp_path, """input: [28, 28, 32]
layers:
  - {name: k, type: conv, filters: 32, kernel: 3, padding: 1}
  - {name: p, type: conv, filters: 64, kernel: 1}
  - {name: d, type: conv, filters: 64, kernel: 3, padding: 1, groups: 64}
  - {name: g, type: conv, filters: 64, kernel: 3, padding: 1, groups: 4}
  - {name: s, type: conv, filters: 64, kernel: 3, stride: 2, padding: 1}
  - {name: w, type: conv, filters: 64, kernel: 3, padding: 1, groups: 2}
  - {name: b, type: batchnorm}
  - {name: m, type: pool, kernel: 2}
  - {name: q, type: pool, kernel: 3, stride: 2, padding: 1}
  - {name: o, type: dropout}
  - {name: fl, type: flatten}
  - {name: f, type: fc, units: 10}
""")
    kinds = [layer["kind"] for layer in time_json(net, "--device", "t4")["layers"]]
    # groups of 32 channels (AlexNet's two GPUs) run as dense convs, one per group
    assert kinds == ["conv", "conv1x1", "depthwise", "grouped", "strided", "conv", "norm",
                     "pool_tiled", "pool", "none", "none", "gemm"]


def test_more_layer_kinds_come_from_the_layers(tmp_path):
    """The kinds with rates of their own: exp activations, softmax, layer norm, LRN, a
    stem's few input channels, strided depthwise, attention's matrix products; 1-D max pools
    without gradients (F.max_pool1d's own kernel), with them the 2-D one."""
    net = spec(tmp_path, """input: [32, 32, 3]
layers:
  - {name: stem, type: conv, filters: 16, kernel: 3, stride: 2, padding: 1}
  - {name: act, type: silu}
  - {name: dws, type: conv, filters: 16, kernel: 3, stride: 2, padding: 1, groups: 16}
  - {name: dw5, type: conv, filters: 16, kernel: 5, padding: 2, groups: 16}
  - {name: ln, type: layernorm}
  - {name: lrn, type: lrn}
  - {name: att, type: attention, heads: 2}
  - {name: tanh, type: tanh}
  - {name: relu, type: relu}
  - {name: sm, type: softmax}
  - {name: gap, type: pool, mode: avg, global: true}
""")
    kinds = [layer["kind"] for layer in time_json(net, "--device", "t4")["layers"]]
    assert kinds == ["stem", "elementwise_exp", "depthwise_strided", "depthwise_large",
                     "layernorm", "lrn",
                     "matmul", "elementwise_exp", "elementwise", "softmax", "pool_global"]
    audio = spec(tmp_path, "input: [8000, 1]\nlayers:\n  - {type: conv, filters: 32, "
                           "kernel: 3}\n  - {name: pool, type: pool, kernel: 4}\n")
    assert time_json(audio, "--device", "t4")["layers"][1]["kind"] == "pool_1d"
    trained = time_json(audio, "--device", "t4", "--mode", "training")
    assert trained["layers"][1]["kind"] == "pool_tiled"
    bn = spec(tmp_path, "input: [8, 8, 16]\nlayers:\n  - {type: batchnorm}\n")
    assert [time_json(bn, "--device", "t4", "--mode", mode)["layers"][0]["kind"]
            for mode in ("inference", "training")] == ["norm", "norm_train"]
    clip = spec(tmp_path, "input: [8, 28, 28, 16]\nlayers:\n  - {type: conv, filters: 16, "
                          "kernel: 3, padding: 1}\n")
    assert time_json(clip, "--device", "t4")["layers"][0]["kind"] == "conv_3d"


def test_attention_runs_its_projections_products_and_score_passes():
    """MobileViT-XXS's first transformer attention (64 channels at 32x32, 4 heads of 16,
    2x2 patches: 4 groups of 256 tokens): its kernels as the math path runs them; the
    products' MACs are the layer's."""
    from cnncalc.layers.attention import Attention
    from cnncalc.layers.shape import Shape
    layer = Attention(heads=4, patch=2)
    x = Shape((32, 32), 64)
    kernels = layer.time_kernels((x,), layer.shape(x))
    n, scores = 32 * 32, 4 * 4 * 256 * 256  # tokens; groups x heads x L x L
    assert [(k.kind, k.macs) for k in kernels if k.macs] == [
        ("matmul", n * 64 * 3 * 64),  # q, k, v: each token times a 64 x 192 map
        ("matmul", scores * 16),  # q k^T: d_k = 16 per score
        ("matmul", scores * 16),  # attention x v: d_v = 16 per score
        ("matmul", n * 64 * 64)]  # the output map
    assert sum(k.macs for k in kernels) == layer.counts(x, layer.shape(x)).macs
    assert [k.values for k in kernels if k.kind == "softmax"] == [2 * scores]  # read, write


def test_lenet5s_own_modules_run_as_exported():
    """C3's connection table runs as a dense conv over all six maps (TableConv scatters the
    60 connected kernels into zeros first); the subsampling is a pool and three passes; the
    RBF output three passes over its 84 x 10 links (LeCun et al. 1998)."""
    from cnncalc import zoo
    from cnncalc.analysis.analyze import analyze
    from cnncalc.language.document import load as load_spec
    network = load_spec(zoo.path_of("lenet5"), "lenet5.yaml")
    rows = {row.name: row for row in analyze(network).rows}
    nodes = {node.name: node for node in network.nodes}

    def kernels(name):
        row = rows[name]
        return nodes[name].layer.time_kernels(tuple(row.input_shapes), row.output_shape)
    c3 = kernels("C3")
    assert [k.kind for k in c3] == ["elementwise", "elementwise", "stem"]
    assert c3[2].macs == 16 * 6 * 5 * 5 * 10 * 10  # dense: every filter reads all 6 maps
    assert c3[2].macs > rows["C3"].totals.macs == 60 * 25 * 100  # the table's own MACs
    assert [k.kind for k in kernels("S2")] == ["pool_tiled", *["elementwise"] * 3]
    assert [k.values for k in kernels("output")] == [84 + 2 * 840, 2 * 840, 840 + 10]


def test_gpu_matrix_products_run_at_the_fp32_peak_not_tf32(tmp_path):
    """cuBLAS matmuls keep FP32 (torch.backends.cuda.matmul.allow_tf32 is False): attention's
    q k^T on an A100 at 19.5 TFLOP/s x the matmul efficiency."""
    from cnncalc.analysis.timing import TimeSettings, rates_of
    rates = rates_of(devices.table()["a100-80gb"], TimeSettings("a100-80gb"))
    assert rates.compute_seconds("matmul", 1e12) == pytest.approx(
        1e12 / (GPU_EFFICIENCY["matmul"] * 19.5e12))


def test_time_never_imports_numpy():
    code = ("import sys; from cnncalc.cli import main; "
            "sys.argv = ['cnncalc', 'time', 'resnet152', '--device', 'a100-80gb']"
            "\ntry:\n    main()\nexcept SystemExit:\n    pass\n"
            "assert 'numpy' not in sys.modules, 'numpy imported'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr


# --- calibration ----------------------------------------------------------------------------

def fake_calibration(**changes) -> Calibration:
    """A calibration written by hand (not measured): 100 GFLOP/s, 10 GB/s, 5 us per op."""
    from cnncalc import __version__
    rate, bandwidth = 100e9, 10e9
    curve = [(w, w / rate) for w in (1e6, 1e9)]
    passes = [(b, b / bandwidth) for b in (1e4, 1e8)]
    fields = dict(forward={"conv": curve, "gemm": curve, "pool": passes, "norm": passes},
                  backward={"conv": [(w, 2 * t) for w, t in curve], "elementwise": passes},
                  elementwise=passes, overhead=5e-6, backward_overhead=10e-6, threads=1,
                  backend="hand", machine=machine_id(), version=__version__)
    fields.update(changes)
    return Calibration(**fields)


def test_cpu_before_calibration_says_how_to_run_it():
    result = run("time", "lenet5", "--device", "cpu")
    assert result.exit_code == 2
    assert "run `cnncalc calibrate`" in result.stderr and len(result.stderr.splitlines()) == 1


def test_a_weight_floor_bounds_fc_and_conv_times_from_below():
    """An fc layer streams its weights once per call whatever the batch: the longer of the
    GEMM curve at its FLOPs and the matrix-vector curve at its weight count; a conv's floor
    is oneDNN's weight layout. Hand-made curves: 100 GFLOP/s; 1 ns per weight."""
    streamed = [(w, w * 1e-9) for w in (1e3, 1e8)]
    calibration = fake_calibration(forward={**fake_calibration().forward, "gemv": streamed,
                                            "conv_weights": streamed})
    weights = 4096 * 4096
    for rows in (1, 8):  # 2 x rows x weights FLOPs at 100 GFLOP/s against 16.8 ms of weights
        assert calibration.compute_seconds("gemm", 2 * rows * weights, weights=weights) == \
            pytest.approx(max(2 * rows * weights / 100e9, weights * 1e-9))
    assert calibration.compute_seconds("conv", 2e6, weights=48000) == pytest.approx(48e-6)
    assert calibration.compute_seconds("conv1x1", 2e6, weights=48000) == pytest.approx(2e-5)


@pytest.mark.slow
def test_calibrate_without_pytorch_measures_with_numpy():
    """The NumPy path: im2col products for every compute kind but the 3-D conv (which takes
    the 2-D kxk curve), softmax and SiLU passes; the rest fall back to the ReLU pass."""
    from cnncalc.analysis.calibrate_numpy import measure_numpy
    from cnncalc.layers.base import COMPUTE_KINDS
    calibration = measure_numpy(lambda *args: None)
    assert calibration.backend.startswith("numpy")
    assert set(calibration.forward) >= set(COMPUTE_KINDS) - {"conv_3d"} | {
        "softmax", "elementwise_exp"}
    assert calibration.compute_seconds("conv_3d", 1e9) == calibration.compute_seconds("conv", 1e9)


def test_calibration_keeps_freed_memory_where_malloc_is_glibcs():
    """glibc's mallopt is there to call (no mmap'd blocks, no trimming); elsewhere the call
    says it could not."""
    import platform
    from cnncalc.analysis.calibrate import keep_freed_memory
    assert keep_freed_memory() is (platform.libc_ver()[0] == "glibc")


def test_stored_calibration_is_read_back_and_used(cache):
    path = store(fake_calibration())
    assert path == cache / "cnncalc" / "calibration.json" == cache_path()
    assert not list(path.parent.glob(".calibration.*"))  # the temporary file renamed
    calibration, warning = load()
    assert warning is None and calibration.peak() == pytest.approx(100e9)
    out = time_json(spec(cache.parent, CONV_NET), "--device", "cpu", "--batch", 4)
    macs = 4 * 56 * 56 * 64 * 64 * 9
    conv = out["layers"][0]
    assert conv["kind"] == "conv" and conv["seconds"] == pytest.approx(2 * macs / 100e9)
    assert out["status"] == "calibrated on this machine"


@pytest.mark.parametrize("change, words", [
    (lambda p: p.write_text("{not json"), "is not a calibration file"),
    (lambda p: p.write_bytes(b"\xff\xfe\x00"), "is not a calibration file"),
    (lambda p: p.write_text("[1, 2]"), "is not a calibration file"),
    (lambda p: p.write_text(p.read_text().replace('"version": "', '"version": "0.0.0-')),
     "was measured by cnncalc 0.0.0-"),
    (lambda p: p.write_text(p.read_text().replace('"cores": ', '"cores": 1000')),
     "another machine"),
    (lambda p: p.write_text(p.read_text().replace('"threads": 1', '"threads": "x"')),
     "is not a calibration file"),
    # a file of the first layout (before the kinds of format 2): measured anew
    (lambda p: p.write_text(p.read_text().replace('"format": 2', '"format": 1')),
     "has another layout"),
])
def test_unusable_calibration_is_ignored_with_one_warning_line(change, words):
    path = store(fake_calibration())
    change(path)
    calibration, warning = load()
    assert calibration is None and words in warning and "\n" not in warning
    result = run("time", "lenet5", "--device", "cpu")
    assert result.exit_code == 2  # then: not calibrated, say how
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("warning: ") and "calibrate" in lines[1]


@pytest.mark.slow
def test_calibrate_measures_every_kind_of_this_machine(cache):
    """Every kind the layers answer has its measured curve (how long calibrate takes is a
    benchmark: docs/performance.md)."""
    pytest.importorskip("torch")
    from cnncalc.layers.base import COMPUTE_KINDS, PASS_KINDS
    result = run("calibrate", "--threads", 1)
    assert result.exit_code == 0, result.output
    assert "measuring this machine with torch" in result.stderr
    calibration, warning = load()
    assert warning is None
    assert set(calibration.forward) | {"elementwise"} >= set(COMPUTE_KINDS) | set(PASS_KINDS)
    assert calibration.elementwise  # the ReLU pass: its own list (the bandwidth)
    # what a training step reads: every kind's backward but the 1-D pool's (training takes
    # the 2-D pool) and batch norm's eval pass (training takes its own)
    assert set(calibration.backward) >= set(COMPUTE_KINDS) | set(PASS_KINDS) - {"pool_1d"}
    assert calibration.threads == 1 and calibration.overhead > 0


# --- training -------------------------------------------------------------------------------

def test_training_backward_of_the_first_conv_is_its_weight_gradient_only(tmp_path):
    out = time_json(spec(tmp_path, CONV_NET), "--device", "flops=1e12,bandwidth=1e15",
                    "--batch", 4, "--mode", "training")
    macs = 4 * 56 * 56 * 64 * 64 * 9
    conv = out["layers"][0]
    assert conv["forward_seconds"] == pytest.approx(2 * macs / (GPU_EFFICIENCY["conv"] * 1e12))
    # the network input needs no gradient: the weight gradient's MACs (= the forward's) alone
    assert conv["backward_seconds"] == pytest.approx(2 * macs / (GPU_EFFICIENCY["conv"] * 1e12))
    assert out["mode"] == "training" and out["optimizer"] == "sgd"


def test_gpu_optimizer_step_moves_its_state_once_over_every_tensor():
    out = time_json("resnet18", "--device", "flops=1e15,bandwidth=1e9", "--mode", "training",
                    "--optimizer", "adam")
    params = 11_689_512  # torchvision's resnet18
    moved = params * 7 * 4  # Adam reads p, g, m, v and writes m, v, p: float32
    assert out["optimizer_seconds"] == pytest.approx(moved / (GPU_BANDWIDTH_EFFICIENCY * 1e9))
    assert out["total_seconds"] == pytest.approx(
        sum(layer["seconds"] for layer in out["layers"]) + out["optimizer_seconds"])


# --- compare and the report page --------------------------------------------------------------

def test_compare_with_a_device_adds_the_time_row():
    result = run("compare", "resnet18", "resnet50", "--device", "a100-80gb", "--batch", 64,
                 "--format", "json")
    assert result.exit_code == 0, result.output
    row = json.loads(result.stdout)["totals"][-1]
    alone = [time_json(name, "--device", "a100-80gb", "--batch", 64)["total_seconds"]
             for name in ("resnet18", "resnet50")]
    assert row["key"] == "seconds on a100-80gb (batch 64)"
    assert (row["a"], row["b"]) == pytest.approx(tuple(alone))
    assert run("compare", "resnet18", "resnet50", "--device", "a100").exit_code == 2


def test_report_page_gets_a_time_chart_with_a_device(tmp_path):
    page = tmp_path / "r.html"
    result = run("report", "lenet5", "-o", page, "--device", "t4")
    assert result.exit_code == 0, result.output
    assert "Predicted time per layer on t4" in page.read_text()
    plain = tmp_path / "p.html"
    assert run("report", "lenet5", "-o", plain).exit_code == 0
    assert "Predicted time per layer" not in plain.read_text()


def test_calibrated_training_step_adds_the_measured_fixed_cost(cache):
    store(fake_calibration(step_overhead=0.25))
    net = spec(cache.parent, CONV_NET)
    out = time_json(net, "--device", "cpu", "--mode", "training")
    layers = sum(layer["seconds"] for layer in out["layers"])
    # one parameter tensor (the conv's weight): SGD's update pass, at least the 5 us floor
    assert out["optimizer_seconds"] >= 0.25 + 5e-6
    assert out["total_seconds"] == pytest.approx(layers + out["optimizer_seconds"])
    assert time_json(net, "--device", "cpu")["total_seconds"] < 0.25  # inference: none


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["inference", "training"])
def test_every_zoo_layer_answers_a_known_time_kind(mode):
    from cnncalc import zoo
    from cnncalc.analysis.analyze import analyze
    from cnncalc.analysis.timing import TimeSettings, predict
    from cnncalc.language.document import load as load_spec
    from cnncalc.layers.base import TIME_KINDS
    device = devices.table()["t4"]
    for name in zoo.names():
        network = load_spec(zoo.path_of(name), f"{name}.yaml")
        analysis = analyze(network)
        report = predict(network, analysis, device, TimeSettings("t4", 2, mode))
        assert {layer.kind for layer in report.layers} <= set(TIME_KINDS), name
        assert report.total_seconds > 0 and all(layer.seconds >= 0 for layer in report.layers)
        # a layer that multiplies and accumulates is timed at a compute rate, never as a pass
        # over memory (the attention layer's products were, before they said gemm)
        macs = {row.name: row.totals.macs for row in analysis.rows}
        assert not [layer.name for layer in report.layers
                    if macs.get(layer.name) and layer.kind in ("elementwise", "none")], name


def test_a_device_family_name_suggests_its_sizes():
    """`a100` names two table entries (40 and 80 GB): both are suggested, not the nearest
    spelling (v100)."""
    from cnncalc.errors import CnnCalcError
    with pytest.raises(CnnCalcError) as caught:
        devices.lookup("a100")
    assert "'a100-40gb' or 'a100-80gb'" in caught.value.diagnostic.message
