"""The network as a diagram: Mermaid flowchart or Graphviz dot, from the same report."""

from __future__ import annotations

from ..graph import INPUT
from . import escape


def _parts(row, quote) -> tuple[str, str]:
    """The two lines of a node's label, each escaped by `quote` (names are untrusted)."""
    params = f", {row.totals.params:,} params" if row.totals.params else ""
    head = quote(f"{row.name}: {row.type} {row.settings}".rstrip())
    return head, quote(f"{row.output_shape}{params}")


def to_mermaid(network, report) -> str:
    """Node ids are n0, n1...; labels pass through escape.mermaid_label."""
    lines = ["flowchart TD", f'  input["input<br/>{report.input_shape}"]']
    for i, (node, row) in enumerate(zip(network.nodes, report.rows)):
        head, shape = _parts(row, escape.mermaid_label)
        lines.append(f'  n{i}["{head}<br/>{shape}"]')
        for source in node.inputs:
            lines.append(f"  {'input' if source == INPUT else f'n{source}'} --> n{i}")
    return "\n".join(lines) + "\n"


def to_dot(network, report) -> str:
    """Node ids are n0, n1...; labels pass through escape.dot_label."""
    lines = ["digraph cnncalc {", "  rankdir=TB;", "  node [shape=box, fontname=Helvetica];",
             f'  input [label="input\\n{report.input_shape}"];']
    for i, (node, row) in enumerate(zip(network.nodes, report.rows)):
        head, shape = _parts(row, escape.dot_label)
        lines.append(f'  n{i} [label="{head}\\n{shape}"];')
        for source in node.inputs:
            lines.append(f"  {'input' if source == INPUT else f'n{source}'} -> n{i};")
    return "\n".join(lines) + "\n}\n"
