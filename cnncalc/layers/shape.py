"""A tensor's shape for one sample: any number of spatial axes, then channels."""

from __future__ import annotations

from math import prod

from ..declare import frozen

AXIS_NAMES = {1: ("length",), 2: ("height", "width"), 3: ("depth", "height", "width")}


@frozen
class Shape:
    """One sample's tensor, spatial sizes then channels, printed as the notes do: 28x28x6."""

    spatial: tuple[int, ...]
    c: int

    @property
    def rank(self) -> int:
        """Number of spatial axes (2 for an image)."""
        return len(self.spatial)

    @property
    def positions(self) -> int:
        """Spatial positions: the product of the spatial sizes."""
        return prod(self.spatial)

    @property
    def size(self) -> int:
        """Number of values (the notes' "memory" column)."""
        return self.positions * self.c

    def with_channels(self, c: int) -> Shape:
        return Shape(self.spatial, c)

    def as_list(self) -> list[int]:
        return [*self.spatial, self.c]

    def axis_names(self) -> tuple[str, ...]:
        return AXIS_NAMES.get(self.rank, tuple(f"axis {i + 1}" for i in range(self.rank)))

    def described(self) -> str:
        """For people: '28x28x3', or for a 1-D signal 'length 28, 28 channels'."""
        if self.rank == 1:
            return f"length {self.spatial[0]}, {self.c} channel{'s' if self.c != 1 else ''}"
        return str(self)

    def flat_order(self) -> str:
        """The order torch.flatten reads the values in: 'C,H,W', 'C,L' (1-D), 'C,D,H,W'."""
        letters = {1: "L", 2: "H,W", 3: "D,H,W"}.get(self.rank, ",".join("X" * self.rank))
        return f"C,{letters}"

    def spatial_text(self) -> str:
        return "x".join(map(str, self.spatial))

    def __str__(self) -> str:
        return "x".join(map(str, self.as_list()))
