"""Receptive fields: size, jump (effective stride) and start of every layer, per axis.

Following Araujo, Norris and Sim, "Computing Receptive Fields of Convolutional Neural
Networks", Distill 2019, in input-pixel coordinates: the network's input has size 1, jump 1
and start 0 (the centre of the first pixel). A layer that slides a window of effective size
k = D(F-1)+1 with stride S and left/top padding P maps (r, j, s) to
    r' = r + (k - 1) j,   j' = j S,   s' = s + ((k - 1)/2 - P) j.
Where several paths meet (add, concat, multiply), the largest field is taken, and paths whose
jump or start differ are reported as misaligned. Jumps and starts are exact fractions.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from ..graph import INPUT, Network
from ..layers.geometry import resolve_padding
from .report import Report


@dataclass(frozen=True)
class Field:
    size: tuple  # (rows, columns) of input pixels one unit sees
    jump: tuple  # input pixels between neighbouring units (Fraction)
    start: tuple  # centre of the first unit, in input pixels (Fraction)


def window(layer, x):
    """(kernel, stride, pad_before, dilation) per axis for layers that slide a window over
    their input; None for layers that keep every position (elementwise)."""
    t = layer.type_name
    if t in ("conv", "local", "subsample", "pool"):
        if t == "pool" and layer.output is not None:  # adaptive: bins of about size/out
            return [(-(-n // o), exact(n, o), 0, 1)
                    for n, o in ((x.h, layer.output[0]), (x.w, layer.output[1]))]
        if t == "pool":
            kernel, stride, padding = layer.window(x)
        else:
            kernel, stride, padding = layer.kernel, layer.stride or layer.kernel, layer.padding
        dilation = getattr(layer, "dilation", (1, 1))
        pads = resolve_padding(padding, x.h, x.w, kernel, stride, dilation)
        before = (pads[0], pads[2])
        return [(kernel[a], stride[a], before[a], dilation[a]) for a in (0, 1)]
    if t in ("fc", "flatten", "rbf"):  # every unit sees the whole input
        return [(x.h, x.h, 0, 1), (x.w, x.w, 0, 1)]
    return None


def propagate(network: Network, report: Report) -> tuple[list[Field], list[tuple[int, str]]]:
    """The field of every node, and (node index, message) for misaligned merges."""
    fields = {INPUT: Field((1, 1), (1, 1), (0, 0))}
    notes = []
    for index, (node, row) in enumerate(zip(network.nodes, report.rows)):
        ins = [fields[i] for i in node.inputs]
        layer, x = node.layer, row.input_shapes[0]
        t = layer.type_name
        if len(ins) > 1 and t != "crop":
            if len({(f.jump, f.start) for f in ins}) > 1:
                notes.append((index, "paths merged here are misaligned: jumps "
                               + ", ".join(_axes(f.jump) for f in ins) + "; starts "
                               + ", ".join(_axes(f.start) for f in ins)))
            best = max(ins, key=lambda f: f.size[0] * f.size[1])
            fields[index] = best
            continue
        f = ins[0]
        slid = window(layer, x)
        if slid is not None:
            size, jump, start = [], [], []
            for a, (k, s, p, d) in enumerate(slid):
                k_eff = d * (k - 1) + 1
                size.append(f.size[a] + (k_eff - 1) * f.jump[a])
                start.append(f.start[a] + exact((k_eff - 1 - 2 * p) * f.jump[a], 2))
                jump.append(f.jump[a] * s)
            fields[index] = Field(tuple(size), tuple(jump), tuple(start))
        elif t == "deconv":  # the adjoint of a conv: input unit i sits at output i S - P + (k-1)/2
            size, jump, start = [], [], []
            for a in (0, 1):
                k_eff = layer.dilation[a] * (layer.kernel[a] - 1) + 1
                taps = -(-k_eff // layer.stride[a])  # inputs one output reads, at most
                size.append(f.size[a] + (taps - 1) * f.jump[a])
                jump.append(exact(f.jump[a], layer.stride[a]))
                start.append(f.start[a] + exact((2 * layer.padding[a] - k_eff + 1) * jump[-1], 2))
            fields[index] = Field(tuple(size), tuple(jump), tuple(start))
        elif t == "upsample":
            extra = 1 if layer.mode == "bilinear" else 0  # bilinear reads two neighbours
            fields[index] = Field(tuple(f.size[a] + extra * f.jump[a] for a in (0, 1)),
                                  tuple(exact(f.jump[a], layer.scale[a]) for a in (0, 1)),
                                  f.start)
        elif t in ("zeropad", "crop"):
            y = row.output_shape
            if t == "crop":
                top = (x.h - y.h) // 2 if layer.amount is None else layer.amount[0]
                left = (x.w - y.w) // 2 if layer.amount is None else layer.amount[2]
                shift = (top, left)
            else:
                shift = (-layer.padding[0], -layer.padding[2])
            fields[index] = Field(f.size, f.jump,
                                  tuple(f.start[a] + shift[a] * f.jump[a] for a in (0, 1)))
        else:  # elementwise: the same positions
            fields[index] = f
    return [fields[i] for i in range(len(network.nodes))], notes


def exact(numerator, denominator):
    """numerator / denominator as an int when it divides, else an exact Fraction (ints are
    much faster, and nearly every layer keeps them)."""
    if isinstance(numerator, int) and numerator % denominator == 0:
        return numerator // denominator
    return Fraction(numerator) / denominator


def number(value):
    """An exact int when whole, else a float (JSON)."""
    if isinstance(value, int):
        return value
    return int(value) if value.denominator == 1 else float(value)


def _axes(pair) -> str:
    return "x".join(str(number(v)) for v in pair)
