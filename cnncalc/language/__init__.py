"""YAML text -> a Network: positions for every value, the document's keys, expansion of
repeats, blocks, residuals and branches, and the JSON Schema of the language.

The names below are imported when first used, so `cnncalc.language.source` (the capped reader,
which the CLI's output module re-exports) costs nothing more than itself."""

__all__ = ["load", "loads", "parse_document", "parse_input"]


def __getattr__(name: str):
    if name in __all__:
        from . import document
        return getattr(document, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
