"""`cnncalc explain SPEC LAYER`: the formulas behind one row, with its numbers put in."""

from __future__ import annotations

from ..graph import Network
from ..layers.geometry import resolve_padding
from .memory import DTYPES, binary
from .report import Report, Row


def _n(value) -> str:
    return f"{value:,}"


def _axes(layer, x) -> list[tuple[str, int, int, int, int, int, int]]:
    """(axis, size, kernel, stride, pad_before, pad_after, dilation) for windowed layers."""
    if layer.type_name == "pool":
        kernel, stride, padding = layer.window(x)
    else:
        kernel, stride, padding = layer.kernel, layer.stride or layer.kernel, layer.padding
    dilation = getattr(layer, "dilation", (1, 1))
    pads = resolve_padding(padding, x.h, x.w, kernel, stride, dilation)
    out = []
    for a, (axis, size) in enumerate((("height", x.h), ("width", x.w))):
        before, after = pads[2 * a], pads[2 * a + 1]
        out.append((axis, size, kernel[a], stride[a], before, after, dilation[a]))
    return out


def shape_lines(layer, row: Row) -> list[str]:
    x, y = row.input_shapes[0], row.output_shape
    if layer.type_name not in ("conv", "pool", "subsample", "local") or \
            (layer.type_name == "pool" and (layer.output is not None)):
        return [f"output: {y}"]
    lines = []
    for (axis, size, k, s, before, after, d), out in zip(_axes(layer, x), (y.h, y.w)):
        pad = f"2x{before}" if before == after else f"{before} + {after}"
        kernel = f"{k}" if d == 1 else f"{d}x({k} - 1) + 1"
        exact = (size - (d * (k - 1) + 1) + before + after) / s + 1
        floor = "" if exact == out else f" = {exact:g}, rounded {'up' if out > exact else 'down'} to {out}"
        lines.append(f"{axis}: ({size} - {kernel} + {pad})/{s} + 1{floor}" +
                     ("" if floor else f" = {out}"))
    lines.append(f"output: {y.h}x{y.w}x{y.c}")
    return lines


def count_lines(layer, row: Row) -> list[str]:
    x, y, t = row.input_shapes[0], row.output_shape, row.totals
    kind = layer.type_name
    if kind == "conv" and layer.connections is None:
        cin = f"{x.c}" if layer.groups == 1 else f"({x.c}/{layer.groups})"
        fan = f"{layer.kernel[0]}x{layer.kernel[1]}x{cin}"
        params = f"({fan} + 1) x {layer.filters}" if layer.bias else f"{fan} x {layer.filters}"
        return [f"params: {params} = {_n(t.params)}",
                f"connections: {params} x {y.h}x{y.w} = {_n(t.connections)}",
                f"MACs: {y.h}x{y.w}x{y.c} outputs x {fan} = {_n(t.macs)}",
                f"FLOPs: 2 x {_n(t.macs)} + {_n(t.flops - 2 * t.macs)} (bias adds"
                f"{', activation' if layer.activation else ''}) = {_n(t.flops)}"]
    if kind == "fc":
        n_in = x.size
        params = f"({_n(n_in)} + 1) x {_n(layer.units)}" if layer.bias else \
            f"{_n(n_in)} x {_n(layer.units)}"
        lines = [f"params: {params} = {_n(t.params)}",
                 f"connections: {params} = {_n(t.connections)}",
                 f"MACs: {_n(n_in)} x {_n(layer.units)} = {_n(t.macs)}",
                 f"FLOPs: 2 x {_n(t.macs)} + {_n(t.flops - 2 * t.macs)} = {_n(t.flops)}"]
        if x.h * x.w > 1:
            lines.insert(0, f"input flattened: {x.h}x{x.w}x{x.c} = {_n(n_in)} values (C,H,W)")
        return lines
    if kind == "conv":  # with a connection table
        taps = f"{layer.kernel[0]}x{layer.kernel[1]}"
        read = sum(len(row_) for row_ in layer.connections)
        return [f"params: {taps} x {read} (input maps read, all filters) + {layer.filters} "
                f"biases = {_n(t.params)}",
                f"connections: {_n(t.params)} x {y.h}x{y.w} = {_n(t.connections)}",
                f"MACs: {y.h}x{y.w} x {taps} x {read} = {_n(t.macs)}",
                f"FLOPs: 2 x {_n(t.macs)} + {_n(t.flops - 2 * t.macs)} = {_n(t.flops)}"]
    if kind == "subsample":
        k = layer.kernel[0] * layer.kernel[1]
        return [f"params: {x.c} x (1 + 1) = {_n(t.params)}",
                f"connections: ({layer.kernel[0]}x{layer.kernel[1]} + 1) x {x.c} x {y.h}x{y.w} "
                f"= {_n(t.connections)}",
                f"MACs: {_n(y.size)} (one coefficient per output), FLOPs: {_n(y.size)} x "
                f"({k} - 1 + 2) = {_n(t.flops)}"]
    return [f"params: {_n(t.params)} (trainable {_n(t.trainable_params)})",
            f"connections: {_n(t.connections)}", f"MACs: {_n(t.macs)}", f"FLOPs: {_n(t.flops)}"]


def explain(network: Network, report: Report, name: str, dtype: str = "float32") -> list[str]:
    """Lines for the layer called `name` (full name, or a unique last part)."""
    index = find(network, name)
    node, row = network.nodes[index], report.rows[index]
    layer, y = node.layer, row.output_shape
    width = DTYPES[dtype]
    lines = [f"{node.name}: {layer.type_name} {layer.describe()}".rstrip(),
             f"input: {', '.join(str(s) for s in row.input_shapes)}"]
    lines += shape_lines(layer, row)
    lines += count_lines(layer, row)
    lines.append(f"memory: {y.h}x{y.w}x{y.c} = {_n(y.size)} values x {width} B ({dtype}) = "
                 f"{binary(y.size * width)} per sample")
    if row.field is not None:
        from .receptive import number
        f = row.field
        lines.append("receptive field: " + "x".join(str(number(v)) for v in f.size) +
                     ", jump " + "x".join(str(number(v)) for v in f.jump) +
                     ", start " + "x".join(str(number(v)) for v in f.start) +
                     " (r' = r + (k - 1) j, j' = j S)")
    return lines


def find(network: Network, name: str) -> int:
    from ..declare import did_you_mean
    from ..errors import CnnCalcError, Diagnostic, Span
    names = [n.name for n in network.nodes]
    if name in names:
        return names.index(name)
    matches = [i for i, n in enumerate(names) if n.rsplit(".", 1)[-1] == name]
    if len(matches) == 1:
        return matches[0]
    hint = (f"; it names {len(matches)} layers, e.g. {names[matches[0]]}" if matches
            else did_you_mean(name, names))
    raise CnnCalcError(Diagnostic(Span(network.file), f"no layer called '{name}'{hint}"))
