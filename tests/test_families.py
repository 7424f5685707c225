"""Families: `extends:` (a spec plus arguments), the zoo's members, `include:` of a zoo spec."""

from cnncalc.analysis.analyze import analyze
from cnncalc.errors import EXIT_UNREADABLE, CnnCalcError
from cnncalc.language.document import load
from cnncalc.load import open_spec
from cnncalc.zoo import names, path_of
from tests.conftest import report_of, zoo_report

import pytest


def test_every_zoo_name_of_before_the_families_still_resolves():
    before = ["alexnet", "alexnet_torchvision", "convnext_tiny", "densenet121", "efficientnet_b0",
              "googlenet", "inception_v3", "keras_mnist", "lenet5", "m5", "mobilenet_v1",
              "mobilenet_v2", "mobilenet_v3_large", "r3d_18", "regnet_y_400mf", "resnet101",
              "resnet152", "resnet18", "resnet34", "resnet50", "resnext50_32x4d",
              "shufflenet_v2_x1_0", "squeezenet1_0", "squeezenet1_1", "unet", "unet3d", "vgg11",
              "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn", "zfnet"]
    assert set(before) <= set(names())


def test_a_member_is_its_family_with_arguments():
    # torchvision's resnet34 num_params; the --arg of the family gives the same network
    assert zoo_report("resnet34").totals.trainable_params == 21_797_672
    family = analyze(open_spec("resnet", args={"depth": 34}))
    assert family.totals.trainable_params == 21_797_672
    assert zoo_report("resnet34").name == "ResNet-34"


def test_densenet_169_and_201_from_the_family():
    # torchvision's densenet169 and densenet201 num_params
    assert analyze(open_spec("densenet", args={"depth": 169})).totals.trainable_params \
        == 14_149_480
    assert analyze(open_spec("densenet", args={"depth": 201})).totals.trainable_params \
        == 20_013_928


def test_densenet121_is_at_most_30_lines():
    member = path_of("densenet121").read_text()
    family = path_of("densenet").read_text()
    assert len(member.splitlines()) == 1 and len(family.splitlines()) <= 30


def test_a_family_argument_outside_its_table(tmp_path):
    spec = tmp_path / "r.yaml"
    spec.write_text("{extends: resnet, args: {depth: 20}}\n")
    with pytest.raises(CnnCalcError) as info:
        analyze(load(spec))
    d = info.value.diagnostic
    assert d.exit_code == EXIT_UNREADABLE and d.span.file == "resnet.yaml"
    assert "'$blocks' has no entry 20 (entries: 18, 34, 50, 101, 152)" in d.message


def test_an_argument_the_family_does_not_have(tmp_path):
    spec = tmp_path / "r.yaml"
    spec.write_text("extends: vgg\nargs: {deph: 11}\n")
    with pytest.raises(CnnCalcError) as info:
        load(spec)
    d = info.value.diagnostic
    assert (d.span.line, d.span.column) == (2, 8)
    assert "'vgg' has no argument 'deph'; did you mean 'depth'?" in d.message


def test_extends_takes_only_its_own_keys(tmp_path):
    spec = tmp_path / "r.yaml"
    spec.write_text("extends: vgg\nlayers: [relu]\n")
    with pytest.raises(CnnCalcError) as info:
        load(spec)
    assert info.value.diagnostic.span.line == 2


def test_include_takes_blocks_from_a_zoo_spec():
    report = report_of("""
input: [56, 56, 64]
include: resnet
args: {depth: 50, groups: 1, width_per_group: 64, s1x1: 1, s3x3: 2}
layers:
  - {block: unit, planes: 64}
""")
    # torchvision's Bottleneck(64, 64) with a 1x1 projection to 256: conv weights, BN scale and
    # shift (trainable) and running mean and variance (not)
    convs = 64 * 64 + 9 * 64 * 64 + 64 * 256 + 64 * 256
    assert report.totals.trainable_params == convs + 2 * (64 + 64 + 256 + 256)
    assert report.output_shape.as_list() == [56, 56, 256]
