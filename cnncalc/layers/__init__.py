"""Layer types, one class each, registered under their spec `type:` string."""

# every module registers its types
from . import activation, channels, conv, deconv, dense, merge, norm, pool, resize  # noqa: F401
from .base import REGISTRY, Backward, Counts, Layer

__all__ = ["REGISTRY", "Backward", "Counts", "Layer"]
