# SPDX-License-Identifier: BSD-2-Clause
"""accelgen.hw.bitfusion: the BitBrick product expression against the golden model on
every input, and the units built from it free of multiplier cells."""

import itertools

import numpy as np
import pytest
from amaranth.back import rtlil
from amaranth.hdl import Module, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from accelgen.golden.bitbrick import bitbrick
from accelgen.hw.bitfusion import brick_product
from accelgen.registry import UNITS
from accelgen.verif.amaranth_sim import sweep_combinational

__all__ = []

ALL_INPUTS = list(itertools.product(range(4), range(4), range(2), range(2)))


def _shape():
    return brick_product(Signal(2), Signal(2), Signal(1), Signal(1)).shape()


class _Brick(wiring.Component):
    """``brick_product`` alone, its value on a port as wide as the expression."""

    def __init__(self):
        super().__init__({"x": In(2), "y": In(2), "sx": In(1), "sy": In(1),
                          "p": Out(_shape())})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.p.eq(brick_product(self.x, self.y, self.sx, self.sy))
        return m


def test_brick_product_is_signed_6():
    assert _shape() == signed(6)


@pytest.mark.sim
def test_brick_product_equals_golden_on_all_64_inputs():
    dut = _Brick()
    got = sweep_combinational(dut, [dict(zip(("x", "y", "sx", "sy"), row))
                                    for row in ALL_INPUTS], ("p",))
    x, y, sx, sy = np.array(ALL_INPUTS).T
    want = bitbrick(UNITS["bitbrick"].params(), x, y, sx, sy)
    assert [p for p, in got] == want.tolist()


@pytest.mark.parametrize("unit_name,overrides", [
    ("bitbrick", {}),
    ("fusion_unit", {}),
    ("bitfusion_array", {"rows": 1, "cols": 1, "acc_width": 18}),
    ("systolic_array", {"pe": "fusion_unit", "rows": 1, "cols": 1}),
])
def test_no_multiplier_cell(unit_name, overrides):
    """The BitBrick is logic: no ``$mul`` reaches Yosys, so no target maps it to a DSP."""
    unit = UNITS[unit_name]
    text = rtlil.convert(unit.build(unit.params(**overrides)), name="top", emit_src=False)
    assert "cell $add" in text
    assert "cell $mul" not in text
