"""`.keras` files and Keras JSON configs as specs, read with the standard library only: what
they count, `cnncalc import`, and every bad file as one line with exit 2 (not a zip, no
config.json, a zip bomb, a config over the cap, an unknown or refused layer, malformed
configs, a dynamic input without --input). The configs are written here in Keras 3's format
(what `model.to_json()` and `model.save()` write), so no Keras is needed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile

import pytest

from cnncalc.errors import CnnCalcError
from cnncalc.interop.keras_file import MAX_CONFIG_BYTES


def tensor(layer: str, shape: list) -> dict:
    return {"class_name": "__keras_tensor__",
            "config": {"shape": [None, *shape], "dtype": "float32",
                       "keras_history": [layer, 0, 0]}}


def layer(class_name: str, name: str, config: dict, *inputs, module="keras.layers") -> dict:
    """A Keras 3 functional layer reading `inputs` ((layer name, shape) pairs)."""
    args = [tensor(n, s) for n, s in inputs]
    return {"module": module, "class_name": class_name, "config": {"name": name, **config},
            "registered_name": None, "name": name,
            "inbound_nodes": [{"args": args if len(args) == 1 else [args], "kwargs": {}}]}


def functional(layers: list, shape=(32, 32, 3), output: str | None = None) -> dict:
    first = {"module": "keras.layers", "class_name": "InputLayer", "name": "input_layer",
             "config": {"batch_shape": [None, *shape], "dtype": "float32",
                        "name": "input_layer"}, "inbound_nodes": []}
    return {"module": "keras.src.models.functional", "class_name": "Functional",
            "config": {"name": "tiny", "trainable": True, "layers": [first, *layers],
                       "input_layers": [["input_layer", 0, 0]],
                       "output_layers": [[output or layers[-1]["name"], 0, 0]]}}


def tiny_layers() -> list:
    """conv 3->8 3x3 'same' stride 2 + BN + ReLU, global average pool, dense 10 softmax."""
    return [layer("Conv2D", "conv", {"filters": 8, "kernel_size": [3, 3], "strides": [2, 2],
                                     "padding": "same", "use_bias": True,
                                     "activation": "linear", "dilation_rate": [1, 1],
                                     "groups": 1}, ("input_layer", [32, 32, 3])),
            layer("BatchNormalization", "bn", {"axis": -1, "epsilon": 1e-3, "center": True,
                                               "scale": True}, ("conv", [16, 16, 8])),
            layer("ReLU", "relu", {"max_value": None, "negative_slope": 0.0,
                                   "threshold": 0.0}, ("bn", [16, 16, 8])),
            layer("GlobalAveragePooling2D", "gap", {"keepdims": False}, ("relu", [16, 16, 8])),
            layer("Dense", "fc", {"units": 10, "activation": "softmax", "use_bias": True},
                  ("gap", [8]))]


CONV = 3 * 3 * 3 * 8 + 8  # weights and biases
BN_TRAINABLE, BN_STATS = 2 * 8, 2 * 8  # gamma, beta; moving mean and variance
FC = 8 * 10 + 10
CONV_MACS = 16 * 16 * 8 * 3 * 3 * 3  # 'same' at stride 2: ceil(32 / 2) = 16 per side
FC_MACS = 8 * 10


def write_keras(path, config: dict, extra: dict | None = None, method=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(path, "w", method) as archive:
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.15.0"}))
        archive.writestr("config.json", json.dumps(config))
        for entry, data in (extra or {}).items():
            archive.writestr(entry, data)
    return path


def python(*args):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True,
                          env=env, check=False)


def cli(*args):
    return python("-m", "cnncalc", *args)


def one_line_error(result, *words):
    """`validate` reports on standard output, the other commands on standard error."""
    text = result.stderr or result.stdout
    assert result.returncode == 2, (result.returncode, text)
    lines = text.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in text, text
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def totals(path, **kw):
    from cnncalc.analysis.analyze import analyze
    from cnncalc.load import open_spec
    return analyze(open_spec(str(path), **kw)).totals


def test_a_keras_file_counts_params_with_keras_split_and_macs(tmp_path):
    found = totals(write_keras(tmp_path / "tiny.keras", functional(tiny_layers())))
    assert found.params == CONV + BN_TRAINABLE + BN_STATS + FC
    assert found.non_trainable_params == BN_STATS
    assert found.macs == CONV_MACS + FC_MACS


def test_a_keras_json_config_is_read_as_the_keras_file_is(tmp_path):
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(functional(tiny_layers())))
    found = totals(path)
    assert (found.params, found.macs) == (CONV + BN_TRAINABLE + BN_STATS + FC, CONV_MACS + FC_MACS)


def test_a_json_spec_that_is_not_keras_is_still_a_spec(tmp_path):
    path = tmp_path / "spec.json"
    path.write_text(json.dumps({"input": [8, 8, 3], "layers": [{"type": "fc", "units": 4}]}))
    assert totals(path).params == 8 * 8 * 3 * 4 + 4


def test_a_large_keras_file_is_read_without_its_weights(tmp_path):
    """A 100 MB weights entry beside config.json: fine, only config.json is read."""
    weights = b"\0" * (100 * 10**6)
    path = write_keras(tmp_path / "big.keras", functional(tiny_layers()),
                       {"model.weights.h5": weights}, method=zipfile.ZIP_STORED)
    assert path.stat().st_size > 100 * 10**6
    result = cli("summarize", path)
    assert result.returncode == 0, result.stderr
    assert f"{CONV + BN_TRAINABLE + BN_STATS + FC:,}" in result.stdout


def test_import_writes_a_readable_spec_that_counts_the_same(tmp_path):
    model = write_keras(tmp_path / "tiny.keras", functional(tiny_layers()))
    out = tmp_path / "net.yaml"
    result = cli("import", model, "-o", out)
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    assert text.startswith("# imported by cnncalc import from")
    assert "padding: same" in text and "type: fc" in text
    found = totals(out)
    assert (found.params, found.macs) == (CONV + BN_TRAINABLE + BN_STATS + FC, CONV_MACS + FC_MACS)


def test_not_a_zip(tmp_path):
    path = tmp_path / "bad.keras"
    path.write_text("not a zip at all")
    one_line_error(cli("summarize", path), "bad.keras", "not a zip file")


def test_a_zip_without_config_json_is_not_a_keras_model(tmp_path):
    path = tmp_path / "other.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hello")
    one_line_error(cli("summarize", path), "other.keras", "not a Keras model", "config.json")


def test_a_zip_bomb_config_is_refused_by_its_size(tmp_path):
    """config.json inflating past the cap (a few hundred KB compressed): refused unread."""
    path = tmp_path / "bomb.keras"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("config.json", b" " * (MAX_CONFIG_BYTES + 1))
    assert path.stat().st_size < MAX_CONFIG_BYTES // 100
    one_line_error(cli("validate", path), "bomb.keras", "larger than")


def test_a_config_that_is_not_json(tmp_path):
    path = write_keras(tmp_path / "x.keras", {})
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", "{not json")
    one_line_error(cli("summarize", path), "x.keras", "config.json is not valid JSON")


def test_an_unknown_keras_layer_is_named_with_its_class(tmp_path):
    layers = tiny_layers()
    layers[2] = layer("GRU", "relu", {"units": 4}, ("bn", [16, 16, 8]))
    path = write_keras(tmp_path / "gru.keras", functional(layers))
    one_line_error(cli("summarize", path), "gru.keras", "'relu'", "(GRU)", "no cnncalc mapping")


def test_a_lambda_layer_is_refused_by_name(tmp_path):
    layers = tiny_layers()
    layers[2] = layer("Lambda", "my_lambda", {"function": "..."}, ("bn", [16, 16, 8]))
    layers[3]["inbound_nodes"][0]["args"] = [tensor("my_lambda", [16, 16, 8])]
    path = write_keras(tmp_path / "lambda.keras", functional(layers))
    one_line_error(cli("memory", path), "'my_lambda'", "(Lambda)")


def test_an_activation_cnncalc_lacks_is_refused_naming_the_layer(tmp_path):
    layers = tiny_layers()
    layers[0]["config"]["activation"] = "selu"
    path = write_keras(tmp_path / "selu.keras", functional(layers))
    one_line_error(cli("summarize", path), "'conv'", "(Conv2D)", "selu")


@pytest.mark.parametrize("breaks,words", [
    (lambda c: c["config"]["layers"][1]["config"].pop("filters"), ["'conv'", "malformed"]),
    (lambda c: c["config"].update(layers="no"), ["'layers' list"]),
    (lambda c: c["config"]["layers"][2]["inbound_nodes"][0]["args"][0]["config"]
     .update(keras_history=["nowhere", 0, 0]), ["'bn'", "'nowhere'"]),
    (lambda c: c["config"].update(output_layers=[[1, 2]]), ["output_layers"]),
    (lambda c: c["config"]["layers"][1]["config"].update(kernel_size="big"), ["'conv'", "malformed"]),
    (lambda c: c["config"]["layers"][1]["config"].update(padding="full"), ["'conv'", "padding"]),
    (lambda c: c["config"]["layers"][1]["config"].update(data_format="channels_first"),
     ["'conv'", "channels_first"]),
    (lambda c: c.update(class_name="Dense"), ["not a Keras model"]),
])
def test_malformed_configs_are_one_line_errors(tmp_path, breaks, words):
    config = functional(tiny_layers())
    breaks(config)
    path = write_keras(tmp_path / "broken.keras", config)
    one_line_error(cli("summarize", path), "broken.keras", *words)


def test_a_dynamic_input_needs_input_and_takes_it(tmp_path):
    layers = tiny_layers()
    path = write_keras(tmp_path / "dyn.keras", functional(layers, shape=(None, None, 3)))
    one_line_error(cli("summarize", path), "dynamic sizes", "--input")
    found = totals(path, input_override="32x32x3")
    assert found.macs == CONV_MACS + FC_MACS


def test_a_sequential_model_chains_its_layers(tmp_path):
    config = {"module": "keras", "class_name": "Sequential", "config": {
        "name": "seq", "layers": [
            {"module": "keras.layers", "class_name": "InputLayer",
             "config": {"batch_shape": [None, 28, 28, 1], "name": "input_layer"}},
            {"module": "keras.layers", "class_name": "Conv2D",
             "config": {"name": "c", "filters": 4, "kernel_size": [5, 5], "padding": "valid",
                        "activation": "relu"}, "build_config": {"input_shape": [None, 28, 28, 1]}},
            {"module": "keras.layers", "class_name": "Flatten", "config": {"name": "f"},
             "build_config": {"input_shape": [None, 24, 24, 4]}},
            {"module": "keras.layers", "class_name": "Dense",
             "config": {"name": "d", "units": 10}, "build_config": {"input_shape": [None, 2304]}}]}}
    found = totals(write_keras(tmp_path / "seq.keras", config))
    assert found.params == (5 * 5 * 1 * 4 + 4) + (24 * 24 * 4 * 10 + 10)
    assert found.macs == 24 * 24 * 4 * 5 * 5 + 24 * 24 * 4 * 10


def test_open_spec_raises_the_domain_error_not_a_traceback(tmp_path):
    path = tmp_path / "bad.keras"
    path.write_bytes(b"PK\x03\x04 broken")
    from cnncalc.load import open_spec
    with pytest.raises(CnnCalcError):
        open_spec(str(path))
