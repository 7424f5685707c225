"""LeNet-5 layer by layer, as counted in shared/seeds/004 (LeCun et al. 1998)."""

import pytest

from tests.conftest import zoo_report

# (name, output shape, params, connections), each written as the notes write it.
LENET5 = [
    ("C1", (28, 28, 6), (5 * 5 + 1) * 6, (5 * 5 + 1) * 6 * (28 * 28)),  # 156, 122,304
    ("S2", (14, 14, 6), 6 * (1 + 1), (2 * 2 + 1) * 6 * 14 * 14),  # 12, 5,880
    ("C3", (10, 10, 16),
     6 * (3 * 25 + 1) + 6 * (4 * 25 + 1) + 3 * (4 * 25 + 1) + (25 * 6 + 1),  # 1,516
     1516 * 10 * 10),  # 151,600
    ("S4", (5, 5, 16), 16 * (1 + 1), 16 * (2 * 2 + 1) * 5 * 5),  # 32, 2,000
    ("C5", (1, 1, 120), 120 * (16 * 5 * 5 + 1), 48120 * 1 * 1),  # 48,120
    ("F6", (1, 1, 84), 84 * (120 * (1 * 1) + 1), 10164 * 1 * 1),  # 10,164
]

# LeCun et al. 1998, Table I: which S2 maps (rows) each C3 map (columns) reads.
TABLE_I = """
X . . . X X X . . X X X X . X X
X X . . . X X X . . X X X X . X
X X X . . . X X X . . X . X X X
. X X X . . X X X X . . X . X X
. . X X X . . X X X X . X X . X
. . . X X X . . X X X X . X X X
"""


@pytest.fixture(scope="module")
def lenet():
    return zoo_report("lenet5")


@pytest.mark.parametrize("name, shape, params, connections", LENET5)
def test_each_layer_matches_the_notes(lenet, name, shape, params, connections):
    row = next(r for r in lenet.rows if r.name == name)
    assert tuple(row.output_shape.as_list()) == shape
    assert row.totals.trainable_params == params
    assert row.totals.connections == connections


def test_published_integers():
    assert [p for _, _, p, _ in LENET5] == [156, 12, 1516, 32, 48120, 10164]
    assert [c for _, _, _, c in LENET5] == [122304, 5880, 151600, 2000, 48120, 10164]


def test_totals(lenet):
    assert lenet.totals.trainable_params == 60_000
    # the RBF output: 10 units x 84 inputs, fixed prototypes, one connection each
    out = lenet.rows[-1]
    assert out.totals.non_trainable_params == 10 * 84
    assert out.totals.connections == 10 * 84
    assert lenet.totals.connections == 340_908
    assert lenet.output_shape.as_list() == [1, 1, 10]


def test_c3_connection_table_is_lecun_table_1():
    from cnncalc.language.document import load
    from cnncalc.zoo import path_of
    c3 = next(n for n in load(path_of("lenet5")).nodes if n.name == "C3")
    grid = [line.split() for line in TABLE_I.strip().splitlines()]
    expected = tuple(tuple(i for i in range(6) if grid[i][j] == "X") for j in range(16))
    assert c3.layer.connections == expected
