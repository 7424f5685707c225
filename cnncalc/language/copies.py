"""What the expansion reads back while it runs: every copy of a repeated item (`d.*`,
`d.2..4`, `d.*.conv2` in `inputs:`) and the shape of a layer already made (for `$in_channels`
and `$in_size`). A mixin of the Expander (expand.py), which holds the nodes and names."""

from __future__ import annotations

from ..declare import did_you_mean
from ..errors import SettingError, Span, fail, from_setting_error, show
from ..errors import name as _name
from ..graph import INPUT


class CopiesAndShapes:
    """Needs: nodes, index, repeats, input_shape, shapes, prefixes(scope)."""

    def shape_of(self, index: int):
        """The output shape of node `index` (INPUT: the network's input), computed the way
        the analysis does, for expressions that read the shape entering a block."""
        if index == INPUT:
            return self.input_shape
        for j in range(len(self.shapes), index + 1):
            node = self.nodes[j]
            ins = tuple(self.input_shape if i == INPUT else self.shapes[i] for i in node.inputs)
            try:
                self.shapes[j] = node.layer.infer(ins)
            except SettingError as exc:
                exc.message = f"{exc.message} (read by an expression: '$in_channels', '$in_size')"
                raise from_setting_error(exc, node.span_of(exc.key), node.name) from None
        return self.shapes[index]

    def repeated_group(self, ref, scope) -> str | None:
        """The full name of the repeated item (of two or more copies) `ref` names, if it does."""
        for prefix in self.prefixes(scope):
            if self.repeats.get(prefix + str(ref), 0) > 1:
                return prefix + str(ref)
            if prefix + str(ref) in self.index:
                return None
        return None

    def resolve_all(self, ref, scope, span: Span, name: str) -> list | None:
        """`d.*` (every copy of the repeated item d made so far), `d.2..4` (copies 2 to 4),
        and either followed by a name inside each copy (`d.*.conv2`) -> node indexes;
        None when `ref` is a plain name."""
        parts = ref.split(".") if isinstance(ref, str) else []
        at = next((k for k, p in enumerate(parts) if p == "*" or (
            ".." in ref and p.isdigit() and k + 2 < len(parts) and parts[k + 1] == "")), None)
        if at is None:
            return None
        head = ".".join(parts[:at])
        if parts[at] == "*":
            low, high, rest = 1, None, parts[at + 1:]
        else:
            end = parts[at + 2]
            if not end.isdigit():
                raise fail(span, f"a range of copies is written name.FIRST..LAST, such as "
                           f"{head or 'd'}.2..4", show(ref), layer=name)
            low, high, rest = int(parts[at]), int(end), parts[at + 3:]
            if low < 1:
                raise fail(span, "copies are named from 1", show(ref), layer=name)
        group = next((p + head for p in self.prefixes(scope) if p + head in self.repeats), None)
        if not head or group is None:
            raise fail(span, f"'{_name(head)}' in '{_name(ref)}' is no repeated item (an item "
                       f"with 'repeat:' and 'name:'){did_you_mean(head, self.repeats)}",
                       show(ref), layer=name)
        found = []
        for k in range(low, (high if high is not None else self.repeats[group]) + 1):
            copy = f"{group}.{k}"
            index = self.index.get(".".join([copy, *rest]))
            if index is None or index < 0:
                if copy in self.index and self.index[copy] >= 0:  # a copy made, without it
                    raise fail(span, f"copy {k} of '{_name(group)}' has no layer "
                               f"'{_name('.'.join(rest))}'", show(ref), layer=name)
                if high is None:
                    break  # `*`: the copies made so far
                raise fail(span, f"'{_name(ref)}': copy {k} of '{_name(group)}' is not made "
                           f"yet ({self.repeats[group]} copies, named 1 to "
                           f"{self.repeats[group]}; a later copy cannot be an input)",
                           show(ref), layer=name)
            found.append(index)
        if not found:
            raise fail(span, f"'{_name(ref)}' names nothing: '{_name(group)}' has no copy "
                       "made so far" + (" (repeat: 0)" if not self.repeats[group] else ""),
                       show(ref), layer=name)
        return found
