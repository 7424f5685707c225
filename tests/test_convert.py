"""FC as convolution (the notes: 7x7x512 -> 4096 is F=7, K=4096) and flat specs."""

import json

from typer.testing import CliRunner

from cnncalc.analysis.analyze import analyze
from cnncalc.analysis.convert import fc_as_conv, sliding
from cnncalc.cli import app
from cnncalc.language.document import load
from cnncalc.zoo import path_of

runner = CliRunner()


def test_fc_as_conv_vgg16_at_384():
    network = load(path_of("vgg16"))
    original = analyze(network)
    converted = fc_as_conv(network, original)
    same = analyze(converted)
    assert same.totals.params == original.totals.params  # the same parameter counts
    fc6 = next(n for n in converted.nodes if n.name == "fc6").layer
    assert (fc6.type_name, fc6.kernel, fc6.filters) == ("conv", (7, 7), 4096)  # F=7, K=4096
    fc7 = next(n for n in converted.nodes if n.name == "fc7").layer
    assert fc7.kernel == (1, 1)
    converted.input_shape = type(network.input_shape)((384, 384), 3)
    big = analyze(converted)
    assert big.output_shape.as_list() == [6, 6, 1000]  # (12 - 7)/1 + 1 = 6
    slide = sliding(original, big, network)
    assert slide.positions == (6, 6) and slide.stride == 32 and slide.crop == (224, 224)
    assert slide.macs_separate == 36 * original.totals.macs
    assert slide.macs_one_pass < slide.macs_separate


def test_summarize_fc_as_conv_says_36_crops():
    result = runner.invoke(app, ["summarize", "vgg16", "--fc-as-conv", "--input", "384x384x3"],
                           env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "36 crops of 224x224 at stride 32" in " ".join(result.stdout.split())


def test_convert_writes_an_equivalent_spec_and_never_overwrites(tmp_path):
    out = tmp_path / "vgg_conv.yaml"
    result = runner.invoke(app, ["convert", "--fc-as-conv", "vgg16", "-o", str(out)])
    assert result.exit_code == 0, result.output
    written = analyze(load(out))
    assert written.totals.params == 138_357_544
    assert all(r.type != "fc" for r in written.rows)
    again = runner.invoke(app, ["convert", "--fc-as-conv", "vgg16", "-o", str(out)])
    assert again.exit_code == 2 and "--force" in again.stderr


def test_convert_keeps_a_graph_network():
    out = "/tmp/cnncalc-resnet18-flat.yaml"
    result = runner.invoke(app, ["convert", "resnet18", "-o", out, "--force"])
    assert result.exit_code == 0
    flat, original = analyze(load(out)), analyze(load(path_of("resnet18")))
    assert flat.totals == original.totals


def test_convert_never_collides_names_and_keeps_lint_and_budget(tmp_path):
    """`a.1` flattened to `a_1` must not clash with a layer the spec calls `a_1`, and the
    spec's `lint:` and `budget:` survive: the written spec validates to the same totals."""
    spec = tmp_path / "s.yaml"
    spec.write_text("input: [8, 8, 3]\nlint: {ignore: [input-divisible]}\n"
                    "budget: {params: 1M, batch: 4}\nlayers:\n"
                    "  - {name: a, repeat: 2, type: conv, filters: 4, kernel: 3, padding: 1}\n"
                    "  - {name: a_1, type: relu}\n")
    out = tmp_path / "flat.yaml"
    assert runner.invoke(app, ["convert", str(spec), "-o", str(out)]).exit_code == 0
    text = out.read_text()
    assert "a_1_2" in text and "ignore: [input-divisible]" in text and "params: 1000000" in text
    result = runner.invoke(app, ["validate", "--format", "json", str(out)])
    assert result.exit_code == 0
    params = (3 * 3 * 3 * 4 + 4) + (3 * 3 * 4 * 4 + 4)  # conv 3->4, then conv 4->4
    assert json.loads(result.stdout)[0]["totals"]["params"] == params
