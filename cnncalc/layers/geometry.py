"""Window geometry: a window slid over every spatial axis, resolved once per input.

A windowed layer (conv, local, pool, subsample) builds one `Window` for its input; the shape
rule, the counts, the receptive field, explain, the tiling advice and the NumPy kernels all
read it. All arithmetic is on Python integers, so astronomically large inputs stay exact.
"""

from __future__ import annotations

from math import prod

from ..declare import frozen
from ..errors import SettingError
from .shape import AXIS_NAMES, Shape

ADVICE_STRIDES = 16  # alternative strides the tiling advice considers, at most
UNITS = {"height": "row", "width": "column", "depth": "slice", "length": "cell"}  # one step


def same_padding(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow's 'same': out = ceil(size/stride); the odd pixel goes after (bottom/right)."""
    out = -(-size // stride)
    total = max((out - 1) * stride + dilation * (kernel - 1) + 1 - size, 0)
    return total // 2, total - total // 2


def resolve_pads(padding, spatial, kernel, stride, dilation) -> tuple[tuple[int, int], ...]:
    """(before, after) per axis: 'same' worked out for this input, else as written."""
    if padding == "same":
        return tuple(same_padding(n, k, s, d) for n, k, s, d in zip(spatial, kernel, stride,
                                                                     dilation))
    return padding


def per_axis(value, rank: int, key: str) -> tuple:
    """A setting written once (an int: every axis) or per axis, as one value per axis of an
    input with `rank` spatial axes; a list of another length is refused (exit 1) at `key`."""
    if value is None or isinstance(value, int):
        return value if value is None else (value,) * rank
    if len(value) != rank:
        raise SettingError(f"'{key}' has {len(value)} values but the input has {rank} spatial "
                           f"{'axis' if rank == 1 else 'axes'} ({', '.join(AXIS_NAMES[rank])}):"
                           " give one per axis or a single integer",
                           key=key, received="[" + ", ".join(map(str, value)) + "]",
                           inconsistent=True)
    return tuple(value)


def pads_per_axis(value, rank: int, key: str = "padding"):
    """'same', or (before, after) per axis from an int, one int per axis, a pair per axis or
    the flat (before, after, before, after, ...) of every axis ([top, bottom, left, right])."""
    if value is None or value == "same":
        return value
    if isinstance(value, int):
        return ((value, value),) * rank
    if isinstance(value[0], tuple):  # pairs per axis, already resolved or written so
        if len(value) == rank:
            return value
    elif len(value) == rank:
        return tuple((p, p) for p in value)
    elif len(value) == 2 * rank:
        return tuple((value[2 * i], value[2 * i + 1]) for i in range(rank))
    shown = "[" + ", ".join(str(list(v) if isinstance(v, tuple) else v) for v in value) + "]"
    raise SettingError(f"'{key}' has {len(value)} values but the input has {rank} spatial "
                       f"{'axis' if rank == 1 else 'axes'} ({', '.join(AXIS_NAMES[rank])}): "
                       f"give one per axis, a [before, after] pair per axis or a single integer",
                       key=key, received=shown, inconsistent=True)


@frozen
class Axis:
    """A window slid along one axis: the settings, the padding resolved, and the outcome."""

    name: str
    size: int
    kernel: int
    stride: int
    dilation: int
    before: int
    after: int
    out: int
    leftover: int  # cells of the padded input that no window reaches, at its end

    @property
    def effective(self) -> int:
        """Span of the dilated kernel, D(F-1)+1."""
        return self.dilation * (self.kernel - 1) + 1

    @property
    def unread(self) -> int:
        """Cells of the input itself never read (skipped padding is harmless)."""
        return max(self.leftover - self.after, 0)

    @property
    def tiles(self) -> bool:
        return self.unread == 0


def slide(size: int, kernel: int, stride: int, before: int, after: int, dilation: int = 1,
          ceil_mode: bool = False, name: str = "height") -> Axis:
    """Output size floor((W + P_total - D(F-1) - 1)/S) + 1, with PyTorch's ceil_mode rule.

    Raises SettingError (inconsistent) when the dilated kernel is larger than the padded input.
    """
    effective = dilation * (kernel - 1) + 1  # span of the dilated kernel
    span = size + before + after - effective  # room left to slide in
    if span < 0 and not (ceil_mode and -(-span // stride) + 1 >= 1):
        # PyTorch's ceil_mode rounds ceil(span/S) + 1 and so accepts a window up to S - 1
        # larger than the padded input; otherwise the window must fit
        dilated = f" (kernel {kernel}, dilation {dilation})" if dilation > 1 else ""
        raise SettingError(
            f"the window spans {effective} in {name}{dilated} but the padded input has only "
            f"{size + before + after} ({size} + {before + after} padding)",
            key="kernel", inconsistent=True)
    if ceil_mode:
        out = -(-span // stride) + 1
        if (out - 1) * stride >= size + before:  # PyTorch: the last window starts inside
            out -= 1
        return Axis(name, size, kernel, stride, dilation, before, after, out, 0)
    return Axis(name, size, kernel, stride, dilation, before, after, span // stride + 1,
                span % stride)


@frozen
class Window:
    """A window slid over every spatial axis of one input."""

    axes: tuple[Axis, ...]

    @property
    def out(self) -> tuple[int, ...]:
        return tuple(a.out for a in self.axes)

    @property
    def kernel(self) -> tuple[int, ...]:
        return tuple(a.kernel for a in self.axes)

    @property
    def stride(self) -> tuple[int, ...]:
        return tuple(a.stride for a in self.axes)

    @property
    def dilation(self) -> tuple[int, ...]:
        return tuple(a.dilation for a in self.axes)

    @property
    def pads(self) -> tuple[tuple[int, int], ...]:
        return tuple((a.before, a.after) for a in self.axes)

    @property
    def flat_pads(self) -> tuple[int, ...]:
        """(before, after) of every axis in one tuple: (top, bottom, left, right) in 2-D."""
        return tuple(p for a in self.axes for p in (a.before, a.after))

    @property
    def taps(self) -> int:
        """Inputs one window reads per channel (kernel positions)."""
        return prod(self.kernel)

    def output(self, channels: int) -> Shape:
        return Shape(self.out, channels)

    def field(self, f: Field) -> Field:
        """The receptive-field map (Araujo et al. 2019): r' = r + (k-1)j, j' = jS,
        s' = s + ((k-1)/2 - P)j, per axis."""
        return Field(tuple(r + (a.effective - 1) * j for r, j, a in zip(f.size, f.jump, self.axes)),
                     tuple(j * a.stride for j, a in zip(f.jump, self.axes)),
                     tuple(s + exact((a.effective - 1 - 2 * a.before) * j, 2)
                           for s, j, a in zip(f.start, f.jump, self.axes)))

    def arithmetic(self) -> list[str]:
        """(W - F + 2P)/S + 1 per axis with the numbers put in (explain)."""
        lines = []
        for a in self.axes:
            pad = f"2x{a.before}" if a.before == a.after else f"{a.before} + {a.after}"
            kernel = f"{a.kernel}" if a.dilation == 1 else f"{a.dilation}x({a.kernel} - 1) + 1"
            from fractions import Fraction
            value = Fraction(a.size - a.effective + a.before + a.after, a.stride) + 1
            text = f"{a.name}: ({a.size} - {kernel} + {pad})/{a.stride} + 1"
            if value == a.out:
                lines.append(f"{text} = {a.out}")
                continue
            way = "up" if a.out > value else "down"
            shown = f"{float(value):g}" if value.numerator.bit_length() < 1000 else str(value)
            if a.out > value or a.tiles:  # the same verdict as validate's window-tiling rule
                why = "the cells left over are padding, every input cell is read"
            elif a.stride > a.effective:
                why = "the stride skips cells anyway"
            else:
                unit = UNITS.get(a.name, "cell")
                why = (f"the last {a.unread} {unit}{'' if a.unread == 1 else 's'} of the input "
                       f"{'is' if a.unread == 1 else 'are'} never read (validate warns: "
                       "window-tiling)")
            lines.append(f"{text} = {shown}, rounded {way} to {a.out}: {why}")
        return lines

    def tiling_warnings(self) -> list[str]:
        """Messages for the axes on which the window does not tile the padded input (one
        message when all failing axes fail alike)."""
        found = []
        for a in self.axes:
            if a.tiles or a.stride > a.effective:  # windows that skip cells anyway: by design
                continue
            from fractions import Fraction
            pad = a.before + a.after
            exact_text = f"({a.size} - {a.effective} + {pad})/{a.stride} + 1 = " \
                         f"{float(Fraction(a.size - a.effective + pad, a.stride) + 1):g}"
            unit = UNITS.get(a.name, "cell")
            found.append([exact_text, f"{a.unread} {unit}{'s' if a.unread > 1 else ''}",
                          tiling_advice(a)])
        if len(found) > 1 and len({f[0] for f in found}) == 1:
            found = [[found[0][0], " and ".join(f[1] for f in found), found[0][2]]]
        messages = []
        for exact_text, gap, advice in found:
            verb = "is" if gap.startswith("1 ") and " and " not in gap else "are"
            messages.append(f"window does not tile the input: {exact_text}; the last {gap} of "
                            f"the input {verb} never read; use {advice}")
        return messages


def tiling_advice(a: Axis) -> str:
    """Which padding, stride or input size would make the window tile the axis exactly."""
    pad = a.before + a.after
    span = a.size + pad - a.effective
    more = a.stride - span % a.stride
    limit = min(max(a.stride, a.kernel), ADVICE_STRIDES)  # bounded: never a loop over the kernel
    strides = [s for s in range(1, limit + 1) if s != a.stride and span % s == 0]
    options = [f"{more} more padding (total {pad + more})"]
    if strides:
        options.append("stride " + " or ".join(str(s) for s in strides[:3]))
    options.append(f"an input of {a.size + more}")
    return ", ".join(options[:-1]) + " or " + options[-1]


def window(x: Shape, kernel, stride, padding, dilation=None, ceil_mode: bool = False) -> Window:
    """Slide a window over every spatial axis of x; padding is 'same' or (before, after) per
    axis."""
    dilation = dilation or (1,) * x.rank
    for setting in (kernel, stride, dilation) + (() if padding == "same" else (padding,)):
        if len(setting) != x.rank:
            raise SettingError(f"the window has {len(setting)} axes but the input {x} has "
                               f"{x.rank} spatial axes", key="kernel", inconsistent=True)
    pads = resolve_pads(padding, x.spatial, kernel, stride, dilation)
    return Window(tuple(slide(n, k, s, b, e, d, ceil_mode, name)
                        for n, k, s, (b, e), d, name in zip(x.spatial, kernel, stride, pads,
                                                            dilation, x.axis_names())))


@frozen
class Field:
    """Receptive field of a unit, per spatial axis, in input pixels."""

    size: tuple  # input pixels one unit sees
    jump: tuple  # input pixels between neighbouring units (int or Fraction)
    start: tuple  # centre of the first unit (int or Fraction)

    @classmethod
    def of_input(cls, rank: int) -> Field:
        return cls((1,) * rank, (1,) * rank, (0,) * rank)

    def whole(self, x: Shape) -> Field:
        """Every unit sees the whole input (fc, flatten, global pooling)."""
        return Window(tuple(Axis("", n, n, n, 1, 0, 0, 1, 0) for n in x.spatial)).field(self)

    def shifted(self, cells) -> Field:
        """Positions moved by `cells` per axis (cropping, padding)."""
        return Field(self.size, self.jump,
                     tuple(s + c * j for s, c, j in zip(self.start, cells, self.jump)))


def exact(numerator, denominator):
    """numerator / denominator as an int when it divides, else an exact Fraction (ints are
    much faster, and nearly every layer keeps them)."""
    if isinstance(numerator, int) and numerator % denominator == 0:
        return numerator // denominator
    from fractions import Fraction
    return Fraction(numerator) / denominator


def number(value):
    """An exact int when whole, else a float (JSON)."""
    if isinstance(value, int):
        return value
    return int(value) if value.denominator == 1 else float(value)
