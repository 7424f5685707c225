"""The 1-D and 3-D zoo networks against their published figures: R3D-18 (torchvision's
documented num_params and GFLOPS), the 3D U-Net (Cicek et al. 2016: 19,069,955 parameters, a
44x44x28 output) and M5 (Dai et al. 2017: 0.5M parameters; the output sizes of its Table 1;
a Keras implementation's printed summary). The published integers always run; the torch and
torchvision measurements skip without them."""

import pytest

from tests.conftest import torchvision_or_skip, zoo_report


def test_r3d_18_matches_torchvision_documented_figures():
    """torchvision.models.video.R3D_18_Weights.KINETICS400_V1.meta: num_params 33,371,472,
    _ops 40.697 (GFLOPS, multiply-adds)."""
    report = zoo_report("r3d_18")
    assert report.totals.trainable_params == 33_371_472
    assert round(report.totals.macs / 1e9, 3) == 40.697
    # FlopCounterMode on torchvision 0.28's r3d_18 (torch 2.13, 1x3x16x112x112) counts
    # 81,393,106,944 FLOPs: 2 per multiply-add
    assert 2 * report.totals.macs == 81_393_106_944
    assert report.output_shape.as_list() == [1, 1, 1, 400]
    # stem 16x56x56 (stride 1x2x2), then each stage halves every axis
    stages = {row.name: row.output_shape.as_list() for row in report.rows}
    assert stages["relu1"] == [16, 56, 56, 64]
    assert stages["layer4.unit2.relu1"] == [16 // 8, 56 // 8, 56 // 8, 512]


# 3D U-Net, Figure 2: the output channels of every 3x3x3 convolution (each has a batch norm)
UNET3D_CONVS = [32, 64, 64, 128, 128, 256, 256, 512, 256, 256, 128, 128, 64, 64]


def test_unet3d_matches_the_paper():
    """Section 2: "The architecture has 19069955 parameters in total", a 132x132x116 input
    tile of 3 channels and a 44x44x28 output; the count is the convolutions' weights and
    biases and the up-convolutions' weights (biases: none), without batch-norm parameters."""
    report = zoo_report("unet3d")
    assert report.output_shape.as_list() == [44, 44, 28, 3]
    filters = sum(row.totals.trainable_params for row in report.rows
                  if row.type in ("conv", "deconv"))
    assert filters == 19_069_955
    batchnorm = 2 * sum(UNET3D_CONVS)  # PyTorch's BatchNorm3d: a scale and a shift each
    assert report.totals.trainable_params == 19_069_955 + batchnorm
    assert report.totals.non_trainable_params == 2 * sum(UNET3D_CONVS)  # running statistics


def test_m5_matches_the_paper_and_the_keras_summary():
    report = zoo_report("m5")
    # Table 1's output sizes: 8000 (stride 4), then /4 by each pooling
    sizes = [row.output_shape.spatial[0] for row in report.rows if row.type == "pool"]
    assert sizes == [2000, 500, 125, 31, 1]
    assert report.rows[0].output_shape.as_list() == [8000, 128]
    # github.com/philipperemy/very-deep-convnets-raw-waveforms, assets/m5.out (Keras)
    assert report.totals.params == 561_162
    assert report.totals.trainable_params == 559_114
    assert report.totals.non_trainable_params == 2_048
    # the paper's Table 1: M5 "0.5M"; without the batch norms' 2 x (128 + 128 + 256 + 512)
    # scales and shifts the weights and biases are 557,066, printed cut to one decimal
    without_bn = report.totals.trainable_params - 2 * (128 + 128 + 256 + 512)
    assert without_bn == 557_066 and without_bn // 100_000 == 5
    assert report.output_shape.as_list() == [1, 10]


def _flops(model, shape):
    """FlopCounterMode's total FLOPs for one sample, on the meta device (no arithmetic)."""
    torch = pytest.importorskip("torch")
    from torch.utils.flop_counter import FlopCounterMode
    model = model.to("meta").eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, *shape, device="meta"))
    return counter.get_total_flops()


def test_r3d_18_against_torchvision():
    _, torchvision = torchvision_or_skip()
    models = torchvision.models
    weights = models.get_model_weights("r3d_18").DEFAULT
    model = models.get_model("r3d_18")
    report = zoo_report("r3d_18")
    assert report.totals.trainable_params == weights.meta["num_params"] == \
        sum(p.numel() for p in model.parameters())
    assert report.totals.non_trainable_params == sum(
        b.numel() for name, b in model.named_buffers() if not name.endswith("batches_tracked"))
    assert 2 * report.totals.macs == _flops(model, (3, 16, 112, 112))


def test_unet3d_against_a_torch_replica():
    """The paper's network written with torch.nn (Conv3d, BatchNorm3d, MaxPool3d,
    ConvTranspose3d without bias, centre crops, concatenation): the same MACs."""
    torch = pytest.importorskip("torch")
    nn = torch.nn

    def double(cin, mid, out):
        return nn.Sequential(nn.Conv3d(cin, mid, 3), nn.BatchNorm3d(mid), nn.ReLU(),
                             nn.Conv3d(mid, out, 3), nn.BatchNorm3d(out), nn.ReLU())

    class UNet3D(nn.Module):
        def __init__(self):
            super().__init__()
            self.down = nn.ModuleList([double(3, 32, 64), double(64, 64, 128),
                                       double(128, 128, 256), double(256, 256, 512)])
            self.ups = nn.ModuleList([nn.ConvTranspose3d(c, c, 2, 2, bias=False)
                                      for c in (512, 256, 128)])
            self.convs = nn.ModuleList([double(768, 256, 256), double(384, 128, 128),
                                        double(192, 64, 64)])
            self.labels = nn.Conv3d(64, 3, 1)

        def forward(self, x):
            skips = []
            for i, block in enumerate(self.down):
                x = block(x)
                if i < 3:
                    skips.append(x)
                    x = nn.functional.max_pool3d(x, 2)
            for up, convs, skip in zip(self.ups, self.convs, reversed(skips)):
                x = up(x)
                cut = [(a - b) // 2 for a, b in zip(skip.shape[2:], x.shape[2:])]
                cropped = skip[:, :, cut[0]:cut[0] + x.shape[2], cut[1]:cut[1] + x.shape[3],
                               cut[2]:cut[2] + x.shape[4]]
                x = convs(torch.cat([cropped, x], 1))
            return self.labels(x)

    model = UNet3D()
    report = zoo_report("unet3d")
    assert report.totals.trainable_params == sum(p.numel() for p in model.parameters())
    assert 2 * report.totals.macs == _flops(model, (3, 132, 132, 116))


def test_m5_against_a_torch_replica():
    torch = pytest.importorskip("torch")
    nn = torch.nn
    layers, cin = [], 1
    for out, kernel, stride, pad in ((128, 80, 4, 38), (128, 3, 1, 1), (256, 3, 1, 1),
                                     (512, 3, 1, 1)):  # 'same': (8000-1)*4 + 80 - 32000 = 76
        layers += [nn.Conv1d(cin, out, kernel, stride, pad), nn.BatchNorm1d(out), nn.ReLU(),
                   nn.MaxPool1d(4)]
        cin = out
    model = nn.Sequential(*layers, nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(512, 10))
    report = zoo_report("m5")
    assert report.totals.trainable_params == sum(p.numel() for p in model.parameters())
    assert 2 * report.totals.macs == _flops(model, (1, 32000))
