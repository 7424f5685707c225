"""Layer types, one class each, registered under their spec `type:` string."""

from . import activation, conv, dense, norm, pool  # noqa: F401  (each module registers its types)
from .base import REGISTRY, Counts, Layer

__all__ = ["REGISTRY", "Counts", "Layer"]
