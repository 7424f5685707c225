"""The JSON Schema (draft 2020-12) of a spec, generated from the declarations: the layer
types' settings and the spec's own structure (language/structure.py). Nothing is restated here."""

from __future__ import annotations

from ..declare import declared, schema_of
from ..layers import REGISTRY
from .structure import (STRUCTURES, BlockCall, BlockDef, Document, Extension, ResidualBody,
                        Sharing,
                        Switches)

ARG = {"type": "string", "pattern": r"\$"}  # a block argument, or an expression using one
NAME = {"type": "string", "minLength": 1, "pattern": r"^[^.]+$"}


def _maybe_arg(schema: dict) -> dict:
    """The value, or an argument in its place; in a list, any item may be one too
    (`channels: [0, $out // 2]`)."""
    return {"anyOf": [_items_maybe_arg(schema), {"$ref": "#/$defs/arg"}]}


def _items_maybe_arg(schema):
    if isinstance(schema, list):
        return [_items_maybe_arg(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: _items_maybe_arg(value) for key, value in schema.items()}
    if isinstance(out.get("items"), dict):
        out["items"] = {"anyOf": [out["items"], {"$ref": "#/$defs/arg"}]}
    return out


def layer_schema(name: str, cls) -> dict:
    """A layer mapping: `type`, the common keys, and the type's declared settings."""
    props = {"type": {"const": name}, "name": {"$ref": "#/$defs/name"},
             "inputs": {"type": "array", "items": {"type": "string"}, "minItems": 1},
             "repeat": _maybe_arg({"type": "integer", "minimum": 1})}
    for decl in [*declared(cls), *declared(Switches), *declared(Sharing)]:
        props[decl.name] = _maybe_arg(decl.kind.schema()) | {"description": decl.doc}
    return {"type": "object", "description": cls.summary, "properties": props,
            "required": ["type"], "additionalProperties": False}


def again_schema() -> dict:
    """A layer with `shares:` and no `type:`: the shared layer again."""
    props = {"name": {"$ref": "#/$defs/name"},
             "inputs": {"type": "array", "items": {"type": "string"}, "minItems": 1},
             "repeat": _maybe_arg({"type": "integer", "minimum": 1})}
    for decl in [*declared(Switches), *declared(Sharing)]:
        props[decl.name] = _maybe_arg(decl.kind.schema()) | {"description": decl.doc}
    return {"type": "object", "description": "the shared layer again", "properties": props,
            "required": ["shares"], "additionalProperties": False}


def structure_schema(cls) -> dict:
    """A structure item (group, block call, residual, branches) from its declarations; a
    block call's other keys are the block's arguments."""
    schema = schema_of(cls, open_keys=cls is BlockCall)
    switches = schema_of(Switches)["properties"] | schema_of(Sharing)["properties"]
    schema["properties"] = {k: _maybe_arg(v) for k, v in {**schema["properties"],
                                                          **switches}.items()}
    return schema


def spec_schema() -> dict:
    layers = {name: layer_schema(name, cls) for name, cls in sorted(REGISTRY.items())}
    item = {"oneOf": [
        {"enum": sorted(REGISTRY), "description": "a layer with no settings"},
        {"$ref": "#/$defs/arg"},
        *({"$ref": f"#/$defs/layer_{name}"} for name in layers),
        *({"$ref": f"#/$defs/item_{key}"} for key in STRUCTURES),
        {"$ref": "#/$defs/item_shares"},
    ]}
    layer_list = {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/item"}}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://cnncalc.invalid/spec.schema.json",
        "title": "cnncalc network spec",
        "anyOf": [{**schema_of(Document),
                   "oneOf": [{"required": ["input"]}, {"required": ["inputs"]}]},
                  schema_of(Extension)],
        "$defs": {
            "arg": ARG, "name": NAME, "item": item, "layer_list": layer_list,
            "blocks": {"type": "object", "additionalProperties": schema_of(BlockDef)},
            "block_args": {"type": ["object", "array"]},
            "args": {"type": "object"},
            "residual": {"anyOf": [{"$ref": "#/$defs/layer_list"}, schema_of(ResidualBody)]},
            "shortcut": {"anyOf": [{"$ref": "#/$defs/layer_list"},
                                   {"type": "array", "maxItems": 0}, {"$ref": "#/$defs/arg"}]},
            "branch_list": {"type": "array", "minItems": 2,
                            "items": {"type": "array", "items": {"$ref": "#/$defs/item"}}},
            **{f"item_{key}": structure_schema(cls) for key, cls in STRUCTURES.items()},
            "item_shares": again_schema(),
            **{f"layer_{name}": schema for name, schema in layers.items()},
        },
    }
