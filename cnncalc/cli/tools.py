"""Reference and discovery: layers."""

from __future__ import annotations

from .common import app, console


@app.command()
def layers():
    """The layer reference: every type, its settings, defaults and meaning."""
    from ..render.reference import layer_reference
    console().print(layer_reference())
