"""Convolution: shared weights slid over the input."""

from __future__ import annotations

from math import prod

from ..conventions import ACTIVATION_FLOPS
from ..declare import Axes, Bool, Choice, Int, Padding, Table, frozen, setting
from ..errors import SettingError
from .activation import ACTIVATIONS
from .base import (
    check_groups,
    Backward,
    Counts,
    Kernel,
    Layer,
    weighted_backward,
    axes_text,
    kernel_text,
    padding_suffix,
    register,
)
from .geometry import Window, window
from .shape import Shape
from .stepmem import Op, amp_casts, conv_transients


WIDE_GROUP = 32  # input channels per group from which a grouped conv runs like a dense one
STEM_CHANNELS = 7  # input channels up to which a conv is timed as a stem: fewer than one AVX2
# vector of float32 (an image's 1 or 3; LeNet-5's C3 reads 6)


@register
@frozen
class Conv(Layer):
    type_name = "conv"
    also_called = ("conv1d", "conv2d", "conv3d", "convolution", "convolution1d", "convolution2d",
                   "convolution3d", "convnd")
    family = "conv"
    summary = ("convolution (1-D, 2-D or 3-D, as the input): K filters of F x F x (C/groups) "
               "slid with stride S over padded input")
    example = "- {type: conv, filters: 64, kernel: 3, padding: 1, activation: relu}"
    axis_settings = ("kernel", "stride", "dilation")
    pad_settings = ("padding",)

    filters: int = setting(Int(), "number of filters K (output channels)")
    kernel: tuple = setting(Axes(), "filter size F, or one per axis ([height, width])")
    stride: tuple = setting(Axes(), "step S between windows, or one per axis", 1)
    padding: object = setting(Padding(), "zeros added at the borders: P, one per axis, "
                              "[top, bottom, left, right], a [before, after] pair per axis, "
                              "same or valid", 0)
    dilation: tuple = setting(Axes(), "spacing of kernel taps; 1 = contiguous", 1)
    groups: int = setting(Int(), "split channels into groups convolved separately", 1)
    bias: bool = setting(Bool(), "one bias per filter", True)
    connections: tuple | None = setting(
        Table(), "for each output map, the input maps it reads (LeNet-5's C3)", None)
    activation: str | None = setting(Choice(ACTIVATIONS), "activation fused into this row", None)

    def validate(self):
        if self.filters % self.groups:
            raise SettingError(f"groups ({self.groups}) must divide filters ({self.filters})",
                               key="groups", inconsistent=True)
        if self.connections is not None:
            if self.groups != 1:
                raise SettingError("a connection table cannot be combined with groups",
                                   key="connections")
            if len(self.connections) != self.filters:
                raise SettingError(f"the connection table has {len(self.connections)} rows but "
                                   f"there are {self.filters} filters", key="connections")

    def window(self, x: Shape) -> Window:
        r = self.at(x.rank)
        return window(x, r.kernel, r.stride, r.padding, r.dilation)

    def shape(self, x: Shape) -> Shape:
        check_groups(self.groups, x.c, 'the input channels')
        if self.connections is not None:
            highest = max(max(row) for row in self.connections)
            if highest >= x.c:
                raise SettingError(f"the connection table reads input map {highest} but the "
                                   f"input has {x.c} maps (0 to {x.c - 1})",
                                   key="connections", inconsistent=True)
        return self.window(x).output(self.filters)

    def weights(self, x: Shape) -> int:
        taps = self.window(x).taps  # one weight per kernel position...
        if self.connections is not None:
            return taps * sum(len(row) for row in self.connections)  # ...per input map read
        return taps * (x.c // self.groups) * self.filters  # ...per input channel of the group

    def counts(self, x: Shape, y: Shape) -> Counts:
        weights = self.weights(x)  # shared by every output position
        biases = self.filters if self.bias else 0  # one per filter
        positions = y.positions  # where each filter is applied
        macs = positions * weights  # every weight is used once per position
        act = ACTIVATION_FLOPS * y.size if self.activation else 0  # fused activation
        return Counts(
            params=weights + biases,
            connections=positions * (weights + biases),  # inputs read + bias, per output unit
            macs=macs,
            flops=2 * macs + positions * biases + act,  # multiply + add per MAC, bias adds
        )

    def backward_counts(self, inputs, out, needs_input_grad, needs_weight_grad) -> Backward:
        """Every (output position, weight) pair of the forward meets once more in each
        gradient, whatever the groups, stride, dilation or rank: dx is the transposed conv
        of dy with the same weights, dW[k, c, tap] the sum over positions of x x dy, each
        positions x K x Cin/g x taps MACs (a table's kernels only). torch 2.13's
        FlopCounterMode counts the dW term g times (pytorch PR #183405)."""
        return weighted_backward(
            self.counts(inputs[0], out).macs,  # positions x weights, the forward's
            needs_input_grad[0], needs_weight_grad,
            bias_adds=out.size if self.bias else 0,  # db[k]: dy summed over positions
            activation_values=out.size if self.activation else 0)

    def describe(self) -> str:
        text = f"{kernel_text(self.kernel)}/{axes_text(self.stride)}" + padding_suffix(self.padding)
        if axes_text(self.dilation) != "1":
            text += f" d{axes_text(self.dilation)}"
        if self.groups != 1:
            text += f" g{self.groups}"
        if self.connections is not None:
            text += " table"
        if not self.bias:
            text += " nobias"
        if self.activation:
            text += f" +{self.activation}"
        return text

    def time_kind(self, inputs, out, training=False) -> str:
        """depthwise (a group per channel; strided apart: it reads four inputs per output; a
        kernel wider than 3x3 apart: its backward runs several times slower per MAC),
        grouped (narrow groups, ResNeXt's 4 channels), a stem (at most 7 input channels: an
        image's, fewer than oneDNN's kernels vectorise over), 1x1 (a GEMM per position, any
        stride), strided kxk, or kxk; wide groups (AlexNet's two of 48 or more channels) run
        as the dense kind, one conv per group."""
        r, x = self.at(inputs[0].rank), inputs[0]
        strided = any(s > 1 for s in r.stride)
        if self.groups > 1 and self.groups == x.c:
            if self.window(x).taps > 9:  # 5x5 and wider: a backward several times slower
                return "depthwise_large"
            return "depthwise_strided" if strided else "depthwise"
        if self.groups > 1 and x.c // self.groups < WIDE_GROUP:
            return "grouped"
        if all(k == 1 for k in r.kernel):
            return "conv1x1"
        if x.c <= STEM_CHANNELS:
            return "stem"
        if x.rank == 3:
            return "conv_3d"  # oneDNN's 3-D kernels: their own rate, strided or not
        return "strided" if strided else "conv"

    def time_kernels(self, inputs, out, training=False) -> list[Kernel] | None:
        """A connection table runs as the exported TableConv does: a kernel of zeros, the
        table's weights scattered into it, then the dense conv over every input map."""
        if self.connections is None:
            return None
        x = inputs[0]
        dense = self.filters * x.c * self.window(x).taps  # the full kernel's values
        table = self.weights(x)  # the table's kernels
        return [Kernel("elementwise", values=dense),  # new_zeros
                Kernel("elementwise", values=2 * table + dense),  # kernel[rows, cols] = weight
                Kernel(self.time_kind(inputs, out, training), dense * out.positions,
                       x.size + out.size, dense)]

    def workspace(self, inputs, out) -> int:
        return inputs[0].c * self.window(inputs[0]).taps * out.positions  # im2col's X_col

    def step_ops(self, inputs, out, ctx, in_place=False):
        """convolution saves its input and weight (derivatives.yaml: convolution_backward
        reads input and weight); oneDNN's reorders and temporaries on the CPU; autocast's
        low-precision weight copy. Then the fused activation."""
        x, weights = inputs[0], self.weights(inputs[0])
        forward, backward = conv_transients(ctx, x, out, weights,
                                            self.filters if self.bias else 0,
                                            self.workspace(inputs, out),
                                            depthwise=self.groups == x.c and self.groups > 1,
                                            strided_3d=x.rank == 3 and any(
                                                s > 1 for s in self.at(3).stride),
                                            taps_over_input=self.window(x).taps if (
                                                self.groups == 1 and any(
                                                    n < k for n, k in zip(
                                                        x.spatial, self.at(x.rank).kernel)))
                                            else 0)
        cast_weight, cast_input = amp_casts(ctx, weights, ctx.batch * x.size)
        return [Op("convolution", output=ctx.values(out), saves_input=True,
                   saved=cast_input, cached=cast_weight,
                   forward_transient=forward, backward_transient=backward),
                *self.fused_ops(out, ctx)]

    def filter_kernel(self, x: Shape):
        """None for a depthwise conv (one filter per channel): its large kernel is a cheap,
        deliberate choice (MobileNetV3, EfficientNet, ConvNeXt), C x k^2 weights beside the
        pointwise convs' C^2, so the notes' stack-of-3x3 advice does not apply."""
        return None if self.groups > 1 and self.groups == x.c else self.kernel

    def size_keeping(self, x: Shape):
        if axes_text(self.stride) != "1" or self.padding == "same":
            return None
        geometry = self.window(x)
        return ([a.before + a.after for a in geometry.axes],
                [a.effective - 1 for a in geometry.axes])

    def explain_counts(self, inputs, out, t):
        x, y = inputs[0], out
        taps = kernel_text(self.at(x.rank).kernel)
        if self.connections is not None:
            read = sum(len(row) for row in self.connections)
            return [f"params: {taps} x {read} (input maps read, all filters) + {self.filters} "
                    f"biases = {t.params:,}",
                    f"connections: {t.params:,} x {y.spatial_text()} = {t.connections:,}",
                    f"MACs: {y.spatial_text()} x {taps} x {read} = {t.macs:,}",
                    f"FLOPs: 2 x {t.macs:,} + {t.flops - 2 * t.macs:,} = {t.flops:,}"]
        cin = f"{x.c}" if self.groups == 1 else f"({x.c}/{self.groups})"
        fan = f"{taps}x{cin}"
        params = f"({fan} + 1) x {self.filters}" if self.bias else f"{fan} x {self.filters}"
        return [f"params: {params} = {t.params:,}",
                f"connections: {params} x {y.spatial_text()} = {t.connections:,}",
                f"MACs: {y} outputs x {fan} = {t.macs:,}",
                f"FLOPs: 2 x {t.macs:,} + {t.flops - 2 * t.macs:,} (bias adds"
                f"{', activation' if self.activation else ''}) = {t.flops:,}"]

    def weight_shapes(self, x: Shape) -> dict:
        r = self.at(x.rank)
        if self.connections is not None:  # only the connected kernels, in table order
            shapes = {"weight": (self.links, *r.kernel)}
        else:
            shapes = {"weight": (self.filters, x.c // self.groups, *r.kernel)}
        if self.bias:
            shapes["bias"] = (self.filters,)
        return shapes

    @property
    def links(self) -> int:
        """Kernels a connection table keeps: one per (output map, input map read)."""
        return sum(len(row) for row in self.connections)

    def fan_in(self, key, shape):
        if key == "weight" and self.connections is not None:
            return prod(shape) // self.filters  # links x kernel taps: input maps read, on average
        return super().fan_in(key, shape)

    def pads(self, x_shape) -> tuple:
        """(before, after) of every axis, flat, for an array shape [N, C, *spatial]
        ((top, bottom, left, right) in 2-D)."""
        return self.window(Shape(tuple(x_shape[2:]), x_shape[1])).flat_pads

    def table(self):
        """(output map, input map) index arrays of the table's kernels, in table order."""
        import numpy as np
        pairs = [(out, i) for out, row in enumerate(self.connections) for i in row]
        return np.array([o for o, _ in pairs]), np.array([i for _, i in pairs])

    def full_kernel(self, weight, channels: int):
        """The dense [out, in, kh, kw] kernel of a connection table (zeros where a map is not
        read); without a table, the weight itself."""
        if self.connections is None:
            return weight
        import numpy as np
        full = np.zeros((self.filters, channels, *weight.shape[1:]), dtype=weight.dtype)
        full[self.table()] = weight
        return full

    def forward(self, xs, w):
        from ..compute.kernels import conv
        r = self.at(xs[0].ndim - 2)
        z = conv(xs[0], self.full_kernel(w["weight"], xs[0].shape[1]), w.get("bias"), r.stride,
                 self.pads(xs[0].shape), r.dilation, self.groups)
        return self.fused(z)

    def backward(self, xs, w, y, dy):
        from ..compute.kernels import conv, conv_input_grad, conv_weight_grad
        x, weight = xs[0], self.full_kernel(w["weight"], xs[0].shape[1])
        pads, r = self.pads(x.shape), self.at(x.ndim - 2)
        if self.activation:
            z = conv(x, weight, w.get("bias"), r.stride, pads, r.dilation, self.groups)
            dy = self.fused_grad(z, y, dy)
        grads = {"weight": conv_weight_grad(x, dy, weight.shape, r.stride, pads,
                                            r.dilation, self.groups)}
        if self.connections is not None:
            grads["weight"] = grads["weight"][self.table()]  # the table's kernels only
        if self.bias:
            grads["bias"] = dy.sum(axis=(0, *range(2, dy.ndim)))  # the notes: the sum of the delta
        dx = conv_input_grad(dy, weight, x.shape, r.stride, pads, r.dilation, self.groups)
        return [dx], grads

    # --- PyTorch export ---
    def torch_code(self, inputs, out):
        from .torch_code import TorchCode, dims, ints, keyword_args, padded, symmetric
        x = inputs[0]
        pads, r = self.window(x).pads, self.at(x.rank)
        ones = (1,) * x.rank
        options = keyword_args(
            stride=ints(r.stride) if r.stride != ones else None,
            padding=ints(b for b, _ in pads) if symmetric(pads) and any(b for b, _ in pads)
            else None,
            dilation=ints(r.dilation) if r.dilation != ones else None,
            groups=self.groups if self.groups != 1 else None,
            bias=None if self.bias else False)
        forward = self.torch_fused("{m}(" + ("{0}" if symmetric(pads) else padded(pads)) + ")")
        if self.connections is not None:
            table = "(" + ", ".join(str(tuple(row)) for row in self.connections) + ")"
            return TorchCode(forward, f"TableConv({x.c}, {table}, {tuple(r.kernel)}{options})",
                             (("TableConv", TABLE_CONV),))
        module = f"nn.Conv{dims(x.rank, 'a convolution')}({x.c}, {self.filters}, " \
                 f"{ints(r.kernel)}{options})"
        return TorchCode(forward, module)

    def torch_shared(self, inputs, out):
        """The owner's weights with this layer's own stride, padding, dilation and groups."""
        from .torch_code import TorchCode, dims, ints, padded, symmetric
        x = inputs[0]
        if self.connections is not None:  # TableConv lays its weights out its own way
            return self.torch_code(inputs, out)
        pads, r = self.window(x).pads, self.at(x.rank)
        source = "{0}" if symmetric(pads) else padded(pads)
        padding = ints(b for b, _ in pads) if symmetric(pads) else "0"
        bias = "{m}.bias" if self.bias else "None"
        call = (f"F.conv{dims(x.rank, 'a convolution')}({source}, {{m}}.weight, {bias}, "
                f"{ints(r.stride)}, {padding}, {ints(r.dilation)}, {self.groups})")
        return TorchCode(self.torch_fused(call))


TABLE_CONV = '''
class TableConv(nn.Module):
    """A convolution whose output maps each read only the input maps of their row of `table`
    (LeNet-5's C3). `weight` holds the connected kernels only, in table order (row 0's input
    maps, then row 1's, ...); forward places them in a kernel of zeros."""

    def __init__(self, in_channels, table, kernel_size, stride=1, padding=0, dilation=1,
                 bias=True):
        super().__init__()
        pairs = [(out, i) for out, row in enumerate(table) for i in row]
        self.register_buffer("rows", torch.tensor([o for o, _ in pairs]), persistent=False)
        self.register_buffer("cols", torch.tensor([i for _, i in pairs]), persistent=False)
        self.full_shape = (len(table), in_channels, *kernel_size)
        self.weight = nn.Parameter(torch.empty(len(pairs), *kernel_size))
        fan_in = self.weight[0].numel() * len(pairs) / len(table)  # maps read, on average
        nn.init.normal_(self.weight, std=(2 / fan_in) ** 0.5)
        self.bias = nn.Parameter(torch.zeros(len(table))) if bias else None
        self.stride, self.padding, self.dilation = stride, padding, dilation

    def forward(self, x):
        kernel = self.weight.new_zeros(self.full_shape)
        kernel[self.rows, self.cols] = self.weight
        conv = getattr(F, f"conv{len(self.full_shape) - 2}d")
        return conv(x, kernel, self.bias, self.stride, self.padding, self.dilation)
'''
