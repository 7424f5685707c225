"""What every importer writes the same way: the layers the outputs need, each as a spec item
(`inputs:` only where a layer does not read the one before), and the spec as YAML text, one
layer per line. A layer here is anything with `name`, `settings` and `inputs`."""

from __future__ import annotations

INPUT = "input"


def live_layers(layers: list, outputs: set[str]) -> list:
    """The layers the outputs depend on (a Sigmoid folded into SiLU leaves its own behind)."""
    needed, by_name = set(outputs), {layer.name: layer for layer in layers}
    for layer in reversed(layers):
        if layer.name in needed:
            needed.update(s for s in layer.inputs if s in by_name)
    return [layer for layer in layers if layer.name in needed]


def spec_layers(layers: list) -> list[dict]:
    out, previous = [], INPUT
    for layer in layers:
        item = {"name": layer.name, **layer.settings}
        if layer.inputs != [previous]:
            item["inputs"] = list(layer.inputs)
        out.append(item)
        previous = layer.name
    return out


def spec_text(spec: dict, header: str = "# imported") -> str:
    """The spec as YAML, one layer per line."""
    import yaml

    def flow(value) -> str:
        return yaml.safe_dump(value, default_flow_style=True, width=10 ** 6, sort_keys=False).strip()
    top = yaml.safe_dump({"name": spec["name"], "input": spec["input"]}, sort_keys=False,
                         default_flow_style=None, width=10 ** 6)
    lines = [header, top.rstrip("\n"), "layers:"]
    lines += [f"  - {flow(item)}" for item in spec["layers"]]
    return "\n".join(lines) + "\n"
