"""Design lints: each rule fires where the notes say it should, and can be switched off."""


import pytest
from typer.testing import CliRunner

from cnncalc.cli import app
from cnncalc.zoo import path_of

runner = CliRunner()


def lint_rules(text, *options):
    path = "/tmp/cnncalc-lint-test.yaml"
    with open(path, "w") as handle:
        handle.write(text)
    result = runner.invoke(app, ["validate", *options, path])
    return result, [line.rsplit("[", 1)[1].rstrip("]") for line in result.stdout.splitlines()
                    if ": warning: " in line]


def test_alexnet_at_224_is_the_famous_case():
    result, rules = lint_rules("input: [224, 224, 3]\nlayers:\n  - {type: conv, filters: 96, "
                               "kernel: 11, stride: 4}\n")
    assert "window-tiling" in rules
    assert "(224 - 11 + 0)/4 + 1 = 54.25" in result.stdout and "an input of 227" in result.stdout
    assert result.exit_code == 0


@pytest.mark.parametrize("layers, rule", [
    ("  - {type: conv, filters: 8, kernel: 3}\n", "conv-keeps-size"),
    ("  - {type: conv, filters: 8, kernel: 3, padding: 1}\n  - {type: conv, filters: 8, "
     "kernel: 5, padding: 2}\n", "large-filter"),
    ("  - {type: pool, kernel: 4, stride: 4}\n", "pool-window"),
    ("  - {type: fc, units: 10}\n", "fc-large-input"),
    ("  - {type: pool, kernel: 2, stride: 2}\n  - {type: fc, units: 4096}\n", "fc-dominates"),
])
def test_each_rule_fires(layers, rule):
    result, rules = lint_rules("input: [32, 32, 3]\nlayers:\n" + layers)
    assert rule in rules, result.stdout


@pytest.mark.parametrize("groups, fires", [(1, True), (2, True), (8, False)])
def test_large_filter_leaves_depthwise_convs_alone(groups, fires):
    """A 5x5 on 8 channels: a full or grouped conv mixes channels (8 x 8 / groups x 25
    weights per filter bank), a depthwise one (groups 8) holds 8 x 25 and is a design choice."""
    _, rules = lint_rules("input: [32, 32, 3]\nlayers:\n"
                          "  - {type: conv, filters: 8, kernel: 3, padding: 1}\n"
                          f"  - {{type: conv, filters: 8, kernel: 5, padding: 2, groups: {groups}}}\n")
    assert ("large-filter" in rules) == fires


@pytest.mark.parametrize("name", ["mobilenet_v3_large", "efficientnet_b0", "convnext_tiny"])
def test_modern_zoo_networks_raise_no_large_filter(name):
    _, rules = lint_rules(path_of(name).read_text())
    assert "large-filter" not in rules


@pytest.mark.parametrize("shape, advice", [
    ("[1001, 2]", "the nearest that are: 1000 or 1004"),  # a 1-D signal: 1001 - 1, 1001 + 3
    ("[15, 30, 30, 2]", "the nearest that are: 12x28x28 or 16x32x32"),  # a volume
    ("[30, 30, 3]", "common sizes are 32, 64, 96, 224, 384 and 512"),  # an image: the notes
])
def test_input_divisible_advice_fits_the_rank(shape, advice):
    result, rules = lint_rules(f"input: {shape}\nlayers:\n"
                               "  - {type: conv, filters: 4, kernel: 3, padding: 1}\n")
    assert "input-divisible" in rules and advice in result.stdout


def test_input_not_divisible_and_rf_larger_than_input():
    _, rules = lint_rules("input: [30, 30, 3]\nlayers:\n" +
                          "  - {type: conv, filters: 8, kernel: 3, padding: 1, repeat: 16}\n")
    assert "input-divisible" in rules and "rf-exceeds-input" in rules  # 16 x 2 + 1 = 33 > 30


def test_rules_can_be_ignored_per_spec_and_per_run_and_strict_fails():
    text = "input: [32, 32, 3]\nlayers:\n  - {type: conv, filters: 8, kernel: 3}\n"
    plain, rules = lint_rules(text)
    assert rules == ["conv-keeps-size"] and plain.exit_code == 0
    assert lint_rules(text, "--strict")[0].exit_code == 1
    assert lint_rules(text, "--ignore", "conv-keeps-size")[1] == []
    assert lint_rules(text, "--strict", "--ignore", "conv-keeps-size")[0].exit_code == 0
    assert lint_rules("lint: {ignore: [conv-keeps-size]}\n" + text)[1] == []
    bad, _ = lint_rules(text, "--ignore", "conv-keep-size")
    assert bad.exit_code == 2 and "did you mean 'conv-keeps-size'" in bad.stderr


def test_vgg16_lints_only_its_first_fc():
    result, rules = lint_rules(path_of("vgg16").read_text())
    assert rules == ["fc-dominates"]
    fc6 = 7 * 7 * 512 * 4096 + 4096  # the notes: FC 7x7x512 -> 4096 holds 102.8M of 138.4M
    assert f"holds {fc6:,} of the {138_357_544:,} parameters (74%)" in result.stdout
