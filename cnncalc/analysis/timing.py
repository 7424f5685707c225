"""How long a forward or a training step takes on a device: a roofline per layer.

Each layer's kernel takes the longest of three times (docs/time.md):
  compute   2 x MACs / (efficiency of its kind x the device's dense peak at the dtype)
  memory    bytes moved (inputs + output + weights at the dtype) / bandwidth
  overhead  the per-kernel floor (launch and framework dispatch)
The kind (layers/base.py's COMPUTE_KINDS and PASS_KINDS) is the layer's own answer
(`Layer.time_kind`); a layer that runs several kernels lists them (`Layer.time_kernels`:
attention, LeNet-5's modules). On the CPU the rates, the bandwidth and the floor are this
machine's, measured across sizes by `cnncalc calibrate` (with weight-count floors for convs and
fc layers: calibration.FLOORS); on a GPU they are the assumptions of GPU_EFFICIENCY
(unmeasured predictions).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import ceil

from ..conventions import DTYPES
from ..errors import CnnCalcError, Diagnostic, Span, show
from ..graph import Network
from ..layers.base import PASS_KINDS, Kernel
from .devices import Device
from .report import Report

# assumed fraction of the dense peak a kernel of each kind reaches on a GPU (cuDNN/cuBLAS at
# the sizes of CNN layers); PyTorch's RuntimeEstimator assumes 0.75 for every kernel
GPU_EFFICIENCY = {"gemm": 0.70, "matmul": 0.70, "conv": 0.60, "conv1x1": 0.55, "strided": 0.50,
                  "stem": 0.30, "conv_3d": 0.50, "grouped": 0.25, "depthwise": 0.10,
                  "depthwise_strided": 0.08, "depthwise_large": 0.10}
GPU_BANDWIDTH_EFFICIENCY = 0.80  # of the datasheet bandwidth an elementwise kernel reaches
GPU_KERNEL_OVERHEAD = 8e-6  # seconds per kernel: eager PyTorch's dispatch and launch
# values an optimizer step reads and writes per parameter (torch.optim):
# SGD p, g -> p; momentum p, g, buf -> buf, p; Adam p, g, m, v -> m, v, p
OPTIMIZER_VALUES = {"sgd": 3, "momentum": 5, "adam": 7}
# in-place ops per parameter tensor (torch.optim's _single_tensor_* loops, the CPU default);
# on a GPU the default foreach path runs each op once over all the tensors
OPTIMIZER_KERNELS = {"sgd": 1, "momentum": 3, "adam": 8}
COMPUTE, MEMORY, OVERHEAD, NONE = "compute", "memory", "overhead", "none"
PASSES = PASS_KINDS  # timed by the bytes they move
FP32_PRODUCTS = ("gemm", "matmul")  # cuBLAS matrix products: FP32, no TF32 by default


@dataclass(frozen=True)
class TimeSettings:
    """What `cnncalc time` was asked."""

    device: str
    batch: int = 1
    mode: str = "inference"
    optimizer: str = "sgd"
    dtype: str = "float32"
    amp: bool = False
    images: int | None = None  # an epoch of this many images


@dataclass(frozen=True)
class LayerTime:
    name: str
    kind: str
    forward_seconds: float
    backward_seconds: float
    bound: str  # compute, memory or overhead: the term that set the largest part

    @property
    def seconds(self) -> float:
        return self.forward_seconds + self.backward_seconds

    def as_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "seconds": self.seconds,
                "bound": self.bound, "forward_seconds": self.forward_seconds,
                "backward_seconds": self.backward_seconds}


@dataclass(frozen=True)
class TimeReport:
    network: str
    device: Device
    settings: TimeSettings
    layers: list = field(default_factory=list)
    optimizer_seconds: float = 0.0

    @property
    def total_seconds(self) -> float:
        return sum(layer.seconds for layer in self.layers) + self.optimizer_seconds

    @property
    def images_per_second(self) -> float:
        return self.settings.batch / self.total_seconds if self.total_seconds else 0.0

    @property
    def epoch_seconds(self) -> float | None:
        """ceil(images / batch) steps of the predicted step time."""
        images = self.settings.images
        return None if images is None else ceil(images / self.settings.batch) * self.total_seconds

    @property
    def status(self) -> str:
        return "calibrated on this machine" if self.device.measured else "unmeasured prediction"

    def bound_shares(self) -> dict:
        """Seconds per bound, over the layers."""
        shares: dict[str, float] = {}
        for layer in self.layers:
            if layer.seconds:
                shares[layer.bound] = shares.get(layer.bound, 0.0) + layer.seconds
        return shares

    def as_dict(self) -> dict:
        s = self.settings
        return {"network": self.network, "device": self.device.name,
                "device_title": self.device.title, "status": self.status,
                "source": self.device.source, "batch": s.batch, "mode": s.mode,
                **({"optimizer": s.optimizer} if s.mode == "training" else {}),
                "dtype": s.dtype, "amp": s.amp,
                "layers": [layer.as_dict() for layer in self.layers],
                **({"optimizer_seconds": self.optimizer_seconds} if s.mode == "training" else {}),
                "total_seconds": self.total_seconds,
                "images_per_second": self.images_per_second,
                "images": s.images, "epoch_seconds": self.epoch_seconds}


class DatasheetRates:
    """A GPU from the table: assumed efficiencies of its dense peak at the dtype."""

    def __init__(self, device: Device, dtype: str):
        self.fp32_gemm = device.peak(dtype)
        # cuDNN convolutions run float32 on tensor cores as TF32 by default
        # (torch.backends.cudnn.allow_tf32 = True); matmuls do not (matmul.allow_tf32 = False)
        self.conv_peak = device.peak_flops.get("tf32", self.fp32_gemm) \
            if dtype == "float32" else self.fp32_gemm
        self.bandwidth = device.bandwidth * GPU_BANDWIDTH_EFFICIENCY
        self.overhead = GPU_KERNEL_OVERHEAD
        self.backward_overhead = GPU_KERNEL_OVERHEAD
        self.foreach = True  # torch.optim's default for CUDA tensors
        self.step_overhead = 0.0  # not modelled on a GPU

    def compute_seconds(self, kind: str, flops: float, backward: bool = False,
                        weights: float = 0) -> float:
        """`flops` of the forward; its backward (both gradients) is twice that work."""
        peak = self.fp32_gemm if kind in FP32_PRODUCTS else self.conv_peak
        work = 2 * flops if backward else flops
        return work / (GPU_EFFICIENCY.get(kind, GPU_EFFICIENCY["conv"]) * peak)

    def memory_seconds(self, moved: float, backward: bool = False) -> float:
        return moved / self.bandwidth

    def pass_seconds(self, kind: str, moved: float, backward: bool = False) -> float:
        return moved / self.bandwidth

    def traffic_seconds(self, moved: float) -> float:
        """The memory term of a compute kernel: its bytes at the bandwidth."""
        return moved / self.bandwidth


def rates_of(device: Device, settings: TimeSettings):
    """The calibration of a measured device, else the datasheet's rates; a dtype the device
    has no peak for is exit 2."""
    if device.peak(settings.dtype) is None:
        have = ", ".join(device.peak_flops) or "none"
        raise CnnCalcError(Diagnostic(
            Span("--dtype"), f"{device.name} has no dense peak for {settings.dtype} "
            f"(it has: {have})", received=show(settings.dtype)))
    return device.calibration or DatasheetRates(device, settings.dtype)


def kernel_time(rates, kind: str, flops: float, moved: float, backward: bool = False,
                weights: float = 0) -> tuple[float, str]:
    """max(compute, memory, overhead) and which one it was (`weights`: values the kernel
    lays out, a floor on the CPU)."""
    if kind in PASSES:  # a pass over memory: its measured rate by bytes (GPU: bandwidth)
        compute, memory = 0.0, rates.pass_seconds(kind, moved, backward)
    else:
        compute = rates.compute_seconds(kind, flops, backward, weights)
        memory = rates.traffic_seconds(moved)
    floor = rates.backward_overhead if backward else rates.overhead
    return max((compute, COMPUTE), (memory, MEMORY), (floor, OVERHEAD))


def predict(network: Network, report: Report, device: Device, settings: TimeSettings) -> TimeReport:
    """Per layer, the forward (and in training the backward) time of one step at the batch."""
    rates = rates_of(device, settings)
    batch, value = settings.batch, DTYPES[settings.dtype]
    # AMP: float32 weights read and cast to the compute dtype, activations at the dtype
    weight_bytes = (DTYPES["float32"] + 2 * value) if settings.amp else value
    training = settings.mode == "training"
    trained = _training(network, report) if training else None
    layers, tensors = [], []
    for index, (node, row) in enumerate(zip(network.nodes, report.rows)):
        ins, out = row.input_shapes, row.output_shape
        layer = node.layer.at(ins[0].rank) if ins else node.layer
        kind = layer.time_kind(ins, out, training)
        if kind == "none":
            layers.append(LayerTime(row.name, kind, 0.0, 0.0, NONE))
            continue
        params = row.totals.params
        read = batch * sum(x.size for x in ins) * value
        written = batch * out.size * value
        kernels = layer.time_kernels(ins, out, training) or [
            Kernel(kind, row.totals.macs, sum(x.size for x in ins) + out.size, params)]
        parts = [kernel_time(rates, k.kind, 2 * k.macs * batch,  # a MAC is two FLOPs
                             batch * k.values * value + k.weights * weight_bytes,
                             weights=k.weights)
                 for k in kernels]
        # the fused activation: one more kernel, reading and writing the output
        fused = layer.time_fused_kind(out, training)
        parts += [kernel_time(rates, fused, 0, 2 * written)] * layer.time_fused_passes()
        forward = sum(t for t, _ in parts)
        backward = 0.0
        if trained is not None:
            step = trained.layers[index]
            # what each kernel reads and writes: the layer's input and output, or for a listed
            # kernel half its values each way
            sides = [(read, written)] if len(kernels) == 1 else [
                (batch * k.values * value / 2,) * 2 for k in kernels]
            back = [t for k, (r, w) in zip(kernels, sides) for t in _backward_parts(
                rates, k.kind, step, 2 * k.macs * batch, r, w, k.weights, value)]
            back += [kernel_time(rates, fused, 0, 2 * written, True)] \
                * (layer.time_fused_passes() if back else 0)  # the activation's backward
            parts += back
            backward = sum(t for t, _ in back)
            if step.needs_weight_grad and row.totals.trainable_params:
                tensors += layer.parameter_sizes(ins[0])
        layers.append(LayerTime(row.name, kind, forward, backward, max(parts)[1]))
    # the optimizer, and the step's fixed cost measured on the CPU (zero_grad, loss, the
    # autograd engine, optimizer.step's own work)
    optimizer = optimizer_seconds(rates, settings.optimizer, tensors) + rates.step_overhead \
        if training else 0.0
    return TimeReport(report.name, device, settings, layers, optimizer)


def optimizer_seconds(rates, optimizer: str, tensors: list[int]) -> float:
    """The optimizer step: its in-place updates over float32 parameters and state, an op at
    a time per tensor (CPU), or each op once over every tensor (GPU, foreach)."""
    kernels, values = OPTIMIZER_KERNELS[optimizer], OPTIMIZER_VALUES[optimizer]
    if getattr(rates, "foreach", False):
        moved = sum(tensors) * values * DTYPES["float32"]
        return max(rates.pass_seconds("update", moved), kernels * rates.overhead)
    return sum(kernels * max(rates.pass_seconds("update", n * values * DTYPES["float32"] / kernels),
                             rates.overhead) for n in tensors)


def _backward_parts(rates, kind, step, flops, read, written, weights, value) -> list:
    """The backward of one kernel: its input- and weight-gradient kernels as autograd runs
    them (training.py says which); `weights` in values of `value` bytes."""
    if not (any(step.needs_input_grad) or step.needs_weight_grad):
        return []
    if kind in PASSES:  # reads the output gradient and what it saved, writes its own
        return [kernel_time(rates, kind, 0, read + written, True)]
    full = 2 * step.macs  # both gradients cost about two forwards: the measured backward
    share = step.backward_macs / full if full else 0.0
    if not share:
        return []
    compute = rates.compute_seconds(kind, flops, True, weights) * share
    # reads the output gradient, the saved input and the weights; writes the input's and the
    # weights' gradients
    memory = rates.traffic_seconds(2 * read + written + 2 * weights * value)
    return [max((compute, COMPUTE), (memory, MEMORY), (rates.backward_overhead, OVERHEAD))]


def _training(network: Network, report: Report):
    from .training import training
    return training(network, report)
