"""Layer types, one class each, registered under their spec `type:` string."""

from . import activation, conv, deconv, dense, merge, norm, pool, resize  # noqa: F401 (registers)
from .base import REGISTRY, Counts, Layer

__all__ = ["REGISTRY", "Counts", "Layer"]
