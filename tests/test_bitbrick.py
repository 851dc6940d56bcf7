# SPDX-License-Identifier: BSD-2-Clause
"""bitbrick: golden model against docs/bitfusion.md, Amaranth simulator against golden; the
Verilator run is in tests/test_regression.py."""

import itertools

import numpy as np
import pytest

from accelgen.generators.bitbrick import BitBrick, Params
from accelgen.golden.bitbrick import bitbrick, extend_digit
from accelgen.verif.amaranth_sim import sweep_combinational

ALL_INPUTS = np.array(list(itertools.product(range(4), range(4), range(2), range(2))))


def spec_value(digit, sign):
    """docs/bitfusion.md read literally: the 3-bit field {s & d[1], d} as two's complement."""
    field = ((sign & (digit >> 1)) << 2) | digit
    return field - 8 if field & 4 else field


def test_golden_matches_the_spec_on_all_64_inputs():
    x, y, sx, sy = ALL_INPUTS.T
    got = bitbrick(Params(), x, y, sx, sy)
    want = [spec_value(a, s) * spec_value(b, t) for a, b, s, t in ALL_INPUTS]
    assert got.tolist() == want
    assert got.min() == -6 and got.max() == 9


def test_extend_digit_table():
    assert extend_digit([0, 1, 2, 3], 0).tolist() == [0, 1, 2, 3]
    assert extend_digit([0, 1, 2, 3], 1).tolist() == [0, 1, -2, -1]


def test_golden_rejects_out_of_range_digits():
    with pytest.raises(ValueError, match=r"^bitbrick digits must be in 0..3"):
        bitbrick(Params(), 4, 0, 0, 0)


def test_component_rejects_foreign_params():
    with pytest.raises(TypeError, match=r"^bitbrick params must be a bitbrick Params instance, not 3$"):
        BitBrick(3)


@pytest.mark.sim
def test_amaranth_simulator_exhaustive():
    dut = BitBrick()
    x, y, sx, sy = ALL_INPUTS.T
    want = bitbrick(Params(), x, y, sx, sy)
    got = sweep_combinational(dut, [dict(zip(("x", "y", "sx", "sy"), row))
                                    for row in ALL_INPUTS], ("p",))
    assert [p for p, in got] == want.tolist()
