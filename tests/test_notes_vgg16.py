"""The VGG16 table of the CS231n notes (shared/seeds/000, 001) and published totals."""

import pytest

from tests.conftest import zoo_report

# (layer, [HxWxC] as printed, weights without biases as printed)
NOTES_TABLE = [
    ("conv1_1", (224, 224, 64), (3 * 3 * 3) * 64),  # 1,728
    ("conv1_2", (224, 224, 64), (3 * 3 * 64) * 64),  # 36,864
    ("pool1", (112, 112, 64), 0),
    ("conv2_1", (112, 112, 128), (3 * 3 * 64) * 128),  # 73,728
    ("conv2_2", (112, 112, 128), (3 * 3 * 128) * 128),  # 147,456
    ("pool2", (56, 56, 128), 0),
    ("conv3_1", (56, 56, 256), (3 * 3 * 128) * 256),  # 294,912
    ("conv3_2", (56, 56, 256), (3 * 3 * 256) * 256),  # 589,824
    ("conv3_3", (56, 56, 256), (3 * 3 * 256) * 256),
    ("pool3", (28, 28, 256), 0),
    ("conv4_1", (28, 28, 512), (3 * 3 * 256) * 512),  # 1,179,648
    ("conv4_2", (28, 28, 512), (3 * 3 * 512) * 512),  # 2,359,296
    ("conv4_3", (28, 28, 512), (3 * 3 * 512) * 512),
    ("pool4", (14, 14, 512), 0),
    ("conv5_1", (14, 14, 512), (3 * 3 * 512) * 512),
    ("conv5_2", (14, 14, 512), (3 * 3 * 512) * 512),
    ("conv5_3", (14, 14, 512), (3 * 3 * 512) * 512),
    ("pool5", (7, 7, 512), 0),
    ("fc6", (1, 1, 4096), 7 * 7 * 512 * 4096),  # 102,760,448
    ("fc7", (1, 1, 4096), 4096 * 4096),  # 16,777,216
    ("fc8", (1, 1, 1000), 4096 * 1000),  # 4,096,000
]


@pytest.fixture(scope="module")
def vgg():
    return zoo_report("vgg16")


def last_part(name: str) -> str:
    """stage2.conv2_1 -> conv2_1: the zoo's VGG family groups each stage (stage1 .. stage5)."""
    return name.rsplit(".", 1)[-1]


def test_rows_in_the_notes_order(vgg):
    assert [last_part(r.name) for r in vgg.rows] == [name for name, _, _ in NOTES_TABLE]


@pytest.mark.parametrize("name, shape, weights", NOTES_TABLE)
def test_row_shape_memory_and_weights(vgg, name, shape, weights):
    row = next(r for r in vgg.rows if last_part(r.name) == name)
    assert tuple(row.output_shape.as_list()) == shape
    assert row.totals.activations == shape[0] * shape[1] * shape[2]  # the "memory" column
    biases = shape[2] if weights else 0  # one per filter or unit
    assert row.totals.params == weights + biases


def test_printed_weight_integers():
    printed = [1728, 36864, 73728, 147456, 294912, 589824, 589824, 1179648, 2359296, 2359296,
               2359296, 2359296, 2359296, 102760448, 16777216, 4096000]
    assert [w for _, _, w in NOTES_TABLE if w] == printed


def test_published_totals(vgg):
    assert vgg.totals.params == 138_357_544  # torchvision vgg16: 138,357,544
    assert vgg.totals.macs == 15_470_264_320  # torchvision vgg16: GFLOPS 15.47 (multiply-adds)
    assert vgg.totals.flops >= 2 * vgg.totals.macs


def test_notes_total_memory_rows_add_to_15_2_million_not_24(vgg):
    # The notes print "TOTAL memory: 24M * 4 bytes ~= 93MB / image"; their own rows add up to:
    rows = 224 * 224 * 3 + sum(h * w * c for _, (h, w, c), _ in NOTES_TABLE)
    assert rows == 15_237_608
    assert vgg.input_shape.size + vgg.totals.activations == rows


def test_first_fc_holds_most_parameters(vgg):
    fc6 = next(r for r in vgg.rows if r.name == "fc6")
    assert fc6.notes == ["flattens 7x7x512 = 25,088 values in C,H,W order"]
    assert fc6.totals.params / vgg.totals.params > 0.74
