"""The layer contract and the registry keyed by the spec's `type:` string.

A layer type is one class: a frozen dataclass of its declared settings (`declare.setting`)
plus everything the rest of cnncalc asks of it. Nothing outside this package compares type
names; code elsewhere calls these methods:
  infer / shape      the output Shape (the shape rule)
  cost / counts      Counts: params, connections, MACs, FLOPs (formulas commented in place)
  backward_counts    Backward: the MACs and FLOPs of its part of autograd's backward pass
  window             the one geometry object of windowed layers (shape, counts, receptive
                     field, explain, tiling advice and NumPy kernels read it)
  receptive          the receptive-field map
  memory, workspace  what the layer allocates (a new tensor, in place, a view) and scratch
  step_ops           its part of a PyTorch training step or forward: what each op allocates,
                     saves for backward and holds on the way (stepmem.Op); parameter_sizes
  explain_counts     explain's arithmetic
  filter_kernel, size_keeping, pool_window, local_window, dense: facts the lints ask for
  as_conv            FC-as-conv conversion
  weight_shapes, fan_in, forward, backward: the NumPy pass (NumPy imported inside)
  torch_code         the layer as PyTorch source (export)
"""

from __future__ import annotations

from math import prod
from typing import ClassVar

from ..conventions import ACTIVATION_BACKWARD_FLOPS
from ..declare import check_settings, declared, frozen
from .geometry import Field, Window
from .shape import Shape
from .stepmem import NEW, VIEW_OP, Op, StepContext

REGISTRY: dict[str, type[Layer]] = {}

ALLOCATES, IN_PLACE, VIEW = "yes", "in place", "view"  # memory behaviour of a layer's output
# the kinds of kernel `time_kind` answers; each has its own measured rate (cnncalc calibrate)
COMPUTE_KINDS = ("conv1x1", "conv", "strided", "stem", "conv_3d", "depthwise",
                 "depthwise_strided", "depthwise_large", "grouped", "gemm", "matmul")  # timed by their FLOPs
PASS_KINDS = ("elementwise", "elementwise_exp", "softmax", "pool", "pool_tiled", "pool_1d",
              "pool_global", "norm", "norm_train", "layernorm", "lrn")  # timed by the bytes they move
TIME_KINDS = (*COMPUTE_KINDS, *PASS_KINDS, "none")
DROP = "drop"  # as_conv: the layer disappears when FC layers become convs (flatten)


def register(cls):
    """Class decorator: make a layer type available under `cls.type_name`."""
    if cls.type_name in REGISTRY:
        raise RuntimeError(f"layer type {cls.type_name!r} registered twice")
    REGISTRY[cls.type_name] = cls
    return cls


def merge_types() -> list[str]:
    """Type names that combine several inputs into one (the `merge:` of branches)."""
    return [name for name, cls in REGISTRY.items() if cls.merges]


@frozen
class Kernel:
    """One kernel of a layer that runs several (`Layer.time_kernels`): its time kind, its
    multiply-adds and the values it reads and writes per sample, the weight values it reads."""

    kind: str
    macs: int = 0
    values: int = 0
    weights: int = 0


@frozen
class Counts:
    """What one layer costs for one sample."""

    params: int = 0  # trainable values
    non_trainable: int = 0  # stored but not trained (running statistics, fixed prototypes)
    connections: int = 0  # LeNet-5 convention: inputs read + 1 bias, per output unit
    macs: int = 0  # multiply-accumulates
    flops: int = 0  # 2 x MACs + bias adds + elementwise operations


@frozen
class Backward:
    """What one layer's backward pass costs for one sample (docs/counting.md, Training)."""

    input_grad_macs: int = 0  # multiply-accumulates of its inputs' gradients
    weight_grad_macs: int = 0  # multiply-accumulates of its weights' gradients
    flops: int = 0  # elementwise FLOPs: bias sums, activation and normalisation gradients

    @property
    def macs(self) -> int:
        return self.input_grad_macs + self.weight_grad_macs


def weighted_backward(forward_macs: int, needs_input_grad: bool, needs_weight_grad: bool,
                      bias_adds: int, activation_values: int) -> Backward:
    """The backward of a layer whose forward is `forward_macs` weight uses: each use is one
    multiply-accumulate of the input gradient (dx += w x dy) and one of the weight gradient
    (dW += x x dy), each counted only when autograd computes it. Elementwise: the fused
    activation's gradient (before either) and the bias gradient (the sum of dy)."""
    if not (needs_input_grad or needs_weight_grad):
        return Backward()
    return Backward(
        input_grad_macs=forward_macs if needs_input_grad else 0,
        weight_grad_macs=forward_macs if needs_weight_grad else 0,
        flops=ACTIVATION_BACKWARD_FLOPS * activation_values  # dz = dy x f'(z)
        + (bias_adds if needs_weight_grad else 0))  # db = sum of dz: one add per value


@frozen
class Layer:
    """Base of every layer type; subclasses are dataclasses of their declared settings."""

    type_name: ClassVar[str] = ""
    summary: ClassVar[str] = ""  # one line for `cnncalc layers` and docs
    also_called: ClassVar[tuple] = ()  # other frameworks' names, lower case without "_"
    example: ClassVar[str] = ""  # a YAML example for docs/spec.md
    arity: ClassVar[tuple] = (1, 1)  # fewest and most inputs (None: no limit)
    gradient_inputs: ClassVar[int | None] = None  # inputs the output is differentiable in
    # (None: all; 1: the others give only a size, as a crop's or an upsample's second input)
    merges: ClassVar[bool] = False  # combines its inputs (add, multiply, concat)
    memory: ClassVar[str] = ALLOCATES  # its output: a new tensor, in place, or a view
    dense: ClassVar[bool] = False  # reads its whole input as one vector (fully-connected)
    family: ClassVar[str] = "other"  # its colour in the report: conv, pool, norm, merge, fc
    buffers: ClassVar[tuple] = ()  # weight_shapes keys that are not trained (running stats)
    # settings with one value per spatial axis (written as an int: the same on every axis),
    # and paddings (an int, per axis, a pair per axis): resolved against the input by `at`
    axis_settings: ClassVar[tuple[str, ...]] = ()
    pad_settings: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def from_settings(cls, values: dict, common: tuple = ()) -> Layer:
        """Build from a spec mapping; SettingError names the key at fault."""
        layer = cls(**check_settings(cls, values, common))
        layer.validate()
        return layer

    @classmethod
    def settings(cls):
        return declared(cls)

    def validate(self) -> None:
        """Cross-setting checks that do not need the input shape."""

    def at(self, rank: int) -> Layer:
        """This layer with its per-axis settings written out for an input of `rank` spatial
        axes (kernel 3 on a 3-D input: (3, 3, 3)); a list of another length is a SettingError
        at that setting (exit 1)."""
        if not (self.axis_settings or self.pad_settings):
            return self
        cache = self.__dict__.get("_at")  # resolved once per rank (not a setting: no ==)
        if cache is None:
            cache = {}
            object.__setattr__(self, "_at", cache)
        found = cache.get(rank)
        if found is None:
            found = cache[rank] = _resolved(self, rank)
            if found is not self:
                object.__setattr__(found, "_at", {rank: found})
        return found

    def written_rank(self) -> int | None:
        """The rank the settings' lists imply (None: ints only, good for any rank)."""
        for name in self.axis_settings:
            value = getattr(self, name)
            if isinstance(value, tuple):
                return len(value)
        for name in self.pad_settings:
            value = getattr(self, name)
            if isinstance(value, tuple) and isinstance(value[0], tuple):
                return len(value)
        return None

    # --- shape and counts (several inputs: merge layers override infer and cost) ----------
    def infer(self, inputs: tuple[Shape, ...]) -> Shape:
        return self.shape(inputs[0])

    def cost(self, inputs: tuple[Shape, ...], out: Shape) -> Counts:
        return self.counts(inputs[0], out)

    def shape(self, x: Shape) -> Shape:
        return x

    def counts(self, x: Shape, y: Shape) -> Counts:
        return Counts()

    def backward_counts(self, inputs: tuple[Shape, ...], out: Shape,
                        needs_input_grad: tuple[bool, ...], needs_weight_grad: bool) -> Backward:
        """Its backward for one sample when autograd wants the gradient of input i where
        needs_input_grad[i], and of its weights if needs_weight_grad. Default: nothing
        computed (reshapes, copies, concatenation, an add handing dy on)."""
        return Backward()

    def describe(self) -> str:
        """The short settings text shown in tables (`3x3/1 p1`)."""
        return ""

    def described(self, inputs: tuple[Shape, ...]) -> str:
        """The settings text on these inputs (a layer whose text depends on them overrides)."""
        return self.at(inputs[0].rank).describe() if inputs else self.describe()

    def notes(self, inputs: tuple[Shape, ...], out: Shape) -> list[str]:
        """Remarks shown under the table (an fc flattening its input)."""
        return []

    def warnings(self, inputs: tuple[Shape, ...]) -> list[str]:
        """Advice about the settings on this input: a window that does not tile it."""
        geometry = self.window(inputs[0])
        return geometry.tiling_warnings() if geometry is not None else []

    # --- geometry and receptive field -----------------------------------------------------
    def window(self, x: Shape) -> Window | None:
        """The window this layer slides over x, if it slides one."""
        return None

    def receptive(self, fields: list[Field], inputs: tuple[Shape, ...], out: Shape) -> Field:
        """The receptive field of the output from those of the inputs."""
        geometry = self.window(inputs[0])
        return geometry.field(fields[0]) if geometry is not None else fields[0]

    def misaligned(self, fields: list[Field], inputs: tuple[Shape, ...], out: Shape) -> str | None:
        """For layers that merge paths: why their units sit at different places, if they do."""
        return None

    # --- memory -----------------------------------------------------------------------------
    def workspace(self, inputs: tuple[Shape, ...], out: Shape) -> int:
        """Scratch values per sample beyond the output (im2col's column matrix)."""
        return 0

    def scratch(self, inputs: tuple[Shape, ...], out: Shape) -> tuple[int, int]:
        """Values the NumPy kernel builds besides its output, (per sample, fixed), which the
        run checks against the machine before allocating: a zero-padded input and the
        im2col columns with the matmul result they are copied from."""
        x, per_sample = inputs[0], 0
        geometry = self.window(x)
        if geometry is not None and any(geometry.flat_pads):
            per_sample += x.c * prod(a.size + a.before + a.after for a in geometry.axes)
        columns = self.workspace(inputs, out)
        if columns:
            per_sample += columns + out.size
        return per_sample, 0

    def step_ops(self, inputs: tuple[Shape, ...], out: Shape, ctx: StepContext,
                 in_place: bool = False) -> list[Op]:
        """The PyTorch ops this layer runs, in order, each with what it allocates and saves
        (stepmem.Op). Default: one op writing a new output and saving nothing (a copy or a
        permutation: its backward needs only sizes), or a view for view layers."""
        if self.memory == VIEW:
            return [Op(self.type_name, held=VIEW_OP, grad_inputs=False)]
        return [Op(self.type_name, output=ctx.values(out), held=NEW)]

    def fused_ops(self, out: Shape, ctx: StepContext) -> list[Op]:
        """The activation fused into this row (`activation: relu`), as PyTorch runs it after
        the op: in place when the activation can be (torchvision's ReLU(inplace=True))."""
        activation = getattr(self, "activation", None)
        if not activation:
            return []
        kind = REGISTRY[activation]()
        return kind.step_ops((out,), out, ctx, in_place=ctx.inplace and kind.memory == IN_PLACE)

    def parameter_sizes(self, x: Shape) -> list[int]:
        """Values of each trainable tensor, in PyTorch's `parameters()` order (buffers such as
        running statistics and fixed prototypes left out): what optimizers keep state for."""
        return [prod(shape) for key, shape in self.weight_shapes(x).items()
                if key not in self.buffers]

    # --- time (analysis/timing.py) ---------------------------------------------------------
    def time_kind(self, inputs: tuple[Shape, ...], out: Shape, training: bool = False) -> str:
        """Which measured rate times this layer's kernel (TIME_KINDS): a view runs none; a
        layer without multiply-adds is an elementwise pass over memory."""
        return "none" if self.memory == VIEW else "elementwise"

    def time_kernels(self, inputs: tuple[Shape, ...], out: Shape,
                     training: bool = False) -> list[Kernel] | None:
        """The kernels PyTorch runs for this layer when it is more than one kernel of
        `time_kind` over the layer's MACs (attention: projections, products, score passes);
        None: that one kernel."""
        return None

    def time_fused_passes(self) -> int:
        """Elementwise kernels PyTorch runs after this row's own (its fused activation)."""
        return 1 if getattr(self, "activation", None) else 0

    def time_fused_kind(self, out: Shape, training: bool = False) -> str:
        """The time kind of the fused activation's kernel: its own type's answer."""
        activation = getattr(self, "activation", None)
        return REGISTRY[activation]().time_kind((out,), out, training) if activation else "none"

    # --- facts the lints ask for ------------------------------------------------------------
    def filter_kernel(self, x: Shape) -> tuple | None:
        """The kernel of a learned filter that mixes channels (conv, local) on input x, for the
        large-filter lint."""
        return None

    def size_keeping(self, x: Shape) -> tuple | None:
        """(padding per axis, padding that keeps the size per axis) for a stride-1 conv."""
        return None

    def pool_window(self, x: Shape) -> tuple | None:
        """(kernel, stride) of a fixed-window pooling, for the pool-window lint."""
        return None

    def local_window(self, x: Shape) -> bool:
        """True when units see a local window that grows the receptive field (not global)."""
        return self.window(x) is not None

    # --- explain and conversion -------------------------------------------------------------
    def explain_counts(self, inputs: tuple[Shape, ...], out: Shape, counts) -> list[str]:
        """The arithmetic behind params, connections, MACs and FLOPs (explain)."""
        return [f"params: {counts.params:,} (trainable {counts.trainable_params:,})",
                f"connections: {counts.connections:,}", f"MACs: {counts.macs:,}",
                f"FLOPs: {counts.flops:,}"]

    def as_conv(self, x: Shape):
        """This layer when FC layers become convs: itself, a conv, or DROP."""
        return self

    # --- NumPy (NCHW arrays; NumPy is imported by the methods, never at import time) ---
    def weight_shapes(self, x: Shape) -> dict[str, tuple]:
        """Arrays this layer holds, in PyTorch's layouts."""
        return {}

    def fan_in(self, key: str, shape: tuple) -> int | None:
        """Inputs feeding one unit through this weight, for He initialisation (None: not a
        weight matrix: ones for scales and variances, zeros otherwise)."""
        if key != "weight" or len(shape) < 2:
            return None
        from math import prod
        return prod(shape[1:])

    def forward(self, xs: list, w: dict):
        """Output for the input arrays `xs` with weights `w`."""
        raise NotImplementedError(self.type_name)

    def backward(self, xs: list, w: dict, y, dy) -> tuple[list, dict]:
        """(gradients of the inputs, gradients of the weights) from the output gradient."""
        raise NotImplementedError(self.type_name)

    def fused(self, z):
        """The fused activation (if any) applied to pre-activation z."""
        activation = getattr(self, "activation", None)
        return REGISTRY[activation]().function(z) if activation else z

    def fused_grad(self, z, y, dy):
        activation = getattr(self, "activation", None)
        return REGISTRY[activation]().gradient(z, y, dy) if activation else dy

    # --- PyTorch export (`cnncalc export --to pytorch`; torch_code.py) -------------------
    def torch_code(self, inputs: tuple[Shape, ...], out: Shape):
        """This layer as PyTorch source: a `torch_code.TorchCode`."""
        from ..errors import SettingError
        raise SettingError(f"'{self.type_name}' has no PyTorch export")

    def torch_shared(self, inputs: tuple[Shape, ...], out: Shape):
        """This layer as PyTorch source when it uses the weights of another layer whose
        settings differ (`shares:`): `{m}` is then the owner's module, built with the owner's
        settings, so a layer whose own settings shape the call (a conv's stride) computes from
        `{m}.weight` itself. Default: refused, never a module called with the wrong settings."""
        from ..errors import SettingError
        raise SettingError(f"'{self.type_name}' cannot be exported when it shares the weights "
                           "of a layer with other settings; give it the same settings",
                           inconsistent=True)

    def torch_fused(self, expression: str) -> str:
        """`expression` with the fused activation (if any) applied, in PyTorch."""
        activation = getattr(self, "activation", None)
        return REGISTRY[activation]().torch_call.format(expression) if activation else expression


def _resolved(layer: Layer, rank: int) -> Layer:
    from ..declare import replace
    from .geometry import pads_per_axis, per_axis
    keys = {d.field: d.name for d in declared(type(layer))}
    changes = {}
    for name in layer.axis_settings:
        value = getattr(layer, name)
        new = per_axis(value, rank, keys.get(name, name))
        if new != value:
            changes[name] = new
    for name in layer.pad_settings:
        value = getattr(layer, name)
        new = pads_per_axis(value, rank, keys.get(name, name))
        if new != value:
            changes[name] = new
    return replace(layer, **changes) if changes else layer


def check_groups(groups: int, channels: int, what: str = "the channels") -> None:
    """Channel groups must split the channels evenly (exit 1 otherwise)."""
    if channels % groups:
        from ..errors import SettingError
        raise SettingError(f"groups ({groups}) must divide {what} ({channels})", key="groups",
                           inconsistent=True)


def axes_text(values: tuple) -> str:
    """(3, 3) -> '3'; (3, 5) -> '3x5'."""
    if isinstance(values, int):
        return str(values)
    return str(values[0]) if len(set(values)) == 1 else "x".join(map(str, values))


def kernel_text(kernel: tuple) -> str:
    if isinstance(kernel, int):
        return str(kernel)
    return "x".join(map(str, kernel))


def padding_text(padding) -> str:
    """'same', 1, 1x2 (symmetric per axis), or 0,1,0,1 (before, after per axis)."""
    if padding == "same":
        return "same"
    if isinstance(padding, int):
        return str(padding)
    if not isinstance(padding[0], tuple):
        return axes_text(padding) if len(padding) <= 3 else ",".join(map(str, padding))
    if all(before == after for before, after in padding):
        return axes_text(tuple(before for before, _ in padding))
    return ",".join(str(p) for pair in padding for p in pair)


def no_padding(padding) -> bool:
    if isinstance(padding, int):
        return padding == 0
    return padding != "same" and not any(
        p for pair in padding for p in (pair if isinstance(pair, tuple) else (pair,)))


def padding_suffix(padding) -> str:
    """' same', ' p1', or '' for none: the padding part of a settings text."""
    if padding == "same":
        return " same"
    return "" if no_padding(padding) else f" p{padding_text(padding)}"
