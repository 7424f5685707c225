"""`cnncalc import` and .onnx files given to other commands: what is written, and every bad
file as one line with exit 2 (truncated, not ONNX, unknown op, dynamic size, missing
external data, too large, onnx not installed)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from cnncalc.errors import CnnCalcError  # noqa: E402


def model(shape=(1, 3, 8, 8), op="Relu"):
    """conv 3->4 (3x3, pad 1, bias) then `op`."""
    rng = np.random.default_rng(0)
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", pads=[1, 1, 1, 1]),
         helper.make_node(op, ["c"], ["y"], name="act")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "w"),
         numpy_helper.from_array(np.zeros(4, np.float32), "b")])
    made = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return onnx.shape_inference.infer_shapes(made)  # the output's shape, as exporters write it


PARAMS = 4 * 3 * 3 * 3 + 4  # the conv's weights and biases


def python(*args):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True,
                          env=env, check=False)


def cli(*args):
    return python("-m", "cnncalc", *args)


def one_line_error(result, *words):
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def good(tmp_path):
    path = tmp_path / "net.onnx"
    onnx.save(model(), str(path))
    return path


def test_import_writes_a_spec_with_the_same_totals(good, tmp_path):
    import json
    out = tmp_path / "net.yaml"
    done = cli("import", good, "-o", out)
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    assert text.startswith("# imported by cnncalc import from")
    # the Relu, the conv output's only reader, is written as the conv's activation
    assert "{name: conv, type: conv, filters: 4, kernel: 3, padding: 1, activation: relu}" in text
    direct = json.loads(cli("summarize", good, "--format", "json").stdout)["totals"]
    written = json.loads(cli("summarize", out, "--format", "json").stdout)["totals"]
    assert direct == written
    assert direct["params"] == PARAMS
    assert direct["macs"] == 4 * 3 * 3 * 3 * 8 * 8


def test_import_refuses_to_overwrite_without_force(good, tmp_path):
    out = tmp_path / "net.yaml"
    out.write_text("keep")
    one_line_error(cli("import", good, "-o", out), "exists", "--force")
    assert out.read_text() == "keep"
    assert cli("import", good, "-o", out, "--force").returncode == 0
    assert out.read_text().startswith("# imported")


def test_other_commands_read_onnx_files(good):
    assert cli("validate", good).returncode == 0
    done = cli("memory", good, "--batch", "32")
    assert done.returncode == 0, done.stderr
    assert cli("explain", good, "conv").returncode == 0


def test_truncated_protobuf(good, tmp_path):
    data = good.read_bytes()
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(data[: len(data) // 2])
    one_line_error(cli("summarize", cut), "cut.onnx: error:")


def test_not_an_onnx_file(tmp_path):
    path = tmp_path / "spec.onnx"
    path.write_text("input: [8, 8, 3]\nlayers: [relu]\n")
    one_line_error(cli("summarize", path), "spec.onnx: error:")
    path.write_bytes(b"")
    one_line_error(cli("summarize", path), "not an ONNX model")


def test_missing_file_and_wrong_suffix(tmp_path, good):
    one_line_error(cli("summarize", tmp_path / "absent.onnx"), "cannot read")
    one_line_error(cli("import", tmp_path / "net.yaml", "-o", tmp_path / "x.yaml"), "ONNX files")


def test_unknown_op_lists_type_and_node(tmp_path):
    path = tmp_path / "sin.onnx"
    onnx.save(model(op="Sin"), str(path))
    one_line_error(cli("summarize", path), "Sin (act)")


def test_dynamic_spatial_size_needs_input(tmp_path):
    path = tmp_path / "dyn.onnx"
    onnx.save(model(shape=("N", 3, "H", "W")), str(path))
    one_line_error(cli("summarize", path), "--input", "[N, 3, H, W]")
    import json
    done = cli("summarize", path, "--input", "16x16x3", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["totals"]["macs"] == 4 * 3 * 3 * 3 * 16 * 16
    one_line_error(cli("summarize", path, "--input", "16x3"), "--input")


def test_missing_external_data(tmp_path):
    path = tmp_path / "ext.onnx"
    onnx.save_model(model(), str(path), save_as_external_data=True, location="ext.data",
                    size_threshold=0)
    assert cli("summarize", path).returncode == 0
    (tmp_path / "ext.data").write_bytes(b"")
    one_line_error(cli("summarize", path), "cut short")
    os.remove(tmp_path / "ext.data")
    one_line_error(cli("summarize", path), "missing")


def test_devices_and_fifos_are_refused(tmp_path):
    link = tmp_path / "zero.onnx"
    link.symlink_to("/dev/zero")
    one_line_error(cli("summarize", link), "not a regular file")
    fifo = tmp_path / "pipe.onnx"
    os.mkfifo(fifo)
    one_line_error(cli("summarize", fifo), "not a regular file")


def test_size_limit(good):
    from cnncalc.interop.onnx_file import read_model
    with pytest.raises(CnnCalcError) as info:
        read_model(str(good), "net.onnx", limit=100)
    assert "larger than" in info.value.diagnostic.format()


def test_two_inputs_refused(tmp_path):
    graph = helper.make_graph(
        [helper.make_node("Add", ["a", "b"], ["y"])], "g",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 3, 4, 4]) for n in "ab"],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 4, 4])])
    path = tmp_path / "two.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    one_line_error(cli("summarize", path), "exactly one input")


def test_without_the_onnx_package(good):
    code = ("import sys; sys.modules['onnx'] = None; sys.argv = ['cnncalc', 'summarize', "
            f"{str(good)!r}]; from cnncalc.cli import main; main()")
    done = python("-c", code)
    one_line_error(done, "pip install 'cnncalc[onnx]'")


def test_yaml_specs_never_import_onnx():
    code = ("import sys; sys.argv = ['cnncalc', 'summarize', 'lenet5']\n"
            "from cnncalc.cli import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print('onnx' in sys.modules, file=sys.stderr)")
    done = python("-c", code)
    assert done.stderr.strip().endswith("False"), done.stderr
