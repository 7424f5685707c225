"""Elementwise activations: shape unchanged, no parameters, one FLOP per element.

Each class holds its function and its gradient (NumPy, imported inside the methods); conv,
fc and subsample rows that fuse an activation (`activation: relu`) call the same classes.
"""

from __future__ import annotations

from typing import ClassVar

from ..conventions import ACTIVATION_BACKWARD_FLOPS, ACTIVATION_FLOPS
from ..declare import Number, frozen, setting

from .base import IN_PLACE, REGISTRY, Backward, Counts, Layer, register
from .shape import Shape
from .stepmem import activation_op


@frozen
class Activation(Layer):
    """Base of the elementwise activations."""

    saves: ClassVar[str] = "result"  # what derivatives.yaml's backward reads: result or self
    copies_in_place: ClassVar[bool] = False  # the in-place form saves a copy of its input

    def keeps(self, in_place: bool) -> str:
        return self.saves

    def step_ops(self, inputs, out, ctx, in_place=False):
        return [activation_op(self.type_name, ctx, out, in_place, self.keeps(in_place),
                              self.copies_in_place)]

    def counts(self, x: Shape, y: Shape) -> Counts:
        return Counts(flops=ACTIVATION_FLOPS * y.size)  # one FLOP per output element

    def backward_counts(self, inputs, out, needs_input_grad, needs_weight_grad) -> Backward:
        return Backward(flops=ACTIVATION_BACKWARD_FLOPS * out.size  # dy x f'(z) per element
                        if needs_input_grad[0] else 0)

    def function(self, z):
        raise NotImplementedError(self.type_name)

    def gradient(self, z, y, dy):
        """dL/dz from dL/dy, for y = function(z)."""
        raise NotImplementedError(self.type_name)

    def forward(self, xs, w):
        return self.function(xs[0]).astype(xs[0].dtype)

    def backward(self, xs, w, y, dy):
        return [self.gradient(xs[0], y, dy)], {}

    # --- PyTorch export ---
    transcendental: ClassVar[bool] = False  # an exp, tanh or erf per value

    def time_kind(self, inputs, out, training=False) -> str:
        """A pass over memory; an exp per value (SiLU, GELU, sigmoid, tanh) has its own
        measured rate, 2-3x a ReLU's on this machine's CPU."""
        return "elementwise_exp" if self.transcendental else "elementwise"

    torch_module: ClassVar[str] = ""  # the nn module's constructor
    torch_call: ClassVar[str] = ""  # the functional form, {} the input (fused activations)

    def torch_code(self, inputs, out):
        from .torch_code import TorchCode
        return TorchCode("{m}({0})", self.torch_module, any_shape=True)


def activation(name: str, summary: str, memory: str = "yes"):
    """Class decorator: a registered activation type called `name`."""
    def wrap(cls):
        cls.type_name, cls.summary, cls.example, cls.memory = name, summary, f"- {name}", memory
        return register(frozen(cls))
    return wrap


@activation("relu", "max(0, x)", IN_PLACE)
class Relu(Activation):
    def function(self, z):
        import numpy as np
        return np.maximum(z, 0)

    def gradient(self, z, y, dy):
        return dy * (z > 0)

    torch_module = "nn.ReLU()"
    torch_call = "F.relu({})"


@activation("relu6", "min(max(0, x), 6)", IN_PLACE)
class Relu6(Activation):
    saves = "self"  # hardtanh_backward(grad, self, 0, 6)
    copies_in_place = True  # hardtanh_ keeps the original input (measured)

    def function(self, z):
        import numpy as np
        return np.clip(z, 0, 6)

    def gradient(self, z, y, dy):
        return dy * ((z > 0) & (z < 6))

    torch_module = "nn.ReLU6()"
    torch_call = "F.relu6({})"


@activation("sigmoid", "1 / (1 + exp(-x))")
class Sigmoid(Activation):
    transcendental = True  # an exp (or erf) per value: timed at its own rate
    def function(self, z):
        import numpy as np
        return 1 / (1 + np.exp(-z))

    def gradient(self, z, y, dy):
        return dy * y * (1 - y)

    torch_module = "nn.Sigmoid()"
    torch_call = "torch.sigmoid({})"


@activation("tanh", "hyperbolic tangent")
class Tanh(Activation):
    transcendental = True  # an exp (or erf) per value: timed at its own rate
    def function(self, z):
        import numpy as np
        return np.tanh(z)

    def gradient(self, z, y, dy):
        return dy * (1 - y * y)

    torch_module = "nn.Tanh()"
    torch_call = "torch.tanh({})"


@activation("softmax", "exp(x) normalised to sum 1 over the channels at each position")
class Softmax(Activation):
    def function(self, z):
        import numpy as np
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def gradient(self, z, y, dy):
        return y * (dy - (dy * y).sum(axis=1, keepdims=True))

    torch_module = "nn.Softmax(dim=1)"
    torch_call = "F.softmax({}, dim=1)"

    def time_kind(self, inputs, out, training=False) -> str:
        return "softmax"  # an exp per value: its own measured rate, not a plain pass


@activation("gelu", "x * Phi(x), the Gaussian error linear unit")
class Gelu(Activation):
    transcendental = True  # an exp (or erf) per value: timed at its own rate
    saves = "self"

    def function(self, z):
        import numpy as np
        return 0.5 * z * (1 + erf(z / np.sqrt(2)))

    def gradient(self, z, y, dy):
        import numpy as np
        pdf = np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi)
        return dy * (0.5 * (1 + erf(z / np.sqrt(2))) + z * pdf)

    torch_module = "nn.GELU()"
    torch_call = "F.gelu({})"


@activation("silu", "x * sigmoid(x) (swish)")
class Silu(Activation):
    transcendental = True  # an exp (or erf) per value: timed at its own rate
    saves = "self"

    def function(self, z):
        import numpy as np
        return z / (1 + np.exp(-z))

    def gradient(self, z, y, dy):
        import numpy as np
        s = 1 / (1 + np.exp(-z))
        return dy * (s + z * s * (1 - s))

    torch_module = "nn.SiLU()"
    torch_call = "F.silu({})"


@activation("hardswish", "x * relu6(x + 3) / 6")
class Hardswish(Activation):
    saves = "self"

    def function(self, z):
        import numpy as np
        return z * np.clip(z + 3, 0, 6) / 6

    def gradient(self, z, y, dy):
        import numpy as np
        return dy * np.where(z < -3, 0.0, np.where(z > 3, 1.0, (2 * z + 3) / 6))

    torch_module = "nn.Hardswish()"
    torch_call = "F.hardswish({})"


@activation("hardsigmoid", "relu6(x + 3) / 6")
class Hardsigmoid(Activation):
    saves = "self"

    def function(self, z):
        import numpy as np
        return np.clip(z + 3, 0, 6) / 6

    def gradient(self, z, y, dy):
        import numpy as np
        return dy * np.where((z > -3) & (z < 3), 1 / 6, 0.0)

    torch_module = "nn.Hardsigmoid()"
    torch_call = "F.hardsigmoid({})"


@register
@frozen
class LeakyRelu(Activation):
    saves = "self"  # leaky_relu: self; leaky_relu_: result

    def keeps(self, in_place):
        return "result" if in_place else "self"

    type_name = "leaky_relu"
    also_called = ("leakyrelu",)
    summary = "x if x > 0 else slope * x"
    example = "- {type: leaky_relu, negative_slope: 0.1}"
    memory = IN_PLACE
    negative_slope: float = setting(Number(0.0), "slope for negative inputs", 0.01)

    def function(self, z):
        import numpy as np
        return np.where(z > 0, z, z * self.negative_slope)

    def gradient(self, z, y, dy):
        import numpy as np
        return dy * np.where(z > 0, 1.0, self.negative_slope)

    @property
    def torch_module(self):
        return f"nn.LeakyReLU({self.negative_slope!r})"

    @property
    def torch_call(self):
        return f"F.leaky_relu({{}}, {self.negative_slope!r})"


@register
@frozen
class Elu(Activation):
    transcendental = True  # an exp (or erf) per value: timed at its own rate
    saves = "self"

    type_name = "elu"
    summary = "x if x > 0 else alpha * (exp(x) - 1)"
    example = "- {type: elu, alpha: 1.0}"
    alpha: float = setting(Number(0.0), "scale of the negative part", 1.0)

    def function(self, z):
        import numpy as np
        return np.where(z > 0, z, self.alpha * np.expm1(np.minimum(z, 0)))

    def gradient(self, z, y, dy):
        import numpy as np
        return dy * np.where(z > 0, 1.0, y + self.alpha)

    @property
    def torch_module(self):
        return f"nn.ELU({self.alpha!r})"

    @property
    def torch_call(self):
        return f"F.elu({{}}, {self.alpha!r})"


def erf(z):
    """Abramowitz and Stegun 7.1.26 (|error| < 1.5e-7): NumPy has no erf."""
    import numpy as np
    t = 1.0 / (1.0 + 0.3275911 * np.abs(z))
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027
                                                                          + t * 1.061405429))))
    return np.sign(z) * (1.0 - poly * np.exp(-z * z))


# the `activation:` a conv, fc or subsample row may fuse: every type defined above
ACTIVATIONS = tuple(name for name, cls in REGISTRY.items() if issubclass(cls, Activation))
