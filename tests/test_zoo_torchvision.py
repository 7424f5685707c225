"""The 2-D networks added from torchvision (issue 13): each spec against torchvision 0.28.

Parameters: torchvision's documented `num_params`, the meta of each model's DEFAULT weights,
printed in its docs (https://docs.pytorch.org/vision/0.28/models.html, the table of
classification weights, and each weights' page, e.g.
https://docs.pytorch.org/vision/0.28/models/generated/torchvision.models.efficientnet_b0.html).

Multiply-adds: torchvision prints "GFLOPS" (multiply-adds / 10^9, three decimals) for each
model; the exact integers below were measured with torch 2.13.0 and torchvision 0.28.0 as
    model = torchvision.models.get_model(name).eval()
    with torch.utils.flop_counter.FlopCounterMode(display=False) as counter:
        model(torch.randn(1, 3, 224, 224))
    counter.get_total_flops() // 2
(FlopCounterMode counts the convolutions (aten.convolution) and the linear layers
(aten.addmm), 2 FLOPs per multiply-add, and nothing else). cnncalc counts multiply-adds for
conv and fc layers only (docs/counting.md), so its total compares like with like; the tests
also sum conv and fc rows to say so. `test_flop_counter_recomputed` repeats the measurement
when torchvision can be imported, the shape tests compare every conv and linear layer with
torchvision's forward pass, and `test_numpy_forward_equals_torchvision` copies a randomly
initialised torchvision model into our NumPy engine and gets the same logits; all of these
skip without torchvision (CI does not install it).
"""

from collections import Counter

import pytest

from tests.conftest import torchvision_or_skip, zoo_report

# name: (documented num_params, documented "GFLOPS", FlopCounterMode FLOPs / 2 at 224x224)
NETWORKS = {
    "efficientnet_b0": (5_288_548, 0.386, 771_629_504 // 2),
    "mobilenet_v3_large": (5_483_032, 0.217, 433_179_520 // 2),
    "convnext_tiny": (28_589_128, 4.456, 8_911_062_528 // 2),
    "shufflenet_v2_x1_0": (2_278_604, 0.145, 289_815_984 // 2),
    "regnet_y_400mf": (4_344_144, 0.402, 803_685_696 // 2),
    "resnext50_32x4d": (25_028_904, 4.23, 8_460_959_744 // 2),
}


def conv_and_linear_macs(report):
    return sum(r.totals.macs for r in report.rows if r.type in ("conv", "fc"))


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_documented_num_params(name):
    assert zoo_report(name).totals.trainable_params == NETWORKS[name][0]


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_flop_counter_multiply_adds(name):
    _, gflops, macs = NETWORKS[name]
    report = zoo_report(name)
    assert conv_and_linear_macs(report) == macs
    assert report.totals.macs == macs  # no other layer of these networks has multiply-adds
    assert round(macs / 1e9, 3) == gflops  # the measurement agrees with the documented figure


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_output_is_1000_classes(name):
    assert zoo_report(name).output_shape.as_list() == [1, 1, 1000]


def last_shape(report, group):
    return [r for r in report.rows if group in r.groups][-1].output_shape.as_list()


# Stage outputs as the papers' architecture tables give them (resolution, channels).
PAPER_STAGES = {
    # Tan and Le 2019, Table 1: stages 2-8 (our stage1..stage7) and the 1x1 head
    "efficientnet_b0": {"stage1": [112, 112, 16], "stage2": [56, 56, 24],
                        "stage3": [28, 28, 40], "stage4": [14, 14, 80],
                        "stage5": [14, 14, 112], "stage6": [7, 7, 192],
                        "stage7": [7, 7, 320], "head": [7, 7, 1280]},
    # Howard et al. 2019, Table 1: the input of each next row
    "mobilenet_v3_large": {"stem": [112, 112, 16], "bneck1": [112, 112, 16],
                           "bneck3": [56, 56, 24], "bneck6": [28, 28, 40],
                           "bneck10": [14, 14, 80], "bneck12": [14, 14, 112],
                           "bneck15": [7, 7, 160], "head": [7, 7, 960]},
    # Liu et al. 2022: a stride-4 stem, then 1/4, 1/8, 1/16, 1/32 at C = (96, 192, 384, 768)
    "convnext_tiny": {"stem": [56, 56, 96], "stage1": [56, 56, 96], "stage2": [28, 28, 192],
                      "stage3": [14, 14, 384], "stage4": [7, 7, 768]},
    # Ma et al. 2018, Table 5 (1x): output sizes and channels
    "shufflenet_v2_x1_0": {"stage2": [28, 28, 116], "stage3": [14, 14, 232],
                           "stage4": [7, 7, 464]},
    # Radosavovic et al. 2020: four stages at strides 4-32 (widths from the quantized rule)
    "regnet_y_400mf": {"stem": [112, 112, 32], "block1": [56, 56, 48], "block2": [28, 28, 104],
                       "block3": [14, 14, 208], "block4": [7, 7, 440]},
    # Xie et al. 2017, Table 1: conv2 to conv5 output sizes, 256 to 2048 channels
    "resnext50_32x4d": {"layer1": [56, 56, 256], "layer2": [28, 28, 512],
                        "layer3": [14, 14, 1024], "layer4": [7, 7, 2048]},
}


@pytest.mark.parametrize("name", sorted(PAPER_STAGES))
def test_paper_stage_shapes(name):
    report = zoo_report(name)
    for group, shape in PAPER_STAGES[name].items():
        assert last_shape(report, group) == shape, group


def test_shufflenet_basic_unit_is_split_transform_concat_shuffle():
    """Fig. 3 (c): half of the channels pass untouched, the other half is transformed."""
    report = zoo_report("shufflenet_v2_x1_0")
    unit = [r for r in report.rows if "stage3.unit2" in r.groups]  # after unit1, the down unit
    keep, take = unit[0], unit[1]
    assert (keep.type, keep.settings, keep.output_shape.as_list()) == ("slice", "[0:116]",
                                                                       [14, 14, 116])
    assert (take.type, take.settings) == ("slice", "[116:232]")
    assert [r.type for r in unit[-2:]] == ["concat", "channel_shuffle"]
    assert unit[-2].inputs[0] == keep.name  # the kept half goes straight to the concat
    # the transformed half: 1x1 (116 x 116), depthwise 3x3 (116 x 9), 1x1, three BNs (2 x 116)
    assert sum(r.totals.trainable_params for r in unit) == 2 * 116 * 116 + 116 * 9 + 3 * 2 * 116


# --- against torchvision itself (skipped when it cannot be imported) ---------------------

@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_flop_counter_recomputed(name):
    torch, torchvision = torchvision_or_skip()
    from torch.utils.flop_counter import FlopCounterMode
    num_params, gflops, macs = NETWORKS[name]
    meta = torchvision.models.get_model_weights(name).DEFAULT.meta
    assert (meta["num_params"], meta["_ops"]) == (num_params, gflops)
    model = torchvision.models.get_model(name).eval()
    assert sum(p.numel() for p in model.parameters()) == num_params
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.randn(1, 3, 224, 224))
    assert counter.get_total_flops() == 2 * macs
    assert conv_and_linear_macs(zoo_report(name)) == macs


def torchvision_layers(torch, torchvision, name):
    """{module path: (output [h, w, c], parameters)} for every Conv2d and Linear, and the
    module itself for looking up stages, from one forward pass at 224x224."""
    model = torchvision.models.get_model(name).eval()
    shapes = {}

    def hook(path):
        def record(module, args, out):
            dims = list(out.shape)
            if isinstance(module, torch.nn.Linear) and len(dims) == 4:  # ConvNeXt: N, H, W, C
                shapes[path] = dims[1:]
            elif len(dims) == 2:  # a classifier: N, K
                shapes[path] = [1, 1, dims[1]]
            else:  # N, C, H, W
                shapes[path] = [dims[2], dims[3], dims[1]]
        return record

    for path, module in model.named_modules():
        if path:
            module.register_forward_hook(hook(path))
    with torch.no_grad():
        model(torch.randn(1, 3, 224, 224))
    return model, shapes


# Our groups and layers -> torchvision's modules of the same extent
STAGE_MODULES = {
    "efficientnet_b0": {"stem": "features.0", **{f"stage{i}": f"features.{i}" for i in range(1, 8)},
                        "head": "features.8", "classifier": "classifier.1"},
    "mobilenet_v3_large": {"stem": "features.0",
                           **{f"bneck{i}": f"features.{i}" for i in range(1, 16)},
                           "head": "features.16", "fc1": "classifier.0",
                           "classifier": "classifier.3"},
    "convnext_tiny": {"stem": "features.0", "stage1": "features.1", "downsample1": "features.2",
                      "stage2": "features.3", "downsample2": "features.4",
                      "stage3": "features.5", "downsample3": "features.6",
                      "stage4": "features.7", "norm": "classifier.0",
                      "classifier": "classifier.2"},
    "shufflenet_v2_x1_0": {"stage2": "stage2", "stage3": "stage3", "stage4": "stage4",
                           "conv5": "conv5.0", "bn5": "conv5.1", "fc": "fc"},
    "regnet_y_400mf": {"stem": "stem", **{f"block{i}": f"trunk_output.block{i}"
                                          for i in range(1, 5)}, "fc": "fc"},
    "resnext50_32x4d": {"conv1": "conv1", "bn1": "bn1",
                        **{f"layer{i}": f"layer{i}" for i in range(1, 5)}, "fc": "fc"},
}


def ours(report, name):
    """(output [h, w, c], trainable params) of our layer or group `name`."""
    rows = [r for r in report.rows if r.name == name] or \
        [r for r in report.rows if name in r.groups]
    assert rows, name
    return rows[-1].output_shape.as_list(), sum(r.totals.trainable_params for r in rows)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_shapes_and_params_against_torchvision(name):
    torch, torchvision = torchvision_or_skip()
    model, shapes = torchvision_layers(torch, torchvision, name)
    modules = dict(model.named_modules())
    report = zoo_report(name)
    # stage by stage: the output shape and the parameters inside
    for group, path in STAGE_MODULES[name].items():
        theirs = (shapes[path], sum(p.numel() for p in modules[path].parameters()))
        assert ours(report, group) == theirs, (group, path)
    # layer by layer: every conv and linear, as a multiset of (output shape, parameters)
    kinds = (torch.nn.Conv2d, torch.nn.Linear)
    theirs = Counter((tuple(shapes[p]), sum(x.numel() for x in m.parameters()))
                     for p, m in modules.items() if isinstance(m, kinds))
    mine = Counter((tuple(r.output_shape.as_list()), r.totals.trainable_params)
                   for r in report.rows if r.type in ("conv", "fc"))
    assert mine == theirs


def execution_order(torch, model):
    """Paths of the modules that own parameters, in the order the forward pass uses them
    (a module's hook fires after its children: ConvNeXt's block-level layer_scale comes
    after the block's last Linear, where it is applied)."""
    order = []

    def hook(path):
        def record(module, args, out):
            if path not in order:
                order.append(path)
        return record

    for path, module in model.named_modules():
        if list(module.parameters(recurse=False)):
            module.register_forward_hook(hook(path))
    return order


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_numpy_forward_equals_torchvision(name):
    """torchvision's model with random weights (batch norms, layer norms, layer scales and
    biases randomised too), copied layer by layer into our NumPy engine: the same logits. This
    checks what counts cannot: the order of the channel split and shuffle, where the gates
    and residuals apply, the activations and the norms' eps."""
    import numpy as np

    from cnncalc.analysis.analyze import analyze
    from cnncalc.compute import engine
    from cnncalc.language.document import load
    from cnncalc.zoo import path_of

    torch, torchvision = torchvision_or_skip()
    torch.manual_seed(0)
    model = torchvision.models.get_model(name).eval()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (torch.nn.BatchNorm2d, torch.nn.LayerNorm)):
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 2.0)
            for key, p in module.named_parameters(recurse=False):
                if key == "layer_scale":  # 1e-6 at initialisation: would hide the blocks
                    p.uniform_(0.5, 1.5)
                elif key == "bias" and isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
                    p.uniform_(-0.1, 0.1)
    order = execution_order(torch, model)
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        expected = model(x).numpy().reshape(-1)

    network = load(path_of(name))
    report = analyze(network)
    layers = {}  # our layers with weights, in order: name -> [array keys]
    for key in engine.init_weights(network, report, 0):
        layers.setdefault(key.rsplit(".", 1)[0], []).append(key)
    assert len(layers) == len(order)
    modules = dict(model.named_modules())
    weights = {}
    for (layer, keys), path in zip(layers.items(), order):
        module = modules[path]
        arrays = [p for _, p in module.named_parameters(recurse=False)] + \
            [b for k, b in module.named_buffers(recurse=False) if k != "num_batches_tracked"]
        assert len(arrays) == len(keys), (layer, path)
        for key, array in zip(keys, arrays):
            weights[key] = array.detach().numpy()
    shapes = {f"{n}.{k}": s for n, d in engine.shapes_of(network, report).items()
              for k, s in d.items()}
    for key, array in weights.items():  # Linear [out, in] -> conv [out, in, 1, 1], (C,1,1) -> C
        assert array.size == int(np.prod(shapes[key])), key
        weights[key] = array.reshape(shapes[key])
    weights = engine.check_weights(network, report, weights)
    ours = engine.run(network, report, x.numpy(), weights).output.reshape(-1)
    assert np.allclose(ours, expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())
