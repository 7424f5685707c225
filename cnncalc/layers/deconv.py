"""Transposed convolution and the locally-connected layer: conv's relatives."""

from __future__ import annotations

from math import prod

from ..conventions import ACTIVATION_FLOPS
from ..declare import Axes, Bool, Choice, Int, Padding, frozen, setting
from ..errors import SettingError
from .activation import ACTIVATIONS
from .base import (
    check_groups,
    Backward,
    Counts,
    Layer,
    weighted_backward,
    axes_text,
    kernel_text,
    padding_suffix,
    register,
)
from .geometry import Field, Window, exact, window
from .shape import Shape
from .stepmem import Op, amp_casts, conv_transients


@register
@frozen
class Deconv(Layer):
    type_name = "deconv"
    also_called = ("convtranspose1d", "convtranspose2d", "convtranspose3d", "conv1dtranspose",
                   "conv2dtranspose", "conv3dtranspose", "convtranspose", "deconvolution",
                   "transposedconv")
    family = "conv"
    summary = ("transposed convolution (PyTorch ConvTranspose2d): out = (H-1)S - 2P + D(F-1) "
               "+ output_padding + 1")
    example = "- {type: deconv, filters: 64, kernel: 2, stride: 2}"
    axis_settings = ("kernel", "stride", "padding", "output_padding", "dilation")

    filters: int = setting(Int(), "number of output channels K")
    kernel: tuple = setting(Axes(), "filter size F, or one per axis ([height, width])")
    stride: tuple = setting(Axes(), "upsampling step S, or one per axis", 1)
    padding: tuple = setting(Axes(min=0), "P cells removed from each border, or one per axis", 0)
    output_padding: tuple = setting(Axes(min=0), "extra cells added at the end of each axis "
                                    "(bottom/right), or one per axis", 0)
    dilation: tuple = setting(Axes(), "spacing of kernel taps; 1 = contiguous", 1)
    groups: int = setting(Int(), "split channels into groups", 1)
    bias: bool = setting(Bool(), "one bias per output channel", True)
    activation: str | None = setting(Choice(ACTIVATIONS), "activation fused into this row", None)

    def validate(self):
        try:  # as written (a list of another length than the others: refused on the input)
            self.check_axes(self.at(self.written_rank() or 1))
        except SettingError as exc:
            if exc.inconsistent:
                return
            raise
        if self.filters % self.groups:
            raise SettingError(f"groups ({self.groups}) must divide filters ({self.filters})",
                               key="groups", inconsistent=True)

    @staticmethod
    def check_axes(r):
        for op, s, d in zip(r.output_padding, r.stride, r.dilation):
            if op >= max(s, d):
                raise SettingError(
                    "output_padding must be smaller than the stride or the dilation (PyTorch)",
                    key="output_padding", received=axes_text(r.output_padding))

    def shape(self, x: Shape) -> Shape:
        check_groups(self.groups, x.c, 'the input channels')
        r = self.at(x.rank)
        self.check_axes(r)
        size = tuple((n - 1) * s - 2 * p + d * (k - 1) + op + 1  # PyTorch's ConvTranspose rule
                     for n, s, p, d, k, op in zip(x.spatial, r.stride, r.padding,
                                                  r.dilation, r.kernel, r.output_padding))
        if min(size) < 1:
            raise SettingError(f"the output would be {'x'.join(map(str, size))}: padding too "
                               "large", key="padding", inconsistent=True)
        return Shape(size, self.filters)

    def counts(self, x: Shape, y: Shape) -> Counts:
        weights = x.c * (self.filters // self.groups) * prod(self.at(x.rank).kernel)
        biases = self.filters if self.bias else 0
        macs = x.positions * weights  # every input value meets every weight of its group once
        act = ACTIVATION_FLOPS * y.size if self.activation else 0
        return Counts(params=weights + biases,
                      connections=macs + y.positions * biases,  # one link per product, + bias
                      macs=macs, flops=2 * macs + y.positions * biases + act)

    def time_kind(self, inputs, out, training=False) -> str:
        """Transposed convolution runs as the backward of a conv: grouped or kxk."""
        return "grouped" if self.groups > 1 else "conv"

    def backward_counts(self, inputs, out, needs_input_grad, needs_weight_grad) -> Backward:
        """dx is a conv of dy with the same weights, dW the sum of x x dy over input
        positions: each meets every (input position, weight) pair of the forward once,
        input positions x Cin x Cout/g x taps MACs."""
        return weighted_backward(
            self.counts(inputs[0], out).macs,  # input positions x weights, the forward's
            needs_input_grad[0], needs_weight_grad,
            bias_adds=out.size if self.bias else 0,  # db[k]: dy summed over positions
            activation_values=out.size if self.activation else 0)

    def describe(self) -> str:
        text = f"{kernel_text(self.kernel)}/{axes_text(self.stride)}"
        if axes_text(self.padding) != "0":
            text += f" p{axes_text(self.padding)}"
        if axes_text(self.output_padding) != "0":
            text += f" op{axes_text(self.output_padding)}"
        if axes_text(self.dilation) != "1":
            text += f" d{axes_text(self.dilation)}"
        return text + (f" g{self.groups}" if self.groups != 1 else "")

    def explain_counts(self, inputs, out, t):
        x = inputs[0]
        r = self.at(x.rank)  # the settings written out per axis
        taps = kernel_text(r.kernel)
        group = f"{x.c} x {self.filters}" if self.groups == 1 else \
            f"{x.c} x ({self.filters}/{self.groups})"
        size = ", ".join(f"({n} - 1) x {s} - 2 x {p} + {d} x ({k} - 1) + {op} + 1 = {o}"
                         for n, s, p, d, k, op, o in zip(x.spatial, r.stride, r.padding,
                                                         r.dilation, r.kernel,
                                                         r.output_padding, out.spatial))
        params = f"{taps} x {group}" + (f" + {self.filters}" if self.bias else "")
        return [f"output size per axis: (H - 1) S - 2P + D(F - 1) + output_padding + 1: {size}",
                f"params: {params} = {t.params:,}",
                f"MACs: {x.spatial_text()} inputs x {taps} x {group} = {t.macs:,} (every input "
                "meets every weight of its group once)",
                f"FLOPs: 2 x {t.macs:,} + {t.flops - 2 * t.macs:,} = {t.flops:,}"]

    def step_ops(self, inputs, out, ctx, in_place=False):
        """A transposed convolution is convolution_backward's data pass: it saves its input
        and weight; the CPU transients are taken as a conv's with input and output swapped
        (not measured)."""
        x, weights = inputs[0], self.counts(inputs[0], out).params - (
            self.filters if self.bias else 0)
        columns = out.c * prod(self.at(x.rank).kernel) * x.positions
        forward, backward = conv_transients(ctx, x, out, weights,
                                            self.filters if self.bias else 0, columns)
        cast_weight, cast_input = amp_casts(ctx, weights, ctx.batch * x.size)
        return [Op("conv_transpose", output=ctx.values(out), saves_input=True,
                   saved=cast_input, cached=cast_weight,
                   forward_transient=forward, backward_transient=backward),
                *self.fused_ops(out, ctx)]

    def scratch(self, inputs, out) -> tuple[int, int]:
        """The input dilated by the stride, padded by the dilated kernel less one, its column
        matrix C x kernel x (full output), and the full output before cropping."""
        x = inputs[0]
        r = self.at(x.rank)  # the settings written out per axis
        dilated = [(n - 1) * s + 1 for n, s in zip(x.spatial, r.stride)]
        effective = [d * (k - 1) + 1 for d, k in zip(r.dilation, r.kernel)]
        padded = [n + 2 * (e - 1) + op for n, e, op in zip(dilated, effective,
                                                         r.output_padding)]
        full = [n - e + 1 for n, e in zip(padded, effective)]
        return (x.c * (prod(dilated) + prod(padded) + prod(r.kernel) * prod(full))
                + out.c * prod(full)), 0

    def receptive(self, fields, inputs, out) -> Field:
        """The adjoint of a conv: input unit i sits at output i S - P + (k-1)/2."""
        f = fields[0]
        size, jump, start = [], [], []
        at = self.at(inputs[0].rank)
        for r, j, s, k, st, d, p in zip(f.size, f.jump, f.start, at.kernel, at.stride,
                                         at.dilation, at.padding):
            k_eff = d * (k - 1) + 1
            taps = -(-k_eff // st)  # inputs one output reads, at most
            size.append(r + (taps - 1) * j)
            jump.append(exact(j, st))
            start.append(s + exact((2 * p - k_eff + 1) * jump[-1], 2))
        return Field(tuple(size), tuple(jump), tuple(start))

    def weight_shapes(self, x: Shape) -> dict:
        shapes = {"weight": (x.c, self.filters // self.groups, *self.at(x.rank).kernel)}
        if self.bias:
            shapes["bias"] = (self.filters,)
        return shapes

    def pre(self, x, w):
        from ..compute.kernels import channelwise, conv_transpose
        r = self.at(x.ndim - 2)
        z = conv_transpose(x, w["weight"], r.stride, r.padding, r.output_padding,
                           r.dilation, self.groups)
        return z + channelwise(w["bias"], z.ndim) if self.bias else z

    def forward(self, xs, w):
        return self.fused(self.pre(xs[0], w))

    def backward(self, xs, w, y, dy):
        import numpy as np

        from ..compute.kernels import conv, pad_axes, windows
        x = xs[0]
        rank = x.ndim - 2
        r = self.at(rank)
        dz = self.fused_grad(self.pre(x, w), y, dy) if self.activation else dy
        pads = [p for p in r.padding for _ in (0, 1)]
        # the adjoint of a transposed conv is a conv with the same weight, stride and padding
        dx = conv(dz, w["weight"], None, r.stride, pads, r.dilation, self.groups)
        dx = dx[(slice(None), slice(None), *(slice(0, n) for n in x.shape[2:]))]
        win = windows(pad_axes(dz, *pads), r.kernel, r.stride, r.dilation,
                      x.shape[2:])  # N, Cout, *input, *kernel
        c_group, o_group = x.shape[1] // self.groups, self.filters // self.groups
        space, taps = "hwd"[:rank], "abc"[:rank]
        dw = np.empty(w["weight"].shape, dtype=x.dtype)
        for g in range(self.groups):
            dw[g * c_group:(g + 1) * c_group] = np.einsum(
                f"ni{space},no{space}{taps}->io{taps}", x[:, g * c_group:(g + 1) * c_group],
                win[:, g * o_group:(g + 1) * o_group], optimize=True)
        grads = {"weight": dw}
        if self.bias:
            grads["bias"] = dz.sum(axis=(0, *range(2, dz.ndim)))
        return [dx], grads


    # --- PyTorch export ---
    def torch_code(self, inputs, out):
        from .torch_code import TorchCode, dims, ints, keyword_args
        x = inputs[0]
        r = self.at(x.rank)
        ones, zeros = (1,) * x.rank, (0,) * x.rank
        options = keyword_args(
            stride=ints(r.stride) if r.stride != ones else None,
            padding=ints(r.padding) if r.padding != zeros else None,
            output_padding=ints(r.output_padding) if r.output_padding != zeros else None,
            groups=self.groups if self.groups != 1 else None,
            bias=None if self.bias else False,
            dilation=ints(r.dilation) if r.dilation != ones else None)
        return TorchCode(self.torch_fused("{m}({0})"),
                         f"nn.ConvTranspose{dims(x.rank, 'a transposed convolution')}({x.c}, "
                         f"{self.filters}, {ints(r.kernel)}{options})")

    def torch_shared(self, inputs, out):
        """The owner's weights (a conv's or a deconv's: the same layout when the shapes
        agree) with this layer's own stride, padding, output padding, groups, dilation."""
        from .torch_code import TorchCode, dims, ints
        x = inputs[0]
        r = self.at(x.rank)
        bias = "{m}.bias" if self.bias else "None"
        call = (f"F.conv_transpose{dims(x.rank, 'a transposed convolution')}({{0}}, "
                f"{{m}}.weight, {bias}, {ints(r.stride)}, {ints(r.padding)}, "
                f"{ints(r.output_padding)}, {self.groups}, {ints(r.dilation)})")
        return TorchCode(self.torch_fused(call))


@register
@frozen
class Local(Layer):
    type_name = "local"
    family = "conv"
    summary = "locally-connected: a conv whose weights are not shared between positions"
    example = "- {type: local, filters: 96, kernel: 11, stride: 4}"
    axis_settings = ("kernel", "stride")
    pad_settings = ("padding",)

    filters: int = setting(Int(), "number of output maps K")
    kernel: tuple = setting(Axes(), "window size F, or one per axis ([height, width])")
    stride: tuple = setting(Axes(), "step S between windows, or one per axis", 1)
    padding: object = setting(Padding(), "zeros added at the borders (as conv's)", 0)
    bias: bool = setting(Bool(), "one bias per output unit", True)
    activation: str | None = setting(Choice(ACTIVATIONS), "activation fused into this row", None)

    def window(self, x: Shape) -> Window:
        r = self.at(x.rank)
        return window(x, r.kernel, r.stride, r.padding)

    def shape(self, x: Shape) -> Shape:
        return self.window(x).output(self.filters)

    def counts(self, x: Shape, y: Shape) -> Counts:
        fan_in = x.c * self.window(x).taps  # weights of one output unit
        weights = y.size * fan_in  # every output unit has its own
        biases = y.size if self.bias else 0  # and its own bias
        act = ACTIVATION_FLOPS * y.size if self.activation else 0
        return Counts(params=weights + biases, connections=weights + biases, macs=weights,
                      flops=2 * weights + biases + act)

    def time_kind(self, inputs, out, training=False) -> str:
        """Unshared weights: one small matrix product per position."""
        return "gemm"

    def backward_counts(self, inputs, out, needs_input_grad, needs_weight_grad) -> Backward:
        """Unshared weights: each of the forward's weight uses is one MAC of dx and one of
        dW (its own weight's gradient)."""
        return weighted_backward(
            self.counts(inputs[0], out).macs,  # output units x C x taps, the forward's
            needs_input_grad[0], needs_weight_grad,
            bias_adds=out.size if self.bias else 0,  # one bias per output unit: dy summed
            activation_values=out.size if self.activation else 0)

    def describe(self) -> str:
        return f"{kernel_text(self.kernel)}/{axes_text(self.stride)}" + padding_suffix(self.padding)

    def workspace(self, inputs, out) -> int:
        return inputs[0].c * self.window(inputs[0]).taps * out.positions  # the unrolled windows

    def explain_counts(self, inputs, out, t):
        fan = f"{kernel_text(self.at(inputs[0].rank).kernel)}x{inputs[0].c}"
        bias = " + 1" if self.bias else ""
        return [f"params: ({fan}{bias}) x {out} outputs (no sharing: one set per position) "
                f"= {t.params:,}",
                f"connections: {t.connections:,} (every weight and bias is one link)",
                f"MACs: {out} outputs x {fan} = {t.macs:,}",
                f"FLOPs: 2 x {t.macs:,} + {t.flops - 2 * t.macs:,} = {t.flops:,}"]

    def filter_kernel(self, x: Shape):
        return self.kernel

    def step_ops(self, inputs, out, ctx, in_place=False):
        """Unfold, a per-position product and a sum (as written in PyTorch by hand): the
        unfolded windows are saved for the weight gradient (not measured)."""
        columns = ctx.batch * self.workspace(inputs, out) * ctx.act
        return [Op("local", output=ctx.values(out), saves_input=True,
                   saved=columns if ctx.grad else 0,
                   forward_transient=0 if ctx.grad else columns), *self.fused_ops(out, ctx)]

    def weight_shapes(self, x: Shape) -> dict:
        y = self.shape(x)
        kernel = self.at(x.rank).kernel
        shapes = {"weight": (*y.spatial, self.filters, x.c, *kernel)}  # one per position
        if self.bias:
            shapes["bias"] = (self.filters, *y.spatial)
        return shapes

    def fan_in(self, key, shape):
        if key != "weight":
            return None
        rank = (len(shape) - 2) // 2  # *out, K, C, *kernel
        return prod(shape[rank + 1:])  # C x kernel of one unit

    def columns(self, x):
        """Every window unrolled: [N, positions, C x kernel], the pads and the padded shape."""
        from ..compute.kernels import pad_axes, windows
        g = self.window(Shape(tuple(x.shape[2:]), x.shape[1]))
        xp = pad_axes(x, *g.flat_pads)
        rank = x.ndim - 2
        win = windows(xp, g.kernel, g.stride, (1,) * rank, g.out)  # N, C, *out, *kernel
        order = (0, *range(2, 2 + rank), 1, *range(2 + rank, 2 + 2 * rank))
        return win.transpose(order).reshape(x.shape[0], prod(g.out), -1), g, xp.shape

    def pre(self, x, w):
        import numpy as np
        cols, g, _ = self.columns(x)
        weight = w["weight"].reshape(prod(g.out), self.filters, -1)
        z = np.einsum("npc,pkc->nkp", cols, weight, optimize=True)
        z = z.reshape(x.shape[0], self.filters, *g.out)
        return z + w["bias"][None] if self.bias else z

    def forward(self, xs, w):
        return self.fused(self.pre(xs[0], w))

    def backward(self, xs, w, y, dy):
        from itertools import product

        import numpy as np

        from ..compute.kernels import inside
        x = xs[0]
        dz = self.fused_grad(self.pre(x, w), y, dy) if self.activation else dy
        cols, g, padded = self.columns(x)
        positions = prod(g.out)
        weight = w["weight"].reshape(positions, self.filters, -1)
        flat = dz.reshape(x.shape[0], self.filters, positions)
        grads = {"weight": np.einsum("nkp,npc->pkc", flat, cols,
                                     optimize=True).reshape(w["weight"].shape)}
        if self.bias:
            grads["bias"] = dz.sum(axis=0)
        dcols = np.einsum("nkp,pkc->npc", flat, weight, optimize=True)
        dcols = dcols.reshape(x.shape[0], *g.out, x.shape[1], *g.kernel)
        rank = x.ndim - 2
        dcols = np.moveaxis(dcols, 1 + rank, 1)  # N, C, *out, *kernel
        grad = np.zeros(padded, dtype=x.dtype)
        for taps in product(*(range(k) for k in g.kernel)):  # col2im: a loop over taps only
            cells = (slice(None), slice(None), *(slice(t, t + (o - 1) * s + 1, s)
                                                 for t, o, s in zip(taps, g.out, g.stride)))
            grad[cells] += dcols[(Ellipsis, *taps)]
        return [grad[inside(x.shape, g.flat_pads)]], grads

    # --- PyTorch export ---
    def torch_code(self, inputs, out):
        from .torch_code import TorchCode, padded
        x = inputs[0]
        pads, r = self.window(x).pads, self.at(x.rank)
        module = (f"Local({x.c}, {self.filters}, {tuple(r.kernel)}, {tuple(r.stride)}, "
                  f"{tuple(out.spatial)}" + ("" if self.bias else ", bias=False") + ")")
        return TorchCode(self.torch_fused("{m}(" + padded(pads) + ")"), module,
                         (("Local", LOCAL),))


LOCAL = '''
class Local(nn.Module):
    """A locally-connected layer: a convolution whose weights are not shared, one filter
    bank per output position. weight [*out, filters, in, *kernel], bias [filters, *out]."""

    def __init__(self, in_channels, filters, kernel_size, stride, out_size, bias=True):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride
        self.weight = nn.Parameter(torch.empty(*out_size, filters, in_channels, *kernel_size))
        fan_in = self.weight[(0,) * (len(out_size) + 1)].numel()  # in x kernel of one unit
        nn.init.normal_(self.weight, std=(2 / fan_in) ** 0.5)
        self.bias = nn.Parameter(torch.zeros(filters, *out_size)) if bias else None

    def forward(self, x):
        for axis, (k, s) in enumerate(zip(self.kernel_size, self.stride)):
            x = x.unfold(2 + axis, k, s)  # windows: [N, C, *out, *kernel]
        rank = len(self.kernel_size)
        out, taps = "hwd"[:rank], "ijk"[:rank]
        y = torch.einsum(f"nc{out}{taps},{out}oc{taps}->no{out}", x, self.weight)
        return y if self.bias is None else y + self.bias
'''
