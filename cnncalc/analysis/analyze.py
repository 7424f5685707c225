"""Propagate shapes through a network and count what every layer costs."""

from __future__ import annotations

from ..errors import EXIT_INCONSISTENT, CnnCalcError, Diagnostic, SettingError, from_setting_error
from ..graph import INPUT, Network
from .receptive import propagate
from .report import Report, Row, Totals


def channels_first_hint(shape) -> str:
    """'[3, 32, 32]' is a channels-first habit: say that inputs are height, width, channels
    ([1, 32000]: length, channels; [3, 16, 112, 112]: depth, height, width, channels)."""
    first, channels = shape.spatial[0], shape.c
    if first in (1, 2, 3, 4) and channels > 4 and \
            (shape.rank == 1 or (first != 2 and first < min(shape.spatial[1:]))):
        corrected = [*shape.spatial[1:], channels, first]
        return (f"; note: inputs are [{', '.join(shape.axis_names())}, channels]: "
                f"{shape.as_list()} looks channels-first, did you mean {corrected}?")
    return ""


def weights_text(shapes: dict) -> str:
    return ", ".join(f"{key} {'x'.join(map(str, shape))}" for key, shape in shapes.items())


def check_shared(node, ins, owner, owner_ins) -> bool:
    """A layer may use another's weights only if it needs arrays of the very same shapes.
    False: nothing to share (a layer without weights inside a group that shares another's)."""
    theirs = owner.layer.weight_shapes(owner_ins[0])
    mine = node.layer.weight_shapes(ins[0])
    where = node.span_of("shares")
    if not theirs and not mine and "shares" not in node.key_spans:
        return False
    if not theirs:
        raise CnnCalcError(Diagnostic(where, f"'{owner.name}' has no weights to share",
                                      received=f"shares: {owner.name}", layer=node.name,
                                      exit_code=EXIT_INCONSISTENT))
    if mine != theirs:
        raise CnnCalcError(Diagnostic(
            where, f"cannot use the weights of '{owner.name}' ({weights_text(theirs)}): this "
                   f"layer on {ins[0]} needs {weights_text(mine) or 'none'}",
            received=f"shares: {owner.name}", layer=node.name, exit_code=EXIT_INCONSISTENT))
    return True


def analyze(network: Network) -> Report:
    """Shapes, counts and warnings for every node; raises CnnCalcError at the first impossibility."""
    shapes = {INPUT: network.input_shape}
    rows, warnings = [], []
    for index, node in enumerate(network.nodes):
        ins = tuple(shapes[i] for i in node.inputs)
        layer = node.layer
        try:
            out = layer.infer(ins)
            advice = layer.warnings(ins)
            described = layer.described(ins)
        except SettingError as exc:
            exc.inconsistent = True
            if not exc.has_received:  # a shape rule's refusal: what it was given
                exc.received = ("input " if len(ins) == 1 else "inputs ") + \
                    ", ".join(map(str, ins))
                exc.has_received = True
            exc.message += channels_first_hint(network.input_shape)
            if node.called:  # a block called many times: say which call
                exc.message += f" ({'; '.join(node.called)})"
            raise from_setting_error(exc, node.span_of(exc.key), node.name) from None
        if min(out.spatial, default=1) < 1 or out.c < 1:
            raise CnnCalcError(Diagnostic(node.span, f"output shape {out} is empty",
                                          layer=node.name, exit_code=EXIT_INCONSISTENT))
        shapes[index] = out
        # a named network input (no inputs): like the first input, not a layer's output
        totals = Totals.of(layer.cost(ins, out), out.size if node.inputs else 0, node.frozen)
        settings, notes = described, layer.notes(ins, out)
        owner = network.nodes[node.shares] if node.shares is not None else None
        uses = None  # the layer whose weights this one uses
        if owner is not None and check_shared(node, ins, owner, rows[node.shares].input_shapes):
            uses = owner.name
            totals = totals.without_params()  # another layer's weights: they count there
            settings = f"{settings} shares {owner.name}".strip()
            notes = [*notes, f"uses the weights of '{owner.name}' (its parameters count there)"]
        rows.append(Row(index + 1, node.name, layer.type_name, settings, ins or (out,), out,
                        totals, node.span, notes=notes, tiles=not advice,
                        groups=node.groups, shares=uses, family=layer.family,
                        inputs=tuple("input" if i == INPUT else network.nodes[i].name
                                     for i in node.inputs)))
        warnings += [Diagnostic(node.span, text, severity="warning", layer=node.name,
                                rule="window-tiling") for text in advice]
    named = {network.input_name: network.input_shape}
    named.update((n.name, row.output_shape) for n, row in zip(network.nodes, rows) if not n.inputs)
    report = Report(network.name, network.file, network.input_shape, rows, warnings,
                    dict(network.group_kinds), named)
    fields, misaligned = propagate(network, report)
    for row, field in zip(rows, fields):
        row.field = field
    for index, text in misaligned:
        node = network.nodes[index]
        warnings.append(Diagnostic(node.span, text, severity="warning", layer=node.name,
                                   rule="rf-misaligned"))
    return report


def sweep(network: Network, shapes, extend=None) -> list[dict]:
    """Totals at each input size (`--input 224,320,384`): {input, output_shape, counts...};
    `extend(network, report)` adds to each report (training.with_training: the backward's)."""
    rows = []
    for shape in shapes:
        network.input_shape = shape
        report = analyze(network)
        if extend is not None:
            extend(network, report)
        rows.append({"input": shape.as_list(), "output_shape": report.output_shape.as_list(),
                     **report.totals.as_dict(),
                     **(report.training.totals if report.training is not None else {})})
    return rows
