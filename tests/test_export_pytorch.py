"""`cnncalc export --to pytorch`: the generated module loads `cnncalc run --save-weights`'s
arrays (strict), computes `run`'s output, holds the published parameter counts, and passes
ruff; bad options fail on one line."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from cnncalc.analysis.analyze import analyze
from cnncalc.cli import app
from cnncalc.cli.common import load_network
from cnncalc.errors import CnnCalcError
from cnncalc.language.document import loads
from cnncalc.zoo import names
from tests.layer_cases import CASES
from tests.test_zoo import TORCHVISION
from tests.test_zoo_torchvision import NETWORKS

# torchvision's documented num_params of the zoo networks it has
PUBLISHED = {**{name: v[0] for name, v in TORCHVISION.items()},
             **{name: v[0] for name, v in NETWORKS.items()}}

runner = CliRunner()
ROOT = Path(__file__).resolve().parent.parent


def export(spec, path, *extra, stdin=None):
    result = runner.invoke(app, ["export", spec, "--to", "pytorch", "-o", str(path), *extra],
                           input=stdin)
    assert result.exit_code == 0, result.output
    return path


def model_class(path):
    spec = importlib.util.spec_from_file_location(f"exported_{abs(hash(str(path)))}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Model


def trainable(model) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def agree(tmp_path, spec, size=None, stdin=None):
    """Export, run with saved weights on one input, and compare; returns the model."""
    torch = pytest.importorskip("torch")
    extra = ["--input", size] if size else []
    model_py = export(spec, tmp_path / "model.py", *extra, stdin=stdin)
    shape = (load_network(spec, size) if stdin is None else loads(stdin)).input_shape
    weights, out, x_file = tmp_path / "w.npz", tmp_path / "y.npy", tmp_path / "x.npy"
    x = np.random.default_rng(1).standard_normal((2, shape.c, *shape.spatial)).astype("float32")
    np.save(x_file, x)
    result = runner.invoke(app, ["run", spec, *extra, "--input-file", str(x_file),
                                 "--save-weights", str(weights), "--output", str(out)],
                           input=stdin)
    assert result.exit_code == 0, result.output
    model = model_class(model_py)()
    arrays = np.load(weights)
    state = model.state_dict()
    assert {k: tuple(v.shape) for k, v in state.items()} == \
        {k: arrays[k].shape for k in arrays.files}
    model.load_state_dict({k: torch.from_numpy(arrays[k]) for k in arrays.files}, strict=True)
    model.eval()
    with torch.no_grad():
        got = model(torch.from_numpy(x)).numpy()
    want = np.load(out)
    assert got.size == want.size
    got = got.reshape(want.shape)
    # within 1e-4 of the output's largest value (He-initialised deep nets without trained
    # batch norm reach 1e6 in resnet152, and outputs of 5e-4 in efficientnet_b0)
    scale = max(float(np.abs(want).max()), 1e-30)
    assert np.abs(got - want).max() <= 1e-4 * scale, (spec, np.abs(got - want).max(), scale)
    return model, model_py


def ruff_passes(path):
    ruff = pytest.importorskip("ruff.__main__")
    result = subprocess.run([ruff.find_ruff_bin(), "check", "--no-cache", "--config",
                             str(ROOT / "pyproject.toml"), str(path)],
                            check=False, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def smallest_input(name: str) -> str | None:
    """The smallest input the network accepts, every axis scaled alike (a square from 32 up
    in 2-D), to keep the run quick."""
    network = load_network(name)
    c, spatial = network.input_shape.c, network.input_shape.spatial
    full = max(spatial)
    for side in [*range(32, 96, 4), *range(96, full, 8)]:
        size = "x".join(str(max(1, n * side // full)) for n in spatial) if len(spatial) != 2 \
            else f"{side}x{side}"
        try:
            analyze(load_network(name, f"{size}x{c}"))
        except CnnCalcError:
            continue
        return f"{size}x{c}"
    return None


@pytest.mark.slow
@pytest.mark.parametrize("name", names())
def test_every_zoo_network_exports_and_computes_runs_output(tmp_path, name):
    size = smallest_input(name)
    model, model_py = agree(tmp_path, name, size)
    report = analyze(load_network(name, size))
    # the torch model's trainable parameters are the spec's at this input
    assert trainable(model) == report.totals.trainable_params
    ruff_passes(model_py)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_exported_zoo_models_hold_torchvisions_published_parameter_counts(tmp_path, name):
    pytest.importorskip("torch")
    model = model_class(export(name, tmp_path / "model.py"))()
    assert trainable(model) == PUBLISHED[name]  # torchvision's documented num_params


def test_lenet5_exports_with_its_table_subsampling_and_rbf(tmp_path):
    model, model_py = agree(tmp_path, "lenet5")
    # LeCun et al. 1998: 60,000 trainable parameters; C3 1,516 = 60 kernels of 5x5 + 16
    # biases; the RBF's 84 x 10 prototypes are fixed (a buffer, not a parameter)
    assert trainable(model) == 60_000
    assert sum(p.numel() for p in model.C3.parameters()) == (6 * 3 + 9 * 4 + 6) * 25 + 16
    assert dict(model.output.named_buffers())["weight"].shape == (10, 84)
    ruff_passes(model_py)


GRADIENTS = [(name, index, case) for name, cases in sorted(CASES.items())
             for index, case in enumerate(cases.gradient)]


@pytest.mark.parametrize("name, index, case", GRADIENTS,
                         ids=[f"{n}-{i}" for n, i, _ in GRADIENTS])
def test_every_layer_type_exports(tmp_path, name, index, case):
    """Each registered type's gradient-checked networks of tests/layer_cases.py (pooling
    modes, conv variants and merges among them)."""
    agree(tmp_path, "-", stdin=case.spec())


@pytest.mark.parametrize("layer", [
    "{type: pool, mode: avg, kernel: 3, stride: 2, ceil_mode: true, padding: 1}",
    "{type: pool, mode: l2, kernel: 3, stride: 2, ceil_mode: true}",
    "{type: pool, mode: min, global: true}", "{type: pool, mode: l2, global: true}",
    "{type: pool, mode: min, output: [2, 3]}", "{type: pool, mode: l2, output: [3, 2]}",
    "{type: pool, mode: max, kernel: 2, padding: same, stride: 2}",
    "{type: local, filters: 3, kernel: 3, padding: same}"])
def test_pooling_modes_and_conv_variants_export(tmp_path, layer):
    agree(tmp_path, "-", stdin=f"input: [7, 7, 4]\nlayers:\n  - {layer}\n")


GRAPH = """\
input: [12, 12, 3]
layers:
  - {name: stem, type: conv, filters: 4, kernel: 3, padding: 1, activation: relu}
  - name: stage
    layers:
      - name: res
        residual:
          - {name: conv1, type: conv, filters: 4, kernel: 3, padding: 1}
          - {name: bn1, type: batchnorm}
  - {name: down, type: pool, kernel: 2, inputs: [stem]}
  - {name: up, type: upsample, inputs: [down, stem], mode: bilinear}
  - name: side
    inputs: stem
    layers:
      - {name: crop, type: crop, inputs: [stem, down]}
      - {name: grow, type: upsample, scale: 2}
  - {name: joined, type: concat, inputs: [stage, up, side, stem]}
  - {name: frozen, type: conv, filters: 2, kernel: 1, trainable: false}
  - {name: 2nd, type: conv, filters: 2, kernel: 1, bias: false}
"""


def test_graphs_export_residuals_branches_multiple_readers_and_frozen_layers(tmp_path):
    model, model_py = agree(tmp_path, "-", stdin=GRAPH)
    # trainable: stem (3*9+1)*4, conv1 (4*9+1)*4, bn1 2*4, `2nd` 2*2 (reads 2 maps, no
    # bias); `frozen`'s (16+1)*2 are not trained
    assert trainable(model) == (3 * 9 + 1) * 4 + (4 * 9 + 1) * 4 + 2 * 4 + 2 * 2
    ruff_passes(model_py)


def test_only_pytorch_is_a_target(tmp_path):
    result = runner.invoke(app, ["export", "lenet5", "--to", "onnx", "-o",
                                 str(tmp_path / "m.py")])
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0
    assert "--to: error: must be one of pytorch (received: 'onnx')" in result.stderr
    assert not (tmp_path / "m.py").exists()


def test_an_existing_file_is_kept_without_force(tmp_path):
    target = tmp_path / "model.py"
    target.write_text("keep me\n")
    result = runner.invoke(app, ["export", "lenet5", "--to", "pytorch", "-o", str(target)])
    assert result.exit_code == 2 and "exists; pass --force to overwrite it" in result.stderr
    assert result.stderr.strip().count("\n") == 0 and target.read_text() == "keep me\n"
    export("lenet5", target, "--force")
    assert "class Model(nn.Module)" in target.read_text()


@pytest.mark.parametrize("name", ["forward", "training", "_private"])
def test_names_pytorch_cannot_hold_are_one_line_errors(tmp_path, name):
    text = f"input: [4, 4, 1]\nlayers:\n  - {{name: {name}, type: conv, filters: 2, kernel: 1}}\n"
    result = runner.invoke(app, ["export", "-", "--to", "pytorch", "-o", str(tmp_path / "m.py")],
                           input=text)
    assert result.exit_code == 1, result.output
    assert f"<stdin>:3:5: error: layer '{name}': '{name}' cannot name a PyTorch submodule" \
        in result.stderr
    assert result.stderr.strip().count("\n") == 0 and not (tmp_path / "m.py").exists()


def test_a_layer_cannot_also_be_a_group_in_pytorch():
    """The spec refuses a group and a layer of one name; the exporter checks it anyway."""
    from cnncalc.interop.pytorch_export import export as to_pytorch
    network = loads("input: [4, 4, 1]\nlayers:\n  - {name: a, type: conv, filters: 2, kernel: 1}"
                    "\n  - {name: b, type: conv, filters: 2, kernel: 1}\n")
    network.nodes[1].name = "a.b"
    with pytest.raises(CnnCalcError, match="'a' is both a layer and the group holding this one"):
        to_pytorch(network, analyze(network), "test.yaml")


def test_the_reserved_names_cover_torchs_module_attributes():
    nn = pytest.importorskip("torch.nn")
    from cnncalc.interop.pytorch_export import DICT_ATTRIBUTES, MODULE_ATTRIBUTES
    assert {a for a in dir(nn.Module()) if not a.startswith("_")} <= MODULE_ATTRIBUTES
    assert {a for a in dir(nn.ModuleDict()) if not a.startswith("_")} <= DICT_ATTRIBUTES


def test_export_does_not_import_torch(tmp_path):
    code = ("import sys\nfrom cnncalc.cli import main\nsys.argv = ['cnncalc', 'export', "
            f"'resnet18', '--to', 'pytorch', '-o', {str(tmp_path / 'm.py')!r}]\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "assert 'torch' not in sys.modules and 'numpy' not in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_vectors_stay_maps_where_a_layer_needs_one(tmp_path):
    """fc -> batchnorm and fc -> conv need the [N, K, 1, 1] map; fc -> relu -> fc does not."""
    text = ("input: [5, 5, 2]\nlayers:\n  - {type: fc, units: 6}\n  - batchnorm\n"
            "  - {type: fc, units: 4}\n  - relu\n  - {type: dropout, rate: 0.3}\n"
            "  - {type: conv, filters: 3, kernel: 1}\n  - {type: fc, units: 3}\n  - softmax\n")
    _, model_py = agree(tmp_path, "-", stdin=text)
    forward = model_py.read_text().split("def forward")[-1]
    assert "self.fc1(x.flatten(1))[:, :, None, None]" in forward  # read by batch norm
    assert "self.fc2(x.flatten(1))[:, :, None, None]" in forward  # a conv follows
    assert "self.fc3(x.flatten(1))\n" in forward and "return softmax1\n" in forward
    ruff_passes(model_py)


def test_names_that_are_not_python_identifiers_export(tmp_path):
    text = ("input: [6, 6, 2]\nlayers:\n  - {name: class, type: conv, filters: 3, kernel: 3}\n"
            "  - {name: a-b, type: batchnorm}\n  - {name: \"\\u00e9t\\u00e9\", type: scale}\n"
            "  - {name: \"\\ufb01\", type: scale}\n"
            "  - name: '1'\n    layers:\n      - {name: '0', type: conv, filters: 2, kernel: 1}\n"
            "      - {name: lambda, type: conv, filters: 2, kernel: 1, inputs: [class]}\n"
            "  - {type: add, inputs: ['1.0', '1.lambda']}\n")
    model, model_py = agree(tmp_path, "-", stdin=text)
    assert set(model.state_dict()) == {
        "class.weight", "class.bias", "a-b.weight", "a-b.bias", "a-b.running_mean",
        "a-b.running_var", "\u00e9t\u00e9.weight", "\ufb01.weight", "1.0.weight", "1.0.bias",
        "1.lambda.weight", "1.lambda.bias"}
    ruff_passes(model_py)


def test_every_layer_type_writes_its_pytorch_source():
    from cnncalc.layers import REGISTRY, Layer
    assert [name for name, cls in REGISTRY.items() if cls.torch_code is Layer.torch_code] == []
    assert set(CASES) == set(REGISTRY)  # each one exported above


SHARED = """
name: shared weights
input: [8, 8, 3]
layers:
  - {name: conv1, type: conv, filters: 3, kernel: 3, padding: 1}
  - relu
  - {name: again, shares: conv1}
  - flatten
  - {name: fc, type: fc, units: 5}
"""


def test_a_shared_layer_calls_its_owners_module(tmp_path):
    """Weight sharing as PyTorch writes it: one module called twice, its parameters once;
    the output equals run's, which uses the one set of arrays at both calls."""
    model, model_py = agree(tmp_path, "-", stdin=SHARED)
    assert trainable(model) == (3 * 9 + 1) * 3 + (8 * 8 * 3 + 1) * 5  # conv1 once, fc
    assert model_py.read_text().count("self.conv1(") == 2
    ruff_passes(model_py)


TWO_INPUTS = """
name: two inputs
inputs: {left: [8, 8, 3], right: [8, 8, 3]}
layers:
  - {name: conv1, type: conv, filters: 4, kernel: 3, padding: 1}
  - {name: tower, shares: conv1, inputs: [right]}
  - {type: add, inputs: [conv1, tower]}
  - flatten
  - {name: fc, type: fc, units: 2}
"""


def test_named_inputs_are_arguments_of_forward(tmp_path):
    """Several network inputs: forward(self, x, right); the same image on both sides of a
    shared conv gives twice the conv's output before the fc, as PyTorch computes it."""
    torch = pytest.importorskip("torch")
    model_py = export("-", tmp_path / "model.py", stdin=TWO_INPUTS)
    assert "def forward(self, x, right):" in model_py.read_text()
    model = model_class(model_py)().eval()
    assert trainable(model) == (3 * 9 + 1) * 4 + (8 * 8 * 4 + 1) * 2
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        got = model(x, x)
        want = model.fc((2 * model.conv1(x)).flatten(1))
    assert torch.allclose(got, want, atol=1e-5)
    ruff_passes(model_py)
