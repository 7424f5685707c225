"""Several named network inputs (`inputs: {name: shape, ...}`): shapes, counts, memory, run,
and torchinfo's two-input SiameseNets (github.com/TylerYep/torchinfo, tests/fixtures/models.py
and tests/test_output/siamese_net.out)."""

import textwrap

import numpy as np
import pytest
from typer.testing import CliRunner

from cnncalc.analysis.analyze import analyze
from cnncalc.cli import app
from cnncalc.errors import EXIT_INCONSISTENT, EXIT_UNREADABLE
from cnncalc.language.document import loads
from tests.conftest import error_of, report_of

runner = CliRunner()

# torchinfo's SiameseNets on two 1x1x88x88 inputs: conv1..conv4 (each + relu + 2x2 max pool)
# and fc1 are applied to both inputs with the same weights; |x1 - x2| costs no parameters
# (an add stands in for it here), then dropout and fc2.
SIAMESE = """
    name: SiameseNets
    inputs: {x1: [88, 88, 1], x2: [88, 88, 1]}
    blocks:
      tower:
        args: {first: null}
        layers:
          - {name: conv1, type: conv, filters: 64, kernel: 10, activation: relu}
          - {type: pool, kernel: 2}
          - {name: conv2, type: conv, filters: 128, kernel: 7, activation: relu}
          - {type: pool, kernel: 2}
          - {name: conv3, type: conv, filters: 128, kernel: 4, activation: relu}
          - {type: pool, kernel: 2}
          - {name: conv4, type: conv, filters: 256, kernel: 4, activation: relu}
          - {type: pool, kernel: 2}
          - {name: fc1, type: fc, units: 4096}
    layers:
      - {block: tower, name: a, first: true}
      - {name: b1, shares: a.conv1, inputs: [x2]}
      - {type: pool, kernel: 2}
      - {shares: a.conv2}
      - {type: pool, kernel: 2}
      - {shares: a.conv3}
      - {type: pool, kernel: 2}
      - {shares: a.conv4}
      - {type: pool, kernel: 2}
      - {name: b5, shares: a.fc1}
      - {name: metric, type: add, inputs: [a, b5]}
      - dropout
      - {type: fc, units: 1, activation: sigmoid}
    """


def test_torchinfo_siamese_nets_total_params():
    """siamese_net.out: Total params 2,251,585 (each shared module once), mult-adds 1.06 G
    (every call; torchinfo counts a bias add per output as a mult-add)."""
    report = report_of(SIAMESE)
    convs = [(1, 64, 10), (64, 128, 7), (128, 128, 4), (128, 256, 4)]
    params = sum(k * k * cin * cout + cout for cin, cout, k in convs)
    params += (256 * 4096 + 4096) + (4096 * 1 + 1)  # fc1, fc2
    assert report.totals.params == params == 2_251_585
    # output sides per conv: 88-10+1 = 79, 39-7+1 = 33, 16-4+1 = 13, 6-4+1 = 3
    sides = [79, 33, 13, 3]
    one_tower = sum(s * s * cout * k * k * cin for (cin, cout, k), s in zip(convs, sides))
    one_tower += 256 * 4096
    assert report.totals.macs == 2 * one_tower + 4096
    biases = 2 * (sum(s * s * cout for (_, cout, _), s in zip(convs, sides)) + 4096) + 1
    assert round((report.totals.macs + biases) / 1e9, 2) == 1.06
    rows = {r.name: r for r in report.rows}
    assert rows["x2"].output_shape.as_list() == [88, 88, 1] and rows["x2"].totals.params == 0
    assert rows["b1"].input_shapes[0].as_list() == [88, 88, 1]
    assert rows["a.conv1"].inputs == ("input",) and rows["b1"].inputs == ("x2",)


SIAMESE_BY_BLOCK = """
    name: SiameseNets
    inputs: {x1: [88, 88, 1], x2: [88, 88, 1]}
    blocks:
      tower:
        layers:
          - {type: conv, filters: 64, kernel: 10, activation: relu}
          - {type: pool, kernel: 2}
          - {type: conv, filters: 128, kernel: 7, activation: relu}
          - {type: pool, kernel: 2}
          - {type: conv, filters: 128, kernel: 4, activation: relu}
          - {type: pool, kernel: 2}
          - {type: conv, filters: 256, kernel: 4, activation: relu}
          - {type: pool, kernel: 2}
          - {type: fc, units: 4096}
    layers:
      - {block: tower, name: a}
      - {block: tower, name: b, shares: a, inputs: x2}
      - {type: add, inputs: [a, b]}
      - dropout
      - {type: fc, units: 1, activation: sigmoid}
    """


def test_the_siamese_towers_shared_by_one_block_call():
    """The second tower as one block call with `shares: a`: the same 2,251,585 parameters and
    the same MACs as sharing layer by layer."""
    report = report_of(SIAMESE_BY_BLOCK)
    assert report.totals.params == 2_251_585
    assert report.totals.macs == report_of(SIAMESE).totals.macs
    assert [r.shares for r in report.rows if r.shares] == [
        "a.conv1", "a.conv2", "a.conv3", "a.conv4", "a.fc1"]


def test_torch_counts_the_siamese_parameters_the_same():
    torch = pytest.importorskip("torch")
    nn = torch.nn
    modules = [nn.Conv2d(1, 64, 10), nn.Conv2d(64, 128, 7), nn.Conv2d(128, 128, 4),
               nn.Conv2d(128, 256, 4), nn.Linear(256, 4096), nn.Linear(4096, 1)]
    assert report_of(SIAMESE).totals.params == sum(p.numel() for m in modules
                                                   for p in m.parameters())


def network(text):
    return loads(textwrap.dedent(text), "n.yaml")


TWO = """
    inputs: {image: [8, 8, 3], mask: [8, 8, 1]}
    layers:
      - {name: feat, type: conv, filters: 4, kernel: 3, padding: 1}
      - {name: both, type: concat, inputs: [feat, mask]}
      - {type: conv, filters: 2, kernel: 1}
    """


def test_the_first_input_is_read_by_default_and_others_by_name():
    report = report_of(TWO)
    rows = {r.name: r for r in report.rows}
    assert report.input_shape.as_list() == [8, 8, 3]
    assert rows["feat"].totals.params == 3 * 3 * 3 * 4 + 4  # reads image's 3 channels
    assert rows["both"].output_shape.as_list() == [8, 8, 4 + 1]
    assert report.totals.activations == 8 * 8 * (4 + 5 + 2)  # inputs are not layer outputs


def test_memory_holds_every_input():
    """Activations kept in inference: image 192 + mask 64 + feat 256 + concat 320 + conv 128."""
    from cnncalc.analysis.memory import build
    net = network(TWO)
    model = build(net, analyze(net))
    assert sum(layer.values for layer in model.layers) + model.input_values == \
        8 * 8 * (3 + 1 + 4 + 5 + 2)


def test_run_feeds_every_input_and_measures_what_memory_predicts():
    result = runner.invoke(app, ["run", "-", "--format", "json"], input=textwrap.dedent(TWO))
    assert result.exit_code == 0, result.output
    import json
    data = json.loads(result.stdout)
    assert [layer["real"] for layer in data["layers"]] == [[8, 8, 1], [8, 8, 4], [8, 8, 5],
                                                           [8, 8, 2]]
    # the peak is at the concat: mask 64 + feat 256 + concat 320 values (image is freed
    # after feat), plus the parameters (3x3x3x4 + 4) + (5x2 + 2), 4 bytes each
    assert data["peak_bytes"] == 4 * (8 * 8 * (1 + 4 + 5) + (3 * 3 * 3 * 4 + 4) + (5 * 2 + 2))


def test_the_named_input_names_the_first_input_in_inputs():
    report = report_of("""
        inputs: {left: [4, 4, 2], right: [4, 4, 2]}
        layers:
          - {name: s, type: add, inputs: [left, right]}
        """)
    assert report.rows[-1].inputs == ("input", "right")


def test_run_refuses_one_input_file_for_several_inputs(tmp_path):
    spec = tmp_path / "two.yaml"
    spec.write_text(textwrap.dedent(TWO))
    x = tmp_path / "x.npy"
    np.save(x, np.zeros((1, 3, 8, 8), np.float32))
    result = runner.invoke(app, ["run", str(spec), "--input-file", str(x)])
    assert result.exit_code == EXIT_UNREADABLE
    assert "--input-file feeds one input, but this network has 2 (image, mask)" in result.output


def test_a_flat_spec_keeps_the_named_inputs(tmp_path):
    spec, flat = tmp_path / "s.yaml", tmp_path / "flat.yaml"
    spec.write_text(textwrap.dedent(SIAMESE_BY_BLOCK))
    assert runner.invoke(app, ["convert", str(spec), "-o", str(flat)]).exit_code == 0
    again = analyze(loads(flat.read_text(), "flat.yaml"))
    assert again.totals.params == 2_251_585
    assert again.totals.macs == report_of(SIAMESE).totals.macs


BAD = [
    ("""input: [8, 8, 3]
inputs: {a: [8, 8, 3]}
layers: [relu]
""", 2, 1, EXIT_UNREADABLE, ["'input' or 'inputs', not both"]),
    ("""inputs: {a: [8, 8, 3], b: [8]}
layers: [relu]
""", 1, 27, EXIT_UNREADABLE, ["'inputs.b' must be [height, width, channels]"]),
    ("""inputs: {a: [8, 8, 3], input: [8, 8, 1]}
layers: [relu]
""", 1, 24, EXIT_UNREADABLE, ["an input's name must be", "other than 'input'"]),
    ("""inputs: []
layers: [relu]
""", 1, 9, EXIT_UNREADABLE, ["'inputs' must be a mapping of input names"]),
    ("""layers: [relu]
""", 1, 1, EXIT_UNREADABLE, ["the spec has no 'input' (or 'inputs'"]),
    ("""inputs: {a: [8, 8, 3], m: [4, 4, 1]}
layers:
  - {type: concat, inputs: [a, m]}
""", 3, 28, EXIT_INCONSISTENT, ["concat needs inputs of one height and width"]),
    ("""inputs: {a: [8, 8, 3], m: [4, 4, 1]}
layers:
  - {name: m, type: relu}
""", 3, 12, EXIT_UNREADABLE, ["duplicate layer name 'm'"]),
    ("""inputs: {image: [8, 8, 3], mask: [4, 4, 1]}
layers:
  - {type: relu, inputs: [maks]}
""", 3, 27, EXIT_UNREADABLE, ["'inputs' names no earlier layer; did you mean 'mask'?"]),
    ("""inputs: {image: [8, 8, 3], mask: [4, 4, 1]}
layers:
  - {type: relu, inputs: [imagr]}
""", 3, 27, EXIT_UNREADABLE, ["'inputs' names no earlier layer; did you mean 'image'?"]),
]


@pytest.mark.parametrize("text, line, column, code, words", BAD)
def test_named_input_errors(text, line, column, code, words):
    diagnostic = error_of(text, "i.yaml")
    assert (diagnostic.span.line, diagnostic.span.column, diagnostic.exit_code) == \
        (line, column, code), diagnostic.format()
    for word in words:
        assert word in diagnostic.format(), diagnostic.format()


def test_the_schema_accepts_named_inputs_and_shared_layers():
    import jsonschema
    import yaml

    from cnncalc.language.schema import spec_schema
    jsonschema.validate(yaml.safe_load(textwrap.dedent(SIAMESE)), spec_schema())
    jsonschema.validate(yaml.safe_load(textwrap.dedent(SIAMESE_BY_BLOCK)), spec_schema())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"input": [8, 8, 3], "inputs": {"a": [8, 8, 3]}, "layers": ["relu"]},
                            spec_schema())


def test_the_summary_names_every_input(tmp_path):
    import json
    spec = tmp_path / "two.yaml"
    spec.write_text(textwrap.dedent(TWO))
    table = runner.invoke(app, ["summarize", str(spec)], env={"COLUMNS": "160"}).stdout
    assert table.splitlines()[0].endswith("(inputs image 8x8x3, mask 8x8x1)")
    data = json.loads(runner.invoke(app, ["summarize", str(spec), "--format", "json"]).stdout)
    assert data["input"] == [8, 8, 3] and data["inputs"] == {"image": [8, 8, 3],
                                                             "mask": [8, 8, 1]}


def test_memory_and_report_of_named_inputs_count_every_input(tmp_path):
    """The docs' image/mask example once exited 70 in `memory` and `report` (step.py read the
    inputs of a node that reads none). At the concat, float32, batch 1, three tensors live:
    image 8*8*3, mask 8*8*1 and the output 8*8*(3+1) values."""
    spec = tmp_path / "masked.yaml"
    spec.write_text("inputs: {image: [8, 8, 3], mask: [8, 8, 1]}\n"
                    "layers:\n  - {type: concat, inputs: [input, mask]}\n")
    import json
    result = runner.invoke(app, ["memory", str(spec), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["peak_inference_bytes"] == (8*8*3 + 8*8*1 + 8*8*4) * 4
    for mode in ("training",):
        assert runner.invoke(app, ["memory", str(spec), "--mode", mode]).exit_code == 0
    page = tmp_path / "r.html"
    assert runner.invoke(app, ["report", str(spec), "-o", str(page)]).exit_code == 0
    assert "mask" in page.read_text()


def test_a_named_input_is_held_through_the_forward_like_the_first(tmp_path):
    """forward(image, mask): the caller holds both tensors until the forward returns. At the
    1x1 conv (float32, batch 1): its weights 16 x 4 + 16, image 8*8*3, mask 8*8*1, the concat
    8*8*4 it reads and its output 8*8*16 are live."""
    import json
    spec = tmp_path / "held.yaml"
    spec.write_text("inputs: {image: [8, 8, 3], mask: [8, 8, 1]}\nlayers:\n"
                    "  - {type: concat, inputs: [input, mask]}\n"
                    "  - {type: conv, filters: 16, kernel: 1}\n")
    result = runner.invoke(app, ["memory", str(spec), "--format", "json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert figures["peak_layer"] == "conv1"
    assert figures["peak_inference_bytes"] == 4 * (16 * 4 + 16 + 8*8*3 + 8*8*1 + 8*8*4 + 8*8*16)
    for extra in (["--micro-batch", "1", "--batch", "2"], ["--checkpoint", "2"]):
        assert runner.invoke(app, ["memory", str(spec), "--mode", "training", *extra]
                             ).exit_code == 0
