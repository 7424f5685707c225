"""Readable, unique layer names from what an exporter leaves in the file: a weight's name
(`layer1.0.conv1.weight`), a node's scope (`/layer1/layer1.0/relu/Relu`, PyTorch's legacy
exporter; `pkg.torch.onnx.name_scopes`, the dynamo exporter), or the op type and a counter."""

from __future__ import annotations

import ast
import re

UNSAFE = re.compile(r"[^A-Za-z0-9_]+")
MAX_NAME = 80


def module_path(parts: list[str]) -> str:
    """['layer4', 'layer4.0', 'downsample', 'downsample.0'] -> 'layer4.0.downsample.0'
    (PyTorch's scopes repeat the parent's name, or the last part of it)."""
    path: list[str] = []
    for part in filter(None, parts):
        head = part.split(".")
        for cut in range(len(path)):
            if path[cut:] == head[:len(path) - cut]:
                path = path[:cut]
                break
        path += head
    return ".".join(path)


def with_op(module: str, op: str) -> str:
    """A module's name, followed by the op when the module is a numbered block or absent."""
    if not module:
        return op
    if module.rsplit(".", 1)[-1].isdigit():
        return f"{module}.{op.lower()}"
    return module


def scope_name(node) -> str | None:
    """The module path an exporter recorded for a node, with the op when it adds something."""
    for prop in node.metadata_props:
        if prop.key == "pkg.torch.onnx.name_scopes":
            try:
                scopes = ast.literal_eval(prop.value)
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                break
            if isinstance(scopes, list) and scopes and all(isinstance(s, str) for s in scopes):
                module = next((s for s in reversed(scopes[:-1]) if s), "")
                return with_op(module, scopes[-1])
    if node.name.startswith("/"):
        parts = node.name.strip("/").split("/")
        return with_op(module_path(parts[:-1]), parts[-1]) if parts else None
    return None


def weight_name(tensor: str | None) -> str | None:
    """`features.0.weight` -> `features.0`; exporter-made names (`onnx::Conv_193`) -> None."""
    if tensor and "::" not in tensor and tensor.endswith(".weight") and len(tensor) > 7:
        return tensor[:-len(".weight")]
    return None


def clean(text: str) -> str:
    return UNSAFE.sub("_", text).strip("_")[:MAX_NAME]


class Namer:
    """Hands out unique names; `input` is reserved (the network's input in `inputs:`)."""

    def __init__(self):
        self.taken = {"input"}
        self.counters: dict[str, int] = {}

    def fresh(self, node, weight: str | None = None, suffix: str = "") -> str:
        base = clean(weight_name(weight) or scope_name(node) or node.name or "")
        if suffix:
            base = f"{base}_{suffix}" if base else ""
        if not base or base[0].isdigit():
            op = clean(node.op_type).lower() or "layer"
            base = f"{op}_{base}" if base else ""
            if not base:
                count = self.counters.get(op, 0) + 1
                while f"{op}{count}" in self.taken:
                    count += 1
                self.counters[op] = count
                base = f"{op}{count}"
        name, n = base, 1
        while name in self.taken:
            n += 1
            name = f"{base}_{n}"
        self.taken.add(name)
        return name
