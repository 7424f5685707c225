"""Layers that change height and width without weights: upsample, zeropad, crop."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import SettingError
from ..settings import Choice, Padding, Pair, setting
from ..shapes import Shape
from .base import Counts, Layer, padding_text, pair_text, register

BILINEAR_FLOPS = 7  # per output value: 4 neighbours, 3 lerps of 2 multiplies + 1 add, shared


@register
@dataclass(frozen=True)
class Upsample(Layer):
    type_name = "upsample"
    summary = "repeat (nearest) or interpolate (bilinear) by an integer scale"
    example = "- {type: upsample, scale: 2, mode: nearest}"

    scale: tuple = setting(Pair(), "factor, or [height, width]", (2, 2))
    mode: str = setting(Choice(("nearest", "bilinear")), "how new values are made", "nearest")

    def shape(self, x: Shape) -> Shape:
        return Shape(x.h * self.scale[0], x.w * self.scale[1], x.c)

    def counts(self, x: Shape, y: Shape) -> Counts:
        return Counts(flops=BILINEAR_FLOPS * y.size if self.mode == "bilinear" else 0)

    def describe(self) -> str:
        return f"x{pair_text(self.scale)} {self.mode}"


@register
@dataclass(frozen=True)
class ZeroPad(Layer):
    type_name = "zeropad"
    summary = "add rows and columns of zeros at the borders"
    example = "- {type: zeropad, padding: [1, 2]}"

    padding: tuple = setting(Padding(), "P, [h, w] or [top, bottom, left, right]")

    def validate(self):
        if self.padding == "same":
            raise SettingError("zeropad takes explicit padding, not 'same'", key="padding",
                               received="'same'")

    def shape(self, x: Shape) -> Shape:
        top, bottom, left, right = self.padding
        return Shape(x.h + top + bottom, x.w + left + right, x.c)

    def describe(self) -> str:
        return padding_text(self.padding)


@register
@dataclass(frozen=True)
class Crop(Layer):
    type_name = "crop"
    summary = ("cut borders: `amount` [top, bottom, left, right], a centred `size` [h, w], or, "
               "with two inputs, the first centred to the second's size (U-Net skips)")
    example = "- {type: crop, size: [56, 56]}"
    arity = (1, 2)

    amount: tuple | None = setting(Padding(), "rows/columns removed: P, [h, w] or "
                                   "[top, bottom, left, right]", None)
    size: tuple | None = setting(Pair(), "centred crop to [height, width]", None)

    def validate(self):
        if self.amount == "same":
            raise SettingError("crop takes an explicit amount", key="amount", received="'same'")
        if self.amount is not None and self.size is not None:
            raise SettingError("crop takes `amount` or `size`, not both", key="size")

    def borders(self, x: Shape, target: tuple | None) -> tuple[int, int, int, int]:
        if target is None and self.amount is not None:
            return self.amount
        if target is None:
            raise SettingError("crop needs `amount`, `size`, or a second input to match")
        dh, dw = x.h - target[0], x.w - target[1]
        if dh < 0 or dw < 0:
            raise SettingError(f"cannot crop {x} to {target[0]}x{target[1]}: it is smaller",
                               inconsistent=True)
        return dh // 2, dh - dh // 2, dw // 2, dw - dw // 2

    def infer(self, inputs):
        if len(inputs) == 2 and (self.amount is not None or self.size is not None):
            raise SettingError("with two inputs, crop matches the second; drop amount/size",
                               key="inputs")
        target = (inputs[1].h, inputs[1].w) if len(inputs) == 2 else self.size
        x = inputs[0]
        top, bottom, left, right = self.borders(x, target)
        if top + bottom >= x.h or left + right >= x.w:
            raise SettingError(f"cropping {top + bottom}x{left + right} leaves nothing of {x}",
                               key="amount", inconsistent=True)
        return Shape(x.h - top - bottom, x.w - left - right, x.c)

    def cost(self, inputs, out):
        return Counts()

    def row_notes(self, inputs, out):
        return []

    def warnings(self, inputs):
        return []

    def describe(self) -> str:
        if self.amount is not None:
            return padding_text(self.amount)
        return f"to {self.size[0]}x{self.size[1]}" if self.size else "to match"
