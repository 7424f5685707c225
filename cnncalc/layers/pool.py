"""Pooling: a fixed reduction over each window (max, avg, min, L2), and LeNet-5's subsampling."""

from __future__ import annotations

from math import prod

from ..conventions import ACTIVATION_BACKWARD_FLOPS, POOL_BACKWARD_FLOPS, POOL_FLOPS
from ..declare import Axes, Bool, Choice, Padding, frozen, setting
from ..errors import SettingError
from .base import (
    Backward,
    Counts,
    Kernel,
    Layer,
    axes_text,
    weighted_backward,
    kernel_text,
    padding_suffix,
    padding_text,
    register,
)
from .geometry import Field, Window, exact, window
from .shape import Shape
from .stepmem import Op

INDEX = 8  # bytes of one max-pooling index (int64)


@register
@frozen
class Pool(Layer):
    type_name = "pool"
    also_called = ("maxpool", "maxpool1d", "maxpool2d", "maxpool3d", "avgpool", "avgpool1d",
                   "avgpool2d", "avgpool3d", "maxpooling1d", "maxpooling2d", "maxpooling3d",
                   "averagepooling1d", "averagepooling2d", "averagepooling3d", "adaptiveavgpool2d",
                   "adaptivemaxpool2d", "globalaveragepooling2d", "globalmaxpooling2d",
                   "globalavgpool", "pooling")
    family = "pool"
    summary = "pooling: max, avg, min or L2 norm over each window, per channel; no parameters"
    example = "- {type: pool, mode: max, kernel: 2, stride: 2}"
    axis_settings = ("kernel", "stride", "output")
    pad_settings = ("padding",)

    mode: str = setting(Choice(("max", "avg", "min", "l2")), "the reduction", "max")
    kernel: tuple | None = setting(Axes(), "window size F, or one per axis ([height, width])",
                                   None)
    stride: tuple | None = setting(Axes(), "step between windows; default: the kernel", None)
    padding: object = setting(Padding(), "padding at the borders (at most half the kernel)", 0)
    ceil_mode: bool = setting(Bool(), "round the output size up (PyTorch's rule)", False)
    global_: bool = setting(Bool(), "the window is the whole input", False, key="global")
    output: tuple | None = setting(Axes(), "adaptive pooling to this size per axis ([height, "
                                   "width]) with PyTorch's bins", None)

    def validate(self):
        if self.output is not None:
            if self.kernel is not None or self.stride is not None or self.global_:
                raise SettingError("adaptive pooling (`output`) takes no kernel, stride or "
                                   "global", key="output", received=self._window_keys())
            return
        if self.global_:
            if self.kernel is not None or self.stride is not None:
                raise SettingError("a global pool takes no kernel or stride",
                                   key="kernel" if self.kernel is not None else "stride",
                                   received=self._window_keys())
            return
        if self.kernel is None:
            raise SettingError("pool needs 'kernel' (or `global: true`)",
                               received="no kernel, output or global")
        try:  # as written (a list of another length than the others: refused on the input)
            self.check_axes(self.at(self.written_rank() or _flat_rank(self.padding)))
        except SettingError as exc:
            if not exc.inconsistent:
                raise

    def _window_keys(self) -> str:
        """The window settings written, as the user wrote them."""
        written = {"kernel": self.kernel, "stride": self.stride, "global": self.global_ or None,
                   "output": self.output}
        return ", ".join(f"{key}: {axes_text(value) if isinstance(value, tuple) else value}"
                         .lower() for key, value in written.items() if value is not None)

    def check_axes(self, r):
        """Padding at most half the kernel on every axis (PyTorch)."""
        if r.padding != "same" and any(max(pair) * 2 > k for pair, k in zip(r.padding, r.kernel)):
            raise SettingError(
                f"pool padding must be at most half the kernel ({axes_text(r.kernel)}), "
                "as in PyTorch", key="padding", received=padding_text(r.padding))

    @property
    def adaptive(self) -> bool:
        return self.output is not None

    def window(self, x: Shape) -> Window | None:
        if self.adaptive:
            return None  # bins of varying size: see adaptive_bins
        if self.global_:
            return window(x, x.spatial, (1,) * x.rank, ((0, 0),) * x.rank)
        r = self.at(x.rank)
        self.check_axes(r)
        return window(x, r.kernel, r.stride or r.kernel, r.padding, ceil_mode=self.ceil_mode)

    def shape(self, x: Shape) -> Shape:
        if self.adaptive:
            return Shape(self.at(x.rank).output, x.c)
        return self.window(x).output(x.c)

    def counts(self, x: Shape, y: Shape) -> Counts:
        if self.adaptive:
            bins = [adaptive_bins(n, o) for n, o in zip(x.spatial, y.spatial)]
            # inputs read by all windows of one channel
            taps = prod(sum(n * k for n, k in b.items()) for b in bins)
            return Counts(connections=x.c * taps, flops=self.window_flops(x, y, POOL_FLOPS))
        taps = self.window(x).taps  # inputs in one window
        return Counts(connections=y.size * taps,  # each output reads its window; no bias
                      flops=self.window_flops(x, y, POOL_FLOPS))

    def window_flops(self, x: Shape, y: Shape, rule: dict) -> int:
        """`rule[mode](taps)` summed over every output's window (adaptive: per bin size)."""
        if self.adaptive:
            bins = [adaptive_bins(n, o) for n, o in zip(x.spatial, y.spatial)]
            return x.c * sum(count * rule[self.mode](cells)  # per combination of bin sizes
                             for count, cells in _bin_products(bins))
        return y.size * rule[self.mode](self.window(x).taps)

    def backward_counts(self, inputs, out, needs_input_grad, needs_weight_grad) -> Backward:
        """dy handed back to each window's inputs (conventions.POOL_BACKWARD_FLOPS)."""
        if not needs_input_grad[0]:
            return Backward()
        return Backward(flops=self.window_flops(inputs[0], out, POOL_BACKWARD_FLOPS))

    def time_kind(self, inputs, out, training=False) -> str:
        """A windowed reduction over memory, with its own measured rate: overlapping windows
        (3x3/2) read each value several times, tiled ones (2x2/2, global, adaptive) once."""
        geometry = None if self.global_ else self.window(inputs[0])
        if out.positions == 1 and self.mode in ("avg", "max"):
            return "pool_global"  # a reduction over all positions: no windows to walk
        if inputs[0].rank == 1 and self.mode == "max" and not training and geometry:
            return "pool_1d"  # F.max_pool1d without gradients: its own kernel, no indices
        if geometry is not None and any(a.effective > a.stride for a in geometry.axes):
            return "pool"
        return "pool_tiled"

    def describe(self) -> str:
        if self.adaptive:
            return f"{self.mode} adaptive {kernel_text(self.output)}"
        if self.global_:
            return f"{self.mode} global"
        text = f"{self.mode} {kernel_text(self.kernel)}/{axes_text(self.stride or self.kernel)}"
        return text + padding_suffix(self.padding) + (" ceil" if self.ceil_mode else "")

    def warnings(self, inputs) -> list[str]:
        if self.global_ or self.ceil_mode or self.adaptive:
            return []
        return super().warnings(inputs)

    def receptive(self, fields, inputs, out) -> Field:
        if not self.adaptive:
            return super().receptive(fields, inputs, out)
        return _adaptive_field(fields[0], inputs[0], out)  # the widest bin, the mean step

    def step_ops(self, inputs, out, ctx, in_place=False):
        """max: max_pool2d_with_indices saves its input and int64 indices (one per output);
        the CPU kernel writes the indices even under no_grad (measured), CUDA always does.
        avg to 1x1 (global or adaptive [1, 1]) is a mean: saves nothing but sizes; on bf16
        the CPU mean makes a float32 copy of its input (measured). Other avg pools save
        their input (avg_pool2d_backward reads self)."""
        x = inputs[0]
        op = Op(f"{self.mode}_pool", output=ctx.values(out))
        if self.mode == "max":
            indices = ctx.batch * out.size * INDEX
            if ctx.grad:
                return [Op(op.name, output=op.output, saves_input=True, saved=indices)]
            return [Op(op.name, output=op.output,
                       forward_transient=indices if ctx.backend else 0)]
        if self.global_ or self.at(x.rank).output == (1,) * x.rank:
            cast = ctx.batch * x.size * 4 if ctx.amp and ctx.backend == "cpu" else 0
            return [Op("mean", output=op.output, forward_transient=cast)]
        return [Op(op.name, output=op.output, saves_input=True)]

    def pool_window(self, x: Shape):
        if self.global_ or self.adaptive:
            return None
        geometry = self.window(x)
        return geometry.kernel, geometry.stride

    def local_window(self, x: Shape) -> bool:
        return not (self.global_ or self.adaptive)

    def explain_counts(self, inputs, out, t):
        if self.adaptive:
            return super().explain_counts(inputs, out, t)
        taps = self.window(inputs[0]).taps
        return ["params: 0 (pooling learns nothing)",
                f"connections: {out} outputs x {taps} inputs per window = {t.connections:,}",
                f"FLOPs: {out} outputs x {POOL_FLOPS[self.mode](taps)} per window ({self.mode} "
                f"of {taps}) = {t.flops:,}"]

    def geometry(self, x_shape):
        """kernel, stride, (before, after) of every axis, on an array shape [N, C, *spatial]."""
        g = self.window(Shape(tuple(x_shape[2:]), x_shape[1]))
        return g.kernel, g.stride, g.flat_pads

    def forward(self, xs, w):
        from ..compute.kernels import adaptive_pool, pool
        if self.adaptive:
            return adaptive_pool(xs[0], self.mode, self.at(xs[0].ndim - 2).output)
        return pool(xs[0], self.mode, *self.geometry(xs[0].shape), self.ceil_mode)

    def backward(self, xs, w, y, dy):
        from ..compute.kernels import adaptive_pool, pool_grad
        if self.adaptive:
            return [adaptive_pool(xs[0], self.mode, self.at(xs[0].ndim - 2).output, grad=dy,
                                  y=y)], {}
        return [pool_grad(xs[0], y, dy, self.mode, *self.geometry(xs[0].shape),
                          self.ceil_mode)], {}


    # --- PyTorch export ---
    def torch_code(self, inputs, out):
        from .torch_code import TorchCode, dims, ints, keyword_args, padded, symmetric
        x = inputs[0]
        nd = dims(x.rank, "pooling")
        if self.adaptive or self.global_:
            return self.torch_whole(x, out, nd)
        g = self.window(x)
        pads = g.pads
        options = keyword_args(
            stride=ints(g.stride) if g.stride != g.kernel else None,
            padding=ints(b for b, _ in pads) if symmetric(pads) and any(b for b, _ in pads)
            else None,
            ceil_mode=True if self.ceil_mode else None)
        fill = {"max": "float('-inf')", "min": "float('-inf')"}.get(self.mode)
        inner = "{0}" if symmetric(pads) else padded(pads, fill)
        if self.mode in ("max", "avg"):
            kind = "Max" if self.mode == "max" else "Avg"
            return TorchCode("{m}(" + inner + ")", f"nn.{kind}Pool{nd}({ints(g.kernel)}{options})")
        if self.mode == "min":  # the max of the negated input, negated
            return TorchCode("-F.max_pool" + nd + "(" + inner.format("-{0}") +
                             f", {ints(g.kernel)}{options})")
        if x.rank == 1:  # l2: the root of the window's sum of squares
            return TorchCode("(F.avg_pool1d(" + inner + f" ** 2, {ints(g.kernel)}{options}) * "
                             f"{g.taps}).sqrt()")
        return TorchCode("F.avg_pool" + nd + "(" + inner + f" ** 2, {ints(g.kernel)}{options}, "
                         "divisor_override=1).sqrt()")

    def torch_whole(self, x, out, nd):
        """Global and adaptive pooling in PyTorch."""
        from itertools import product

        from .torch_code import TorchCode, ints, spatial_dims
        size = ints(out.spatial)
        if self.mode in ("max", "avg"):
            kind = "Max" if self.mode == "max" else "Avg"
            return TorchCode("{m}({0})", f"nn.Adaptive{kind}Pool{nd}({size})")
        if self.global_:
            axes = spatial_dims(x.rank)
            if self.mode == "min":
                return TorchCode(f"{{0}}.amin(dim={axes}, keepdim=True)")
            return TorchCode(f"{{0}}.pow(2).sum(dim={axes}, keepdim=True).sqrt()")
        if self.mode == "min":
            return TorchCode(f"-F.adaptive_max_pool{nd}(-{{0}}, {size})")
        # l2: the mean of squares of each of PyTorch's bins times the bin's cells, square-rooted
        per_axis = [[-(-(i + 1) * n // o) - i * n // o for i in range(o)]
                    for n, o in zip(x.spatial, out.spatial)]
        cells = [prod(c) for c in product(*per_axis)]
        return TorchCode(f"(F.adaptive_avg_pool{nd}({{0}} ** 2, {size}) * torch.tensor({cells})"
                         f".view({', '.join(map(str, out.spatial))})).sqrt()")


def _flat_rank(padding) -> int:
    """The rank a flat padding list implies when nothing else says ([t, b, l, r]: 2)."""
    return 2 if isinstance(padding, tuple) and len(padding) == 4 else \
        3 if isinstance(padding, tuple) and len(padding) == 6 else \
        len(padding) if isinstance(padding, tuple) else 1


def adaptive_bins(size: int, out: int) -> dict[int, int]:
    """PyTorch's adaptive pooling: bin i spans floor(i*size/out) to ceil((i+1)*size/out).
    Returned as {bin size: number of bins}, in closed form (never a loop over the output):
    every bin has floor(s/o) + 0, 1 or 2 cells, and the sum of all bin sizes and the number
    of bins with two extra cells are known exactly."""
    base = size // out
    total = sum_ceil(size, out) - sum_floor(size, out)  # the sizes of all bins, added
    twos = _count_two_extra(size, out)
    ones = total - out * base - 2 * twos
    return {k: v for k, v in ((base, out - ones - twos), (base + 1, ones), (base + 2, twos)) if v}


def sum_floor(size: int, out: int) -> int:
    """sum_{i=0}^{o-1} floor(i s / o) = ((s-1)(o-1) + gcd(s, o) - 1) / 2 (a classic identity)."""
    from math import gcd
    return ((size - 1) * (out - 1) + gcd(size, out) - 1) // 2


def sum_ceil(size: int, out: int) -> int:
    """sum_{i=1}^{o} ceil(i s / o): ceil = floor + 1 where o does not divide i s (all but
    gcd(s, o) of the i), and sum_{i=1}^{o} floor(i s/o) = sum_floor(s, o) + s."""
    from math import gcd
    divisible = gcd(size, out)  # i in 1..o with o | i s: exactly gcd(s, o) of them
    return sum_floor(size, out) + size + (out - divisible)


def _count_two_extra(size: int, out: int) -> int:
    """Bins of floor(s/o) + 2 cells: those whose start and end both fall inside a cell, i.e.
    where (i r mod o) + r > o with r = s mod o, and (i+1) s/o is not whole."""
    r = size % out
    if r == 0:
        return 0
    # over i in 0..o-1, i r mod o takes every multiple of g = gcd(r, o) below o, g times each;
    # count the multiples v with o - r < v < o (v = o - r would make the end whole)
    from math import gcd
    g = gcd(r, out)
    return g * (((out - 1) // g) - ((out - r) // g))


def _bin_products(bins: list[dict[int, int]]):
    """(number of windows, cells per window) over all combinations of per-axis bin sizes."""
    combos = [(1, 1)]
    for axis in bins:
        combos = [(n * count, c * cells) for n, c in combos for cells, count in axis.items()]
    return combos


def _adaptive_field(f: Field, x: Shape, y: Shape) -> Field:
    """Bins of about size/out: the widest bin as the window, size/out as the step."""
    size, jump, start = [], [], []
    for r, j, s, n, o in zip(f.size, f.jump, f.start, x.spatial, y.spatial):
        k = -(-n // o)  # the widest bin
        step = exact(n, o)
        size.append(r + (k - 1) * j)
        start.append(s + exact((k - 1) * j, 2))
        jump.append(j * step)
    return Field(tuple(size), tuple(jump), tuple(start))


@register
@frozen
class Subsample(Layer):
    type_name = "subsample"
    family = "pool"
    summary = ("LeNet-5's trainable subsampling: window sum x one coefficient + one bias, "
               "per map")
    example = "- {type: subsample, kernel: 2, activation: sigmoid}"
    axis_settings = ("kernel", "stride")
    pad_settings = ("padding",)

    kernel: tuple = setting(Axes(), "window size, or one per axis ([height, width])")
    stride: tuple | None = setting(Axes(), "step between windows; default: the kernel", None)
    padding: object = setting(Padding(), "padding at the borders", 0)
    activation: str | None = setting(Choice(("sigmoid", "tanh", "relu")),
                                     "activation fused into this row", None)

    def window(self, x: Shape) -> Window:
        r = self.at(x.rank)
        return window(x, r.kernel, r.stride or r.kernel, r.padding)

    def shape(self, x: Shape) -> Shape:
        return self.window(x).output(x.c)

    def counts(self, x: Shape, y: Shape) -> Counts:
        taps = self.window(x).taps  # inputs summed per output
        return Counts(
            params=2 * x.c,  # one coefficient and one bias per map
            connections=y.size * (taps + 1),  # window inputs + bias, per output unit
            macs=y.size,  # coefficient x window sum, accumulated onto the bias
            flops=y.size * (taps - 1) + 2 * y.size + (y.size if self.activation else 0),
        )

    def time_kind(self, inputs, out, training=False) -> str:
        return "pool_tiled"  # LeNet-5's 2x2/2 windows

    def time_kernels(self, inputs, out, training=False) -> list[Kernel]:
        """The exported Subsample: an average pool, times the taps (the window sum), times
        the coefficient, plus the bias: the pool and three passes over the output."""
        return [Kernel("pool_tiled", values=inputs[0].size + out.size),
                *[Kernel("elementwise", values=2 * out.size)] * 3]

    def backward_counts(self, inputs, out, needs_input_grad, needs_weight_grad) -> Backward:
        """The forward's one MAC per output (coefficient x window sum) is one MAC of each
        gradient: ds = dz x coefficient, dcoefficient = sum of dz x s; then ds is added to
        each of the window's taps, and the bias's gradient sums dz."""
        x = inputs[0]
        core = weighted_backward(out.size, needs_input_grad[0], needs_weight_grad,
                                 bias_adds=out.size,  # dbias: dz summed per map
                                 activation_values=0)
        if core.macs == 0:
            return core
        spread = out.size * self.window(x).taps if needs_input_grad[0] else 0  # ds to taps
        act = ACTIVATION_BACKWARD_FLOPS * out.size if self.activation else 0  # dz
        return Backward(core.input_grad_macs, core.weight_grad_macs, core.flops + spread + act)

    def describe(self) -> str:
        text = f"{kernel_text(self.kernel)}/{axes_text(self.stride or self.kernel)}"
        return text + padding_suffix(self.padding) + (
            f" +{self.activation}" if self.activation else "")

    def explain_counts(self, inputs, out, t):
        x, taps = inputs[0], self.window(inputs[0]).taps
        return [f"params: {x.c} x (1 + 1) = {t.params:,}",
                f"connections: ({kernel_text(self.at(x.rank).kernel)} + 1) x {x.c} x {out.spatial_text()} "
                f"= {t.connections:,}",
                f"MACs: {out.size:,} (one coefficient per output), FLOPs: {out.size:,} x "
                f"({taps} - 1 + 2) = {t.flops:,}"]

    def weight_shapes(self, x: Shape) -> dict:
        return {"weight": (x.c,), "bias": (x.c,)}  # one coefficient and one bias per map

    def step_ops(self, inputs, out, ctx, in_place=False):
        """avg_pool2d (saves its input), times the coefficient (mul saves its input), plus
        the bias (saves nothing), then the activation."""
        size = ctx.values(out)
        return [Op("avg_pool", output=size, saves_input=True),
                Op("mul", output=size, saves_input=True), Op("add", output=size),
                *self.fused_ops(out, ctx)]

    def pads(self, x_shape) -> tuple:
        return self.window(Shape(tuple(x_shape[2:]), x_shape[1])).flat_pads

    def window_sum(self, x):
        from ..compute.kernels import pool
        g = self.window(Shape(tuple(x.shape[2:]), x.shape[1]))
        return pool(x, "avg", g.kernel, g.stride, g.flat_pads, False) * g.taps

    def forward(self, xs, w):
        from ..compute.kernels import channelwise
        z = self.window_sum(xs[0]) * channelwise(w["weight"], xs[0].ndim) + \
            channelwise(w["bias"], xs[0].ndim)
        return self.fused(z)

    def backward(self, xs, w, y, dy):
        from ..compute.kernels import channelwise, pool_grad
        x = xs[0]
        g = self.window(Shape(tuple(x.shape[2:]), x.shape[1]))
        s = self.window_sum(x)
        z = s * channelwise(w["weight"], x.ndim) + channelwise(w["bias"], x.ndim)
        dz = self.fused_grad(z, y, dy)
        ds = dz * channelwise(w["weight"], x.ndim) * g.taps  # the sum spreads evenly
        dx = pool_grad(x, None, ds, "avg", g.kernel, g.stride, g.flat_pads, False)
        axes = (0, *range(2, x.ndim))
        return [dx], {"weight": (dz * s).sum(axis=axes), "bias": dz.sum(axis=axes)}

    # --- PyTorch export ---
    def torch_code(self, inputs, out):
        from .torch_code import TorchCode, padded
        x = inputs[0]
        g = self.window(x)
        return TorchCode(self.torch_fused("{m}(" + padded(g.pads) + ")"),
                         f"Subsample({x.c}, {g.kernel}, {g.stride})", (("Subsample", SUBSAMPLE),))


SUBSAMPLE = '''
class Subsample(nn.Module):
    """LeNet-5's subsampling: each map's window sum times one trained coefficient, plus one
    trained bias. weight [C], bias [C]."""

    def __init__(self, channels, kernel_size, stride):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride
        self.taps = 1
        for k in kernel_size:
            self.taps *= k
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x):
        pool = getattr(F, f"avg_pool{len(self.kernel_size)}d")
        total = pool(x, self.kernel_size, self.stride) * self.taps  # the window sum
        per_map = (1, -1) + (1,) * len(self.kernel_size)
        return total * self.weight.view(per_map) + self.bias.view(per_map)
'''
