"""Expand a spec's structures into a flat graph of nodes.

Items of a layer list are: a layer (a type name or a mapping with `type`), a nested list
(`layers:`), a block call (`block:`), a `residual:` or `branches:`. Any item may carry
`repeat: N` and `name:`; layers may carry `inputs: [...]` naming earlier layers. Blocks are
expanded by substituting `$arg` values (language/arguments.py); a string with a `$` in it
is an expression, evaluated by cnncalc's own small evaluator (language/expr.py), never by
Python's `eval`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from ..declare import did_you_mean
from ..errors import CnnCalcError, SettingError, Span, fail, from_setting_error, keys_text, show
from ..errors import name as _name
from ..graph import INPUT, Node
from ..layers import REGISTRY, Layer
from .copies import CopiesAndShapes
from .structure import (
    Switches,
    BlockCall,
    Branches,
    Group,
    Item,
    Residual,
    ResidualBody,
    Sharing,
    checked,
    declared_keys,
)
from .arguments import (

    MAX_SUBSTITUTED,
    REPEAT_HEAD,
    REQUIRED_ARG,
    Pending,
    with_values,
    copy_map,
    DoneStr,
    frozen_args,
    named,
    plain,
    substitute,
)
from .yamlsource import YList, YMap

STRUCTURE_KEYS = ("layers", "block", "residual", "branches")
COMMON_KEYS = ("type", "name")  # keys any layer may carry besides its own settings
# Limits of the expansion, each refused with one line when passed (docs/spec.md states them).
# Measured (`validate` of `{type: relu, repeat: 200000}`): 12 s and 0.28 GB of memory; the
# deepest published networks have a few thousand layers.
MAX_NODES = 200_000  # layers after expansion
MAX_INPUT_REFS = 2_000_000  # names listed in `inputs:`, summed over every layer


class Scope(NamedTuple):
    prefix: str  # full name of the enclosing group ("" at top level)
    groups: tuple  # full names of all enclosing groups
    args: dict | None  # block arguments in force (values frozen: see `frozen_args`)
    stack: tuple  # block names being expanded (recursion check)
    sizes: dict | None = None  # argument name -> values it holds (for MAX_SUBSTITUTED)
    frozen: bool = False  # inside a `trainable: false` item: its parameters are not trained
    share: tuple | None = None  # `shares:` on a group: (its owner, the group, where written)
    trainable_at: Span | None = None  # where the innermost `trainable:` in force is written


@dataclass
class Expander(CopiesAndShapes):
    file: str
    blocks: dict
    reserved: set  # every explicit name in the document, never generated
    nodes: list = field(default_factory=list)
    index: dict = field(default_factory=dict)  # full name -> node index (groups too)
    counters: dict = field(default_factory=dict)
    calls: list = field(default_factory=list)  # block calls being expanded, outermost first
    group_kinds: dict = field(default_factory=dict)  # group full name -> block name or kind
    substituted: int = 0  # values written by substitution so far
    input_refs: int = 0  # names read in `inputs:` so far
    input_name: str = "input"  # the first of the named `inputs:` (also reached as `input`)
    repeats: dict = field(default_factory=dict)  # repeated group's full name -> copies
    spec_args: dict | None = None  # the spec's `args:`, read in blocks too (theirs win)
    spec_sizes: dict | None = None
    input_shape: object = None  # the network's input Shape (for `$in_channels`, `$in_size`)
    shapes: dict = field(default_factory=dict)  # node index -> output Shape, as far as read
    switched_off: set = field(default_factory=set)  # names of items left out by `when:`

    def add_input(self, name: str, shape, span: Span) -> None:
        """A named network input: the first is the network's input, each other one a node
        that reads nothing (layers/source.py)."""
        from ..layers.source import NetworkInput
        if self.input_name == "input":
            self.input_name = name
            self.index[name] = INPUT
            return
        self.add_node(Node(name, NetworkInput(shape), (), span, {}, f"inputs.{name}"))

    def spend(self, values: int, span: Span, path: str) -> None:
        self.substituted += values
        if self.substituted > MAX_SUBSTITUTED:
            raise fail(span, f"block arguments expand to more than {MAX_SUBSTITUTED:,} values; "
                             "refused", path=path)

    def scope_with_args(self, scope: Scope, args: dict | None) -> Scope:
        frozen_values, sizes = frozen_args(args)
        return scope._replace(args=frozen_values, sizes=sizes)

    # --- names -----------------------------------------------------------------------------
    def full(self, scope: Scope, local: str) -> str:
        return f"{scope.prefix}.{local}" if scope.prefix else local

    def generate(self, scope: Scope, base: str) -> str:
        n = self.counters.get((scope.prefix, base), 0) + 1
        while f"{base}{n}" in self.reserved or self.full(scope, f"{base}{n}") in self.index:
            n += 1
        self.counters[(scope.prefix, base)] = n
        return f"{base}{n}"

    def claim(self, scope: Scope, local, span: Span, base: str, path: str) -> str:
        """The full name of a new node or group: the given one, or a generated one."""
        if local is None:
            return self.full(scope, self.generate(scope, base))
        if not isinstance(local, str) or not local.strip() or "." in local:
            raise fail(span, "'name' must be a non-empty string without '.'", show(local),
                       path=path)
        if local == "input":
            raise fail(span, "'input' is reserved: in 'inputs' it names the network's input; "
                       "choose another name", show(local), path=path)
        name = self.full(scope, local)
        if name in self.index:
            first = self.index[name]
            where = f" (first used at line {self.nodes[first].span.line})" if first >= 0 else ""
            raise fail(span, f"duplicate layer name '{_name(name, 120)}'{where}", show(local),
                       path=path)
        return name

    def resolve(self, ref, scope: Scope, span: Span, name: str, key: str = "inputs",
                where: str | None = None) -> int:
        """An `inputs:` name -> node index, searching the enclosing groups outwards. Errors
        name the layer `name`, or the place `where` for an unnamed item (layers[0])."""
        if where is not None:
            try:
                return self.resolve(ref, scope, span, name, key)
            except CnnCalcError as exc:
                raise fail(exc.diagnostic.span, exc.diagnostic.message,
                           exc.diagnostic.received, path=where) from None
        if ref in ("input", self.input_name):
            return INPUT
        if not isinstance(ref, str):
            raise fail(span, f"'{key}' must list layer names", show(ref), layer=name)
        for prefix in self.prefixes(scope):
            found = self.index.get(prefix + ref)
            if found is not None and found >= 0:
                return found
        for prefix in self.prefixes(scope):
            if prefix + ref in self.switched_off:
                raise fail(span, f"'{key}' names '{_name(ref, 120)}', which is switched off "
                           "by its 'when:'", show(ref), layer=name)
        known = [self.input_name] + [n.name for n in self.nodes]
        raise fail(span, f"'{key}' names no earlier layer{did_you_mean(ref, known)} "
                         "(a later layer or a cycle cannot be an input)", show(ref), layer=name)

    def prefixes(self, scope: Scope) -> list:
        return [g + "." for g in reversed(scope.groups)] + [""]

    # --- structure ---------------------------------------------------------------------------
    def sequence(self, items, tail: int, scope: Scope, path: str, at: Span | None = None) -> int:
        """Expand a layer list; `at` is where it is written (for a scalar, which has no span)."""
        if not isinstance(items, YList) or not items:
            span = getattr(items, "span", at or Span(self.file))
            raise fail(span, "a layer list must be a non-empty list", show(items), path=path)
        for i, item in enumerate(items):
            tail = self.item(item, items.item_span(i), tail, scope, f"{path}[{i}]")
        return tail

    def named(self, item, scope: Scope, path: str) -> str:
        """How errors about an item call it: "layer 'stem'" when it has a name, else its place
        in the spec (layers[0])."""
        label = item.get("name") if isinstance(item, YMap) else None
        if isinstance(label, str) and label.strip():
            group = "repeat" in item or any(k in item for k in STRUCTURE_KEYS)
            return f"{'group' if group else 'layer'} '{_name(self.full(scope, label), 120)}'"
        return path

    def item(self, item, span: Span, tail: int, scope: Scope, path: str) -> int:
        item = substitute(item, scope.args, span, path, self, scope.sizes)
        if isinstance(item, Pending):  # a repeat: its head now, each copy with its own $i
            head = copy_map(item)
            args, sizes = item.bound
            for key in REPEAT_HEAD:
                if key == "name" and key in item and per_copy(item[key]):
                    continue  # a name template names each copy: computed with its index
                if key == "name" and key in item:
                    head[key] = named(item[key], args, item.value_span(key), path, self, sizes)
                elif key in item:
                    head[key] = substitute(item[key], args, item.value_span(key), path, self,
                                           sizes)
            item = head
        if isinstance(item, YMap) and ("when" in item or "trainable" in item):
            switches = checked(Switches, copy_map(item, keep=("when", "trainable")),
                               self.named(item, scope, path))
            if not switches.when:  # an optional part left out (`when: $use_se`)
                if isinstance(item.get("name"), str):
                    self.switched_off.add(self.full(scope, item["name"]))
                return tail
            at = item.value_span("trainable") if "trainable" in item else scope.trainable_at
            item = copy_map(item, drop=("when", "trainable"))
            scope = scope._replace(frozen=scope.frozen or not switches.trainable,
                                   trainable_at=at)
        if isinstance(item, YMap) and "repeat" in item:
            return self.repeated(item, span, tail, scope, path)
        if isinstance(item, YMap):
            kinds = [k for k in STRUCTURE_KEYS if k in item]
            if "type" in item and kinds:
                raise fail(item.key_span(kinds[0]), f"a layer with 'type' cannot also have "
                                                   f"'{kinds[0]}'", keys_text(item), path=path)
            if len(kinds) > 1:
                raise fail(item.key_span(kinds[1]), f"an item takes one of {', '.join(STRUCTURE_KEYS)}"
                                                   f"; this one has {' and '.join(kinds)}",
                           keys_text(item), path=path)
            if kinds and "shares" in item:  # every layer inside uses its counterpart's weights
                scope = scope._replace(share=(self.shared_group(item, scope, path), None,
                                              item.value_span("shares")))
                item = copy_map(item, drop=("shares",))
            if kinds and "inputs" in item:  # the structure reads a named layer, not the last
                ref = checked(Item, copy_map(item, keep=("inputs",)), self.named(item, scope, path)).inputs
                tail = self.resolve(ref, scope, item.value_span("inputs"), path)
                item = copy_map(item, drop=("inputs",))
            if kinds:
                return getattr(self, kinds[0])(item, span, tail, scope, path)
        return self.layer(item, span, tail, scope, path)

    def repeated(self, item: YMap, span, tail, scope, path) -> int:
        count = checked(Item, copy_map(item, keep=("repeat",)), self.named(item, scope, path)).repeat
        if count > MAX_NODES - len(self.nodes):  # every copy adds at least one layer
            raise fail(item.value_span("repeat"), f"the network expands to more than "
                       f"{MAX_NODES:,} layers; refused", show(count), path=path)
        index = checked(Item, copy_map(item, keep=("index",)), path).index
        template = per_copy(item.get("name"))
        if isinstance(item, Pending):  # each copy substituted with its index `$i` (from 0)
            args, sizes = item.bound
            body = plain(item, drop=("repeat", "index") if template else ("repeat", "name", "index"))
            if "index" not in item and args is not None and dict.__contains__(args, index):
                index = None  # an argument already called `i` keeps its meaning (older specs)

            def copy_of(i):
                if index is None:
                    return substitute(body, args, span, path, self, sizes)
                return substitute(body, with_values(args, **{index: i}), span, path, self,
                                  {**(sizes or {}), index: 1})
        else:  # a value given whole (a spec argument): copies alike
            body = copy_map(item, drop=("repeat", "name", "index"))

            def copy_of(i):
                return body
        if "name" not in item or template:  # copies without a group (each named by the template)
            for i in range(count):
                tail = self.item(copy_of(i), span, tail, scope, path)
            return tail
        group = self.open_group(scope, item.get("name"), item.value_span("name"), "", path)
        self.repeats[group.prefix] = count
        for i in range(count):  # copies named X.1 ... X.N
            copy = copy_map(copy_of(i))
            copy["name"] = str(i + 1)
            tail = self.item(copy, span, tail, group, path)
        return self.close(group, tail)

    def close(self, group: Scope, tail: int) -> int:
        """A group's name, used in `inputs:`, stands for its last layer."""
        self.index[group.prefix] = tail
        return tail

    def open_group(self, scope: Scope, local, span, base: str, path: str,
                   kind: str | None = None) -> Scope:
        name = self.claim(scope, local, span, base, path)
        self.index[name] = -1  # a group: a name, not a node
        self.group_kinds[name] = kind or base or "repeat"
        share = scope.share
        if share is not None and share[1] is None:  # the group `shares:` was written on
            share = (share[0], name, share[2])
        return Scope(name, (*scope.groups, name), scope.args, scope.stack, scope.sizes,
                     scope.frozen, share)

    def layers(self, item: YMap, span, tail, scope, path) -> int:
        checked(Group, item, path)
        group = self.open_group(scope, item.get("name"), item.value_span("name"), "group", path)
        return self.close(group, self.sequence(item["layers"], tail, group, f"{path}.layers",
                                               item.value_span("layers")))

    def block(self, item: YMap, span, tail, scope, path) -> int:
        name = checked(BlockCall, copy_map(item, keep=("block",)), path).block
        if name not in self.blocks:
            raise fail(item.value_span("block"), f"unknown block{did_you_mean(str(name), self.blocks)}"
                       f" (blocks: {', '.join(map(_name, self.blocks)) or 'none defined'})", show(name),
                       path=path)
        block = self.blocks[name]
        if name in scope.stack:
            chain = " -> ".join((*scope.stack[scope.stack.index(name):], name))
            raise fail(item.value_span("block"), f"block '{_name(name)}' uses itself ({chain})",
                       f"block: {_name(name)}", path=path)
        args = {}
        for key, value in item.items():
            if key in declared_keys(BlockCall):
                continue
            if key not in block.args:
                raise fail(item.key_span(key), f"block '{_name(name)}' has no argument '{_name(key)}'"
                           f"{did_you_mean(str(key), block.args)} (arguments: "
                           f"{', '.join(map(_name, block.args)) or 'none'})",
                           f"{_name(key)}: {show(value)}", path=path)
            args[key] = value
        for key, default in block.args.items():
            if key not in args:
                if default is REQUIRED_ARG:
                    raise fail(span, f"block '{_name(name)}' needs argument '{_name(key)}'",
                               keys_text(item), path=path)
                args[key] = default
        checked(BlockCall, item, path, open_keys=tuple(block.args))
        group = self.open_group(scope, item.get("name"), item.value_span("name"), name, path)
        inner = self.scope_with_args(Scope(group.prefix, group.groups, None, (*scope.stack, name),
                                           frozen=scope.frozen, share=group.share),
                                     args)
        inner = inner._replace(args=with_values({**(self.spec_args or {}), **inner.args}),
                               sizes={**(self.spec_sizes or {}), **(inner.sizes or {})})
        inner.args.shape = lambda entry=tail: self.shape_of(entry)
        inner.args.entry = lambda entry=tail: (self.input_name if entry == INPUT else
                                               self.nodes[entry].name)
        where = f"in block '{_name(name)}' called at line {span.line}"
        self.calls.append(where)  # nodes made inside remember the call (analysis errors)
        try:
            end = self.sequence(block.layers, tail, inner, f"blocks.{name}.layers", block.span)
        except CnnCalcError as exc:  # the same block may be called many times: say which call
            d = exc.diagnostic
            raise CnnCalcError(d._replace(message=f"{d.message} ({where})")) from None
        finally:
            self.calls.pop()
        return self.close(group, end)

    def residual(self, item: YMap, span, tail, scope, path) -> int:
        add = checked(Residual, item, path).add
        body = item["residual"]
        shortcut = None
        shortcut_first = False  # the spec writes `shortcut:` before `body:`: it runs first
        # (torchvision's RegNet: `self.proj(x) + self.f(x)`), as Python evaluates it
        body_span = short_span = item.value_span("residual")
        if isinstance(body, YMap):
            checked(ResidualBody, body, path + ".residual")
            shortcut = body.get("shortcut")
            keys = list(body)
            shortcut_first = "shortcut" in keys and keys.index("shortcut") < keys.index("body")
            body_span, short_span = body.value_span("body"), body.value_span("shortcut")
            body = body["body"]
        group = self.open_group(scope, item.get("name"), item.value_span("name"), "residual",
                                path)
        if not add:  # the body alone (a block whose shortcut exists only on some shapes)
            return self.close(group, self.sequence(body, tail, group, f"{path}.residual.body",
                                                   body_span))

        def run_shortcut() -> int:
            if not shortcut:
                return tail
            inner = self.open_group(group, "shortcut", span, "", path, "shortcut")
            made = len(self.nodes)
            end = self.close(inner, self.sequence(shortcut, tail, inner,
                                                  f"{path}.residual.shortcut", short_span))
            if len(self.nodes) == made:  # every item left out (`when:`): the identity
                del self.group_kinds[inner.prefix], self.index[inner.prefix]
            return end
        short_end = run_shortcut() if shortcut_first else None
        end = self.sequence(body, tail, group, f"{path}.residual.body", body_span)
        if short_end is None:
            short_end = run_shortcut()
        return self.close(group, self.merge_node("add", (end, short_end), span, group, path))

    def branches(self, item: YMap, span, tail, scope, path) -> int:
        merge = checked(Branches, item, path).merge
        lists = item["branches"]
        if len(lists) < 2:
            raise fail(item.value_span("branches"), "'branches' must be a list of two or more "
                       "layer lists", show(lists), path=path)
        group = self.open_group(scope, item.get("name"), item.value_span("name"), "branches",
                                path)
        ends = []
        for i, branch in enumerate(lists):
            if isinstance(branch, YList) and not branch:
                ends.append(tail)  # an empty branch passes its input through (DenseNet)
                continue
            inner = self.open_group(group, f"b{i + 1}", lists.item_span(i), "", path, "branch")
            ends.append(self.close(inner, self.sequence(branch, tail, inner,
                                                        f"{path}.branches[{i}]",
                                                        lists.item_span(i))))
        return self.close(group, self.merge_node(merge, tuple(ends), span, group, path))

    def merge_node(self, type_name, inputs, span, scope, path) -> int:
        name = self.claim(scope, type_name, span, type_name, path)
        return self.add_node(Node(name, REGISTRY[type_name](), inputs, span, {}, path,
                                  scope.groups))

    def shared(self, item: YMap, scope: Scope, path: str) -> int | None:
        """The node whose weights a layer with `shares:` uses (the first owner of a chain)."""
        if not isinstance(item, YMap) or "shares" not in item:
            return None
        where = self.named(item, scope, path)
        ref = checked(Sharing, copy_map(item, keep=("shares",)), where).shares
        span = item.value_span("shares")
        label = item.get("name")
        named = isinstance(label, str) and label.strip()
        owner = self.resolve(ref, scope, span, self.full(scope, label) if named else path,
                             "shares", None if named else path)
        if owner == INPUT or self.nodes[owner].name not in {p + ref for p in self.prefixes(scope)}:
            raise fail(span, "'shares' must name an earlier layer, not a group or the input",
                       show(ref), path=where)
        return self.nodes[owner].shares if self.nodes[owner].shares is not None else owner

    def shared_group(self, item: YMap, scope: Scope, path: str) -> str:
        """The earlier group a structure's `shares:` names (its full name)."""
        ref = checked(Sharing, copy_map(item, keep=("shares",)), path).shares
        for prefix in self.prefixes(scope):
            if prefix + ref in self.group_kinds and self.index.get(prefix + ref, -1) >= 0:
                return prefix + ref
        raise fail(item.value_span("shares"), "'shares' on a group or block call must name an "
                   f"earlier group{did_you_mean(ref, self.group_kinds)}", show(ref), path=path)

    def counterpart(self, name: str, scope: Scope, span: Span, path: str) -> int:
        """Inside a group with `shares: other`: the layer of `other` at the same place."""
        other, own, written = scope.share
        relative = name[len(own) + 1:]
        found = self.index.get(f"{other}.{relative}", -1)
        if found < 0:
            raise fail(written, f"'{_name(own)}' shares '{_name(other)}', which has no layer "
                       f"'{_name(relative)}' (the structures differ)", path=path)
        return self.nodes[found].shares if self.nodes[found].shares is not None else found

    def layer(self, item, span, tail, scope, path) -> int:
        owner = self.shared(item, scope, path)
        again = owner is not None and "type" not in item  # the shared layer itself, again
        if again:
            extra = [k for k in item if k not in ("name", "inputs", "shares")]
            if extra:
                raise fail(item.key_span(extra[0]), f"'{_name(extra[0])}' needs 'type': a layer "
                           "with 'shares' and no 'type' is the shared layer again and takes only "
                           "name and inputs", path=path)
            item = copy_map(item)
            item["type"] = self.nodes[owner].layer.type_name
            item.value_spans["type"] = item.value_span("shares")
        if isinstance(item, str):
            values, key_spans, type_name, type_span = {}, {}, item, span
        elif isinstance(item, YMap):
            if "type" not in item:
                raise fail(span, f"layer has no 'type' (types: {known_types()}; or one of "
                                 f"{', '.join(STRUCTURE_KEYS)})", keys_text(item), path=path)
            values, key_spans = item, dict(item.value_spans)
            type_name, type_span = item["type"], item.value_span("type")
        else:
            raise fail(span, "a layer must be a type name or a mapping with 'type'", show(item),
                       path=path)
        label = values.get("name")
        if again:
            layer = self.nodes[owner].layer
        else:
            layer = build_layer(type_name, values, key_spans, type_span, span,
                                label if isinstance(label, str) else None, path,
                                extra=("inputs", "shares"))
        name = self.claim(scope, label, key_spans.get("name", span), layer.type_name, path)
        if owner is None and scope.share is not None:
            owner = self.counterpart(name, scope, span, path)
        inputs = (tail,)
        if "inputs" in values:
            refs = values["inputs"]
            if not isinstance(refs, YList):
                refs = YList([refs])
                refs.span, refs.item_spans = key_spans["inputs"], [key_spans["inputs"]]
            self.input_refs += len(refs)
            if self.input_refs > MAX_INPUT_REFS:
                raise fail(refs.span, f"'inputs' name more than {MAX_INPUT_REFS:,} layers over "
                           "the whole network; refused", layer=name, path=path)
            inputs, ambiguous = [], []
            for i, r in enumerate(refs):
                found = self.resolve_all(r, scope, refs.item_span(i), name)
                if found is None:  # a plain name
                    found = [self.resolve(r, scope, refs.item_span(i), name)]
                    if len(refs) > 1 and self.repeated_group(r, scope):
                        ambiguous.append(r)
                inputs += found
            inputs = tuple(inputs)
        low, high = layer.arity
        if len(inputs) < low or (high is not None and len(inputs) > high):
            want = f"{low}" if low == high else f"{low} or more" if high is None else f"{low} to {high}"
            raise fail(key_spans.get("inputs", span), f"{layer.type_name} takes {want} inputs, "
                       f"given {len(inputs)}",
                       f"inputs: {show(values['inputs'])}" if "inputs" in values else
                       "no inputs: key, so the layer before",
                       layer=name, path=path)
        if owner is not None and scope.trainable_at is not None and \
                scope.frozen != self.nodes[owner].frozen:  # one tensor: trained or not
            state = "frozen (trainable: false)" if self.nodes[owner].frozen else "trained"
            raise fail(scope.trainable_at, f"'trainable' cannot differ from the weights' owner: "
                       f"this layer uses the weights of '{_name(self.nodes[owner].name)}', which "
                       f"are {state}; set 'trainable' on the owner", layer=name, path=path)
        return self.add_node(Node(name, layer, inputs, span, key_spans, path, scope.groups,
                                  frozen=scope.frozen, shares=owner,
                                  one_copy=tuple(ambiguous) if "inputs" in values else ()))

    def add_node(self, node: Node) -> int:
        node.called = tuple(reversed(self.calls))
        if len(self.nodes) >= MAX_NODES:
            raise fail(node.span, f"the network expands to more than {MAX_NODES:,} layers; "
                                  "refused", path=node.path)
        self.nodes.append(node)
        self.index[node.name] = len(self.nodes) - 1
        return len(self.nodes) - 1


def per_copy(name) -> bool:
    """A repeated item's `name:` with `{expression}` parts names each copy, not a group."""
    return isinstance(name, str) and not isinstance(name, DoneStr) and "{" in name


def known_types() -> str:
    return ", ".join(sorted(REGISTRY))


def other_framework(word) -> str:
    """'; did you mean 'fc'? (linear is fc here)' for another framework's name of a type."""
    if not isinstance(word, str) or len(word) > 100:
        return ""
    key = "".join(c for c in word.lower() if c not in "_- ")
    for type_name, cls in REGISTRY.items():
        if key in cls.also_called:
            return f"; did you mean '{type_name}'? ({_name(word, 40)} is {type_name} here)"
    return ""


def build_layer(type_name, values: dict, key_spans: dict, type_span: Span, item_span: Span,
                label: str | None, path: str, extra: tuple = ()) -> Layer:
    """A layer object from its type and settings; errors point at the key at fault."""
    if not isinstance(type_name, str) or type_name not in REGISTRY:
        hint = other_framework(type_name) or did_you_mean(str(type_name), REGISTRY)
        raise fail(type_span, f"unknown layer type{hint} (types: {known_types()})",
                   show(type_name), label, path=path)
    cls = REGISTRY[type_name]
    try:
        return cls.from_settings({k: v for k, v in values.items() if k != "type"},
                                 COMMON_KEYS + extra)
    except SettingError as exc:
        span = key_spans.get(exc.key, item_span) if exc.key else item_span
        if exc.on_key and isinstance(values, YMap):
            span = values.key_span(exc.key)
        if not exc.has_received:  # the value of the setting at fault, or the settings given
            exc.has_received = True
            exc.received = (f"{exc.key}: {show(values[exc.key])}" if exc.key in values else
                            ", ".join(f"{k}: {show(v)}" for k, v in values.items()))
        raise from_setting_error(exc, span, label, path) from None
