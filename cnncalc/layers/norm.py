"""Normalisation and regularisation layers: shape unchanged."""

from __future__ import annotations

from ..conventions import (
    BATCHNORM_FLOPS,
    NORM_INPUT_BACKWARD_FLOPS,
    NORM_STATISTICS_BACKWARD_FLOPS,
    lrn_backward_flops,
    lrn_flops,
    norm_flops,
)
from ..declare import Bool, Int, Number, frozen, setting
from ..errors import SettingError
from .base import check_groups, IN_PLACE, Backward, Counts, Layer, register
from .shape import Shape
from .stepmem import IN_PLACE_OP, NEW, VIEW_OP, Op

STAT = 4  # bytes of a saved mean or inverse std: float32 whatever the activations' dtype


def norm_backward(values: int, needs_input_grad: bool, needs_weight_grad: bool,
                  scale_values: int = 0) -> Backward:
    """A norm trained on its own statistics (batch norm in training, group, instance, layer
    norm): the terms both gradients need (x_hat recomputed, dy x x_hat, sum(dy) and
    sum(dy x_hat)), and the input gradient's dx = k (dy - mean(dy) - x_hat mean(dy x_hat)),
    per element (conventions.py); `scale_values` more multiplies (dy x gamma) for a per-channel
    scale outside the statistics."""
    if not (needs_input_grad or needs_weight_grad):
        return Backward()
    return Backward(flops=NORM_STATISTICS_BACKWARD_FLOPS * values  # needed by either
                    + ((NORM_INPUT_BACKWARD_FLOPS * values + scale_values)
                       if needs_input_grad else 0))


def norm_op(name, ctx, x, statistics: int, temps: int = 0) -> Op:
    """A normalisation that computes statistics from its input: it saves the input and the
    mean and inverse std (`statistics` pairs of float32 values, batch included); the CPU
    backward makes one input-sized temporary (measured on batch norm)."""
    if not ctx.grad:
        return Op(name, output=ctx.values(x), forward_transient=temps if ctx.backend else 0)
    return Op(name, output=ctx.values(x), saves_input=True, saved=2 * statistics * STAT,
              forward_transient=2 * temps if ctx.backend else 0,
              backward_transient=ctx.values(x) if ctx.backend else 0)


@register
@frozen
class BatchNorm(Layer):
    type_name = "batchnorm"
    also_called = ("batchnorm1d", "batchnorm2d", "batchnorm3d", "batchnormalization", "bn")
    family = "norm"
    summary = "batch normalisation: per channel scale and shift (trained) and running statistics"
    example = "- batchnorm"

    eps: float = setting(Number(0.0, open_min=True), "added to the variance", 1e-5)
    affine: bool = setting(Bool(), "a learned scale and shift per channel (2C params); the "
                           "running statistics are kept either way", True)
    scale: bool = setting(Bool(), "with affine: the learned scale; false: a learned shift only "
                          "(Keras's scale=False: C params)", True)
    buffers = ("running_mean", "running_var")

    def validate(self) -> None:
        if not self.scale and not self.affine:
            raise SettingError("'scale: false' is a shift without a scale: it needs "
                               "'affine: true'", key="scale")

    def learned(self) -> tuple:
        """The learned per-channel tensors: weight (the scale) and bias (the shift)."""
        return ("weight",) * (self.affine and self.scale) + ("bias",) * self.affine

    def step_ops(self, inputs, out, ctx, in_place=False):
        """native_batch_norm saves its input, save_mean and save_invstd (C float32 each);
        in eval mode it uses the running statistics (2 C temporaries)."""
        return [norm_op("batch_norm", ctx, inputs[0], inputs[0].c, 2 * inputs[0].c * STAT)]

    def counts(self, x: Shape, y: Shape) -> Counts:
        return Counts(params=len(self.learned()) * x.c,  # gamma and beta per channel
                      non_trainable=2 * x.c,  # running mean and variance per channel
                      flops=BATCHNORM_FLOPS * y.size)  # scale and shift each element

    def time_kind(self, inputs, out, training=False) -> str:
        """A pass over memory with its own measured rate (calibrate); in training the batch's
        statistics first (about six times eval's time on this CPU)."""
        return "norm_train" if training else "norm"

    def backward_counts(self, inputs, out, needs_input_grad, needs_weight_grad) -> Backward:
        """In training, on the batch's statistics (gamma folds into dx's per-channel k)."""
        return norm_backward(out.size, needs_input_grad[0], needs_weight_grad)

    def describe(self) -> str:
        return ("" if self.scale else "no scale") if self.affine else "no affine"

    def explain_counts(self, inputs, out, t):
        c = inputs[0].c
        learned = f"2 x {c} (scale and shift per channel)" if self.affine else "0 (affine: false)"
        if self.affine and not self.scale:
            learned = f"{c} (a shift per channel)"
        return [f"params: {learned} = {t.trainable_params:,} "
                f"trainable, + 2 x {c} (running mean and variance) = {t.non_trainable_params:,} "
                "non-trainable",
                f"FLOPs: {out.size:,} values x {BATCHNORM_FLOPS} (scale and shift, statistics "
                f"folded) = {t.flops:,}"]

    def weight_shapes(self, x: Shape) -> dict:
        names = (*self.learned(), "running_mean", "running_var")
        return {name: (x.c,) for name in names}

    def gain(self, w, ndim):
        import numpy as np

        from ..compute.kernels import channelwise
        gamma = w.get("weight", 1.0)
        return channelwise(gamma / np.sqrt(w["running_var"] + self.eps), ndim)

    def forward(self, xs, w):  # inference: the running statistics
        from ..compute.kernels import channelwise
        x = xs[0]
        y = (x - channelwise(w["running_mean"], x.ndim)) * self.gain(w, x.ndim)
        return y + channelwise(w["bias"], x.ndim) if self.affine else y.astype(x.dtype)

    def backward(self, xs, w, y, dy):
        import numpy as np

        from ..compute.kernels import channelwise
        x = xs[0]
        if not self.affine:
            return [dy * self.gain(w, x.ndim)], {}
        normal = (x - channelwise(w["running_mean"], x.ndim)) / \
            channelwise(np.sqrt(w["running_var"] + self.eps), x.ndim)
        axes = (0, *range(2, x.ndim))  # all but the channels
        grads = {"weight": (dy * normal).sum(axis=axes), "bias": dy.sum(axis=axes)}
        return [dy * self.gain(w, x.ndim)], {k: grads[k] for k in self.learned()}

    # --- PyTorch export ---
    def torch_code(self, inputs, out):
        from .torch_code import TorchCode, dims
        nd = dims(inputs[0].rank, "batch normalisation")
        if not self.scale:
            raise SettingError("a batch norm with a shift only (scale: false) has no PyTorch "
                               "export", inconsistent=True)
        eps = "" if self.eps == 1e-5 else f", eps={self.eps!r}"
        affine = "" if self.affine else ", affine=False"
        return TorchCode("{m}({0})", f"BatchNorm{nd}({inputs[0].c}{eps}{affine})",
                         ((f"BatchNorm{nd}", BATCHNORM.replace("ND", nd)),))


BATCHNORM = '''
class BatchNormND(nn.BatchNormND):
    """nn.BatchNormND without the num_batches_tracked counter: its state_dict holds exactly
    weight, bias, running_mean and running_var, cnncalc's arrays (momentum 0.1 updates the
    running statistics in training, so the counter is not needed)."""

    def __init__(self, num_features, eps=1e-5, affine=True):
        super().__init__(num_features, eps=eps, affine=affine)
        self.num_batches_tracked = None

    def _load_from_state_dict(self, state_dict, prefix, *args):
        # nn.Module's loader: batch norm's own would ask for the counter
        nn.Module._load_from_state_dict(self, state_dict, prefix, *args)
'''


@register
@frozen
class LRN(Layer):
    type_name = "lrn"
    family = "norm"
    summary = "local response normalisation across `size` neighbouring channels (AlexNet)"
    example = "- {type: lrn, size: 5, alpha: 0.0001, beta: 0.75, k: 2}"

    size: int = setting(Int(), "channels in the normalisation window", 5)
    alpha: float = setting(Number(0.0), "scale", 1e-4)
    beta: float = setting(Number(0.0), "exponent", 0.75)
    k: float = setting(Number(0.0, open_min=True), "additive constant", 2.0)

    def counts(self, x: Shape, y: Shape) -> Counts:
        return Counts(flops=lrn_flops(self.size) * y.size)

    def time_kind(self, inputs, out, training=False) -> str:
        # nn.LocalResponseNorm runs seven kernels (square, pad, a 3-D average pool over the
        # channels, scale, shift, a fractional power, divide): measured as one (calibrate)
        return "lrn"

    def backward_counts(self, inputs, out, needs_input_grad, needs_weight_grad) -> Backward:
        return Backward(flops=lrn_backward_flops(self.size) * out.size  # conventions.py
                        if needs_input_grad[0] else 0)

    def describe(self) -> str:
        return f"n={self.size}"

    def step_ops(self, inputs, out, ctx, in_place=False):
        """PyTorch composes it (pad, avg_pool3d, mul, add, pow, div); measured: the padded
        square ((C + size - 1)/C x in) and two input-sized intermediates are saved; at
        no_grad two input-sized temporaries; the backward up to four."""
        x = inputs[0]
        size = ctx.values(x)
        if not ctx.grad:
            return [Op("local_response_norm", output=size, forward_transient=2 * size)]
        square = ctx.batch * (x.c + self.size - 1) * x.positions * ctx.act
        return [Op("local_response_norm", output=size, saves_input=True,
                   saved=square + 2 * size, forward_transient=size,
                   backward_transient=3 * size)]

    def explain_counts(self, inputs, out, t):
        return ["params: 0 (k, alpha, beta are fixed)",
                f"FLOPs: {out.size:,} values x (2 x {self.size} + 3) ({self.size} squares, "
                f"{self.size - 1} adds, x alpha/n, + k, a power, a divide) = {t.flops:,}"]

    def window_sum(self, a, before: int, after: int):
        """Sum over channels c - before .. c + after of `a`, for every c."""
        import numpy as np
        padded = np.pad(a, ((0, 0), (before, after), *[(0, 0)] * (a.ndim - 2)))
        total = np.cumsum(padded, axis=1)
        total = np.concatenate([np.zeros_like(total[:, :1]), total], axis=1)
        return total[:, before + after + 1:] - total[:, :-(before + after + 1)]

    def forward(self, xs, w):  # PyTorch's LocalResponseNorm
        x = xs[0]
        d = self.k + self.alpha / self.size * self.window_sum(x * x, self.size // 2,
                                                              (self.size - 1) // 2)
        return (x / d ** self.beta).astype(x.dtype)

    def backward(self, xs, w, y, dy):
        x = xs[0]
        d = self.k + self.alpha / self.size * self.window_sum(x * x, self.size // 2,
                                                              (self.size - 1) // 2)
        t = dy * x * d ** (-self.beta - 1)
        back = self.window_sum(t, (self.size - 1) // 2, self.size // 2)  # the mirrored window
        return [dy * d ** -self.beta - 2 * self.beta * self.alpha / self.size * x * back], {}

    # --- PyTorch export ---
    def torch_code(self, inputs, out):
        from .torch_code import TorchCode
        return TorchCode("{m}({0})", f"nn.LocalResponseNorm({self.size}, alpha={self.alpha!r}, "
                                     f"beta={self.beta!r}, k={self.k!r})")


@register
@frozen
class Dropout(Layer):
    type_name = "dropout"
    summary = "zero a fraction `rate` of values in training; identity at inference"
    example = "- {type: dropout, rate: 0.5}"
    memory = IN_PLACE  # PyTorch's inplace=True; identity at inference

    rate: float = setting(Number(0.0, 1.0), "fraction of values dropped", 0.5)

    def time_kind(self, inputs, out, training=False) -> str:
        return "elementwise" if training else "none"  # identity at inference: no kernel

    def describe(self) -> str:
        return f"rate {self.rate:g}"

    def backward_counts(self, inputs, out, needs_input_grad, needs_weight_grad) -> Backward:
        return Backward(flops=out.size if needs_input_grad[0] else 0)  # dy x the scaled mask

    def step_ops(self, inputs, out, ctx, in_place=False):
        """Training: native_dropout keeps its mask for the backward (MulBackward): in the
        input's dtype on the CPU (measured), a bool (1 byte) on CUDA and in derivatives.yaml's
        terms. Inference: the identity (no tensor)."""
        if not ctx.grad:
            return [Op("dropout", held=VIEW_OP, grad_inputs=False)]
        mask = inputs[0].size * ctx.batch * (ctx.act if ctx.backend == "cpu" else 1)
        return [Op("dropout", output=0 if in_place else ctx.values(out),
                   held=IN_PLACE_OP if in_place else NEW, saved=mask)]

    def forward(self, xs, w):  # inference: the identity
        return xs[0]

    def backward(self, xs, w, y, dy):
        return [dy], {}

    # --- PyTorch export ---
    def torch_code(self, inputs, out):
        from .torch_code import TorchCode
        return TorchCode("{m}({0})", f"nn.Dropout({self.rate!r})", any_shape=True)


@frozen
class SelfNorm(Layer):
    """Norms whose statistics come from the input itself (no running statistics): each group
    of values is normalised to mean 0 and variance 1, then scaled and shifted per channel."""
    family = "norm"

    eps: float = setting(Number(0.0, open_min=True), "added to the variance", 1e-5)
    affine: bool = setting(Bool(), "a learned scale and shift per channel (2C params)", True)

    def counts(self, x: Shape, y: Shape) -> Counts:
        return Counts(params=2 * x.c if self.affine else 0,  # gamma and beta per channel
                      flops=norm_flops(self.affine) * y.size)  # conventions.norm_flops

    def time_kind(self, inputs, out, training=False) -> str:
        return "norm"  # statistics, then a normalising pass: its own measured rate

    def backward_counts(self, inputs, out, needs_input_grad, needs_weight_grad) -> Backward:
        """gamma is per channel, the statistics per group: dz = dy x gamma first (one
        multiply per element, with `affine`), then the statistics' gradient."""
        return norm_backward(out.size, needs_input_grad[0], needs_weight_grad,
                             scale_values=out.size if self.affine else 0)

    def describe(self) -> str:
        return "" if self.affine else "no affine"

    def explain_counts(self, inputs, out, t):
        c = inputs[0].c
        params = f"2 x {c} (scale and shift per channel)" if self.affine else "0 (affine: false)"
        return [f"params: {params} = {t.params:,}",
                f"FLOPs: {out.size:,} values x {norm_flops(self.affine)} (mean, variance, "
                f"normalise{', scale and shift' if self.affine else ''}) = {t.flops:,}"]

    def weight_shapes(self, x: Shape) -> dict:
        return {"weight": (x.c,), "bias": (x.c,)} if self.affine else {}

    def statistics(self, x: Shape) -> int:
        """Means (and as many inverse stds) one sample yields."""
        raise NotImplementedError

    def step_ops(self, inputs, out, ctx, in_place=False):
        """native_group_norm / native_layer_norm / batch norm on a reshaped input: saved
        input, mean and rstd (float32)."""
        x = inputs[0]
        return [norm_op(self.type_name, ctx, x, ctx.batch * self.statistics(x))]

    def grouped(self, x):
        """x reshaped so that each group is reduced over `axes`: (view, axes)."""
        raise NotImplementedError

    def normalised(self, x):
        import numpy as np
        g, axes = self.grouped(x)
        mean = g.mean(axis=axes, keepdims=True)
        inv = 1 / np.sqrt(g.var(axis=axes, keepdims=True) + self.eps)
        return ((g - mean) * inv).reshape(x.shape), inv, axes

    def channelwise(self, v, ndim):
        return v.reshape(1, -1, *([1] * (ndim - 2)))

    def forward(self, xs, w):
        z, _, _ = self.normalised(xs[0])
        if not self.affine:
            return z.astype(xs[0].dtype)
        return (z * self.channelwise(w["weight"], z.ndim) + self.channelwise(w["bias"], z.ndim)
                ).astype(xs[0].dtype)

    def backward(self, xs, w, y, dy):
        x = xs[0]
        z, inv, axes = self.normalised(x)
        grads = {}
        dz = dy
        if self.affine:
            per_channel = (0, *range(2, dy.ndim))
            grads = {"weight": (dy * z).sum(axis=per_channel), "bias": dy.sum(axis=per_channel)}
            dz = dy * self.channelwise(w["weight"], dy.ndim)
        gz, _ = self.grouped(dz)
        gzh, _ = self.grouped(z)
        m = 1
        for a in axes:
            m *= gz.shape[a]
        dx = inv / m * (m * gz - gz.sum(axis=axes, keepdims=True)
                        - gzh * (gz * gzh).sum(axis=axes, keepdims=True))
        return [dx.reshape(x.shape)], grads

    # --- PyTorch export ---
    def torch_options(self, default_affine: bool) -> str:
        """', eps=..., affine=...' where they differ from PyTorch's defaults."""
        eps = "" if self.eps == 1e-5 else f", eps={self.eps!r}"
        return eps + ("" if self.affine == default_affine else f", affine={self.affine}")


@register
@frozen
class GroupNorm(SelfNorm):
    type_name = "groupnorm"
    also_called = ("groupnormalization",)
    summary = "group normalisation: statistics over each group of channels at every position"
    example = "- {type: groupnorm, groups: 32}"

    groups: int = setting(Int(), "number of channel groups", 32)

    def shape(self, x: Shape) -> Shape:
        check_groups(self.groups, x.c)
        return x

    def describe(self) -> str:
        return f"g{self.groups}" + ("" if self.affine else " no affine")

    def statistics(self, x: Shape) -> int:
        return self.groups

    def grouped(self, x):
        n = x.shape[0]
        view = x.reshape(n, self.groups, -1)
        return view, (2,)

    # --- PyTorch export ---
    def torch_code(self, inputs, out):
        from .torch_code import TorchCode
        return TorchCode("{m}({0})", f"nn.GroupNorm({self.groups}, {inputs[0].c}"
                                     f"{self.torch_options(True)})")


@register
@frozen
class InstanceNorm(SelfNorm):
    type_name = "instancenorm"
    also_called = ("instancenorm1d", "instancenorm2d", "instancenorm3d", "instancenormalization")
    summary = "instance normalisation: statistics over each channel of each sample"
    example = "- {type: instancenorm, affine: true}"

    affine: bool = setting(Bool(), "a learned scale and shift per channel (2C params)", False)

    def statistics(self, x: Shape) -> int:
        return x.c

    def grouped(self, x):
        n, c = x.shape[:2]
        return x.reshape(n, c, -1), (2,)

    # --- PyTorch export ---
    def torch_code(self, inputs, out):
        from .torch_code import TorchCode, dims
        nd = dims(inputs[0].rank, "instance normalisation")
        return TorchCode("{m}({0})", f"nn.InstanceNorm{nd}({inputs[0].c}"
                                     f"{self.torch_options(False)})")


@register
@frozen
class LayerNorm(SelfNorm):
    type_name = "layernorm"
    also_called = ("layernormalization",)
    summary = "layer normalisation over the channels at each position (ConvNeXt's LayerNorm2d)"
    example = "- {type: layernorm, eps: 0.000001}"

    def statistics(self, x: Shape) -> int:
        return x.positions

    def grouped(self, x):
        return x, (1,)

    def time_kind(self, inputs, out, training=False) -> str:
        return "layernorm"  # channels moved last (a copy), normalised, moved back: measured

    # --- PyTorch export ---
    def torch_code(self, inputs, out):
        from .torch_code import TorchCode
        eps = "" if self.eps == 1e-5 else f", eps={self.eps!r}"
        affine = "" if self.affine else ", elementwise_affine=False"
        return TorchCode("{m}({0})", f"ChannelLayerNorm({inputs[0].c}{eps}{affine})",
                         (("ChannelLayerNorm", CHANNEL_LAYER_NORM),))


CHANNEL_LAYER_NORM = '''
class ChannelLayerNorm(nn.LayerNorm):
    """Layer normalisation over the channels at each position of an [N, C, ...] tensor
    (ConvNeXt's LayerNorm2d): nn.LayerNorm applied with the channels moved last."""

    def forward(self, x):
        last = x.dim() - 1  # axes written as positive numbers: ONNX's Transpose takes no -1
        y = super().forward(x.permute(0, *range(2, last + 1), 1))
        return y.permute(0, last, *range(1, last))
'''
