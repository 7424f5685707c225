"""Training compute of every zoo network against torch's FlopCounterMode over forward +
backward at batch 1 and the spec's own input: on the network's PyTorch export (`cnncalc
export --to pytorch`), and on torchvision's model where the zoo network is one of its. The
models run on PyTorch's meta device: shapes only, no arithmetic, the same aten ops for
FlopCounterMode to count, so the whole zoo takes seconds.

FlopCounterMode counts 2 FLOPs per multiply-add of convolution, convolution_backward, addmm
and mm, and nothing elementwise. The expected figure is its count, less:
- for a grouped conv whose weight is trained, (g - 1)/g of its weight-gradient term, which
  torch 2.13 counts g times (pytorch PR #183405; tests/test_training_compute.py);
- for LeNet-5's C3 (exported as TableConv: a dense kernel with zeros where a map is not
  read), the share of its count the unread kernels make, 1 - links / (K x Cin);
and cnncalc's total is compared without LeNet-5's subsample and RBF rows, whose products
torch computes elementwise (FlopCounterMode does not see them; their formulas are tested
in tests/test_training_compute.py).
The issue's measured ResNet-18 and MobileNetV2 figures: tests/test_training_compute.py.
"""

from __future__ import annotations

from math import prod

import pytest

from cnncalc.analysis.analyze import analyze
from cnncalc.analysis.training import training
from cnncalc.cli.common import load_network
from cnncalc.zoo import names
from tests.test_training_compute import torch_model
from tests.test_zoo import TORCHVISION
from tests.test_zoo_torchvision import NETWORKS, torchvision_or_skip

UNSEEN = ("subsample", "rbf")  # elementwise in torch: no aten op FlopCounterMode counts


def flop_counter_oracle(torch, model, shape) -> int:
    """FlopCounterMode's forward + backward multiply-adds at batch 1, with the corrections
    of the module docstring."""
    from torch.utils.flop_counter import FlopCounterMode
    excess = []

    def grouped(module, inputs, output):
        if module.groups > 1 and module.weight.requires_grad:
            transposed = isinstance(module, torch.nn.modules.conv._ConvTransposeNd)
            positions = prod((inputs[0] if transposed else output).shape[2:])
            full = inputs[0].shape[0] * positions * prod(module.kernel_size) \
                * module.in_channels * module.out_channels
            excess.append(full - full // module.groups)

    tables = {}
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.modules.conv._ConvNd):
            module.register_forward_hook(grouped)
        if type(module).__name__ == "TableConv":
            k, c = module.full_shape[:2]
            tables[f"Model.{name}"] = (len(module.rows), k * c)  # links, dense kernels
    model.eval()  # batch norm on the running statistics: the same products, any size
    x = torch.randn(1, shape.c, *shape.spatial, device="meta")
    with FlopCounterMode(display=False) as counter:
        model(x).sum().backward()
    by_module = counter.get_flop_counts()
    for name, (links, dense) in tables.items():
        counted = sum(by_module[name].values()) // 2
        excess.append(counted - counted * links // dense)
    total = counter.get_total_flops()
    assert total % 2 == 0
    return total // 2 - sum(excess)


@pytest.mark.slow
@pytest.mark.parametrize("name", names())
def test_train_step_macs_equal_flop_counter_mode_on_the_export(tmp_path, name):
    torch = pytest.importorskip("torch")
    network = load_network(name)
    report = analyze(network)
    result = training(network, report)
    ours = sum(layer.macs + layer.backward_macs
               for layer, row in zip(result.layers, report.rows) if row.type not in UNSEEN)
    with torch.device("meta"):
        model = torch_model(network, report, tmp_path)
    assert ours == flop_counter_oracle(torch, model, network.input_shape), name


# zoo name -> torchvision's model name
TORCHVISION_MODELS = {**{name: name for name in (*TORCHVISION, *NETWORKS, "r3d_18")},
                      "alexnet_torchvision": "alexnet"}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(TORCHVISION_MODELS))
def test_train_step_macs_equal_flop_counter_mode_on_torchvisions_model(name):
    torch, torchvision = torchvision_or_skip()
    network = load_network(name)
    result = training(network, analyze(network))
    try:
        with torch.device("meta"):
            model = torchvision.models.get_model(TORCHVISION_MODELS[name])
    except NotImplementedError:  # a constructor that reads tensor values (RegNet's widths)
        model = torchvision.models.get_model(TORCHVISION_MODELS[name]).to("meta")
    assert result.totals["train_step_macs"] == \
        flop_counter_oracle(torch, model, network.input_shape), name
