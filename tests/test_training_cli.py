"""`summarize --mode training` and the report page: the backward's columns and keys."""

import json

from typer.testing import CliRunner

from cnncalc.cli import app

runner = CliRunner()

# conv1 reads the image (no input gradient); conv2's input comes from a trained layer
NET = """\
input: [8, 8, 3]
layers:
  - {name: conv1, type: conv, filters: 4, kernel: 3, padding: 1, activation: relu}
  - {name: conv2, type: conv, filters: 6, kernel: 1}
"""
CONV1 = 8 * 8 * 4 * 3 * 3 * 3  # forward MACs: positions x K x taps x Cin
CONV2 = 8 * 8 * 6 * 4


def run(*args, input=None):
    result = runner.invoke(app, list(args), input=input)
    return result


def test_json_has_the_backward_per_layer_and_the_train_step_in_the_totals():
    result = run("summarize", "-", "--mode", "training", "--format", "json", input=NET)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["mode"] == "training"
    conv1, conv2 = data["layers"]
    assert (conv1["input_grad_macs"], conv1["weight_grad_macs"], conv1["backward_macs"]) == \
        (0, CONV1, CONV1)
    assert (conv2["input_grad_macs"], conv2["weight_grad_macs"], conv2["backward_macs"]) == \
        (CONV2, CONV2, 2 * CONV2)
    totals = data["totals"]
    for key in ("input_grad_macs", "weight_grad_macs", "backward_macs", "backward_flops"):
        assert totals[key] == sum(layer[key] for layer in data["layers"])
    assert totals["train_step_macs"] == (CONV1 + CONV2) + CONV1 + 2 * CONV2
    params = (27 + 1) * 4 + (4 + 1) * 6
    assert totals["optimizer_flops"] == {"sgd": 2 * params, "momentum": 4 * params,
                                         "adam": 13 * params}


def test_inference_json_keeps_its_keys():
    data = json.loads(run("summarize", "-", "--format", "json", input=NET).stdout)
    assert data["mode"] == "inference"
    assert "backward_macs" not in data["totals"] and "backward_macs" not in data["layers"][0]


def test_table_adds_the_columns_and_the_totals():
    result = run("summarize", "-", "--mode", "training", "--wide", input=NET)
    assert result.exit_code == 0, result.output
    header = result.stdout.splitlines()[1]
    for title in ("dX MACs", "dW MACs", "backward MACs", "backward FLOPs"):
        assert title in header
    assert f"Train-step MACs{CONV1 + CONV2 + CONV1 + 2 * CONV2:>27,}" in result.stdout


def test_columns_option_knows_the_training_columns():
    result = run("summarize", "-", "--mode", "training", "--columns", "name,backward_macs",
                 input=NET)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[4].split() == ["conv2", f"{2 * CONV2:,}"]


def test_csv_and_markdown_carry_the_backward():
    csv = run("summarize", "-", "--mode", "training", "--format", "csv", input=NET).stdout
    header, first = csv.splitlines()[:2]
    assert header.endswith("input_grad_macs,weight_grad_macs,backward_macs,backward_flops")
    assert first.split(",")[-4:-1] == ["0", str(CONV1), str(CONV1)]
    markdown = run("summarize", "-", "--mode", "training", "--format", "markdown",
                   input=NET).stdout
    assert f"| train_step_macs | {CONV1 + CONV2 + CONV1 + 2 * CONV2:,} |" in markdown


def test_input_sweep_adds_the_backward():
    result = run("summarize", "resnet18", "--mode", "training", "--input", "224,112")
    assert result.exit_code == 0, result.output
    assert "3,510,132,736" in result.stdout  # the measured ResNet-18 backward


def test_an_unknown_mode_is_one_line_exit_2():
    result = run("summarize", "-", "--mode", "train", input=NET)
    assert result.exit_code == 2
    assert result.stderr.strip() == \
        "--mode: error: must be one of inference, training (received: 'train')"


def test_report_page_shows_the_backward(tmp_path):
    page = tmp_path / "r.html"
    spec = tmp_path / "net.yaml"
    spec.write_text(NET)
    assert run("report", str(spec), "-o", str(page)).exit_code == 0
    html = page.read_text()
    for title in ("dX MACs", "dW MACs", "Backward MACs", "Train-step MACs",
                  "Backward MACs per layer"):
        assert title in html
    assert f'<td class="n">{2 * CONV2:,}</td>' in html


def test_summarize_html_in_training_mode_shows_the_backward():
    html = run("summarize", "-", "--mode", "training", "--format", "html", input=NET).stdout
    assert "dW MACs" in html
    assert "dW MACs" not in run("summarize", "-", "--format", "html", input=NET).stdout


def test_collapsed_groups_sum_their_layers_backward():
    result = run("summarize", "resnet18", "--mode", "training", "--depth", "0", "--columns",
                 "name,backward_macs")
    assert result.exit_code == 0, result.output
    lines = result.stdout.split("\n\n")[0].splitlines()[3:]  # the rows, before the totals
    # 2 x forward less conv1's input gradient (the issue's FlopCounterMode measurement)
    assert sum(int(line.split()[-1].replace(",", "")) for line in lines) == 3_510_132_736
