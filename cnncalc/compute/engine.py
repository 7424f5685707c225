"""Run a network with NumPy: the forward (and backward) pass that proves the predicted shapes.

Arrays are NCHW. Weights are He-initialised from a seed or loaded from .npz (keys
`<layer>.<weight|bias|running_mean|running_var>`, PyTorch layouts). Inference frees each
activation after its last reader, as `memory.liveness` predicts; the bytes it holds are
measured from the arrays themselves.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..graph import allocation, readers
from ..analysis.report import Report
from ..errors import EXIT_INCONSISTENT, EXIT_UNREADABLE, CnnCalcError, Diagnostic, Span
from ..graph import INPUT, Network
from ..layers.base import ALLOCATES, IN_PLACE


@dataclass
class Step:
    name: str
    predicted: tuple  # (H, W, C)
    real: tuple  # (H, W, C) of the array computed
    seconds: float
    held_bytes: int  # activation bytes alive after this step (parameters excluded)


@dataclass
class RunResult:
    steps: list[Step]
    output: np.ndarray
    param_bytes: int
    peak_bytes: int  # activations at their peak, plus parameters
    training_bytes: int | None = None  # outputs + gradients + input + params + grads
    grads: dict = field(default_factory=dict)


def fail(message: str, code: int = EXIT_UNREADABLE, span: Span | None = None):
    raise CnnCalcError(Diagnostic(span or Span("--weights"), message, exit_code=code))


def shapes_of(network: Network, report: Report) -> dict[str, dict[str, tuple]]:
    """Every layer's expected weight arrays (a layer with `shares:` uses its owner's)."""
    return {node.name: node.layer.weight_shapes(row.input_shapes[0])
            for node, row in zip(network.nodes, report.rows)
            if node.shares is None and node.layer.weight_shapes(row.input_shapes[0])}


NORMALS_PER_STREAM = 1 << 20  # fixed, so that the weights depend on the seed alone


def he_normal(streams: np.random.SeedSequence, shape: tuple, std: float, dtype) -> np.ndarray:
    """Normal values of standard deviation `std`, drawn in `dtype` (float32 or float64)
    directly, a million per random stream, the streams filled on the forward's threads."""
    from .parallel import run_all
    value = np.empty(shape, dtype=dtype)
    flat = value.reshape(-1)
    children = streams.spawn(-(-flat.size // NORMALS_PER_STREAM))

    def fill(j):
        part = flat[j * NORMALS_PER_STREAM:(j + 1) * NORMALS_PER_STREAM]
        np.random.default_rng(children[j]).standard_normal(out=part, dtype=dtype)
        part *= part.dtype.type(std)

    run_all(fill, range(len(children)))
    return value


def init_weights(network: Network, report: Report, seed: int, dtype=np.float32) -> dict:
    """He initialisation (normal, std sqrt(2 / fan_in)); biases 0; batch norm the identity."""
    streams = np.random.SeedSequence(seed)
    layers = {node.name: node.layer for node in network.nodes}
    out = {}
    for name, shapes in shapes_of(network, report).items():
        layer = layers[name]
        for key, shape in shapes.items():
            fan_in = layer.fan_in(key, shape)
            if fan_in is not None:
                value = he_normal(streams, shape, np.sqrt(2.0 / max(fan_in, 1)), dtype)
            elif key in ("weight", "running_var"):
                value = np.ones(shape, dtype=dtype)
            else:
                value = np.zeros(shape, dtype=dtype)
            out[f"{name}.{key}"] = value
    return out


def check_weights(network: Network, report: Report, arrays: dict) -> dict:
    """Loaded arrays must be exactly the expected ones: names and shapes (any mismatch: the
    weights do not fit the network, exit 1); real floating-point values only."""
    expected = {f"{n}.{k}": s for n, shapes in shapes_of(network, report).items()
                for k, s in shapes.items()}
    for key, shape in expected.items():
        if key not in arrays:
            fail(f"missing array '{key}' (expected shape {list(shape)})", EXIT_INCONSISTENT)
        if tuple(arrays[key].shape) != tuple(shape):
            fail(f"array '{key}' has shape {list(arrays[key].shape)}, expected {list(shape)}",
                 EXIT_INCONSISTENT)
    extra = sorted(set(arrays) - set(expected))
    if extra:
        fail(f"unexpected array '{extra[0]}' ({len(extra)} not used by the spec)",
             EXIT_INCONSISTENT)
    for key, value in arrays.items():
        if np.asarray(value).dtype.kind != "f":
            fail(f"array '{key}' holds {np.asarray(value).dtype} values, not floating-point numbers")
    return {k: np.asarray(v, dtype=np.float32) for k, v in arrays.items()}


def owner_of(network: Network, node):
    """The node whose weights a node uses: itself, or the one it shares."""
    return node if node.shares is None else network.nodes[node.shares]


def owner(array) -> int:
    """The buffer an array's memory belongs to (views share their base's)."""
    while isinstance(array.base, np.ndarray):
        array = array.base
    return id(array)


def held(arrays) -> int:
    seen, total = set(), 0
    for array in arrays:
        key = owner(array)
        if key not in seen:
            seen.add(key)
            base = array
            while isinstance(base.base, np.ndarray):
                base = base.base
            total += base.nbytes
    return total


def run(network: Network, report: Report, x: np.ndarray, weights: dict,
        backward: bool = False, progress=None, named: dict | None = None) -> RunResult:
    """`x` feeds the network's input; `named` the other named inputs (node name -> array)."""
    read_by = readers(network)
    last_use = {src: max(users) if users else src for src, users in read_by.items()}
    last = len(network.nodes) - 1
    acts = {INPUT: x}
    steps = []
    layer_weights = [{k.split(".")[-1]: v for k, v in weights.items()
                      if k.rsplit(".", 1)[0] == owner_of(network, node).name}
                     for node in network.nodes]  # a shared layer: the very same arrays
    param_bytes = sum(v.nbytes for v in weights.values())
    peak = held([x])
    allocated = {}
    buffer, members = {INPUT: INPUT}, {INPUT: {INPUT}}  # memory.build's storage map
    for i, (node, row) in enumerate(zip(network.nodes, report.rows)):
        start = time.perf_counter()
        xs = [acts[j] for j in node.inputs] or [named[node.name]]  # a named input: its array
        layer = node.layer
        kind = allocation(layer, i, node.inputs, read_by, buffer, members)
        y = layer.forward(xs, layer_weights[i])
        if kind == IN_PLACE and y.shape != xs[0].shape:
            kind = ALLOCATES
        buffer[i] = buffer[node.inputs[0]] if kind != ALLOCATES else i
        members.setdefault(buffer[i], set()).add(i)
        if kind == IN_PLACE:
            if y is not xs[0]:
                np.copyto(xs[0], y)  # the result lives in the input's buffer
            y = xs[0]
        elif kind == ALLOCATES and any(np.shares_memory(y, a) for a in xs):
            y = y.copy()  # a slice or an identity that must own its memory
        acts[i] = y
        allocated[i] = kind == ALLOCATES
        peak = max(peak, held(acts.values()))
        if not backward:  # free what no later layer reads
            for j in {*node.inputs, i}:
                if j in acts and last_use.get(j, j) <= i and j != last:
                    del acts[j]
        steps.append(Step(node.name, tuple(row.output_shape.as_list()),
                          (*y.shape[2:], y.shape[1]), time.perf_counter() - start,
                          held(acts.values())))
        if progress:
            progress(i)
    result = RunResult(steps, acts[last], param_bytes, peak + param_bytes)
    if backward:
        result.grads, dacts = backprop(network, acts, layer_weights)
        # one gradient per allocated activation, one per trainable weight (memory.py's rule)
        grad_bytes = sum(g.nbytes for j, g in dacts.items() if allocated[j])
        result.training_bytes = (held(acts.values()) + grad_bytes + param_bytes
                                 + sum(g.nbytes for g in result.grads.values()))
    return result


def backprop(network: Network, acts: dict, layer_weights: list) -> tuple[dict, dict]:
    """Gradients of sum(output) for every trained weight; activation gradients are all kept,
    as the memory model's training figure assumes. Returns (weight grads, activation grads)."""
    last = len(network.nodes) - 1
    dacts = {last: np.ones_like(acts[last])}
    grads = {}
    for i in range(last, -1, -1):
        node = network.nodes[i]
        if i not in dacts:
            continue  # nothing downstream reads this layer
        xs = [acts[j] for j in node.inputs]
        dxs, dw = node.layer.backward(xs, layer_weights[i], acts[i], dacts[i])
        for key, value in dw.items():  # a shared weight's gradient sums over its uses
            name = f"{owner_of(network, node).name}.{key}"
            grads[name] = grads[name] + value if name in grads else value
        for j, dx in zip(node.inputs, dxs):
            if j == INPUT:
                continue
            dacts[j] = dacts[j] + dx if j in dacts else dx
    return grads, dacts
