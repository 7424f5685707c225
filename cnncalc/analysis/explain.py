"""`cnncalc explain SPEC LAYER`: the formulas behind one row, with its numbers put in."""

from __future__ import annotations

from ..graph import Network
from ..layers.geometry import number
from ..conventions import DTYPES, binary
from .report import Report, Row


def shape_lines(layer, row: Row) -> list[str]:
    """(W - F + 2P)/S + 1 per axis for windowed layers, then the output."""
    geometry = layer.window(row.input_shapes[0])
    lines = geometry.arithmetic() if geometry is not None else []
    return [*lines, f"output: {row.output_shape}"]


def explain(network: Network, report: Report, name: str, dtype: str = "float32") -> list[str]:
    """Lines for the layer called `name` (full name, or a unique last part)."""
    index = find(network, name)
    node, row = network.nodes[index], report.rows[index]
    y = row.output_shape
    layer = node.layer.at(row.input_shapes[0].rank)  # per-axis settings written out
    width = DTYPES[dtype]
    lines = [f"{node.name}: {layer.type_name} {layer.describe()}".rstrip(),
             f"input: {', '.join(str(s) for s in row.input_shapes)}"]
    lines += shape_lines(layer, row)
    counts = layer.explain_counts(row.input_shapes, y, row.totals)
    if row.shares is not None:  # the arithmetic is the owner's; the count is there
        owner = row.shares
        counts = [f"params: 0 (uses the weights of '{owner}': "
                  f"{report.rows[node.shares].totals.params:,}, counted there)",
                  *(line for line in counts if not line.startswith("params"))]
    lines += counts
    lines.append(f"memory: {y} = {y.size:,} values x {width} B ({dtype}) = "
                 f"{binary(y.size * width)} per sample")
    if row.field is not None:
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
