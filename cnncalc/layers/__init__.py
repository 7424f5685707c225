"""Layer types, one class each, registered under their spec `type:` string."""

# every module registers its types
from . import (  # noqa: F401
    activation,
    attention,
    channels,
    conv,
    deconv,
    dense,
    merge,
    norm,
    pool,
    rescale,
    resize,
)
from .base import REGISTRY, Backward, Counts, Layer

__all__ = ["REGISTRY", "Backward", "Counts", "Layer"]
