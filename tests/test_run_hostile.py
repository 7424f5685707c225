"""`run` against hostile input: sizes refused before allocating, input and weight files checked
from their headers, outputs written atomically, in-place ReLU after a view, seeds, warnings."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from cnncalc.analysis.analyze import analyze
from cnncalc.analysis.memory import build
from cnncalc.cli import app
from cnncalc.compute import run as compute_run
from cnncalc.language import loads

runner = CliRunner()
ROOT = Path(__file__).resolve().parent.parent
GiB = 2**30
HAVE = 8 * GiB  # the machine's available memory, as the tests pretend


@pytest.fixture
def eight_gib(monkeypatch):
    monkeypatch.setattr(compute_run, "available_bytes", lambda: HAVE)


def spec(tmp_path, text, name="net.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def one_line_error(result, code):
    assert result.exit_code == code, (result.exit_code, result.output)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


# --- 1. refused before allocating ---------------------------------------------------------------

HUGE = {
    # padded input: 1 x (8 + 2e6)^2 values; im2col 1 x 1 x 3 x 3 and the 3 x 3 x 1 product
    "conv": ("input: [8, 8, 1]\nlayers:\n"
             "  - {type: conv, filters: 1, kernel: 1, stride: 1000000, padding: 1000000}\n",
             1 * (8 + 2 * 10**6) ** 2 + 9 + 9),
    # dilated input ((2-1) x 300000 + 1)^2, padded by k-1 = 0, columns 1 x 1 x full, full output
    "deconv": ("input: [2, 2, 1]\nlayers:\n"
               "  - {type: deconv, filters: 1, kernel: 1, stride: 300000, padding: 150000}\n",
               4 * 300001**2),
    # the interpolation matrix along the height: (100000 x 8) x 100000 values
    "upsample": ("input: [100000, 1, 1]\nlayers:\n  - {type: upsample, scale: [8, 1]}\n",
                 800000 * 100000 + 1 * 1 + 800000),
    # im2col: 64 x 31 x 31 rows by 1024 x 1024 columns, plus the 1-channel matmul result
    "im2col": ("input: [1024, 1024, 64]\nlayers:\n"
               "  - {type: conv, filters: 1, kernel: 31, padding: 15}\n",
               64 * 1054 * 1054 + 64 * 31 * 31 * 1024 * 1024 + 1024 * 1024),
}


@pytest.mark.parametrize("case", sorted(HUGE))
def test_scratch_of_hundreds_of_gib_is_refused_before_allocating(tmp_path, eight_gib, case):
    text, scratch_values = HUGE[case]
    network = loads(text)
    report = analyze(network)
    held = build(network, report).peak_inference_bytes(1, 4)
    start = time.perf_counter()
    result = runner.invoke(app, ["run", spec(tmp_path, text)])
    assert time.perf_counter() - start < 2
    line = one_line_error(result, 1)
    need = held + 4 * scratch_values
    assert need > 100 * GiB
    assert "needs" in line and f"({need:,} B: " in line and "scratch in layer" in line
    assert "this machine has 8.0 GiB available" in line


def test_the_refusal_happens_in_a_process_that_cannot_allocate_much(tmp_path):
    """Under a 2 GiB address-space limit an attempt to allocate would die (exit 70), not 1."""
    path = spec(tmp_path, HUGE["im2col"][0])
    code = ("import resource; resource.setrlimit(resource.RLIMIT_AS, (3 * 2**30, 3 * 2**30));"
            "import sys; from cnncalc.cli import main; sys.argv = ['cnncalc', 'run', sys.argv[1]];"
            " main()")
    done = subprocess.run([sys.executable, "-c", code, path], cwd=ROOT, capture_output=True, check=False,
                          text=True, timeout=20, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 1, done.stderr
    assert "scratch in layer 'conv1'" in done.stderr


def test_huge_batch_is_refused(eight_gib):
    result = runner.invoke(app, ["run", "lenet5", "--batch", str(10**15)])
    assert "needs" in one_line_error(result, 1)


# --- 2. --input ------------------------------------------------------------------------------------

def test_input_batch_is_the_arrays_n_and_checked_before_loading(tmp_path, eight_gib):
    path = tmp_path / "x.npy"
    np.save(path, np.zeros((3, 1, 32, 32), dtype=np.float32))
    result = runner.invoke(app, ["run", "lenet5", "--input-file", str(path), "--batch", "7",
                                 "--format", "json"])
    assert result.exit_code == 0, result.output
    assert '"batch": 3' in result.stdout
    # 10^7 samples (41 GB, a sparse file): refused from the header, never read
    with open(path, "wb") as handle:
        np.lib.format.write_array_header_1_0(
            handle, {"descr": "<f4", "fortran_order": False, "shape": (10**7, 1, 32, 32)})
        handle.truncate(handle.tell() + 10**7 * 32 * 32 * 4)
    line = one_line_error(runner.invoke(app, ["run", "lenet5", "--input-file", str(path)]), 1)
    assert "at batch 10000000 needs" in line
    # a header declaring 10^9 samples over a few bytes of data
    with open(path, "wb") as handle:
        np.lib.format.write_array_header_1_0(
            handle, {"descr": "<f4", "fortran_order": False, "shape": (10**9, 1, 32, 32)})
        handle.write(b"\0" * 64)
    line = one_line_error(runner.invoke(app, ["run", "lenet5", "--input-file", str(path)]), 2)
    assert "the input declares 4,096,000,000,000 bytes of data but the file holds 64" in line


@pytest.mark.parametrize("array, code, words", [
    (np.zeros((0, 1, 32, 32), dtype=np.float32), 2, "the input holds no samples"),
    (np.zeros((1, 1, 32, 32), dtype=np.int64), 2, "int64 values, not floating-point"),
    (np.zeros((1, 1, 32, 32), dtype=np.complex64), 2, "complex64 values, not floating-point"),
    (np.zeros((1, 1, 32, 32), dtype=[("a", "<f4")]), 2, "not floating-point"),
    (np.array([None] * 1024, dtype=object).reshape(1, 1, 32, 32), 2, "object values"),
    (np.zeros((1, 32, 32), dtype=np.float32), 1, "expected [N, 1, 32, 32] (NCHW)"),
    (np.zeros((2, 3, 32, 32), dtype=np.float32), 1, "expected [N, 1, 32, 32] (NCHW)"),
])
def test_input_arrays_that_do_not_fit(tmp_path, array, code, words):
    path = tmp_path / "x.npy"
    np.save(path, array, allow_pickle=True)
    line = one_line_error(runner.invoke(app, ["run", "lenet5", "--input-file", str(path)]), code)
    assert words in line


def test_input_that_is_not_an_npy_file(tmp_path):
    np.savez(tmp_path / "x.npz", x=np.zeros((1, 1, 32, 32), dtype=np.float32))
    (tmp_path / "x.txt").write_text("1 2 3\n")
    for name in ("x.npz", "x.txt"):
        line = one_line_error(runner.invoke(app, ["run", "lenet5", "--input-file",
                                                  str(tmp_path / name)]), 2)
        assert "--input-file takes an .npy array file" in line
    hint = one_line_error(runner.invoke(app, ["run", "lenet5", "--input",
                                              str(tmp_path / "x.npz")]), 2)
    assert "--input takes a size such as 32x32x3" in hint and "--input-file" in hint
    truncated = tmp_path / "t.npy"
    np.save(truncated, np.zeros((2, 1, 32, 32), dtype=np.float32))
    truncated.write_bytes(truncated.read_bytes()[:-100])
    line = one_line_error(runner.invoke(app, ["run", "lenet5", "--input-file", str(truncated)]), 2)
    assert "declares 8,192 bytes of data but the file holds 8,092" in line


# --- 3. --weights ----------------------------------------------------------------------------------

@pytest.fixture
def lenet_weights(tmp_path):
    path = tmp_path / "w.npz"
    result = runner.invoke(app, ["run", "lenet5", "--save-weights", str(path)])
    assert result.exit_code == 0, result.output
    return dict(np.load(path))


def test_weights_files_that_are_not_npz_archives(tmp_path, lenet_weights):
    np.save(tmp_path / "w.npy", lenet_weights["C1.weight"])
    (tmp_path / "pk.npz").write_bytes(b"PK\x03\x04 not really a zip archive")
    line = one_line_error(runner.invoke(app, ["run", "lenet5", "--weights",
                                              str(tmp_path / "w.npy")]), 2)
    assert "is a single .npy array; --weights takes an .npz archive" in line
    line = one_line_error(runner.invoke(app, ["run", "lenet5", "--weights",
                                              str(tmp_path / "pk.npz")]), 2)
    assert "is not a readable .npz archive" in line


@pytest.mark.parametrize("value", [np.array(["a"] * 6), np.zeros(6, dtype=np.complex64),
                                   np.zeros(6, dtype=[("a", "<f4")]),
                                   np.array([None] * 6, dtype=object)])
def test_weights_of_the_wrong_kind_are_refused_never_cast(tmp_path, lenet_weights, value):
    lenet_weights["C1.bias"] = value
    np.savez(tmp_path / "bad.npz", **lenet_weights)
    line = one_line_error(runner.invoke(app, ["run", "lenet5", "--weights",
                                              str(tmp_path / "bad.npz")]), 2)
    assert "the array 'C1.bias' holds" in line and "not floating-point numbers" in line


def test_missing_extra_and_misshapen_weights_all_exit_1(tmp_path, lenet_weights):
    cases = [({k: v for k, v in lenet_weights.items() if k != "C1.bias"}, "missing array 'C1.bias'"),
             ({**lenet_weights, "extra.weight": np.zeros(1, dtype=np.float32)},
              "unexpected array 'extra.weight'"),
             ({**lenet_weights, "C1.bias": np.zeros(7, dtype=np.float32)},
              "array 'C1.bias' has shape [7], expected [6]")]
    for arrays, words in cases:
        np.savez(tmp_path / "bad.npz", **arrays)
        line = one_line_error(runner.invoke(app, ["run", "lenet5", "--weights",
                                                  str(tmp_path / "bad.npz")]), 1)
        assert words in line


def test_a_header_promising_more_data_than_the_member_holds(tmp_path, lenet_weights):
    path = tmp_path / "short.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for key, value in lenet_weights.items():
            with archive.open(key + ".npy", "w") as member:
                if key == "C1.bias":
                    np.lib.format.write_array_header_1_0(
                        member, {"descr": "<f4", "fortran_order": False, "shape": (2**30,)})
                    member.write(b"\0" * 2**20)
                else:
                    np.lib.format.write_array(member, value)
    line = one_line_error(runner.invoke(app, ["run", "lenet5", "--weights", str(path)]), 2)
    assert f"the array 'C1.bias' declares {2**32:,} bytes of data but the archive holds " \
           f"{2**20:,}" in line


@pytest.mark.slow  # compressing the 4 GiB takes half a minute
def test_a_4_gib_array_in_a_few_mb_is_refused_before_decompressing(tmp_path, lenet_weights):
    """The header says [2**30] float32; the member is never decompressed (that would take
    seconds and 4 GiB)."""
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for key, value in lenet_weights.items():
            if key != "C1.bias":
                with archive.open(key + ".npy", "w") as member:
                    np.lib.format.write_array(member, value)
        with archive.open("C1.bias.npy", "w", force_zip64=True) as member:
            np.lib.format.write_array_header_1_0(
                member, {"descr": "<f4", "fortran_order": False, "shape": (2**30,)})
            chunk = b"\0" * 2**24
            for _ in range(2**32 // len(chunk)):
                member.write(chunk)
    assert path.stat().st_size < 10 * 2**20
    start = time.perf_counter()
    line = one_line_error(runner.invoke(app, ["run", "lenet5", "--weights", str(path)]), 1)
    assert time.perf_counter() - start < 2
    assert f"array 'C1.bias' has shape [{2**30}], expected [6]" in line


# --- 4. --output and --save-weights ----------------------------------------------------------------

def test_output_names_and_folders_are_checked_before_the_run(tmp_path, monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("the run started")
    monkeypatch.setattr("cnncalc.cli.run_cmd.execute", never)
    line = one_line_error(runner.invoke(app, ["run", "lenet5", "--output",
                                              str(tmp_path / "missing" / "y.npy")]), 2)
    assert "does not exist" in line
    line = one_line_error(runner.invoke(app, ["run", "lenet5", "--output", str(tmp_path / "y")]), 2)
    assert "must end in .npy" in line and not (tmp_path / "y.npy").exists()
    line = one_line_error(runner.invoke(app, ["run", "lenet5", "--save-weights",
                                              str(tmp_path / "w.npy")]), 2)
    assert "must end in .npz" in line
    (tmp_path / "y.npy").write_bytes(b"old")
    line = one_line_error(runner.invoke(app, ["run", "lenet5", "--output",
                                              str(tmp_path / "y.npy")]), 2)
    assert "exists; pass --force" in line
    path = spec(tmp_path, "input: [4, 4, 1]\nlayers:\n  - relu\n", "net.npy")
    line = one_line_error(runner.invoke(app, ["run", path, "--output", path, "--force"]), 2)
    assert "is the input spec" in line


def test_force_overwrites(tmp_path):
    out = tmp_path / "y.npy"
    out.write_bytes(b"old")
    result = runner.invoke(app, ["run", "lenet5", "--output", str(out), "--force"])
    assert result.exit_code == 0, result.output
    assert np.load(out).shape == (1, 10, 1, 1)
    assert [p.name for p in tmp_path.iterdir()] == ["y.npy"]


def test_sigterm_during_the_write_leaves_the_old_file(tmp_path):
    out = tmp_path / "y.npy"
    out.write_bytes(b"old")
    code = ("import sys, time, numpy\n"
            "def slow(path, array, *a, **k):\n"
            "    with open(path, 'wb') as handle:\n"
            "        handle.write(b'partial'); handle.flush()\n"
            "    print('WRITING', flush=True); time.sleep(30)\n"
            "numpy.save = slow\n"
            "from cnncalc.cli import main\n"
            "sys.argv = ['cnncalc', 'run', 'lenet5', '--output', sys.argv[1], '--force']\n"
            "main()\n")
    process = subprocess.Popen([sys.executable, "-c", code, str(out)], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert process.stdout.readline().strip() == "WRITING"
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
    finally:
        process.kill()
    assert process.returncode == 128 + signal.SIGTERM
    assert out.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["y.npy"]


# --- 5. in-place ReLU after a flatten view ------------------------------------------------------

BRANCHED = """input: [4, 4, 2]
layers:
  - {type: conv, filters: 3, kernel: 3, padding: 1, name: c}
  - {type: flatten, name: f}
  - {ACT, name: r}
  - {type: fc, units: 5, name: a}
  - {type: fc, units: 5, name: b, inputs: [c]}
  - {type: add, inputs: [a, b]}
"""


def test_relu_after_a_shared_view_does_not_overwrite_the_other_branch(tmp_path):
    relu = spec(tmp_path, BRANCHED.replace("ACT", "type: relu"), "relu.yaml")
    elu = spec(tmp_path, BRANCHED.replace("ACT", "type: elu, alpha: 0"), "elu.yaml")
    for path, out in ((relu, "r.npy"), (elu, "e.npy")):
        result = runner.invoke(app, ["run", path, "--output", str(tmp_path / out)])
        assert result.exit_code == 0, result.output
    assert np.array_equal(np.load(tmp_path / "r.npy"), np.load(tmp_path / "e.npy"))
    network = loads(BRANCHED.replace("ACT", "type: relu"))
    model = build(network, analyze(network))
    assert [layer.allocates for layer in model.layers] == ["yes", "view", "yes", "yes", "yes",
                                                          "yes"]
    # every output counted but the flatten view: 48 + 48 + 5 + 5 + 5, with the 32 input values
    assert model.activation_values == 32 + 48 + 48 + 5 + 5 + 5


def test_relu_still_in_place_when_nothing_else_reads_the_buffer():
    network = loads("input: [4, 4, 2]\nlayers:\n  - {type: conv, filters: 3, kernel: 3}\n"
                    "  - flatten\n  - relu\n  - relu\n  - {type: fc, units: 5}\n")
    model = build(network, analyze(network))
    assert [layer.allocates for layer in model.layers] == ["yes", "view", "in place",
                                                          "in place", "yes"]


# --- 6. seeds --------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", ["-1", str(2**32), str(10**30)])
def test_seeds_out_of_range(seed):
    line = one_line_error(runner.invoke(app, ["run", "lenet5", "--seed", seed]), 2)
    assert "--seed: error: must be between 0 and 4294967295" in line


def test_largest_seed_runs():
    assert runner.invoke(app, ["run", "lenet5", "--seed", str(2**32 - 1)]).exit_code == 0


# --- 7. NumPy warnings -----------------------------------------------------------------------------

def test_overflow_is_one_line_not_a_numpy_warning(tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, np.full((2, 1, 4, 4), 3e38, dtype=np.float32))
    net = spec(tmp_path, "input: [4, 4, 1]\nlayers:\n  - {type: pool, mode: avg, kernel: 2}\n")
    done = subprocess.run([sys.executable, "-m", "cnncalc", "run", net, "--input-file", str(path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    # avg pooling sums four 3e38 values: inf in float32; 2 x 1 x 2 x 2 outputs
    assert done.stderr.strip() == "warning: the output has 8 non-finite values (inf or nan)"


def test_validate_forward_still_works():
    result = runner.invoke(app, ["validate", "--forward", "lenet5", "alexnet"])
    assert result.exit_code == 0, result.output
