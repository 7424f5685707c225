"""YAML text -> a Network: positions for every value, the document's keys, expansion of
repeats, blocks, residuals and branches, and the JSON Schema of the language."""

from .document import load, loads, open_spec, parse_document, parse_input

__all__ = ["load", "loads", "open_spec", "parse_document", "parse_input"]
