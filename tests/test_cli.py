"""The command line: exit codes, one-line errors, formats, zoo names."""

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from cnncalc import __version__
from cnncalc.cli import app

runner = CliRunner()


def run(*args, input=None):
    return runner.invoke(app, list(args), input=input)


def write(tmp_path, text, name="net.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


GOOD = "input: [32, 32, 3]\nlayers:\n  - {type: conv, filters: 8, kernel: 3}\n  - relu\n"


def test_version():
    result = run("--version")
    assert result.exit_code == 0 and result.stdout.strip() == f"cnncalc {__version__}"


def test_summarize_zoo_name_and_path_agree(tmp_path):
    by_name = run("summarize", "vgg16", "--format", "json")
    assert by_name.exit_code == 0
    from cnncalc.zoo import path_of
    by_path = run("summarize", str(path_of("vgg16")), "--format", "json")
    assert json.loads(by_name.stdout)["totals"] == json.loads(by_path.stdout)["totals"]


def test_summarize_json_keys():
    data = json.loads(run("summarize", "vgg16", "--format", "json").stdout)
    assert {"name", "input", "layers", "totals"} <= set(data)
    assert data["input"] == [224, 224, 3]
    keys = {"name", "type", "output_shape", "params", "trainable_params", "connections", "macs",
            "flops", "activations"}
    assert all(keys <= set(layer) for layer in data["layers"])
    assert {"params", "trainable_params", "connections", "macs", "flops",
            "activations"} <= set(data["totals"])
    assert data["totals"]["params"] == 138_357_544
    for key in data["totals"]:  # the totals are the sums of the rows
        assert data["totals"][key] == sum(layer[key] for layer in data["layers"])


def test_summarize_table_shows_exact_and_readable_totals():
    result = run("summarize", "vgg16")
    assert result.exit_code == 0
    assert "138,357,544" in result.stdout and "138.4 M" in result.stdout
    assert "conv1_1" in result.stdout and "224x224x64" in result.stdout
    assert "3x3/1 p1" in result.stdout


def test_summarize_input_override():
    data = json.loads(run("summarize", "vgg16", "--input", "384x384x3", "--format",
                          "json").stdout)
    assert data["layers"][17]["output_shape"] == [12, 12, 512]


def test_summarize_error_is_one_line_on_stderr(tmp_path):
    path = write(tmp_path, "input: [32, 32, 3]\nlayers:\n  - {type: conv, filter: 8}\n")
    result = run("summarize", path)
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{path}:3:18: error: ")
    assert "Traceback" not in result.output


def test_validate_exit_codes(tmp_path):
    good = write(tmp_path, GOOD, "good.yaml")
    inconsistent = write(tmp_path, GOOD.replace("kernel: 3}", "kernel: 3, groups: 2}"), "inc.yaml")
    unreadable = write(tmp_path, "input: [1, 2\n", "bad.yaml")
    assert run("validate", good).exit_code == 0
    assert run("validate", good, inconsistent).exit_code == 1
    result = run("validate", good, inconsistent, unreadable)
    assert result.exit_code == 2
    assert result.stdout.count("error:") == 2
    assert f"{inconsistent}:3:" in result.stdout and f"{unreadable}:" in result.stdout


def test_validate_missing_file_and_directory(tmp_path):
    result = run("validate", str(tmp_path / "nope.yaml"), str(tmp_path))
    assert result.exit_code == 2
    assert "no such file" in result.stdout and "is a directory" in result.stdout


def test_validate_warnings_fail_only_with_strict(tmp_path):
    path = write(tmp_path, "input: [10, 10, 3]\nlayers:\n  - {type: conv, filters: 4, kernel: 3, "
                           "stride: 2}\n")
    plain = run("validate", path)
    assert plain.exit_code == 0 and ": warning: " in plain.stdout
    assert run("validate", "--strict", path).exit_code == 1


def test_validate_reads_stdin():
    result = run("validate", "-", input=GOOD)
    assert result.exit_code == 0 and "ok" in result.stdout


def test_every_shipped_spec_validates():
    from cnncalc.zoo import names
    result = run("validate", *names())
    assert result.exit_code == 0, result.stdout


def test_layers_lists_every_type_and_setting():
    from cnncalc.layers import REGISTRY
    result = runner.invoke(app, ["layers"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for name, cls in REGISTRY.items():
        assert f"{name}:" in result.stdout
        for decl in cls.settings():
            assert decl.name in result.stdout


def test_bad_format_option():
    result = run("summarize", "vgg16", "--format", "yaml")
    assert result.exit_code == 2 and "--format" in result.stderr


@pytest.mark.parametrize("command", [["summarize", "vgg16"], ["validate", "vgg16"],
                                     ["summarize", "vgg16", "--depth", "1"],  # through typer
                                     ["validate", "vgg16", "--strict"]])
def test_summarize_and_validate_never_import_numpy(command):
    code = (f"import sys; from cnncalc.cli import main; sys.argv = ['cnncalc', *{command!r}]"
            "\ntry:\n    main()\nexcept SystemExit:\n    pass\n"
            "assert 'numpy' not in sys.modules, 'numpy imported'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr


def test_entry_point_runs_without_traceback(tmp_path):
    path = write(tmp_path, "input: [8, 8, 8, 8, 3]\nlayers: [relu]\n")
    done = subprocess.run([sys.executable, "-m", "cnncalc", "summarize", path],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "Traceback" not in done.stderr


@pytest.mark.parametrize("name", ["resnet50", "googlenet", "unet", "densenet121"])
def test_nested_summary_fits_a_100_column_terminal(name):
    result = runner.invoke(app, ["summarize", name], env={"COLUMNS": "100"})
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= 100
    header = next(line for line in lines if " name " in line)
    assert "params" in header and "MACs" in header  # the figures that matter stay
    left_out = [c for c in ("connections", "RF", "FLOPs") if c not in header.split()]
    if left_out:  # a column left out is said to be, with the way to see it
        assert any(line.startswith("columns left out") and all(c in line for c in left_out)
                   and "--wide" in line for line in lines)
    assert not any("…" in line.split("  ")[-1] for line in lines)  # numbers never truncated


def test_depth_collapses_and_keeps_totals():
    full = run("summarize", "resnet50")
    shallow = run("summarize", "resnet50", "--depth", "0")
    assert shallow.exit_code == 0
    assert len(shallow.stdout.splitlines()) < len(full.stdout.splitlines()) / 5
    total = [line for line in shallow.stdout.splitlines() if line.startswith("MACs")]
    assert total == [line for line in full.stdout.splitlines() if line.startswith("MACs")]


def test_arg_sets_a_spec_argument_and_rejects_unknown_ones():
    paper = json.loads(run("summarize", "resnet50", "--arg", "s1x1=2", "--arg", "s3x3=1",
                           "--format", "json").stdout)
    default = json.loads(run("summarize", "resnet50", "--format", "json").stdout)
    assert paper["totals"]["macs"] < default["totals"]["macs"]
    bad = run("summarize", "resnet50", "--arg", "stride=2")
    assert bad.exit_code == 2 and "no argument 'stride'" in bad.stderr


def test_compare_shows_the_figures_of_layers_found_in_one_network_only():
    """ResNet-34 has a third basic block in layer1 that ResNet-18 lacks: its conv1 is 3x3,
    64 -> 64, no bias, at 56x56."""
    result = run("compare", "resnet18", "resnet34", "--format", "json")
    row = next(r for r in json.loads(result.stdout)["layers"]
               if r["name"] == "layer1.unit3.res.conv1")
    assert row["only_in"] == "b"
    assert row["params"] == row["params_difference"] == 3 * 3 * 64 * 64
    assert row["macs"] == 56 * 56 * 64 * (3 * 3 * 64)
    table = run("compare", "resnet18", "resnet34").stdout
    assert f"B: {3 * 3 * 64 * 64:,} params" in table


def test_validate_max_flops_and_report_page(tmp_path):
    """LeNet-5's FLOPs are 676,352 (2 x 328,096 MACs + bias adds and activations)."""
    assert run("validate", "lenet5", "--max-flops", "676352").exit_code == 0
    over = run("validate", "lenet5", "--max-flops", "676351")
    assert over.exit_code == 1 and "flops 676,352 over the budget of 676,351" in over.stdout
    page = tmp_path / "r.html"
    assert run("report", "lenet5", "-o", str(page)).exit_code == 0
    assert "<table" in page.read_text() and "60,840" in page.read_text()
    assert run("report", "lenet5", "-o", str(page)).exit_code == 2  # never overwritten


@pytest.mark.parametrize("name", ["VGG16", "vgg-16", "Vgg_16"])
def test_zoo_names_are_forgiving(name):
    assert json.loads(run("summarize", name, "--format", "json").stdout)["totals"]["params"] \
        == 138_357_544


def test_unknown_names_get_the_family_or_did_you_mean():
    family = run("summarize", "resne")
    assert family.exit_code == 2 and "resnet18, resnet34, resnet50" in family.stderr
    # the family itself is a built-in network too, its members' arguments on the command line
    assert run("summarize", "resnet", "--arg", "depth=34").exit_code == 0
    typo = run("summarize", "mobilnet_v2")  # (mobilenetv3 is now a family: mobilenet_v3_large)
    assert typo.exit_code == 2 and "did you mean" in typo.stderr
