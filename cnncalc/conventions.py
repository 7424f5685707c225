"""Every counting convention cnncalc uses, stated once (docs/counting.md says the same in prose).

- Shapes are per sample, height x width x channels (`224x224x64`); an fc output is `1x1xK`.
- Output size per axis: floor((W + P_total - D(F-1) - 1)/S) + 1, which for D=1 is the notes'
  (W - F + 2P)/S + 1. Dilation D=1 means a contiguous kernel (PyTorch's and Keras's meaning).
  `padding: same` is TensorFlow's: out = ceil(W/S), the odd pixel of padding at the bottom/right.
- Params: weights plus biases that training updates (trainable) and stored values it does not
  (non-trainable: batch-norm running mean and variance, LeNet-5's fixed RBF prototypes).
- Connections (LeNet-5, LeCun et al. 1998, as the notes count them): for every output unit, the
  inputs it reads plus one for its bias. Counted for layers that read a window or a vector
  (conv, fc, subsample, rbf, pooling); elementwise layers and reshapes have none. A kernel tap
  that falls on zero padding still counts as read.
- MACs: one multiply-accumulate per weight use: for a conv, output elements x Cin/groups x kh x kw.
  This is the convention behind torchvision's published "GFLOPS" and the ResNet paper's "FLOPs".
- FLOPs: 2 x MACs (a MAC is one multiply and one add), plus one per bias add, plus the
  per-element costs below for layers without weights. One fused multiply-add = two FLOPs.
- Activations: output elements of each layer, per sample.
- Every figure is an exact Python integer; readable forms (138.4 M) are for display only.
"""

from __future__ import annotations

# Bytes per value of each data type memory is counted in.
DTYPES = {"float64": 8, "float32": 4, "float16": 2, "bfloat16": 2, "int8": 1}
OPTIMIZERS = ("sgd", "momentum", "adam")
MODES = ("inference", "training")
SI = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}  # counts: 5M, 1.5G
BYTE_UNITS = {"": 1, "b": 1, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
              "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}

# FLOPs per output element of any elementwise activation (relu, sigmoid, softmax, ...): one,
# as ptflops counts ReLU, ELU, LeakyReLU and ReLU6. Transcendentals are not weighted more.
ACTIVATION_FLOPS = 1

# FLOPs per attention score besides the matmuls' 2 per MAC: the 1/sqrt(d_k) scaling (one
# multiply) and the softmax (ACTIVATION_FLOPS, as the softmax activation). Relative position
# logits add one add per spatial axis.
ATTENTION_SCORE_FLOPS = 1 + ACTIVATION_FLOPS

# FLOPs per output element of pooling over a window of `taps` inputs.
POOL_FLOPS = {
    "max": lambda taps: taps - 1,  # taps - 1 comparisons
    "min": lambda taps: taps - 1,  # taps - 1 comparisons
    "avg": lambda taps: taps,  # taps - 1 adds and one divide
    "l2": lambda taps: 2 * taps,  # taps squares, taps - 1 adds, one square root
}

BATCHNORM_FLOPS = 2  # per element at inference: scale and shift (statistics folded)

# Per element, for norms whose statistics are computed from the input itself (group, instance,
# layer norm): 1 add for the mean, 3 for the variance (subtract, square, add), 2 to normalise
# (subtract, multiply by 1/std), and 2 more with a learned scale and shift (affine). The
# per-group square roots and divisions are not counted.
def norm_flops(affine: bool) -> int:
    return 6 + (2 if affine else 0)


def lrn_flops(size: int) -> int:
    """Per element: `size` squares, size - 1 adds, x alpha/n, + k, a power and a divide."""
    return 2 * size + 3


# --- training: the backward pass and the optimizer (docs/counting.md, "Training") ---------
# Backward MACs: a layer with weights (conv, deconv, local, fc) spends one multiply-accumulate
# per forward MAC on its input gradient (dx = sum of w x dy) and one on its weight gradient
# (dW = sum of x x dy), each only when autograd computes it. The FLOPs below are per element.

# The gradient of any activation: dy times the local derivative, one FLOP per element (the
# derivative itself is not weighted, as transcendentals are not in the forward).
ACTIVATION_BACKWARD_FLOPS = 1

# Per attention score in the backward: the softmax's dS = A x (dA - sum(dA x A)) (a multiply
# for dA x A, an add into the row's sum, a subtract and a multiply) and the 1/sqrt(d_k) scale.
ATTENTION_SCORE_BACKWARD_FLOPS = 4 + 1

# Pooling's input gradient, per output element over a window of `taps` inputs.
POOL_BACKWARD_FLOPS = {
    "max": lambda taps: 1,  # dy added at the argmax
    "min": lambda taps: 1,  # dy added at the argmin
    "avg": lambda taps: taps + 1,  # dy divided by the window size, added to each tap
    "l2": lambda taps: 2 * taps + 1,  # dy / y, then times x and added at each tap
}

# Batch (and group, instance, layer) norm in training, per element: the terms both gradients
# need, x_hat recomputed (subtract, multiply) and dy x x_hat, and the two sums, sum(dy) and
# sum(dy x_hat) (one add each): 5; the input gradient
# dx = k (dy - mean(dy) - x_hat mean(dy x_hat)) adds 4 (multiply, two subtracts, scale).
NORM_STATISTICS_BACKWARD_FLOPS = 5
NORM_INPUT_BACKWARD_FLOPS = 4

# An optimizer step, FLOPs per trainable parameter, by the update PyTorch's torch.optim runs
# with its defaults (no weight decay; scalars such as bias corrections are per tensor, not
# counted):
OPTIMIZER_FLOPS = {
    "sgd": 2,  # p -= lr g: multiply, add
    "momentum": 4,  # buf = mu buf + g (multiply, add); p -= lr buf (multiply, add)
    # Adam: m.lerp_(g, 1 - b1) = m + (1 - b1)(g - m): 3; v = b2 v + (1 - b2) g^2: 4;
    # denom = sqrt(v) / sqrt(bias_correction2) + eps: 3; p += -step m / denom: 3
    "adam": 13,
}


def lrn_backward_flops(size: int) -> int:
    """Per element, the input gradient dx = dy d^-beta - (2 alpha beta / n) x sum(dy x
    d^(-beta-1)) over the mirrored window: the denominator d recomputed (size squares,
    size - 1 adds, x alpha/n, + k: 2 size + 1), t = dy x d^(-beta-1) (a power, two
    multiplies), t's window sum (size - 1 adds), dy d^-beta (a power, a multiply), times
    the constant and x (two multiplies) and the subtract: 3 size + 8."""
    return (2 * size + 1) + 3 + (size - 1) + 2 + 2 + 1


def readable(n: float, unit: str = "") -> str:
    """138357544 -> '138.4 M' (decimal prefixes, as papers print counts). Integers are divided
    exactly (rounded half up), so any size works: past 10**18, '1.2e3000' (no float, no str())."""
    if isinstance(n, int) and abs(n) >= 10**18:
        size = abs(n)
        digits = int(size.bit_length() * 0.30102999566398120) + 1
        if 10 ** (digits - 1) > size:
            digits -= 1
        lead = size // 10 ** (digits - 2)  # the two leading digits
        sign = "-" if n < 0 else ""
        return f"{sign}{lead // 10}.{lead % 10}e{digits - 1}" + (f" {unit}" if unit else "")
    prefixes = ((10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "K"))
    for i, (at, name) in enumerate(prefixes):
        if abs(n) >= at:
            factor, prefix = at, name
            if i and _rounds_up(abs(n), at, 1000):  # 999,960 reads 1.0 M, not 1000.0 K
                factor, prefix = prefixes[i - 1]
            if isinstance(n, int):
                tenths = (abs(n) * 20 + factor) // (2 * factor)
                sign = "-" if n < 0 else ""
                return f"{sign}{tenths // 10}.{tenths % 10} {prefix}{unit}"
            return f"{n / factor:.1f} {prefix}{unit}"
    return f"{n:,}" + (f" {unit}" if unit else "")


def _rounds_up(n, factor: int, base: int) -> bool:
    """True when n / factor, rounded half up to one decimal, reaches `base` (the next unit)."""
    if isinstance(n, int):
        return (n * 20 + factor) // (2 * factor) >= 10 * base
    return round(n / factor, 1) >= base


def binary(n: int) -> str:
    """Bytes in binary units: 60,950,432 -> '58.1 MiB'."""
    units = (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10))
    for i, (name, at) in enumerate(units):
        if n >= at:
            unit, factor = name, at
            if i and _rounds_up(n, at, 1024):  # 1,048,575 B reads 1.0 MiB, not 1024.0 KiB
                unit, factor = units[i - 1]
            return f"{n / factor:.1f} {unit}"
    return f"{n} B"
