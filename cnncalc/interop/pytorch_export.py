"""`cnncalc export --to pytorch`: a network as a readable, self-contained PyTorch module.

The file defines `class Model(nn.Module)`, built for the spec's input size. Submodules sit
under the spec's layer names: a dotted name (`layer1.0.conv1`) is a path of nn.ModuleDicts,
so `Model().state_dict()` has exactly the keys and shapes of `cnncalc run --save-weights`.
The forward follows the graph: one line per layer, in the spec's order; a value read by the
next layer only flows through one variable, the others are named after their layer.

Each layer class writes its own source (`Layer.torch_code`); this module lays out the file,
walks the graph and never asks which type a layer is. Nothing here imports torch.
"""

from __future__ import annotations

import keyword
import re
import unicodedata

from ..errors import EXIT_INCONSISTENT, CnnCalcError, Diagnostic, SettingError, from_setting_error
from ..graph import INPUT, Network

# attributes of every nn.Module (torch 2.x): add_module refuses them as submodule names;
# any name starting with '_' is refused too (nn.Module's private attributes)
MODULE_ATTRIBUTES = frozenset((
    "T_destination", "add_module", "apply", "bfloat16", "buffers", "call_super_init",
    "children", "compile", "cpu", "cuda", "double", "dump_patches", "eval", "extra_repr",
    "float", "forward", "get_buffer", "get_extra_state", "get_parameter", "get_submodule",
    "half", "ipu", "load_state_dict", "modules", "mtia", "named_buffers", "named_children",
    "named_modules", "named_parameters", "parameters", "register_backward_hook",
    "register_buffer", "register_forward_hook", "register_forward_pre_hook",
    "register_full_backward_hook", "register_full_backward_pre_hook",
    "register_load_state_dict_post_hook", "register_load_state_dict_pre_hook",
    "register_module", "register_parameter", "register_state_dict_post_hook",
    "register_state_dict_pre_hook", "requires_grad_", "set_extra_state", "set_submodule",
    "share_memory", "state_dict", "to", "to_empty", "train", "training", "type", "xpu",
    "zero_grad",
))
DICT_ATTRIBUTES = MODULE_ATTRIBUTES | {"clear", "items", "keys", "pop", "update", "values"}
TAKEN = {"self", "x", "h", "torch", "nn", "F", "_"}  # names the forward must not reuse
WIDTH = 100  # longest line written (the project's ruff limit is 110)


def export(network: Network, report, source: str) -> str:
    """The module's source text for the analysed network."""
    codes = []
    for node, row in zip(network.nodes, report.rows):
        try:
            own = node.shares is not None and node.layer != network.nodes[node.shares].layer
            make = node.layer.torch_shared if own else node.layer.torch_code
            codes.append(make(row.input_shapes, row.output_shape))
        except SettingError as exc:
            raise from_setting_error(exc, node.span, node.name) from None
    check_names(network, codes)
    helpers = {}
    for code in codes:
        helpers.update(code.helpers)
    init = constructor_lines(network, codes)
    forward = forward_lines(network, report, codes)
    body = "\n".join([*(helpers[name].strip("\n") + "\n\n" for name in helpers),
                      model_class(network, init, forward)])
    return header(network, report, source) + imports(body) + "\n\n" + body


def fail(node, message: str) -> CnnCalcError:
    return CnnCalcError(Diagnostic(node.span, message, layer=node.name,
                                   exit_code=EXIT_INCONSISTENT))


def check_names(network: Network, codes) -> None:
    """Every submodule's name must be one PyTorch can hold, and a layer cannot also be the
    group of another layer's name (`a` and `a.b`)."""
    leaves = {}
    for node, code in zip(network.nodes, codes):
        if code.module is None:
            continue
        parts = node.name.split(".")
        for depth, part in enumerate(parts):
            taken = MODULE_ATTRIBUTES if depth == 0 else DICT_ATTRIBUTES
            if not part or part.startswith("_") or part in taken:
                raise fail(node, f"'{part}' cannot name a PyTorch submodule (an empty name, a "
                                 "leading underscore, or an attribute of nn.Module); rename "
                                 "the layer or its group")
        leaves[node.name] = node
    for name, node in leaves.items():
        parts = name.split(".")
        for cut in range(1, len(parts)):
            group = ".".join(parts[:cut])
            if group in leaves:
                raise fail(node, f"'{group}' is both a layer and the group holding this one; "
                                 "PyTorch cannot nest modules that way: rename one of them")


def reference(parts: list[str]) -> str:
    """The expression reaching a submodule from `self`."""
    top = parts[0]
    if plain(top):
        base = f"self.{top}"
    elif top.isidentifier() and not keyword.iskeyword(top):  # Python would read its NFKC form
        base = f"self.get_submodule({top!r})"
    else:
        base = f"getattr(self, {top!r})"
    return base + "".join(f"[{part!r}]" for part in parts[1:])


def plain(name: str) -> bool:
    """A name Python reads as itself after `self.`."""
    return name.isidentifier() and not keyword.iskeyword(name) and \
        unicodedata.normalize("NFKC", name) == name


def assign(parts: list[str], value: str) -> str:
    if len(parts) == 1 and not plain(parts[0]):
        return f"self.add_module({parts[0]!r}, {value})"
    return f"{reference(parts)} = {value}"


def constructor_lines(network: Network, codes) -> list[str]:
    lines, made = [], set()
    for node, code in zip(network.nodes, codes):
        if code.module is None or node.shares is not None:  # shared: the owner's module
            continue
        parts = node.name.split(".")
        for cut in range(1, len(parts)):
            if tuple(parts[:cut]) not in made:
                made.add(tuple(parts[:cut]))
                lines.append(assign(parts[:cut], "nn.ModuleDict()"))
        lines.append(assign(parts, code.module))
        if node.frozen:  # `trainable: false`
            lines.append(f"{reference(parts)}.requires_grad_(False)")
    return lines or ["pass"]


def forward_lines(network: Network, report, codes) -> list[str]:
    """One line per layer; the value of a layer read only by the next one flows through one
    variable (`x`, or `h` while the input is still needed), the others are named."""
    readers = {i: set() for i in (INPUT, *range(len(network.nodes)))}
    for i, node in enumerate(network.nodes):
        for j in node.inputs:
            readers[j].add(i)
    last = len(network.nodes) - 1
    chain = "x" if readers[INPUT] == {0} else "h"
    names, used = {INPUT: "x"}, set(TAKEN)
    for i, node in enumerate(network.nodes):
        if not node.inputs:  # a named network input: an argument of forward
            names[i] = variable(node.name, used)
        elif readers[i] == {i + 1}:
            names[i] = chain
        elif not readers[i] and i != last:
            names[i] = "_"  # read by no later layer
        else:
            names[i] = variable(node.name, used)
    out = report.rows[-1].output_shape
    flat = flat_vectors(network, codes, readers, last, out.positions == 1)
    lines = []
    for i, (node, code) in enumerate(zip(network.nodes, codes)):
        if not node.inputs:
            continue
        inputs = [names[j] for j in node.inputs]
        owner = network.nodes[node.shares] if node.shares is not None else node
        module = reference(owner.name.split(".")) if "{m}" in code.forward else ""
        template = code.forward
        for position, j in enumerate(node.inputs):
            if j in flat:  # already [N, K]
                template = template.replace(f"{{{position}}}.flatten(1)", f"{{{position}}}")
        if i in flat:
            template = VECTOR_MAP.sub("", template)
        expression = template.format(*inputs, m=module, inputs=", ".join(inputs))
        lines.append(f"{names[i]} = {expression}")
    tail = ".flatten(1)" if out.positions == 1 and last not in flat else ""
    arguments = ", ".join(["x", *(names[i] for i, n in enumerate(network.nodes) if not n.inputs)])
    return [f"def forward(self, {arguments}):", *lines, f"return {names[last]}{tail}"]


VECTOR_MAP = re.compile(r"\[:, :(, None)+\]$")  # torch_code.as_map: [N, K] back to [N, K, 1, 1]


def flat_vectors(network: Network, codes, readers: dict, last: int, flat_output: bool) -> set:
    """Layers whose vector may stay [N, K] rather than become [N, K, 1, 1]: every later use
    flattens it anyway (an fc after an fc), possibly through layers that work on any shape
    (an activation, dropout), or returns it as the [N, K] output."""
    accepts = {}
    for i in reversed(range(len(codes))):
        ok = i != last or flat_output
        for reader in readers[i]:
            code, inputs = codes[reader], network.nodes[reader].inputs
            if code.any_shape and len(inputs) == 1:
                ok = ok and accepts[reader]
                continue
            for position, j in enumerate(inputs):
                if j == i and ("{inputs}" in code.forward or code.forward.count(
                        f"{{{position}}}") != code.forward.count(f"{{{position}}}.flatten(1)")):
                    ok = False
        accepts[i] = ok
    found = set()
    for i, (node, code) in enumerate(zip(network.nodes, codes)):
        if accepts[i] and (VECTOR_MAP.search(code.forward) or (
                code.any_shape and len(node.inputs) == 1 and node.inputs[0] in found)):
            found.add(i)
    return found


def variable(name: str, used: set) -> str:
    """A Python name for a layer's value: its name with other characters as '_', unique."""
    text = re.sub(r"\W", "_", name, flags=re.ASCII).strip("_") or "layer"
    if text[0].isdigit() or keyword.iskeyword(text):
        text = "v_" + text
    candidate, n = text, 1
    while candidate in used:
        n += 1
        candidate = f"{text}_{n}"
    used.add(candidate)
    return candidate


def one_line(text: str) -> str:
    """Text safe inside the generated docstring."""
    return " ".join(str(text).replace("\\", "/").replace('"', "'").split())


def header(network: Network, report, source: str) -> str:
    s, out = report.input_shape, report.rows[-1].output_shape
    dims = ", ".join(map(str, s.spatial))
    out_shape = f"[N, {out.c}]" if out.positions == 1 else \
        f"[N, {out.c}, {', '.join(map(str, out.spatial))}]"
    return (f'"""{one_line(network.name)}: a PyTorch module written by `cnncalc export --to '
            f"pytorch` from {one_line(source)}.\n\n"
            f"Input: a float tensor [N, {s.c}, {dims}] (channels first, as `cnncalc run "
            "--input-file`);\n"
            f"output: {out_shape}. The model is built for this input size (padding, crops and\n"
            "fully-connected sizes are fixed for it). Model().state_dict() holds exactly the\n"
            "arrays of `cnncalc run --save-weights` (keys '<layer>.weight', '<layer>.bias', ...):\n\n"
            "    arrays = numpy.load('weights.npz')\n"
            "    model.load_state_dict({k: torch.from_numpy(arrays[k]) for k in arrays.files})\n\n"
            "model.eval() gives `cnncalc run`'s results (running statistics, no dropout).\n"
            '"""\n\n')


def imports(body: str) -> str:
    lines = ["import torch"] if re.search(r"\btorch\.", body) else []
    if re.search(r"\bF[.,]", body):
        lines.append("import torch.nn.functional as F")
    lines.append("from torch import nn")
    return "\n".join(lines) + "\n"


def model_class(network: Network, init: list[str], forward: list[str]) -> str:
    lines = ["class Model(nn.Module):", f'    """{one_line(network.name)}."""', "",
             "    def __init__(self):", "        super().__init__()"]
    lines += [wrapped for line in init for wrapped in wrap(line, 8)]
    lines += ["", f"    {forward[0]}"]
    lines += [wrapped for line in forward[1:] for wrapped in wrap(line, 8)]
    return "\n".join(lines) + "\n"


def wrap(line: str, indent: int, hanging: int | None = None, start: int = 0) -> list[str]:
    """`line` at `indent`, broken inside brackets (after '(', '[' or ', ') to fit WIDTH; the
    continuation lines at `hanging` (indent + 4). `start`: brackets open before the line."""
    hanging = indent + 4 if hanging is None else hanging
    if indent + len(line) <= WIDTH:
        return [" " * indent + line]
    # the last places that fit: after ', ' between arguments or elements (depth <= 2), after
    # any ', ', or after '(' / '['
    comma = inner = bracket = None
    depth, quote, escaped, depths = start, None, False, {}
    for i, ch in enumerate(line):
        depths[i + 1] = depth + (ch in "([") - (ch in ")]")
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch in "([":
            depth += 1
            if indent + i + 1 <= WIDTH:
                bracket = i + 1
        elif ch in ")]":
            depth -= 1
        elif ch == "," and depth > 0 and indent + i + 1 <= WIDTH:
            if depth <= 2:
                comma = i + 1
            else:
                inner = i + 1
    best = comma or inner or bracket
    if best is None or not line[best:].strip():
        return [" " * indent + line]
    head, rest = line[:best].rstrip(), line[best:].strip()
    return [" " * indent + head, *wrap(rest, hanging, hanging, depths[best])]
