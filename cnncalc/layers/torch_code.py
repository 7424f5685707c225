"""PyTorch source for one layer, as `cnncalc export --to pytorch` writes it.

Every layer class answers `torch_code(inputs, out)` with a `TorchCode`: the constructor of
its submodule (if it has one), the forward expression, and the small nn.Module classes the
generated file must define for it. This module holds that record and the text helpers the
layer classes share; nothing here imports torch (the generated file does).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import SettingError


@dataclass(frozen=True)
class TorchCode:
    """One layer in PyTorch source. `forward` is a str.format template: `{m}` is the layer's
    submodule, `{0}`, `{1}`... its inputs, `{inputs}` all of them joined by commas."""

    forward: str
    module: str | None = None  # constructor call of the submodule (None: no submodule)
    helpers: tuple[tuple[str, str], ...] = ()  # (class name, source) the file must define
    any_shape: bool = False  # works on an [N, K] vector as on [N, K, 1, 1], keeping its shape


def dims(rank: int, what: str = "this layer") -> str:
    """'1d', '2d' or '3d': the suffix of PyTorch's class for `rank` spatial axes."""
    if rank not in (1, 2, 3):
        raise SettingError(f"PyTorch has no {rank}-D form of {what}", inconsistent=True)
    return f"{rank}d"


def ints(values) -> str:
    """(3, 3) -> '3'; (3, 5) -> '(3, 5)'."""
    values = tuple(values)
    return str(values[0]) if len(set(values)) == 1 else "(" + ", ".join(map(str, values)) + ")"


def symmetric(pads) -> bool:
    """True when every axis pads as much before as after (PyTorch's `padding=`)."""
    return all(before == after for before, after in pads)


def padded(pads, value: str | None = None) -> str:
    """`{0}` zero-padded (or padded with `value`) by (before, after) per axis: F.pad lists
    the last axis first."""
    if not any(p for pair in pads for p in pair):
        return "{0}"
    flat = ", ".join(f"{before}, {after}" for before, after in reversed(tuple(pads)))
    fill = f", value={value}" if value else ""
    return f"F.pad({{0}}, ({flat}){fill})"


def as_map(rank: int) -> str:
    """Index that turns an [N, K] vector back into the [N, K, 1, 1] map cnncalc computes."""
    return "[:, :" + ", None" * rank + "]"


def keyword_args(**values) -> str:
    """', stride=2, bias=False' for the values that differ from PyTorch's defaults (None)."""
    return "".join(f", {key}={value}" for key, value in values.items() if value is not None)


def spatial_dims(rank: int) -> str:
    """'(2, 3)': the spatial dimensions of an NCHW tensor."""
    return "(" + ", ".join(str(2 + i) for i in range(rank)) + ("," if rank == 1 else "") + ")"
