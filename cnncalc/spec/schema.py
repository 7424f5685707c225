"""The JSON Schema (draft 2020-12) of a spec, generated from the layer declarations."""

from __future__ import annotations

from ..analysis.lint import RULES
from ..declare import declared
from ..layers import REGISTRY

ARG = {"type": "string", "pattern": r"^\$[A-Za-z_][A-Za-z0-9_]*$"}  # a block argument
NAME = {"type": "string", "minLength": 1, "pattern": r"^[^.]+$"}


def _maybe_arg(schema: dict) -> dict:
    return {"anyOf": [schema, {"$ref": "#/$defs/arg"}]}


def layer_schema(name: str, cls) -> dict:
    props = {"type": {"const": name}, "name": {"$ref": "#/$defs/name"},
             "inputs": {"type": "array", "items": {"type": "string"}, "minItems": 1},
             "repeat": _maybe_arg({"type": "integer", "minimum": 1})}
    required = ["type"]
    for decl in declared(cls):
        props[decl.name] = _maybe_arg(decl.kind.schema()) | {"description": decl.doc}
    return {"type": "object", "description": cls.summary, "properties": props,
            "required": required, "additionalProperties": False}


def spec_schema() -> dict:
    layers = {name: layer_schema(name, cls) for name, cls in sorted(REGISTRY.items())}
    item = {"oneOf": [
        {"enum": sorted(REGISTRY), "description": "a layer with no settings"},
        {"$ref": "#/$defs/arg"},
        *({"$ref": f"#/$defs/layer_{name}"} for name in layers),
        {"type": "object", "required": ["layers"], "properties": {
            "layers": {"$ref": "#/$defs/layer_list"}, "name": {"$ref": "#/$defs/name"},
            "repeat": {"type": "integer", "minimum": 1}}, "additionalProperties": False},
        {"type": "object", "required": ["block"], "properties": {
            "block": {"type": "string"}, "name": {"$ref": "#/$defs/name"},
            "repeat": {"type": "integer", "minimum": 1}}},
        {"type": "object", "required": ["residual"], "properties": {
            "residual": {"anyOf": [{"$ref": "#/$defs/layer_list"}, {
                "type": "object", "required": ["body"], "additionalProperties": False,
                "properties": {"body": {"$ref": "#/$defs/layer_list"},
                               "shortcut": {"anyOf": [{"$ref": "#/$defs/layer_list"},
                                                      {"type": "array", "maxItems": 0},
                                                      {"$ref": "#/$defs/arg"}]}}}]},
            "name": {"$ref": "#/$defs/name"}, "repeat": {"type": "integer", "minimum": 1}},
         "additionalProperties": False},
        {"type": "object", "required": ["branches"], "properties": {
            "branches": {"type": "array", "minItems": 2,
                         "items": {"type": "array", "items": {"$ref": "#/$defs/item"}}},
            "merge": {"enum": ["concat", "add", "multiply"]}, "name": {"$ref": "#/$defs/name"},
            "repeat": {"type": "integer", "minimum": 1}}, "additionalProperties": False},
    ]}
    count = {"anyOf": [{"type": "integer", "minimum": 0},
                       {"type": "string", "pattern": r"^[0-9.]+\s*[kKmMgGtT]?$"}]}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://cnncalc.invalid/spec.schema.json",
        "title": "cnncalc network spec",
        "type": "object",
        "required": ["input", "layers"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string"},
            "description": {"type": "string"},
            "input": {"anyOf": [
                {"type": "array", "items": {"type": "integer", "minimum": 1},
                 "minItems": 3, "maxItems": 3},
                {"type": "string", "pattern": r"^\s*\d+\s*x\s*\d+\s*x\s*\d+\s*$"}]},
            "layers": {"$ref": "#/$defs/layer_list"},
            "args": {"type": "object"},
            "blocks": {"type": "object", "additionalProperties": {
                "type": "object", "required": ["layers"], "additionalProperties": False,
                "properties": {"args": {"type": ["object", "array"]},
                               "layers": {"$ref": "#/$defs/layer_list"},
                               "description": {"type": "string"}}}},
            "lint": {"type": "object", "additionalProperties": False, "properties": {
                "ignore": {"type": "array", "items": {"enum": sorted(RULES)}}}},
            "budget": {"type": "object", "additionalProperties": False, "properties": {
                "params": count, "macs": count, "flops": count,
                "memory": {"type": ["string", "integer"]},
                "batch": {"type": "integer", "minimum": 1},
                "dtype": {"enum": ["float64", "float32", "float16", "bfloat16", "int8"]},
                "mode": {"enum": ["inference", "training"]},
                "optimizer": {"enum": ["sgd", "momentum", "adam"]}}},
        },
        "$defs": {
            "arg": ARG, "name": NAME, "item": item,
            "layer_list": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/item"}},
            **{f"layer_{name}": schema for name, schema in layers.items()},
        },
    }
