"""Layers that see the whole input as one vector: fully-connected, flatten, LeNet-5's RBF."""

from __future__ import annotations

from ..conventions import ACTIVATION_FLOPS
from ..declare import Bool, Choice, Int, frozen, setting
from .activation import ACTIVATIONS
from .base import DROP, VIEW, Backward, Counts, Kernel, Layer, register, weighted_backward
from .geometry import Field
from .shape import Shape
from .stepmem import Op, amp_casts


def flatten_note(x: Shape) -> list[str]:
    if x.positions == 1:
        return []
    return [f"flattens {x} = {x.size:,} values in {x.flat_order()} order"]


def vector(units: int, x: Shape) -> Shape:
    """A vector of `units` values, as a 1x1xK map of the input's rank."""
    return Shape((1,) * x.rank, units)


@frozen
class WholeInput(Layer):
    """Layers whose every output unit sees the whole input."""

    def receptive(self, fields, inputs, out) -> Field:
        return fields[0].whole(inputs[0])

    def notes(self, inputs, out) -> list[str]:
        return flatten_note(inputs[0])


@register
@frozen
class FC(WholeInput):
    type_name = "fc"
    also_called = ("linear", "dense", "fullyconnected", "innerproduct", "gemm")
    family = "fc"
    summary = "fully-connected: every output unit reads every input value (flattened C,H,W)"
    example = "- {type: fc, units: 4096, activation: relu}"
    dense = True

    units: int = setting(Int(), "number of output units")
    bias: bool = setting(Bool(), "one bias per unit", True)
    activation: str | None = setting(Choice(ACTIVATIONS), "activation fused into this row", None)

    def shape(self, x: Shape) -> Shape:
        return vector(self.units, x)

    def counts(self, x: Shape, y: Shape) -> Counts:
        weights = x.size * self.units  # one weight per (input value, unit)
        biases = self.units if self.bias else 0
        act = ACTIVATION_FLOPS * self.units if self.activation else 0
        return Counts(params=weights + biases,
                      connections=weights + biases,  # inputs read + bias, per unit
                      macs=weights,  # each weight used once
                      flops=2 * weights + biases + act)

    def time_kind(self, inputs, out, training=False) -> str:
        return "gemm"  # a matrix product: batch x inputs times inputs x units

    def backward_counts(self, inputs, out, needs_input_grad, needs_weight_grad) -> Backward:
        """dx = dy W (inputs x units MACs), dW = dy^T x (inputs x units MACs): the
        forward's matrix product twice, as torch's mm backward."""
        return weighted_backward(
            self.counts(inputs[0], out).macs,  # inputs x units
            needs_input_grad[0], needs_weight_grad,
            bias_adds=self.units if self.bias else 0,  # db = dy (summed over the batch)
            activation_values=self.units if self.activation else 0)

    def describe(self) -> str:
        return f"{self.units}" + ("" if self.bias else " nobias") + (
            f" +{self.activation}" if self.activation else "")

    def explain_counts(self, inputs, out, t):
        n_in = inputs[0].size
        params = f"({n_in:,} + 1) x {self.units:,}" if self.bias else f"{n_in:,} x {self.units:,}"
        lines = [f"params: {params} = {t.params:,}", f"connections: {params} = {t.connections:,}",
                 f"MACs: {n_in:,} x {self.units:,} = {t.macs:,}",
                 f"FLOPs: 2 x {t.macs:,} + {t.flops - 2 * t.macs:,} = {t.flops:,}"]
        if inputs[0].positions > 1:
            lines.insert(0, f"input flattened: {inputs[0]} = {n_in:,} values "
                            f"({inputs[0].flat_order()})")
        return lines

    def step_ops(self, inputs, out, ctx, in_place=False):
        """linear (addmm) saves its input and weight; its kernels allocate nothing else
        (measured). Under autocast: the bf16 weight copy, saved, and its bf16 gradient."""
        weights = inputs[0].size * self.units
        cast_weight, cast_input = amp_casts(ctx, weights, ctx.batch * inputs[0].size)
        return [Op("linear", output=ctx.values(out), saves_input=True,
                   saved=cast_input, cached=cast_weight,
                   ), *self.fused_ops(out, ctx)]

    def as_conv(self, x: Shape):
        """The notes: an FC fed by an HxWxC volume is a conv with an HxW kernel, K = units."""
        from .conv import Conv
        return Conv(filters=self.units, kernel=x.spatial, stride=(1,) * x.rank,
                    padding=((0, 0),) * x.rank, dilation=(1,) * x.rank, bias=self.bias,
                    activation=self.activation)

    def weight_shapes(self, x: Shape) -> dict:
        shapes = {"weight": (self.units, x.size)}  # PyTorch Linear: [out, in]
        if self.bias:
            shapes["bias"] = (self.units,)
        return shapes

    def forward(self, xs, w):
        from ..compute.kernels import linear
        x = xs[0].reshape(xs[0].shape[0], -1)  # C,H,W order, as torch.flatten
        z = linear(x, w["weight"], w["bias"] if self.bias else None)
        return self.fused(z).reshape(x.shape[0], self.units, *[1] * (xs[0].ndim - 2))

    def backward(self, xs, w, y, dy):
        x = xs[0].reshape(xs[0].shape[0], -1)
        z = x @ w["weight"].T + (w["bias"] if self.bias else 0)
        dz = self.fused_grad(z, y.reshape(z.shape), dy.reshape(z.shape))
        grads = {"weight": dz.T @ x}
        if self.bias:
            grads["bias"] = dz.sum(axis=0)
        return [(dz @ w["weight"]).reshape(xs[0].shape)], grads


    # --- PyTorch export ---
    def torch_code(self, inputs, out):
        from .torch_code import TorchCode, as_map
        x = inputs[0]
        bias = "" if self.bias else ", bias=False"
        return TorchCode(self.torch_fused("{m}({0}.flatten(1))") + as_map(x.rank),
                         f"nn.Linear({x.size}, {self.units}{bias})")

    def torch_shared(self, inputs, out):
        """The owner's nn.Linear computes this layer too (units and bias agree, or the
        weights would not fit); the activation is this layer's own."""
        return self.torch_code(inputs, out)


@register
@frozen
class Flatten(WholeInput):
    type_name = "flatten"
    summary = "reshape HxWxC to 1x1x(H*W*C) (any rank: LxC, DxHxWxC), in C,H,W order as PyTorch"
    example = "- flatten"
    memory = VIEW

    def shape(self, x: Shape) -> Shape:
        return vector(x.size, x)

    def notes(self, inputs, out) -> list[str]:
        return []

    def as_conv(self, x: Shape):
        return DROP  # a conv reads the volume itself

    def forward(self, xs, w):
        return xs[0].reshape(xs[0].shape[0], -1, *[1] * (xs[0].ndim - 2))  # a view

    def backward(self, xs, w, y, dy):
        return [dy.reshape(xs[0].shape)], {}


    # --- PyTorch export ---
    def torch_code(self, inputs, out):
        from .torch_code import TorchCode, as_map
        return TorchCode("{0}.flatten(1)" + as_map(inputs[0].rank))


@register
@frozen
class RBF(WholeInput):
    type_name = "rbf"
    family = "fc"
    summary = "LeNet-5's Euclidean RBF output: sum of (x - w)^2 per unit; fixed (non-trainable) w"
    example = "- {type: rbf, units: 10}"

    units: int = setting(Int(), "number of output units (classes)")
    buffers = ("weight",)  # the prototypes are fixed

    def step_ops(self, inputs, out, ctx, in_place=False):
        """((x - w)^2).sum(): the difference (N x units x inputs) is saved by the square,
        whose result lives until the sum."""
        diff = ctx.batch * self.units * inputs[0].size * ctx.act
        return [Op("rbf", output=ctx.values(out), saved=diff if ctx.grad else 0,
                   forward_transient=diff if ctx.grad else 2 * diff)]

    def shape(self, x: Shape) -> Shape:
        return vector(self.units, x)

    def counts(self, x: Shape, y: Shape) -> Counts:
        links = x.size * self.units  # one fixed prototype value per (input, unit); no bias
        return Counts(non_trainable=links, connections=links,
                      macs=links,  # (x - w)^2 accumulated: one multiply-accumulate per link
                      flops=3 * links)  # subtract, multiply, add

    def time_kind(self, inputs, out, training=False) -> str:
        return "gemm"  # distances to prototypes: a matrix product

    def time_kernels(self, inputs, out, training=False) -> list[Kernel]:
        """The exported RBF broadcasts: x - w over every (unit, input) pair, squared, summed
        over the inputs: three passes over units x inputs values, no product."""
        links = inputs[0].size * self.units
        return [Kernel("elementwise", values=inputs[0].size + 2 * links),  # x - w (w: weights)
                Kernel("elementwise", values=2 * links),  # ** 2
                Kernel("elementwise", values=links + self.units)]  # .sum(2)

    def backward_counts(self, inputs, out, needs_input_grad, needs_weight_grad) -> Backward:
        """dx_i = sum over units of 2 dy_j (x_i - w_ji): one multiply-accumulate per link,
        the difference recomputed (one subtract per link) and 2 dy_j once per unit. The
        prototypes are fixed: no weight gradient."""
        if not needs_input_grad[0]:
            return Backward()
        links = inputs[0].size * self.units
        return Backward(input_grad_macs=links,  # 2 dy_j x (x_i - w_ji), accumulated over j
                        flops=links + self.units)  # x_i - w_ji; 2 x dy_j

    def describe(self) -> str:
        return f"{self.units}"

    def weight_shapes(self, x: Shape) -> dict:
        return {"weight": (self.units, x.size)}  # one prototype per unit

    def forward(self, xs, w):
        x = xs[0].reshape(xs[0].shape[0], -1)
        d = x[:, None, :] - w["weight"][None]  # N, units, in
        return (d * d).sum(axis=2).reshape(x.shape[0], self.units, *[1] * (xs[0].ndim - 2))

    def backward(self, xs, w, y, dy):
        x = xs[0].reshape(xs[0].shape[0], -1)
        d = x[:, None, :] - w["weight"][None]
        g = 2 * dy.reshape(x.shape[0], self.units, 1) * d
        return [g.sum(axis=1).reshape(xs[0].shape)], {}  # the prototypes are fixed

    # --- PyTorch export ---
    def torch_code(self, inputs, out):
        from .torch_code import TorchCode, as_map
        return TorchCode("{m}({0}.flatten(1))" + as_map(inputs[0].rank),
                         f"RBF({inputs[0].size}, {self.units})", (("RBF", RBF_MODULE),))


RBF_MODULE = '''
class RBF(nn.Module):
    """LeNet-5's Euclidean RBF output: unit j gives sum_i (x_i - w_ji)^2. The prototypes w
    are fixed, not trained: a buffer `weight` [units, in], not a parameter."""

    def __init__(self, in_features, units):
        super().__init__()
        self.register_buffer("weight", torch.randn(units, in_features) * (2 / in_features) ** 0.5)

    def forward(self, x):
        return ((x[:, None, :] - self.weight) ** 2).sum(2)
'''
