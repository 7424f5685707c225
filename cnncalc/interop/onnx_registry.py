"""The leaf every ONNX op handler registers into: the layouts a value can have, the exception a
handler raises for what cnncalc cannot express, the table of handlers by op type, and the
helpers the handler modules share. It imports nothing of the importer (onnx_import.py imports
the handler modules, which fill the table, when it first needs it)."""

from __future__ import annotations

NC, LAST, FLAT = "nc", "last", "flat"  # channels after batch; channels last; [batch, features]



class Unsupported(Exception):
    """A node cnncalc cannot express; the message says why."""


HANDLERS: dict = {}


def op(*names):
    def register(handler):
        for op_name in names:
            HANDLERS[op_name] = handler
        return handler
    return register


def number(value) -> float:
    """An attribute's float32 as the short decimal it was written as (1e-05, not 9.99e-06)."""
    return float(f"{float(value):.6g}")


def axes(values) -> int | list:
    """One integer when every axis agrees, else the list."""
    values = [int(v) for v in values]
    return values[0] if len(set(values)) == 1 else values


def padding(pads: list, rank: int):
    """ONNX pads [begin per axis..., end per axis...] -> P, [per axis], or, when the ends
    differ, [top, bottom, left, right] in 2-D and a [before, after] pair per axis otherwise."""
    before, after = list(pads[:rank]), list(pads[rank:])
    if min(pads, default=0) < 0:
        raise Unsupported(f"negative padding {list(pads)} (a crop)")
    if len(set(pads)) <= 1:
        return int(pads[0]) if pads else 0
    if before == after:
        return [int(v) for v in before]
    if rank != 2:
        return [[int(b), int(a)] for b, a in zip(before, after)]
    return [int(v) for b, a in zip(before, after) for v in (b, a)]


def channel_axis(imp, tensor: str) -> int:
    """Where the channels are in the ONNX tensor."""
    layout = imp.value(tensor).layout
    return len(imp.shape(tensor)) - 1 if layout == LAST else 1


def per_channel(imp, const: str, data: str) -> bool:
    """True when the constant holds one value per channel of `data`, broadcast along it."""
    shape = list(imp.shape(const))
    while shape and shape[0] == 1 and len(shape) > 1:
        shape.pop(0)
    full = imp.shape(data)
    trailing = len(full) - 1 - channel_axis(imp, data)  # axes after the channels
    return shape == [full[channel_axis(imp, data)]] + [1] * trailing or \
        (trailing == 0 and shape == [full[-1]])
