"""Merge layers: combine two or more earlier outputs (residual adds, Inception concats)."""

from __future__ import annotations

from ..declare import frozen
from ..errors import SettingError
from .base import Backward, Counts, Layer, register
from .geometry import Field, exact, number
from .shape import Shape
from .stepmem import Op


def _shapes(inputs) -> str:
    return ", ".join(str(s) for s in inputs)


def _axes(values) -> str:
    return "x".join(str(number(v)) for v in values)


def whole(value):
    """An exact Fraction that is a whole number as an int."""
    return int(value) if getattr(value, "denominator", 1) == 1 else value


@frozen
class Merge(Layer):
    family = "merge"
    arity = (2, None)
    merges = True

    def cost(self, inputs, out: Shape) -> Counts:
        return Counts(flops=(len(inputs) - 1) * out.size)  # one op per element per extra input

    def warnings(self, inputs):
        return []

    def receptive(self, fields, inputs, out) -> Field:
        """Per axis, the geometry (jump, start) of the first input at the output's own
        resolution; an input broadcast along the axis (a 1x1xC gate on a full map) does not
        change it. The size is the union of what every path's unit sees."""
        sizes, jumps, starts = [], [], []
        for axis, n in enumerate(out.spatial):
            own = next(f for f, s in zip(fields, inputs) if s.spatial[axis] == n)
            jumps.append(own.jump[axis])
            starts.append(own.start[axis])
            # each path's unit covers start -+ (size - 1)/2 in input pixels
            low = min(f.start[axis] - exact(f.size[axis] - 1, 2) for f in fields)
            high = max(f.start[axis] + exact(f.size[axis] - 1, 2) for f in fields)
            sizes.append(whole(high - low + 1))
        return Field(tuple(sizes), tuple(jumps), tuple(starts))

    def misaligned(self, fields, inputs, out) -> str | None:
        """Paths at the output's resolution whose units sit at different places (broadcast
        gates are not compared: one value scales every position)."""
        own = [f for f, s in zip(fields, inputs)
               if not any(a == 1 < b for a, b in zip(s.spatial, out.spatial))]
        if len({(f.jump, f.start) for f in own}) <= 1:
            return None
        return ("paths merged here are misaligned: jumps " + ", ".join(_axes(f.jump) for f in own)
                + "; starts " + ", ".join(_axes(f.start) for f in own))


@register
@frozen
class Add(Merge):
    type_name = "add"
    summary = "elementwise sum of inputs of one shape (residual connections)"
    example = "- {type: add, inputs: [conv2, shortcut]}"

    def infer(self, inputs):
        if len(set(inputs)) != 1:
            raise SettingError("add needs inputs of one shape", key="inputs",
                               received=_shapes(inputs), inconsistent=True)
        return inputs[0]

    def step_ops(self, inputs, out, ctx, in_place=False):
        """add saves nothing; its backward hands the same gradient to every input."""
        return [Op("add", output=ctx.values(out), grad_inputs=False)]

    def forward(self, xs, w):
        total = xs[0].copy()
        for x in xs[1:]:
            total += x
        return total

    def backward(self, xs, w, y, dy):
        return [dy for _ in xs], {}

    # --- PyTorch export ---
    def torch_code(self, inputs, out):
        from .torch_code import TorchCode
        return TorchCode(" + ".join(f"{{{i}}}" for i in range(len(inputs))))


@register
@frozen
class Multiply(Merge):
    type_name = "multiply"
    summary = "elementwise product; a 1x1xC input scales every position (squeeze-excitation)"
    example = "- {type: multiply, inputs: [features, gate]}"

    def infer(self, inputs):
        full = max(inputs, key=lambda s: s.positions)
        for shape in inputs:
            gate = shape.rank == full.rank and shape.positions == 1 and shape.c == full.c
            if shape != full and not gate:
                raise SettingError("multiply needs one shape or 1x1xC gates", key="inputs",
                                   received=_shapes(inputs), inconsistent=True)
        return full

    def backward_counts(self, inputs, out, needs_input_grad, needs_weight_grad) -> Backward:
        """Each input that wants a gradient gets dy times the other inputs (one multiply per
        output element per other input); a broadcast 1x1xC gate's is then summed over the
        positions (one add per output element)."""
        flops = 0
        for shape, wanted in zip(inputs, needs_input_grad):
            if wanted:
                flops += (len(inputs) - 1) * out.size  # dy x each other factor
                if shape.positions < out.positions:
                    flops += out.size  # reduced to the gate's 1x1xC
        return Backward(flops=flops)

    def step_ops(self, inputs, out, ctx, in_place=False):
        """mul saves both factors; a broadcast gate's gradient is reduced from an
        input-sized product."""
        broadcast = len({s.positions for s in inputs}) > 1
        return [Op("mul", output=ctx.values(out), saves_input=True,
                   backward_transient=ctx.values(out) if broadcast else 0)]

    def forward(self, xs, w):
        total = xs[0]
        for x in xs[1:]:
            total = total * x  # 1x1xC gates broadcast
        return total

    def backward(self, xs, w, y, dy):
        grads = []
        for i, x in enumerate(xs):
            others = dy
            for j, other in enumerate(xs):
                if j != i:
                    others = others * other
            grads.append(others if others.shape == x.shape else
                         others.sum(axis=tuple(range(2, x.ndim)), keepdims=True))
        return grads, {}

    # --- PyTorch export ---
    def torch_code(self, inputs, out):
        from .torch_code import TorchCode
        return TorchCode(" * ".join(f"{{{i}}}" for i in range(len(inputs))))  # gates broadcast


@register
@frozen
class Concat(Merge):
    type_name = "concat"
    also_called = ("concatenate", "cat")
    summary = "stack inputs of one height and width along the channels"
    example = "- {type: concat, inputs: [branch1, branch2]}"

    def infer(self, inputs):
        if len({s.spatial for s in inputs}) != 1:
            raise SettingError("concat needs inputs of one height and width", key="inputs",
                               received=_shapes(inputs), inconsistent=True)
        return Shape(inputs[0].spatial, sum(s.c for s in inputs))

    def cost(self, inputs, out):
        return Counts()  # a copy, no arithmetic

    def step_ops(self, inputs, out, ctx, in_place=False):
        """cat saves nothing; its backward returns slices (views) of its gradient, which
        therefore lives until every input's branch has used its slice."""
        return [Op("cat", output=ctx.values(out), grad_inputs=False, grad_is_view=True)]

    def forward(self, xs, w):
        import numpy as np
        return np.concatenate(xs, axis=1)

    def backward(self, xs, w, y, dy):
        import numpy as np
        edges = np.cumsum([x.shape[1] for x in xs])[:-1]
        return list(np.split(dy, edges, axis=1)), {}

    # --- PyTorch export ---
    def torch_code(self, inputs, out):
        from .torch_code import TorchCode
        return TorchCode("torch.cat([{inputs}], 1)")
