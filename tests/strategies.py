"""Hypothesis strategies shared by the property tests."""

from hypothesis import strategies as st

from cnncalc import declare


def value_of(kind, draw, rank: int = 2):
    """A small value a spec could write for a setting of this kind, on an input with `rank`
    spatial axes (per-axis lists have `rank` entries)."""
    if isinstance(kind, declare.Int):
        return draw(st.integers(kind.min, min(kind.min + 5, kind.max or kind.min + 5)))
    if isinstance(kind, declare.Pair):
        return draw(st.one_of(st.integers(max(kind.min, 1), 4),
                              st.lists(st.integers(max(kind.min, 1), 4), min_size=2, max_size=2)))
    if isinstance(kind, declare.Axes):
        return draw(st.one_of(st.integers(max(kind.min, 1), 4),
                              st.lists(st.integers(max(kind.min, 1), 4), min_size=rank,
                                       max_size=rank)))
    if isinstance(kind, declare.Padding):
        side = st.integers(0, 2)
        return draw(st.one_of(side, st.sampled_from(["same", "valid"]),
                              st.lists(side, min_size=rank, max_size=rank),
                              st.lists(side, min_size=2 * rank, max_size=2 * rank),
                              st.lists(st.lists(side, min_size=2, max_size=2), min_size=rank,
                                       max_size=rank)))
    if isinstance(kind, declare.Choice):
        return draw(st.sampled_from(kind.options))
    if isinstance(kind, declare.Bool):
        return draw(st.booleans())
    if isinstance(kind, declare.Number):
        low = kind.min + (0.01 if kind.open_min else 0)
        return draw(st.floats(low, kind.max if kind.max is not None else low + 2))
    return None  # connection tables: covered by LeNet-5's C3
