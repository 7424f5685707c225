"""Shapes (per sample, height x width x channels) and the sliding-window size rules.

All arithmetic is on Python integers, so astronomically large inputs stay exact.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import SettingError


@dataclass(frozen=True)
class Shape:
    """One sample's tensor: height x width x channels, as the notes print it."""

    h: int
    w: int
    c: int

    @property
    def size(self) -> int:
        """Number of values (the notes' "memory" column)."""
        return self.h * self.w * self.c

    def as_list(self) -> list[int]:
        return [self.h, self.w, self.c]

    def __str__(self) -> str:
        return f"{self.h}x{self.w}x{self.c}"


@dataclass(frozen=True)
class Window:
    """The outcome of sliding a window along one axis."""

    out: int  # output size
    leftover: int  # rows/columns of the padded input that no window reaches, at its end
    pad_before: int
    pad_after: int

    @property
    def unread(self) -> int:
        """Rows/columns of the input itself never read (skipped padding is harmless)."""
        return max(self.leftover - self.pad_after, 0)

    @property
    def tiles(self) -> bool:
        return self.unread == 0


def same_padding(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow's 'same': out = ceil(size/stride); the odd pixel goes after (bottom/right)."""
    out = -(-size // stride)
    total = max((out - 1) * stride + dilation * (kernel - 1) + 1 - size, 0)
    return total // 2, total - total // 2


def resolve_padding(padding, h: int, w: int, kernel, stride,
                    dilation=(1, 1)) -> tuple[int, int, int, int]:
    """(top, bottom, left, right): 'same' worked out for an h x w input, else as given."""
    if padding != "same":
        return padding
    return (*same_padding(h, kernel[0], stride[0], dilation[0]),
            *same_padding(w, kernel[1], stride[1], dilation[1]))


def slide(size: int, kernel: int, stride: int, pad_before: int, pad_after: int,
          dilation: int = 1, ceil_mode: bool = False, axis: str = "height") -> Window:
    """Output size floor((W + P_total - D(F-1) - 1)/S) + 1, with PyTorch's ceil_mode rule.

    Raises SettingError (inconsistent) when the dilated kernel is larger than the padded input.
    """
    effective = dilation * (kernel - 1) + 1  # span of the dilated kernel
    span = size + pad_before + pad_after - effective  # room left to slide in
    if span < 0 and not (ceil_mode and -(-span // stride) + 1 >= 1):
        # PyTorch's ceil_mode rounds ceil(span/S) + 1 and so accepts a window up to S - 1
        # larger than the padded input; otherwise the window must fit
        dilated = f" (kernel {kernel}, dilation {dilation})" if dilation > 1 else ""
        raise SettingError(
            f"the window spans {effective} in {axis}{dilated} but the padded input has only "
            f"{size + pad_before + pad_after} ({size} + {pad_before + pad_after} padding)",
            key="kernel", inconsistent=True)
    if ceil_mode:
        out = -(-span // stride) + 1
        # PyTorch: the last window must start inside the input or the left padding.
        if (out - 1) * stride >= size + pad_before:
            out -= 1
        return Window(out, 0, pad_before, pad_after)  # the last window may overhang: no gap
    out = span // stride + 1
    return Window(out, span % stride, pad_before, pad_after)


def tiling_advice(size: int, kernel: int, stride: int, pad_total: int, dilation: int = 1) -> str:
    """Which padding or stride would make the window tile the input exactly."""
    effective = dilation * (kernel - 1) + 1
    span = size + pad_total - effective
    rem = span % stride
    more = stride - rem
    strides = [s for s in range(1, max(stride, kernel) + 1) if s != stride and span % s == 0]
    options = [f"{more} more padding (total {pad_total + more})"]
    if strides:
        options.append("stride " + " or ".join(str(s) for s in strides[:3]))
    options.append(f"an input of {size + more}")
    return ", ".join(options[:-1]) + " or " + options[-1]


def slide2d(x: Shape, kernel, stride, padding, dilation=(1, 1),
            ceil_mode: bool = False) -> tuple[Window, Window]:
    """Slide a window over both axes; padding is 'same' or (top, bottom, left, right)."""
    top, bottom, left, right = resolve_padding(padding, x.h, x.w, kernel, stride, dilation)
    return (slide(x.h, kernel[0], stride[0], top, bottom, dilation[0], ceil_mode, "height"),
            slide(x.w, kernel[1], stride[1], left, right, dilation[1], ceil_mode, "width"))


def tiling_warnings(x: Shape, kernel, stride, padding, dilation=(1, 1)) -> list[str]:
    """Messages for the axes on which the window does not tile the padded input (one message
    when both axes fail alike)."""
    found = []
    for axis, size, window, k, s, d in zip(("row", "column"), (x.h, x.w),
                                           slide2d(x, kernel, stride, padding, dilation),
                                           kernel, stride, dilation, strict=False):
        effective = d * (k - 1) + 1
        if window.tiles or s > effective:  # windows that skip rows anyway: a different matter
            continue
        pad = window.pad_before + window.pad_after
        exact = f"({size} - {effective} + {pad})/{s} + 1 = {(size - effective + pad) / s + 1:g}"
        gap = f"{window.unread} {axis}{'s' if window.unread > 1 else ''}"
        found.append([exact, gap, tiling_advice(size, k, s, pad, d)])
    if len(found) == 2 and found[0][0] == found[1][0]:
        found = [[found[0][0], f"{found[0][1]} and {found[1][1]}", found[0][2]]]
    messages = []
    for exact, gap, advice in found:
        verb = "is" if gap.startswith("1 ") and " and " not in gap else "are"
        messages.append(f"window does not tile the input: {exact}; the last {gap} of the input "
                        f"{verb} never read; use {advice}")
    return messages
