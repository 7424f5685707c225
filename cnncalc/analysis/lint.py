"""Design lints: the notes' rules of thumb, each with an id, a one-line reason and its source.

A rule is a function of the network and its report returning (node index, message) pairs;
RULES lists them with the advice they come from. `window-tiling` and `rf-misaligned` are found
by the analysis itself and share the same ids, ignore lists and --strict.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from math import prod

from ..errors import Diagnostic, Span
from ..graph import INPUT, Network
from ..language.lint_rules import RULE_TEXT
from ..layers.geometry import number
from .report import Report



@dataclass(frozen=True)
class Rule:
    id: str
    reason: str
    source: str
    check: Callable[[Network, Report], list[tuple[int, str]]] | None  # None: found by analysis


def input_no_channels(network, report):
    """`input: [28, 28]`: a square written with two numbers is read as 28 positions of 28
    channels; an image of one channel needs [28, 28, 1]."""
    shape = report.input_shape
    if shape.rank != 1 or shape.c != shape.spatial[0] or shape.c <= 4:
        return []
    n = shape.c
    return [(INPUT, f"input [{n}, {n}] is a 1-D signal of length {n} with {n} channels; a "
                    f"{n}x{n} image with one channel is [{n}, {n}, 1]")]


def input_divisible(network, report):
    shape = report.input_shape
    if not any(side % 4 for side in shape.spatial):
        return []
    if shape.rank == 2:  # the notes' image sizes
        advice = "common sizes are 32, 64, 96, 224, 384 and 512"
    else:  # a signal or a volume: the nearest sizes that are
        down = "x".join(str(max(4, side - side % 4)) for side in shape.spatial)
        up = "x".join(str(side + -side % 4) for side in shape.spatial)
        advice = f"the nearest that are: {down} or {up}"
    return [(INPUT, f"input {shape.spatial_text()} is not divisible by 2 twice; {advice}")]


def conv_keeps_size(network, report):
    out = []
    for i, (node, row) in enumerate(zip(network.nodes, report.rows)):
        padding = node.layer.size_keeping(row.input_shapes[0])
        if padding is None or padding[0] == padding[1]:
            continue
        want = "/".join(dict.fromkeys(str(k / 2).removesuffix(".0") for k in padding[1]))
        out.append((i, f"stride-1 conv changes the size ({row.input_shapes[0].spatial_text()} -> "
                       f"{row.output_shape.spatial_text()}); P = (F-1)/2 = {want} keeps it"))
    return out


def large_filter(network, report):
    out, seen_filter = [], False
    for i, (node, row) in enumerate(zip(network.nodes, report.rows)):
        x = row.input_shapes[0]
        kernel = node.layer.at(x.rank).filter_kernel(x)
        if kernel is None:
            continue
        if seen_filter and prod(kernel) > 9 and max(kernel) > 3:
            out.append((i, f"{'x'.join(map(str, kernel))} filter after the first layer; a stack "
                           "of 3x3 convs sees as far with fewer parameters and more "
                           "non-linearities"))
        seen_filter = True
    return out


def pool_window(network, report):
    out = []
    for i, (node, row) in enumerate(zip(network.nodes, report.rows)):
        x = row.input_shapes[0]
        found = node.layer.pool_window(x)
        if found is None:
            continue
        kernel, stride = found
        if kernel == x.spatial:
            continue  # a window over the whole input is global pooling
        if max(kernel) > 3:
            out.append((i, f"{'x'.join(map(str, kernel))} pooling window; windows above 3 "
                           "discard too much (F=2, S=2 or F=3, S=2 are usual)"))
        elif max(stride) > max(kernel):
            out.append((i, f"pooling stride {max(stride)} above its window {max(kernel)} "
                           "skips inputs"))
    return out


def fc_dominates(network, report):
    total = report.totals.params
    out = []
    for i, (node, row) in enumerate(zip(network.nodes, report.rows)):
        if node.layer.dense and total and row.totals.params * 2 > total:
            share = row.totals.params / total
            out.append((i, f"this fully-connected layer holds {row.totals.params:,} of the "
                           f"{total:,} parameters ({share:.0%})"))
    return out


def rf_exceeds_input(network, report):
    shape = report.input_shape
    for i, (node, row) in enumerate(zip(network.nodes, report.rows)):
        field = row.field
        if field is None or not node.layer.local_window(row.input_shapes[0]):
            continue  # fc, flatten and global pooling see the whole input by design
        if any(r > n for r, n in zip(field.size, shape.spatial)):
            seen = "x".join(str(number(v)) for v in field.size)
            return [(i, f"from here on, units see more than the input ({seen} > "
                        f"{shape.spatial_text()}); the excess is padding")]
    return []


def fc_large_input(network, report):
    out = []
    for i, (node, row) in enumerate(zip(network.nodes, report.rows)):
        x = row.input_shapes[0]
        if node.layer.dense and x.positions > 7 * 7:
            out.append((i, f"fully-connected layer reads a {x.spatial_text()} map; pool or "
                           "stride down to 7x7 or less first"))
    return out


def repeat_one_copy(network, report):
    return [(i, f"'inputs' names the repeated item{'s' * (len(node.one_copy) > 1)} "
                f"{', '.join(repr(n) for n in node.one_copy)}: that is its last copy only; "
                f"write '{node.one_copy[0]}.*' for every copy, or '{node.one_copy[0]}.N' for one")
            for i, node in enumerate(network.nodes) if node.one_copy]


CHECKS = {"input-no-channels": input_no_channels, "input-divisible": input_divisible,
          "conv-keeps-size": conv_keeps_size,
          "large-filter": large_filter, "pool-window": pool_window, "fc-dominates": fc_dominates,
          "rf-exceeds-input": rf_exceeds_input, "repeat-one-copy": repeat_one_copy,
          "fc-large-input": fc_large_input}
# every rule the spec language declares (language/lint_rules.py); the rest are found by analysis
RULES = {id: Rule(id, reason, source, CHECKS.get(id)) for id, (reason, source) in RULE_TEXT.items()}


def check(network: Network, report: Report, ignore: set[str] = frozenset()) -> list[Diagnostic]:
    """Every warning for the network, minus the ignored rules, in layer order."""
    found = [w for w in report.warnings if w.rule not in ignore]
    for rule in RULES.values():
        if rule.check is None or rule.id in ignore:
            continue
        for index, message in rule.check(network, report):
            node = network.nodes[index] if index != INPUT else None
            span = node.span if node else (network.input_span or Span(network.file))
            found.append(Diagnostic(span, message, severity="warning",
                                    layer=node.name if node else None, rule=rule.id))
    return sorted(found, key=lambda d: (d.span.line, d.span.column))
