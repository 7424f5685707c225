"""torchinfo's and torchsummary's memory figures, by their own rules (`--convention`).

Both print four lines: input size, "forward/backward pass size", params size and an estimated
total. Neither is a peak: they add outputs and parameters with no lifetimes, no in-place
operations, no optimizer state and no framework scratch (docs/memory.md, "Conventions").

torchinfo 1.8 (https://github.com/TylerYep/torchinfo: torchinfo/model_statistics.py,
layer_info.py, torchinfo.py), `summary(model, input_size=(N, C, H, W))`:
- Input size: `sys.getsizeof(x.untyped_storage())` per input tensor: its bytes plus the
  storage object's own bytes, 56 in torchinfo's golden outputs (tests/test_output/lstm.out:
  a 1 x 100 int64 input prints "Input size: 856" = 800 + 56).
- Forward/backward pass size: for every leaf module that holds parameters (conv, batch norm,
  linear; `num_params > 0`), its output's bytes (batch included) x 2 "for gradients".
  Modules without parameters (ReLU, pooling, dropout) and function calls (add, cat, flatten)
  are not counted.
- Params size: the parameters' bytes (trainable or frozen), not the buffers (batch-norm
  running statistics).
- Estimated Total Size: the sum of the three, in bytes.
Each figure is printed in the decimal unit its size calls for (B, kB, MB, GB, TB), with two
decimals unless the value is whole. Element sizes are the tensors' own (here: `--dtype`).

torchsummary 1.5.1, the PyPI release (https://github.com/sksq96/pytorch-summary,
torchsummary/torchsummary.py), `summary(model, (C, H, W), batch_size=N)`:
- hooks every module except nn.Sequential, nn.ModuleList and the model itself (its GitHub
  master, unreleased, also hooks the model itself);
- Input size (MB): C x H x W x |N| x 4 / 2**20 (N = -1 by default: one sample);
- Forward/backward pass size (MB): 2 x (the output values of every hooked module call,
  batch included) x 4 / 2**20;
- Params size (MB): the weight and bias values of every hooked module x 4 / 2**20;
- Estimated Total Size (MB): params + forward/backward + input sizes, as floats.
All printed "%0.2f" in MiB labelled "MB", at 4 bytes a value whatever the dtype.
A spec is read as a model with one module per layer, its fused activation a second module
(nn.ReLU after nn.Conv2d), and views (flatten, slice) function calls torchsummary does not
see (torch.flatten, x.view), as torchvision writes its models.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..layers.base import VIEW

CONVENTIONS = ("torchinfo", "torchsummary")
STORAGE_OBJECT_BYTES = 56  # sys.getsizeof(storage) - its bytes, in torchinfo's golden outputs
SUMMARY_VALUE_BYTES = 4  # torchsummary: "assume 4 bytes/number (float on cuda)"
LABELS = ("Input size", "Forward/backward pass size", "Params size", "Estimated Total Size")
SOURCES = {
    "torchinfo": "torchinfo 1.8 (github.com/TylerYep/torchinfo, model_statistics.py)",
    "torchsummary": "torchsummary 1.5.1 (github.com/sksq96/pytorch-summary, torchsummary.py)",
}


@dataclass(frozen=True)
class PeerFigures:
    """A peer's four memory figures in bytes, and the four lines it prints."""

    convention: str
    input_bytes: int
    forward_backward_bytes: int
    params_bytes: int
    total_bytes: int
    printed: tuple[str, ...]  # "Input size (kB): 602.17", ... as the peer prints them

    def as_dict(self) -> dict:
        return {"name": self.convention, "source": SOURCES[self.convention],
                "input_bytes": self.input_bytes,
                "forward_backward_bytes": self.forward_backward_bytes,
                "params_bytes": self.params_bytes, "total_bytes": self.total_bytes,
                "printed": list(self.printed)}


@dataclass(frozen=True)
class LayerFacts:
    """What the peers read from one layer, per sample."""

    output_values: int
    params: int  # the layer's parameters (trainable or frozen), not its buffers
    modules: int  # module calls torchsummary sees: 0 for a view, 2 with a fused activation


def layer_facts(network, report) -> list[LayerFacts]:
    """Each layer's output size, parameters and module calls, asked of the layer itself."""
    facts = []
    for node, row in zip(network.nodes, report.rows, strict=True):
        layer = node.layer
        params = layer.cost(row.input_shapes, row.output_shape).params
        fused = 1 if getattr(layer, "activation", None) else 0  # as Layer.fused() reads it
        modules = 0 if layer.memory == VIEW else 1 + fused
        facts.append(LayerFacts(row.output_shape.size, params, modules))
    return facts


def torchinfo(facts: list[LayerFacts], input_values: int, batch: int,
              width: int) -> PeerFigures:
    """torchinfo's figures for `summary(model, input_size=(batch, ...))`, elements of
    `width` bytes."""
    input_bytes = input_values * batch * width + STORAGE_OBJECT_BYTES
    # leaf modules with parameters: output bytes x 2 "for gradients"
    outputs = sum(2 * f.output_values * batch * width for f in facts if f.params > 0)
    params = sum(f.params for f in facts) * width
    total = input_bytes + outputs + params
    printed = tuple(label + torchinfo_number(value) for label, value in
                    zip(LABELS, (input_bytes, outputs, params, total), strict=True))
    return PeerFigures("torchinfo", input_bytes, outputs, params, total, printed)


def torchinfo_number(num: int) -> str:
    """torchinfo's ModelStatistics.format_output_num(num, Units.AUTO, is_bytes=True)."""
    unit, value = "", num
    for name, factor in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if num >= factor:
            unit, value = name, num / factor
            break
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    shown = f" ({unit}B)" if unit else ""
    return f"{shown}: {value:,d}" if isinstance(value, int) else f"{shown}: {value:,.2f}"


def torchsummary(facts: list[LayerFacts], input_values: int, batch: int) -> PeerFigures:
    """torchsummary 1.5.1's figures for `summary(model, input_size, batch_size=batch)`."""
    w = SUMMARY_VALUE_BYTES
    outputs = sum(f.modules * f.output_values for f in facts) * batch  # every module call
    params = sum(f.params for f in facts)  # weight + bias of every module
    # its arithmetic, in its order: floats in MiB, the total a sum of the rounded-later floats
    input_mib = abs(input_values * batch * 4. / (1024 ** 2.))
    output_mib = abs(2. * outputs * 4. / (1024 ** 2.))
    params_mib = abs(params * 4. / (1024 ** 2.))
    total_mib = params_mib + output_mib + input_mib
    printed = tuple(f"{label} (MB): {value:0.2f}" for label, value in
                    zip(LABELS, (input_mib, output_mib, params_mib, total_mib), strict=True))
    input_bytes, output_bytes, params_bytes = input_values * batch * w, 2 * outputs * w, params * w
    return PeerFigures("torchsummary", input_bytes, output_bytes, params_bytes,
                       input_bytes + output_bytes + params_bytes, printed)


def peer_figures(network, report, convention: str, batch: int, width: int) -> PeerFigures:
    """The figures `convention` prints for this network at this batch size."""
    facts = layer_facts(network, report)
    if convention == "torchinfo":
        return torchinfo(facts, report.input_shape.size, batch, width)
    return torchsummary(facts, report.input_shape.size, batch)
