"""ONNX import, one small graph per op built with onnx.helper. Expected shapes come from
ONNX's own shape inference, parameters from the initializers named w* (the weights; s* are
settings such as Clip bounds), MACs from the formula of the op."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper, shape_inference  # noqa: E402

from cnncalc.analysis.analyze import analyze  # noqa: E402
from cnncalc.errors import CnnCalcError  # noqa: E402
from cnncalc.interop.onnx_import import load_onnx  # noqa: E402

RNG = np.random.default_rng(0)
X = [1, 4, 8, 8]  # N, C, H, W


def w(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def ints(*values):
    return np.array(values, dtype=np.int64)


def make(nodes, inits=None, shape=X, opset=17, out=None):
    graph = helper.make_graph(
        nodes, "t", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, out) if out
         else helper.make_empty_tensor_value_info("y")],
        initializer=[numpy_helper.from_array(np.asarray(v), k) for k, v in (inits or {}).items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    return shape_inference.infer_shapes(model)  # gives the output its type, as exporters do


def node(op, inputs, output="y", **attributes):
    return helper.make_node(op, inputs, [output], name=f"{op}_{output}", **attributes)


def inferred_output(model) -> list:
    """The output's shape by onnx.shape_inference, written channels last as cnncalc does."""
    done = shape_inference.infer_shapes(model, strict_mode=True)
    dims = [d.dim_value for d in done.graph.output[0].type.tensor_type.shape.dim]
    if len(dims) == 2:  # [N, features]
        rank = len(model.graph.input[0].type.tensor_type.shape.dim) - 2
        return [1] * rank + [dims[1]]
    return [*dims[2:], dims[1]]


def weights(model) -> int:
    return sum(int(np.prod(t.dims)) for t in model.graph.initializer if t.name.startswith("w"))


def imported(tmp_path, model, types):
    """Import; check the layer types, the output shape and the parameter count."""
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    network, spec, _ = load_onnx(str(path))
    report = analyze(network)
    assert [layer["type"] for layer in spec["layers"]] == types
    assert report.output_shape.as_list() == inferred_output(model)
    assert report.totals.params == weights(model)
    return report, spec


def refused(tmp_path, model) -> str:
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    with pytest.raises(CnnCalcError) as info:
        load_onnx(str(path))
    text = info.value.diagnostic.format()
    assert "\n" not in text and info.value.exit_code == 2
    return text


def test_conv_with_bias_stride_and_padding(tmp_path):
    model = make([node("Conv", ["x", "w", "wb"], kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                       strides=[2, 2])], {"w": w(6, 4, 3, 3), "wb": w(6)})
    report, _ = imported(tmp_path, model, ["conv"])
    out = inferred_output(model)  # [4, 4, 6]
    assert report.totals.macs == 6 * 4 * 3 * 3 * out[0] * out[1]


def test_grouped_dilated_conv_with_uneven_pads(tmp_path):
    model = make([node("Conv", ["x", "w"], group=2, dilations=[2, 2], pads=[0, 1, 1, 2])],
                 {"w": w(8, 2, 3, 3)})
    report, spec = imported(tmp_path, model, ["conv"])
    assert spec["layers"][0]["padding"] == [0, 1, 1, 2]  # top, bottom, left, right
    assert spec["layers"][0]["bias"] is False
    out = inferred_output(model)
    assert report.totals.macs == 8 * 2 * 3 * 3 * out[0] * out[1]


@pytest.mark.parametrize("auto_pad", ["SAME_UPPER", "SAME_LOWER", "VALID"])
def test_conv_auto_pad(tmp_path, auto_pad):
    model = make([node("Conv", ["x", "w"], auto_pad=auto_pad, strides=[2, 2])],
                 {"w": w(3, 4, 4, 4)}, shape=[1, 4, 9, 9])
    imported(tmp_path, model, ["conv"])


def test_conv_transpose(tmp_path):
    model = make([node("ConvTranspose", ["x", "w", "wb"], strides=[2, 2], pads=[1, 1, 1, 1],
                       output_padding=[1, 1])], {"w": w(4, 3, 3, 3), "wb": w(3)})
    report, _ = imported(tmp_path, model, ["deconv"])
    assert report.totals.macs == 4 * 8 * 8 * 3 * 3 * 3  # every input value x a K x F x F kernel


@pytest.mark.parametrize("op,attributes", [
    ("MaxPool", {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}),
    ("MaxPool", {"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1}),
    ("AveragePool", {"kernel_shape": [2, 2]}),  # ONNX's stride defaults to 1
    ("AveragePool", {"kernel_shape": [3, 3], "strides": [2, 2], "auto_pad": "SAME_UPPER"}),
])
def test_pooling(tmp_path, op, attributes):
    imported(tmp_path, make([node(op, ["x"], **attributes)]), ["pool"])


@pytest.mark.parametrize("op", ["GlobalAveragePool", "GlobalMaxPool"])
def test_global_pooling(tmp_path, op):
    imported(tmp_path, make([node(op, ["x"])]), ["pool"])


def test_reduce_mean_over_space_is_global_pooling(tmp_path):
    model = make([node("ReduceMean", ["x", "s"], "m", keepdims=0),
                  node("Gemm", ["m", "w", "wb"], transB=1)],
                 {"s": ints(2, 3), "w": w(5, 4), "wb": w(5)}, opset=18)
    report, _ = imported(tmp_path, model, ["pool", "fc"])
    assert report.totals.macs == 4 * 5


def test_batch_and_instance_norm(tmp_path):
    model = make([node("BatchNormalization", ["x", "w1", "w2", "w3", "w4"], "b", epsilon=1e-3),
                  node("InstanceNormalization", ["b", "w5", "w6"])],
                 {f"w{i}": np.abs(w(4)) for i in range(1, 7)})
    _, spec = imported(tmp_path, model, ["batchnorm", "instancenorm"])
    assert spec["layers"][0]["eps"] == 1e-3


def test_group_norm(tmp_path):
    model = make([node("GroupNormalization", ["x", "w1", "w2"], num_groups=2)],
                 {"w1": w(4), "w2": w(4)}, opset=21, out=X)
    _, spec = imported(tmp_path, model, ["groupnorm"])
    assert spec["layers"][0]["groups"] == 2


@pytest.mark.parametrize("bias", [True, False])
def test_layer_norm_channels_last(tmp_path, bias):
    """ConvNeXt's LayerNorm2d: channels last, normalise the last axis, channels back."""
    inputs = ["t", "w1", "w2"] if bias else ["t", "w1"]
    model = make([node("Transpose", ["x"], "t", perm=[0, 2, 3, 1]),
                  node("LayerNormalization", inputs, "n", axis=-1),
                  node("Transpose", ["n"], perm=[0, 3, 1, 2])],
                 {"w1": w(4), "w2": w(4)} if bias else {"w1": w(4)})
    imported(tmp_path, model, ["layernorm"] if bias else ["layernorm", "scale"])


@pytest.mark.parametrize("op,attributes,kind", [
    ("Relu", {}, "relu"), ("Sigmoid", {}, "sigmoid"), ("Tanh", {}, "tanh"),
    ("LeakyRelu", {"alpha": 0.2}, "leaky_relu"), ("Elu", {"alpha": 0.5}, "elu"),
    ("HardSwish", {}, "hardswish"), ("HardSigmoid", {"alpha": 1 / 6, "beta": 0.5}, "hardsigmoid"),
    ("Softmax", {"axis": 1}, "softmax"), ("LRN", {"size": 3}, "lrn"),
])
def test_activations(tmp_path, op, attributes, kind):
    imported(tmp_path, make([node(op, ["x"], **attributes)]), [kind])


def test_gelu(tmp_path):
    imported(tmp_path, make([node("Gelu", ["x"])], opset=20), ["gelu"])


def test_gelu_written_with_erf(tmp_path):
    """x / sqrt(2) -> Erf -> + 1 -> x * that -> * 0.5 (PyTorch's legacy exporter, opset 17)."""
    def scalar(v):
        return np.array(v, np.float32)
    model = make([node("Div", ["x", "s1"], "d"), node("Erf", ["d"], "e"),
                  node("Add", ["e", "s2"], "a"), node("Mul", ["x", "a"], "m"),
                  node("Mul", ["m", "s3"])],
                 {"s1": scalar(2 ** 0.5), "s2": scalar(1), "s3": scalar(0.5)})
    imported(tmp_path, model, ["gelu"])
    model.graph.initializer[2].CopyFrom(numpy_helper.from_array(scalar(0.25), "s3"))
    assert "Div" in refused(tmp_path, model)


@pytest.mark.parametrize("high,kind", [(6.0, "relu6"), (np.inf, "relu")])
def test_clip(tmp_path, high, kind):
    model = make([node("Clip", ["x", "s1", "s2"])],
                 {"s1": np.array(0, np.float32), "s2": np.array(high, np.float32)}, opset=13)
    imported(tmp_path, model, [kind])


def test_residual_add_and_concat(tmp_path):
    model = make([node("Conv", ["x", "w1"], "a", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
                  node("Add", ["a", "x"], "r"),
                  node("Conv", ["r", "w2"], "b", kernel_shape=[1, 1]),
                  node("Concat", ["r", "b"], axis=1)],
                 {"w1": w(4, 4, 3, 3), "w2": w(2, 4, 1, 1)})
    _, spec = imported(tmp_path, model, ["conv", "add", "conv", "concat"])
    assert spec["layers"][1]["inputs"] == [spec["layers"][0]["name"], "input"]
    assert spec["layers"][3]["inputs"] == [spec["layers"][1]["name"], spec["layers"][2]["name"]]


def test_squeeze_excitation_and_silu(tmp_path):
    model = make([node("GlobalAveragePool", ["x"], "p"),
                  node("Conv", ["p", "w1", "w2"], "q", kernel_shape=[1, 1]),
                  node("Sigmoid", ["q"], "g"),
                  node("Mul", ["x", "g"], "e"),
                  node("Sigmoid", ["e"], "s"),
                  node("Mul", ["e", "s"])],  # x * sigmoid(x): SiLU
                 {"w1": w(4, 4, 1, 1), "w2": w(4)})
    _, spec = imported(tmp_path, model, ["pool", "conv", "multiply", "silu"])
    assert spec["layers"][1]["activation"] == "sigmoid"  # the gate: conv +sigmoid


def test_an_activation_fuses_only_into_its_only_reader(tmp_path):
    """Conv -> Relu becomes `conv ... activation: relu` (as specs are written by hand) only
    when the Relu is the conv output's one reader; a conv read twice keeps its own Relu."""
    fused = make([node("Conv", ["x", "w1"], "c", kernel_shape=[1, 1]), node("Relu", ["c"])],
                 {"w1": w(4, 4, 1, 1)})
    report, spec = imported(tmp_path, fused, ["conv"])
    assert spec["layers"][0]["activation"] == "relu"
    assert report.totals.activations == 4 * 8 * 8  # one tensor: the conv's, relu'd in place
    kept = make([node("Conv", ["x", "w1"], "c", kernel_shape=[1, 1]), node("Relu", ["c"], "r"),
                 node("Add", ["c", "r"])], {"w1": w(4, 4, 1, 1)})
    _, spec = imported(tmp_path, kept, ["conv", "relu", "add"])
    assert "activation" not in spec["layers"][0]


def test_scale_and_bias_constants(tmp_path):
    """A conv without bias + a per-channel constant: its bias; x a constant: `scale`."""
    model = make([node("Conv", ["x", "w1"], "c", kernel_shape=[1, 1]),
                  node("Add", ["c", "w2"], "b"),
                  node("Mul", ["b", "w3"])],
                 {"w1": w(4, 4, 1, 1), "w2": w(1, 4, 1, 1), "w3": w(4, 1, 1)})
    _, spec = imported(tmp_path, model, ["conv", "scale"])
    assert "bias" not in spec["layers"][0]  # cnncalc's default: with bias


def test_split_and_slice(tmp_path):
    model = make([helper.make_node("Split", ["x", "s1"], ["a", "b"], axis=1),
                  node("Slice", ["x", "s2", "s3", "s4", ""], "c"),
                  node("Relu", ["c"], "r"),
                  node("Concat", ["a", "b", "r"], axis=1)],
                 {"s1": ints(1, 3), "s2": ints(1), "s3": ints(3), "s4": ints(1)}, opset=13)
    _, spec = imported(tmp_path, model, ["slice", "slice", "slice", "relu", "concat"])
    assert [layer["channels"] for layer in spec["layers"][:3]] == [[0, 1], [1, 4], [1, 3]]


@pytest.mark.parametrize("flatten", [
    [node("Flatten", ["x"], "f")],
    [node("Reshape", ["x", "s"], "f")],
])
def test_flatten_then_gemm(tmp_path, flatten):
    model = make([*flatten, node("Gemm", ["f", "w1", "w2"], transB=1)],
                 {"s": ints(0, -1), "w1": w(10, 256), "w2": w(10)})
    report, _ = imported(tmp_path, model, ["flatten", "fc"])
    assert report.totals.macs == 4 * 8 * 8 * 10


def test_matmul_add_is_fc_with_bias(tmp_path):
    model = make([node("GlobalAveragePool", ["x"], "p"),
                  node("Squeeze", ["p", "s"], "q"),
                  node("MatMul", ["q", "w1"], "m"),
                  node("Add", ["m", "w2"], "a"),
                  node("Unsqueeze", ["a", "s"])],
                 {"s": ints(2, 3), "w1": w(4, 6), "w2": w(6)}, opset=13)
    _, spec = imported(tmp_path, model, ["pool", "fc"])
    assert "bias" not in spec["layers"][1]


def test_matmul_over_channels_last_is_a_pointwise_conv(tmp_path):
    model = make([node("Transpose", ["x"], "t", perm=[0, 2, 3, 1]),
                  node("MatMul", ["t", "w1"], "m"),
                  node("Add", ["m", "w2"], "a"),
                  node("Transpose", ["a"], perm=[0, 3, 1, 2])],
                 {"w1": w(4, 12), "w2": w(12)})
    report, _ = imported(tmp_path, model, ["conv"])
    assert report.totals.macs == 8 * 8 * 4 * 12


@pytest.mark.parametrize("mode,kind", [("nearest", "nearest"), ("linear", "bilinear")])
def test_resize(tmp_path, mode, kind):
    model = make([node("Resize", ["x", "", "s"], mode=mode)],
                 {"s": np.array([1, 1, 2, 3], np.float32)}, opset=13)
    _, spec = imported(tmp_path, model, ["upsample"])
    assert spec["layers"][0]["scale"] == [2, 3]


def test_pad_dropout_identity(tmp_path):
    model = make([node("Pad", ["x", "s1"], "p"),
                  node("Dropout", ["p", "s2"], "d"),
                  node("Identity", ["d"])],
                 {"s1": ints(0, 0, 1, 2, 0, 0, 3, 4), "s2": np.array(0.25, np.float32)}, opset=13)
    _, spec = imported(tmp_path, model, ["zeropad", "dropout"])
    assert spec["layers"][0]["padding"] == [1, 3, 2, 4]  # top, bottom, left, right
    assert spec["layers"][1]["rate"] == 0.25


def test_depth_to_space_and_back(tmp_path):
    model = make([node("DepthToSpace", ["x"], "d", blocksize=2, mode="CRD"),
                  node("SpaceToDepth", ["d"], blocksize=2)])
    imported(tmp_path, model, ["pixel_shuffle", "pixel_unshuffle"])


def test_channel_shuffle_pattern(tmp_path):
    model = make([node("Reshape", ["x", "s1"], "r"),
                  node("Transpose", ["r"], "t", perm=[0, 2, 1, 3, 4]),
                  node("Reshape", ["t", "s2"])],
                 {"s1": ints(1, 2, 2, 8, 8), "s2": ints(1, 4, 8, 8)})
    _, spec = imported(tmp_path, model, ["channel_shuffle"])
    assert spec["layers"][0]["groups"] == 2


def test_channels_last_input(tmp_path):
    """tf2onnx's Keras exports: an [N, H, W, C] input moved to channels-first at once."""
    model = make([node("Transpose", ["x"], "t", perm=[0, 3, 1, 2]),
                  node("Conv", ["t", "w"], kernel_shape=[3, 3])], {"w": w(6, 4, 3, 3)},
                 shape=[1, 10, 12, 4])
    report, spec = imported(tmp_path, model, ["conv"])
    assert spec["input"] == [10, 12, 4]
    assert report.totals.macs == 6 * 4 * 9 * 8 * 10


def test_weights_from_legacy_identity_and_constant_nodes(tmp_path):
    """A weight read through Identity (the legacy exporter's shared tensors) is a weight."""
    model = make([helper.make_node("Identity", ["w"], ["w_copy"]),
                  node("Conv", ["x", "w_copy"], kernel_shape=[1, 1])], {"w": w(3, 4, 1, 1)})
    imported(tmp_path, model, ["conv"])


@pytest.mark.parametrize("nodes,inits,opset,words", [
    ([node("Sin", ["x"])], {}, 17, ["Sin (Sin_y)"]),
    ([node("Erf", ["x"])], {}, 17, ["Erf outside GELU"]),
    ([node("Concat", ["x", "x"], axis=2)], {}, 17, ["axis 2"]),
    ([node("Clip", ["x", "s1", "s2"])], {"s1": np.array(-1, np.float32),
                                         "s2": np.array(1, np.float32)}, 13, ["[-1, 1]"]),
    ([node("Pad", ["x", "s"], mode="reflect")], {"s": ints(0, 0, 1, 1, 0, 0, 1, 1)}, 13,
     ["reflect"]),
    ([node("Add", ["x", "s"])], {"s": np.ones((4, 1, 1), np.float32)}, 17, ["constant"]),
    ([node("Gelu", ["x"], approximate="tanh")], {}, 20, ["tanh"]),
    ([node("Transpose", ["x"], perm=[0, 1, 3, 2])], {}, 17, ["permutes"]),
])
def test_unmapped_ops_are_one_line_errors(tmp_path, nodes, inits, opset, words):
    text = refused(tmp_path, make(nodes, inits, opset=opset))
    for word in words:
        assert word in text, text


def test_a_flat_gate_is_not_squeeze_excitation(tmp_path):
    """[N, C] x [N, C, H, W] broadcasts the C values along W in ONNX: not a channel gate."""
    model = make([node("GlobalAveragePool", ["x"], "p"), node("Flatten", ["p"], "f"),
                  node("Mul", ["x", "f"])], shape=[1, 4, 4, 4])
    assert "multiplies [1, 4, 4, 4] by [1, 4]" in refused(tmp_path, model)


@pytest.mark.parametrize("nodes,inits", [
    ([node("MaxPool", ["x"])], {}),  # kernel_shape is required
    ([node("Conv", ["x", "w"], kernel_shape=[3, 3])], {"w": w(6, 4, 5, 5)}),  # kernel disagrees
    ([node("Conv", ["x", "x"])], {}),  # weights computed from the input
])
def test_malformed_nodes_are_one_line_errors(tmp_path, nodes, inits):
    graph = helper.make_graph(
        nodes, "t", [helper.make_tensor_value_info("x", TensorProto.FLOAT, X)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, X)],
        initializer=[numpy_helper.from_array(v, k) for k, v in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    assert "error:" in refused(tmp_path, model)


def test_every_unmapped_op_is_listed_at_once(tmp_path):
    model = make([node("Cos", ["x"], "a"), node("Sin", ["a"], "b"), node("Cos", ["b"])])
    text = refused(tmp_path, model)
    assert "Cos (Cos_a, Cos_y)" in text and "Sin (Sin_b)" in text


def test_the_shape_check_catches_a_wrong_mapping(tmp_path, monkeypatch):
    """Never a silently wrong count: a mapping that disagrees with ONNX's inference fails."""
    from cnncalc.interop import onnx_registry

    def wrong(imp, node_, attributes):
        imp.emit({"type": "pool", "kernel": 2}, [imp.value(node_.input[0])], node_.output[0])
    monkeypatch.setitem(onnx_registry.HANDLERS, "Relu", wrong)
    text = refused(tmp_path, make([node("Relu", ["x"])]))
    assert "differs from ONNX's [1, 4, 8, 8]" in text


@pytest.mark.parametrize("rank", [1, 3])
def test_one_and_three_dimensional_models(tmp_path, rank):
    k = [3] * rank
    model = make([node("Conv", ["x", "w1", "w2"], "c", kernel_shape=k, pads=[1] * 2 * rank),
                  node("BatchNormalization", ["c", "w3", "w4", "w5", "w6"], "b"),
                  node("Relu", ["b"], "r"),
                  node("MaxPool", ["r"], "m", kernel_shape=[2] * rank, strides=[2] * rank),
                  node("GlobalAveragePool", ["m"], "g"),
                  node("Flatten", ["g"], "f"),
                  node("Gemm", ["f", "w7", "w8"], transB=1)],
                 {"w1": w(6, 4, *k), "w2": w(6), "w3": w(6), "w4": w(6), "w5": w(6),
                  "w6": np.abs(w(6)), "w7": w(3, 6), "w8": w(3)}, shape=[1, 4] + [8] * rank)
    # the Flatten of a 1x..x1xC global pool keeps the values in place: no layer
    report, _ = imported(tmp_path, model, ["conv", "batchnorm", "relu", "pool", "pool", "fc"])
    assert report.totals.macs == 6 * 4 * 3 ** rank * 8 ** rank + 6 * 3


@pytest.mark.parametrize("rank", [1, 3])
def test_one_and_three_dimensional_uneven_padding_and_resize(tmp_path, rank):
    pads = [0, 0, *range(1, rank + 1), 0, 0, *range(2, rank + 2)]
    model = make([node("Pad", ["x", "s1"], "p"),
                  node("Conv", ["p", "w"], "c", kernel_shape=[2] * rank,
                       pads=[1] * rank + [0] * rank),
                  node("Resize", ["c", "", "s2"])],
                 {"s1": ints(*pads), "w": w(5, 4, *[2] * rank),
                  "s2": np.array([1, 1] + [2] * rank, np.float32)},
                 shape=[1, 4] + [6] * rank, opset=13)
    _, spec = imported(tmp_path, model, ["zeropad", "conv", "upsample"])
    assert spec["layers"][0]["padding"] == [[i + 1, i + 2] for i in range(rank)]
