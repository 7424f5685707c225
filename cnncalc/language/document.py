"""Turn a parsed YAML document into a Network: named layer nodes wired to their inputs."""

from __future__ import annotations

from pathlib import Path

from ..declare import did_you_mean
from ..errors import Span, fail, keys_text, name, show
from ..graph import INPUT, Network
from ..layers.shape import Shape
from . import yamlsource
from .arguments import REQUIRED_ARG, collect_names
from .include import blocks_with_includes
from .expand import Expander, Scope
from .structure import Document, Extension, InputShape, checked
from .yamlsource import YMap


def parse_input(value, span: Span) -> Shape:
    """[H, W, C] or "HxWxC" (the spec's `input:` or a command's --input)."""
    return checked_value(InputShape(), value, span, "input")


def checked_value(kind, value, span: Span, key: str):
    from ..errors import SettingError, from_setting_error
    try:
        return kind.check(value, key)
    except SettingError as exc:
        raise from_setting_error(exc, span, None) from None


def spec_args(doc: YMap, overrides: dict | None) -> dict | None:
    """Top-level `args:` with their defaults, replaced by `overrides` (from --arg)."""
    declared = doc.get("args")
    if declared is None and not overrides:
        return None
    args = dict(declared or {})
    for key, value in (overrides or {}).items():
        if key not in args:
            raise fail(Span("--arg"), f"the spec has no argument '{name(key)}'"
                       f"{did_you_mean(key, args)} (arguments: {', '.join(map(name, args)) or 'none'})",
                       f"{name(key)}={show(value)}")
        args[key] = value
    for key, value in args.items():
        if value is None or value is REQUIRED_ARG:
            raise fail(doc.value_span("args"), f"spec argument '{name(key)}' has no value")
    return args


def parse_document(doc, file: str, args: dict | None = None, path: Path | None = None,
                   input_override: Shape | None = None) -> Network:
    """`path`: the spec's own file, which `include:` paths are relative to; `input_override`
    (--input) is the input that expressions reading shapes see."""
    if not isinstance(doc, YMap):
        span = getattr(doc, "span", Span(file, 1, 1))
        raise fail(span, "a spec must be a mapping with 'input' and 'layers'", show(doc))
    if "extends" in doc:
        return extended(doc, file, args, path, input_override)
    values = checked(Document, doc)
    name = values.name or Path(file).stem
    expander = Expander(file, blocks_with_includes(doc, file, path),
                        collect_names(doc["layers"], set()))
    input_shape = network_inputs(doc, values, expander)
    expander.input_shape = input_override or input_shape
    scope = expander.scope_with_args(Scope("", (), None, ()), spec_args(doc, args))
    expander.spec_args, expander.spec_sizes = scope.args, scope.sizes
    expander.sequence(doc["layers"], INPUT, scope, "layers", doc.value_span("layers"))
    if not any(node.inputs for node in expander.nodes):  # only inputs are left
        raise fail(doc.key_span("layers"), "the network has no layers (every layer is "
                   "switched off by 'when:')", inconsistent=True)
    lint, budget = values.lint, values.budget
    if budget is not None:
        from ..declare import replace
        budget = replace(budget, span=doc.value_span("budget"))
    return Network(name, input_override or input_shape, expander.nodes, file,
                   doc.value_span("input" if values.input else "inputs"),
                   expander.group_kinds, lint.ignore if lint else frozenset(), budget,
                   values.published, expander.input_name)


MAX_EXTENDS = 8  # specs one `extends:` chain may pass through


def extended(doc: YMap, file: str, args: dict | None, path: Path | None,
             input_override: Shape | None, depth: int = 0) -> Network:
    """A spec with `extends:`: that spec, with this one's arguments (then --arg), name and
    input. The arguments must be that spec's: an unknown one is an error at its key."""
    from .. import zoo
    values = checked(Extension, doc)
    span = doc.value_span("extends")
    if depth >= MAX_EXTENDS:
        raise fail(span, f"more than {MAX_EXTENDS} specs extend each other; refused",
                   show(values.extends))
    base = (path.parent if path is not None else Path.cwd()) / values.extends
    if not base.is_file():
        base = zoo.path_of(values.extends)
        if base is None:
            raise fail(span, "'extends' names no file and no built-in network"
                       + zoo.suggestion(values.extends), show(values.extends))
    if path is not None and base.resolve() == path.resolve():
        raise fail(span, "a spec cannot extend itself", show(values.extends))
    shown = base.name if path is None or zoo.path_of(base.stem) == base else str(base)
    base_doc = yamlsource.read_file(base, shown)
    own = dict(values.args or {})
    if isinstance(base_doc, YMap) and "extends" not in base_doc:
        known = base_doc.get("args") or {}
        for key in own:
            if key not in known:
                raise fail(doc["args"].key_span(key), f"'{name(values.extends)}' has no argument "
                           f"'{name(key)}'{did_you_mean(str(key), known)} (arguments: "
                           f"{', '.join(map(name, known)) or 'none'})", f"{name(key)}: "
                           f"{show(own[key])}")
    merged = {**own, **(args or {})}
    override = input_override or values.input
    if isinstance(base_doc, YMap) and "extends" in base_doc:
        network = extended(base_doc, shown, merged, base, override, depth + 1)
    else:
        network = parse_document(base_doc, shown, merged or None, base, override)
    network.name = values.name or network.name
    network.file = file
    if values.published is not None:
        network.published = values.published
    if values.budget is not None:
        from ..declare import replace
        network.budget = replace(values.budget, span=doc.value_span("budget"))
    return network


def network_inputs(doc: YMap, values, expander: Expander) -> Shape:
    """`input:`, or the named `inputs:` (the first is the network's input, the others nodes
    that read nothing); returns the first input's shape."""
    if values.input is not None and values.inputs is not None:
        raise fail(doc.key_span("inputs"), "a spec has 'input' or 'inputs', not both",
                   "keys input and inputs")
    if values.inputs is None:
        if values.input is None:
            raise fail(doc.span, "the spec has no 'input' (or 'inputs': several named inputs)",
                       keys_text(doc))
        return values.input
    named = doc["inputs"]
    for key, shape in values.inputs.items():
        expander.add_input(key, shape, named.key_span(key))
    return next(iter(values.inputs.values()))


def rule_ids(text: str, span: Span) -> frozenset:
    """--ignore rule ids, checked against the known rules."""
    from .structure import Lint
    return checked_value(Lint._fields["ignore"].kind, text, span, "--ignore")


def load(path: str | Path, display: str | None = None, args: dict | None = None,
         input_override: Shape | None = None) -> Network:
    """Read, parse and build a network from a spec file."""
    name = display or str(path)
    return parse_document(yamlsource.read_file(path, name), name, args, Path(path),
                          input_override)


def loads(text: str, file: str = "<string>", args: dict | None = None) -> Network:
    return parse_document(yamlsource.load_text(text, file), file, args)
