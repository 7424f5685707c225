"""Training compute (issue 22, item 1): the backward pass split into input- and weight-gradient
MACs as autograd runs it, the elementwise backward FLOPs and the optimizer's FLOPs.

Oracles: the figures the issue measured with torch 2.13's FlopCounterMode over forward +
backward at batch 1, and FlopCounterMode itself run here on the PyTorch export of small
specs. FlopCounterMode counts 2 FLOPs per multiply-add of aten.convolution,
convolution_backward, addmm and mm, and nothing elementwise; its convolution_backward counts
the weight-gradient term of a grouped conv `groups` times (pytorch PR #183405 divides it by
groups), so the expected figure subtracts (g - 1)/g of that term, computed from each module.
"""

from __future__ import annotations

import importlib.util
import textwrap
from math import prod

import pytest

from cnncalc.analysis.analyze import analyze
from cnncalc.analysis.training import training
from cnncalc.interop.pytorch_export import export
from cnncalc.language.document import loads
from tests.conftest import zoo_report


def spec_training(text: str):
    network = loads(textwrap.dedent(text), "test.yaml")
    report = analyze(network)
    return network, report, training(network, report)


def rows_by_name(result):
    return {layer.name: layer for layer in result.layers}


# --- the issue's measured figures --------------------------------------------------------

def test_resnet18_backward_is_twice_the_forward_less_conv1s_input_gradient():
    from cnncalc.cli.common import load_network
    network = load_network("resnet18")
    result = training(network, zoo_report("resnet18"))
    forward = 1_814_073_344  # torchvision's ResNet-18 "GFLOPS 1.814", FlopCounterMode / 2
    conv1_input_grad = 112 * 112 * 64 * (7 * 7 * 3)  # conv1 reads the image: no dx
    totals = result.totals
    assert totals["backward_macs"] == 2 * forward - conv1_input_grad == 3_510_132_736
    assert totals["weight_grad_macs"] == forward  # every weight is trained
    assert totals["train_step_macs"] == 3 * forward - conv1_input_grad
    conv1 = result.layers[0]
    assert (conv1.input_grad_macs, conv1.weight_grad_macs) == (0, conv1_input_grad)
    assert conv1.needs_input_grad == (False,) and conv1.needs_weight_grad


def test_mobilenet_v2_true_backward_is_the_issues_measured_figure():
    from cnncalc.cli.common import load_network
    network = load_network("mobilenet_v2")
    # the issue: FlopCounterMode with the grouped weight-gradient term divided by groups
    assert training(network, zoo_report("mobilenet_v2")).totals["backward_macs"] == 590_710_528


# --- which gradients autograd computes ------------------------------------------------------

FROZEN = """\
input: [8, 8, 3]
layers:
  - {name: a, type: conv, filters: 4, kernel: 3, padding: 1, trainable: false}
  - {name: relu_a, type: relu}
  - {name: b, type: conv, filters: 5, kernel: 3, padding: 1}
  - {name: c, type: conv, filters: 6, kernel: 1, trainable: false}
  - {name: fc, type: fc, units: 7}
"""


def test_no_gradient_upstream_of_the_first_trainable_weight_and_none_for_frozen_weights():
    _, _, result = spec_training(FROZEN)
    rows = rows_by_name(result)
    a, b = 8 * 8 * 4 * 3 * 3 * 3, 8 * 8 * 5 * 3 * 3 * 4  # forward MACs: positions x weights
    c, fc = 8 * 8 * 6 * 5, 8 * 8 * 6 * 7
    assert (rows["a"].input_grad_macs, rows["a"].weight_grad_macs) == (0, 0)  # frozen, first
    assert rows["relu_a"].backward_flops == 0  # upstream of every trainable weight
    assert (rows["b"].input_grad_macs, rows["b"].weight_grad_macs) == (0, b)  # its input: none
    assert (rows["c"].input_grad_macs, rows["c"].weight_grad_macs) == (c, 0)  # frozen, after b
    assert (rows["fc"].input_grad_macs, rows["fc"].weight_grad_macs) == (fc, fc)
    assert result.totals["backward_macs"] == b + c + 2 * fc
    assert result.totals["train_step_macs"] == (a + b + c + fc) + b + c + 2 * fc
    assert a  # a costs forward MACs only
    # the optimizer updates b and fc: (3*3*4 + 1) x 5 + (384 + 1) x 7
    assert result.trainable_params == 37 * 5 + 385 * 7


SHARED = """\
input: [6, 6, 4]
layers:
  - {name: stem, type: conv, filters: 4, kernel: 1}
  - {name: a, type: conv, filters: 4, kernel: 3, padding: 1, groups: 2}
  - {name: b, shares: a}
  - {name: c, shares: a}
"""


def test_a_shared_weight_gets_a_gradient_at_every_use_summed_once_per_extra_use():
    _, _, result = spec_training(SHARED)
    rows = rows_by_name(result)
    use = 6 * 6 * 4 * (3 * 3 * 4 // 2)  # positions x K x taps x Cin/g, per use
    for name in ("a", "b", "c"):
        assert (rows[name].input_grad_macs, rows[name].weight_grad_macs) == (use, use)
    params = 4 * 3 * 3 * 2 + 4  # the one shared tensor pair: weight and bias
    assert result.shared_grad_adds == 2 * params  # three uses: two sums into .grad
    assert result.trainable_params == (4 * 4 + 4) + params  # each tensor updated once


def test_a_branch_the_output_does_not_read_runs_no_backward():
    _, _, result = spec_training("""\
        input: [6, 6, 3]
        layers:
          - {name: a, type: conv, filters: 4, kernel: 3, padding: 1}
          - {name: side, type: conv, filters: 2, kernel: 1}
          - {name: out, type: conv, filters: 3, kernel: 1, inputs: [a]}
        """)
    rows = rows_by_name(result)
    assert rows["side"].backward_macs == 0 and not rows["side"].needs_weight_grad
    assert rows["out"].backward_macs == 2 * 6 * 6 * 3 * 4
    assert result.trainable_params == (27 + 1) * 4 + (4 + 1) * 3  # side gets no gradient


def test_a_tensor_read_by_several_layers_sums_their_gradients():
    _, _, result = spec_training("""\
        input: [6, 6, 3]
        layers:
          - {name: a, type: conv, filters: 4, kernel: 3, padding: 1}
          - {name: b, type: conv, filters: 4, kernel: 1}
          - {name: sum, type: add, inputs: [a, b]}
        """)
    rows = rows_by_name(result)
    # a's output reaches the loss through b and through the add: one add per element
    assert rows["a"].backward_flops == 2 * rows["a"].weight_grad_macs + 6 * 6 * 4 + 6 * 6 * 4
    assert rows["sum"].backward_flops == 0  # an add hands dy on


# --- against FlopCounterMode on the PyTorch export ---------------------------------------

def torch_model(network, report, tmp_path):
    path = tmp_path / "model.py"
    path.write_text(export(network, report, "test.yaml"))
    spec = importlib.util.spec_from_file_location(f"trained_{abs(hash(str(path)))}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Model()


def flop_counter_macs(torch, model, shape, batch=1) -> tuple[int, int]:
    """(FlopCounterMode's multiply-adds over forward + backward, the part of its count that
    is the grouped weight-gradient term's excess: (g - 1)/g of N x positions x taps x Cin x
    Cout for each call of a conv whose weight is trained, positions the output's for a conv
    and the input's for a transposed conv)."""
    from torch.utils.flop_counter import FlopCounterMode
    excess = []

    def record(module, inputs, output):
        if module.groups > 1 and module.weight.requires_grad:
            transposed = isinstance(module, torch.nn.modules.conv._ConvTransposeNd)
            positions = prod((inputs[0] if transposed else output).shape[2:])
            g = module.groups
            full = inputs[0].shape[0] * positions * prod(module.kernel_size) \
                * module.in_channels * module.out_channels
            excess.append(full - full // g)

    for module in model.modules():
        if isinstance(module, torch.nn.modules.conv._ConvNd):
            module.register_forward_hook(record)
    model.train()
    x = torch.randn(batch, shape.c, *shape.spatial)
    with FlopCounterMode(display=False) as counter:
        model(x).sum().backward()
    total = counter.get_total_flops()
    assert total % 2 == 0
    return total // 2, sum(excess)


def oracle_backward(tmp_path, network, report, batch=1):
    torch = pytest.importorskip("torch")
    model = torch_model(network, report, tmp_path)
    counted, excess = flop_counter_macs(torch, model, network.input_shape, batch)
    return counted - excess  # forward + backward MACs


LAYERS = {  # each after a trainable 1x1 conv, so that its input needs a gradient
    "grouped": "{type: conv, filters: 6, kernel: 3, padding: 1, groups: 3}",
    "depthwise": "{type: conv, filters: 12, kernel: 3, padding: 1, groups: 12}",
    "depthwise x2": "{type: conv, filters: 24, kernel: 5, padding: 2, groups: 12, bias: false}",
    "dilated": "{type: conv, filters: 5, kernel: 3, padding: 2, dilation: 2}",
    "strided": "{type: conv, filters: 5, kernel: 3, stride: 2}",
    "asymmetric": "{type: conv, filters: 3, kernel: [1, 3], stride: [2, 1], padding: [0, 1]}",
    "transposed": "{type: deconv, filters: 3, kernel: 3, stride: 2, padding: 1}",
    "transposed grouped": "{type: deconv, filters: 6, kernel: 2, stride: 2, groups: 2}",
    "local": "{type: local, filters: 3, kernel: 3, stride: 2}",
    "fc": "{type: fc, units: 7}",
    "fc nobias": "{type: fc, units: 3, bias: false, activation: relu}",
    "pool and bn": "{type: pool, kernel: 2}\n  - batchnorm\n  - {type: conv, filters: 2, "
                   "kernel: 1}",
    # attention: its four products' gradients (derivatives.yaml's mm and bmm), exported with
    # the matmuls written out so that FlopCounterMode sees them
    "attention": "{type: attention, heads: 3}",
    "attention patches": "{type: attention, heads: 2, key_dim: 4, patch: 3, bias: false}",
    "attention relative": "{type: attention, heads: 2, position: relative}",
    "attention qkv in": "{type: attention, heads: 2, key_dim: 2, qkv: false, out: false, "
                        "layout: per_head}",
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_every_weighted_layer_kind_agrees_with_flop_counter_mode(tmp_path, name):
    network, report, result = spec_training(
        f"input: [9, 9, 4]\nlayers:\n  - {{type: conv, filters: 12, kernel: 1}}\n"
        f"  - {LAYERS[name]}\n")
    assert result.totals["train_step_macs"] == oracle_backward(tmp_path, network, report)


@pytest.mark.parametrize("text", [
    "input: [40, 2]\nlayers:\n  - {type: conv, filters: 4, kernel: 5, stride: 2}\n"
    "  - {type: conv, filters: 4, kernel: 3, groups: 2, dilation: 2}\n",
    "input: [5, 6, 6, 2]\nlayers:\n  - {type: conv, filters: 4, kernel: [3, 3, 3], padding: 1}\n"
    "  - {type: conv, filters: 4, kernel: 3, groups: 4, stride: 2}\n"
    "  - {type: deconv, filters: 2, kernel: 2, stride: 2}\n"])
def test_1d_and_3d_convs_agree_with_flop_counter_mode(tmp_path, text):
    network, report, result = spec_training(text)
    assert result.totals["train_step_macs"] == oracle_backward(tmp_path, network, report)


def test_frozen_layers_agree_with_flop_counter_mode(tmp_path):
    network, report, result = spec_training(FROZEN)  # the export: requires_grad_(False)
    assert result.totals["train_step_macs"] == oracle_backward(tmp_path, network, report)


def test_shared_layers_agree_with_flop_counter_mode(tmp_path):
    network, report, result = spec_training(SHARED)  # the export calls one module thrice
    assert result.totals["train_step_macs"] == oracle_backward(tmp_path, network, report)


def test_counts_are_per_sample(tmp_path):
    network, report, result = spec_training(SHARED)
    assert 3 * result.totals["train_step_macs"] == oracle_backward(tmp_path, network, report, 3)


def test_flop_counter_mode_counts_the_grouped_weight_gradient_groups_times(tmp_path):
    """The discrepancy itself (PR #183405): a depthwise conv of C channels, taps k x k,
    P output positions: FlopCounterMode's backward is P k^2 C (dx) + P k^2 C^2 (dW)."""
    torch = pytest.importorskip("torch")
    from torch.utils.flop_counter import FlopCounterMode
    conv = torch.nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False)
    x = torch.randn(1, 8, 5, 5, requires_grad=True)
    with FlopCounterMode(display=False) as counter:
        conv(x).sum().backward()
    counts = counter.get_flop_counts()["Global"]
    backward = counts[torch.ops.aten.convolution_backward] // 2
    assert backward == 25 * 9 * 8 + 25 * 9 * 8 * 8
    _, _, ours = spec_training("input: [5, 5, 8]\nlayers:\n  - {type: conv, filters: 8, "
                               "kernel: 1}\n  - {type: conv, filters: 8, kernel: 3, padding: 1,"
                               " groups: 8, bias: false}\n")
    assert ours.layers[1].backward_macs == 25 * 9 * 8 * 2


# --- elementwise rules (docs/counting.md) ------------------------------------------------

def one_backward(layer: str, shape="[8, 8, 4]"):
    """The backward FLOPs of `layer` after a trainable 1x1 conv (its input wants dx)."""
    _, _, result = spec_training(f"input: {shape}\nlayers:\n  - {{type: conv, filters: 4, "
                                 f"kernel: 1}}\n  - {layer}\n")
    return result.layers[1]


@pytest.mark.parametrize("layer, per_output", [
    ("{type: pool, kernel: 2}", 1),  # dy to the argmax
    ("{type: pool, mode: avg, kernel: 2}", 2 * 2 + 1),  # dy / 4 to each of the 4 taps
    ("{type: pool, mode: l2, kernel: 2}", 2 * 4 + 1),  # dy / y, times x and added per tap
])
def test_pooling_backward_flops(layer, per_output):
    assert one_backward(layer).backward_flops == 4 * 4 * 4 * per_output


def test_global_average_pool_backward_spreads_dy_over_every_position():
    assert one_backward("{type: pool, mode: avg, global: true}").backward_flops == 4 * (64 + 1)


def test_batchnorm_backward_flops_in_training():
    # statistics terms 5 per element (x_hat: 2, dy x_hat, two sums) + dx 4 per element
    assert one_backward("batchnorm").backward_flops == 8 * 8 * 4 * (5 + 4)


def test_activation_dropout_and_merge_backward_flops():
    assert one_backward("relu").backward_flops == 8 * 8 * 4  # dy x f'(z)
    assert one_backward("{type: dropout, rate: 0.2}").backward_flops == 8 * 8 * 4  # dy x mask


def test_fused_activation_and_bias_gradient_are_elementwise():
    row = one_backward("{type: conv, filters: 3, kernel: 3, padding: 1, activation: relu}")
    macs = 8 * 8 * 3 * 3 * 3 * 4
    assert (row.input_grad_macs, row.weight_grad_macs) == (macs, macs)
    # 2 FLOPs per MAC, dz = dy x relu'(z) and the bias sum, one each per output value
    assert row.backward_flops == 2 * 2 * macs + 8 * 8 * 3 + 8 * 8 * 3


def test_multiply_gate_backward_flops():
    _, _, result = spec_training("""\
        input: [4, 4, 3]
        layers:
          - {name: f, type: conv, filters: 3, kernel: 1}
          - {name: g, type: pool, mode: avg, global: true}
          - {name: m, type: multiply, inputs: [f, g]}
        """)
    # each factor: dy x the other (48 multiplies); the 1x1x3 gate's then summed (48 adds)
    assert result.layers[2].backward_flops == 48 + 48 + 48


def test_optimizer_flops_per_parameter():
    _, _, result = spec_training(FROZEN)
    n = 37 * 5 + 385 * 7
    assert result.as_dict()["optimizer_flops"] == {"sgd": 2 * n, "momentum": 4 * n,
                                                   "adam": 13 * n}


# FLOPs per element of each kernel torch.optim's single-tensor updates run, by its formula
def kernel_flops(name: str, args, kwargs) -> int:
    scale = kwargs.get("alpha", kwargs.get("value", 1))
    per_element = {
        "add": 1 if scale == 1 else 2,  # a + alpha b
        "sub": 1 if scale == 1 else 2,
        "mul": 1, "div": 1, "sqrt": 1,
        "lerp": 3,  # a + w (b - a)
        "addcmul": 2 if scale == 1 else 3,  # a + value b c
        "addcdiv": 2 if scale == 1 else 3,  # a + value b / c
        "clone": 0, "copy": 0, "detach": 0, "zeros_like": 0,
    }
    return per_element[name]


def measured_optimizer_flops(torch, make, values: int) -> int:
    """FLOPs of the second step of `make(params)` on one parameter of `values` values: every
    aten kernel with a parameter-sized output, weighted by kernel_flops."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class Count(TorchDispatchMode):
        total = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            out = func(*args, **kwargs)
            if isinstance(out, torch.Tensor) and out.numel() == values:
                name = func.overloadpacket.__name__.rstrip("_")
                Count.total += values * kernel_flops(name, args, kwargs)
            return out

    weight = torch.nn.Parameter(torch.randn(values))
    optimizer = make([weight])
    for step in range(2):  # the first step creates the state (a copy); count the second
        weight.grad = torch.randn(values)
        if step:
            with Count():
                optimizer.step()
        else:
            optimizer.step()
    return Count.total


@pytest.mark.parametrize("name", ["sgd", "momentum", "adam"])
def test_optimizer_flops_match_the_kernels_torch_optim_runs(name):
    torch = pytest.importorskip("torch")
    make = {"sgd": lambda p: torch.optim.SGD(p, lr=0.1, foreach=False),
            "momentum": lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, foreach=False),
            "adam": lambda p: torch.optim.Adam(p, foreach=False)}[name]
    _, _, result = spec_training("input: [4, 4, 3]\nlayers:\n  - {type: fc, units: 5}\n")
    values = 48 * 5 + 5
    assert result.trainable_params == values
    assert result.optimizer_flops(name) == measured_optimizer_flops(torch, make, 101) * values // 101


def test_subsample_backward():
    row = one_backward("{type: subsample, kernel: 2, activation: sigmoid}")
    outputs = 4 * 4 * 4
    assert (row.input_grad_macs, row.weight_grad_macs) == (outputs, outputs)
    # 2 FLOPs per MAC; sigmoid's gradient, the bias sum, ds spread over the 4 taps
    assert row.backward_flops == 2 * 2 * outputs + outputs + outputs + 4 * outputs


def test_rbf_backward_has_no_weight_gradient():
    row = one_backward("{type: rbf, units: 10}", "[2, 2, 4]")
    links = 2 * 2 * 4 * 10
    assert (row.input_grad_macs, row.weight_grad_macs) == (links, 0)
    assert row.backward_flops == 2 * links + links + 10  # x - w per link, 2 dy per unit


def test_lrn_upsample_scale_and_groupnorm_backward_flops():
    values = 8 * 8 * 4
    assert one_backward("{type: lrn, size: 5}").backward_flops == (3 * 5 + 8) * values
    assert one_backward("{type: upsample, scale: 2}").backward_flops == 4 * values
    assert one_backward("{type: upsample, scale: 2, mode: bilinear}").backward_flops == \
        2 ** 3 * 4 * values  # 2^(r+1) per output value, 4 x the input's values
    assert one_backward("scale").backward_flops == values + 2 * values  # dx, dgamma
    assert one_backward("{type: groupnorm, groups: 2}").backward_flops == (5 + 4 + 1) * values
    assert one_backward("{type: instancenorm}").backward_flops == (5 + 4) * values


def test_a_frozen_batchnorm_still_passes_the_gradient_on():
    _, _, result = spec_training("""\
        input: [4, 4, 2]
        layers:
          - {type: conv, filters: 2, kernel: 1}
          - {type: batchnorm, trainable: false}
        """)
    bn = result.layers[1]
    assert bn.needs_input_grad == (True,) and not bn.needs_weight_grad
    assert bn.backward_flops == (5 + 4) * 4 * 4 * 2


def test_crop_passes_no_gradient_to_the_layer_giving_its_size(tmp_path):
    network, report, result = spec_training("""\
        input: [8, 8, 2]
        layers:
          - {name: big, type: conv, filters: 2, kernel: 1}
          - {name: small, type: conv, filters: 2, kernel: 3, inputs: [input]}
          - {name: cut, type: crop, inputs: [big, small]}
        """)
    rows = rows_by_name(result)
    assert rows["cut"].needs_input_grad == (True, False)
    assert rows["small"].backward_macs == 0 and not rows["small"].needs_weight_grad
    assert result.totals["train_step_macs"] == oracle_backward(tmp_path, network, report)


def test_siamese_towers_sharing_weights_agree_with_flop_counter_mode(tmp_path):
    """torchinfo's SiameseNets (tests/test_named_inputs.py): two named inputs, the second
    tower using the first's weights. No grouped conv: FlopCounterMode's count as it is."""
    torch = pytest.importorskip("torch")
    from torch.utils.flop_counter import FlopCounterMode

    from tests.test_named_inputs import SIAMESE
    network, report, result = spec_training(SIAMESE)
    with torch.device("meta"):  # shapes only: the same aten ops, no arithmetic
        model = torch_model(network, report, tmp_path)
        x1, x2 = (torch.randn(1, 1, 88, 88) for _ in range(2))
    with FlopCounterMode(display=False) as counter:
        model(x1, x2).sum().backward()
    assert 2 * result.totals["train_step_macs"] == counter.get_total_flops()
    # each tower's layer computes its weight gradient; one sum per shared tensor
    tower = (10 * 10 * 1 + 1) * 64 + (7 * 7 * 64 + 1) * 128 + (4 * 4 * 128 + 1) * 128 \
        + (4 * 4 * 128 + 1) * 256 + (256 + 1) * 4096  # torchinfo's 2,251,585 less the head
    assert tower == 2_251_585 - (4096 + 1)
    assert result.shared_grad_adds == tower
