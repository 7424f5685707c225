"""The network as a diagram: Mermaid flowchart or Graphviz dot, from the same report."""

from __future__ import annotations

from ..graph import INPUT


def _label(row) -> str:
    params = f", {row.totals.params:,} params" if row.totals.params else ""
    return f"{row.name}: {row.type} {row.settings}".rstrip() + f"<br/>{row.output_shape}{params}"


def to_mermaid(network, report) -> str:
    lines = ["flowchart TD", f'  input["input<br/>{report.input_shape}"]']
    for i, (node, row) in enumerate(zip(network.nodes, report.rows)):
        text = _label(row).replace('"', "'")
        lines.append(f'  n{i}["{text}"]')
        for source in node.inputs:
            lines.append(f"  {'input' if source == INPUT else f'n{source}'} --> n{i}")
    return "\n".join(lines) + "\n"


def to_dot(network, report) -> str:
    lines = ["digraph cnncalc {", "  rankdir=TB;", "  node [shape=box, fontname=Helvetica];",
             f'  input [label="input\\n{report.input_shape}"];']
    for i, (node, row) in enumerate(zip(network.nodes, report.rows)):
        text = _label(row).replace("<br/>", "\\n").replace('"', "'")
        lines.append(f'  n{i} [label="{text}"];')
        for source in node.inputs:
            lines.append(f"  {'input' if source == INPUT else f'n{source}'} -> n{i};")
    return "\n".join(lines) + "\n}\n"
