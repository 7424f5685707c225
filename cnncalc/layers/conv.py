"""Convolution: shared weights slid over the input."""

from __future__ import annotations

from math import prod

from ..conventions import ACTIVATION_FLOPS
from ..declare import Bool, Choice, Int, Padding, Pair, Table, frozen, setting
from ..errors import SettingError
from .activation import ACTIVATIONS
from .base import check_groups, Counts, Layer, axes_text, kernel_text, padding_suffix, register
from .geometry import Window, window
from .shape import Shape


@register
@frozen
class Conv(Layer):
    type_name = "conv"
    summary = "2-D convolution: K filters of F x F x (C/groups) slid with stride S over padded input"
    example = "- {type: conv, filters: 64, kernel: 3, padding: 1, activation: relu}"

    filters: int = setting(Int(), "number of filters K (output channels)")
    kernel: tuple = setting(Pair(), "filter size F, or [height, width]")
    stride: tuple = setting(Pair(), "step S between windows, or [height, width]", (1, 1))
    padding: object = setting(Padding(), "zeros added at the borders: P, [h, w], "
                              "[top, bottom, left, right], same or valid", ((0, 0), (0, 0)))
    dilation: tuple = setting(Pair(), "spacing of kernel taps; 1 = contiguous", (1, 1))
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
        return window(x, self.kernel, self.stride, self.padding, self.dilation)

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

    def describe(self) -> str:
        text = f"{kernel_text(self.kernel)}/{axes_text(self.stride)}" + padding_suffix(self.padding)
        if self.dilation != (1,) * len(self.dilation):
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

    def workspace(self, inputs, out) -> int:
        return inputs[0].c * self.window(inputs[0]).taps * out.positions  # im2col's X_col

    def filter_kernel(self):
        return self.kernel

    def size_keeping(self, x: Shape):
        if self.stride != (1,) * len(self.stride) or self.padding == "same":
            return None
        geometry = self.window(x)
        return ([a.before + a.after for a in geometry.axes],
                [a.effective - 1 for a in geometry.axes])

    def explain_counts(self, inputs, out, t):
        x, y = inputs[0], out
        taps = kernel_text(self.kernel)
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
        if self.connections is not None:  # only the connected kernels, in table order
            shapes = {"weight": (self.links, *self.kernel)}
        else:
            shapes = {"weight": (self.filters, x.c // self.groups, *self.kernel)}
        if self.bias:
            shapes["bias"] = (self.filters,)
        return shapes

    @property
    def links(self) -> int:
        """Kernels a connection table keeps: one per (output map, input map read)."""
        return sum(len(row) for row in self.connections)

    def fan_in(self, key, shape):
        if key == "weight" and self.connections is not None:
            return self.links * prod(self.kernel) // self.filters  # input maps read, on average
        return super().fan_in(key, shape)

    def pads(self, x_shape) -> tuple:
        """(top, bottom, left, right) for an NCHW array shape."""
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
        full = np.zeros((self.filters, channels, *self.kernel), dtype=weight.dtype)
        full[self.table()] = weight
        return full

    def forward(self, xs, w):
        from ..compute.kernels import conv2d
        z = conv2d(xs[0], self.full_kernel(w["weight"], xs[0].shape[1]), w.get("bias"), self.stride,
                   self.pads(xs[0].shape), self.dilation, self.groups)
        return self.fused(z)

    def backward(self, xs, w, y, dy):
        from ..compute.kernels import conv2d, conv_input_grad, conv_weight_grad
        x, weight, pads = xs[0], self.full_kernel(w["weight"], xs[0].shape[1]), self.pads(xs[0].shape)
        if self.activation:
            z = conv2d(x, weight, w.get("bias"), self.stride, pads, self.dilation, self.groups)
            dy = self.fused_grad(z, y, dy)
        grads = {"weight": conv_weight_grad(x, dy, weight.shape, self.stride, pads,
                                            self.dilation, self.groups)}
        if self.connections is not None:
            grads["weight"] = grads["weight"][self.table()]  # the table's kernels only
        if self.bias:
            grads["bias"] = dy.sum(axis=(0, 2, 3))  # the notes: the sum of the delta
        dx = conv_input_grad(dy, weight, x.shape, self.stride, pads, self.dilation, self.groups)
        return [dx], grads

    # --- PyTorch export ---
    def torch_code(self, inputs, out):
        from .torch_code import TorchCode, dims, ints, keyword_args, padded, symmetric
        x = inputs[0]
        pads = self.window(x).pads
        ones = (1,) * x.rank
        options = keyword_args(
            stride=ints(self.stride) if self.stride != ones else None,
            padding=ints(b for b, _ in pads) if symmetric(pads) and any(b for b, _ in pads)
            else None,
            dilation=ints(self.dilation) if self.dilation != ones else None,
            groups=self.groups if self.groups != 1 else None,
            bias=None if self.bias else False)
        forward = self.torch_fused("{m}(" + ("{0}" if symmetric(pads) else padded(pads)) + ")")
        if self.connections is not None:
            table = "(" + ", ".join(str(tuple(row)) for row in self.connections) + ")"
            return TorchCode(forward, f"TableConv({x.c}, {table}, {tuple(self.kernel)}{options})",
                             (("TableConv", TABLE_CONV),))
        module = f"nn.Conv{dims(x.rank, 'a convolution')}({x.c}, {self.filters}, " \
                 f"{ints(self.kernel)}{options})"
        return TorchCode(forward, module)


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
