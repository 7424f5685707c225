"""`memory --format html` is a page of its own (answer, breakdown, step timeline, a real table
of every layer) and `--format svg` a chart, both from the figures `--format json` prints."""

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def cnncalc(*args):
    done = subprocess.run([sys.executable, "-m", "cnncalc", *args], cwd=ROOT,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_html_page_holds_the_answer_the_breakdown_and_every_layer():
    args = ("memory", "lenet5", "--mode", "training", "--optimizer", "adam", "--backend", "cpu")
    figures = json.loads(cnncalc(*args, "--format", "json"))
    page = cnncalc(*args, "--format", "html")
    assert page.startswith("<!DOCTYPE html>") and "<pre" not in page  # not terminal text
    assert f"{figures['training_bytes']:,} B" in page  # the answer, exact
    body = page[page.index('<table class="layers">'):]
    rows = re.findall(r'<tr class="layer"><td class="n">(\d+)</td><td>([^<]*)</td>', body)
    assert [name for _, name in rows] == [layer["name"] for layer in figures["layers"]]
    assert len(rows) == 7  # LeNet-5 (LeCun et al. 1998): C1 S2 C3 S4 C5 F6 output
    assert "Live memory during one training step" in page
    total = sum(figures["breakdown"].values())
    assert total == figures["training_bytes"]
    assert f"{total:,} bytes" in page[page.index('id="breakdown"'):]


def test_inference_page_has_no_step_chart():
    page = cnncalc("memory", "lenet5", "--format", "html")
    assert "Live memory during one training step" not in page and '<table class="layers">' in page


def test_svg_is_a_chart():
    training = cnncalc("memory", "lenet5", "--mode", "training", "--format", "svg")
    assert training.startswith("<svg") and "Live memory during one training step" in training
    inference = cnncalc("memory", "lenet5", "--format", "svg")
    assert inference.startswith("<svg") and "Bytes allocated per layer output" in inference


def test_convention_page_is_the_memory_page_with_the_peers_lines():
    page = cnncalc("memory", "resnet18", "--convention", "torchinfo", "--format", "html")
    plain = cnncalc("memory", "resnet18", "--format", "html")
    assert page.startswith("<!DOCTYPE html>") and "<pre" not in page  # not rich's export
    data = json.loads(cnncalc("memory", "resnet18", "--convention", "torchinfo", "--format",
                              "json"))["convention"]
    for line, key in zip(data["printed"], ("input_bytes", "forward_backward_bytes",
                                           "params_bytes", "total_bytes")):
        assert f"<td>{line}</td><td class=\"n\">{data[key]:,}</td>" in page
    assert page.replace(re.search(r'<section id="convention">.*?</section>', page).group(), "") \
        == plain  # otherwise the same page
    assert cnncalc("memory", "resnet18", "--convention", "torchinfo", "--format", "svg") == \
        cnncalc("memory", "resnet18", "--format", "svg")
