# SPDX-License-Identifier: BSD-2-Clause
"""accelgen.hw.formats: ``shifted_product`` equals the golden model
(:func:`accelgen.golden.ant_pe.shifted_product`) for every mantissa and every
shift of the shift port, signed and unsigned, with shift ports narrower than,
as wide as and wider than the shifter's amount."""

import numpy as np
import pytest
from amaranth.hdl import Module, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from accelgen.golden.ant_pe import shifted_product as golden_shifted_product
from accelgen.hw.formats import shifted_product
from accelgen.verif.amaranth_sim import every_value, sweep_combinational

__all__ = []


class _Shifter(wiring.Component):
    def __init__(self, mant_shape, shift_bits, width):
        self.width = width
        super().__init__({"mant": In(mant_shape), "shift": In(unsigned(shift_bits)),
                          "value": Out(signed(width)), "out": Out(1)})

    def elaborate(self, platform):
        m = Module()
        value, out = shifted_product(m, self.mant, self.shift, self.width, "p_")
        m.d.comb += [self.value.eq(value), self.out.eq(out)]
        return m


@pytest.mark.sim
@pytest.mark.parametrize("mant_shape,shift_bits,width", [
    (signed(5), 4, 8), (unsigned(5), 4, 8), (signed(10), 3, 16), (unsigned(10), 3, 16),
    (signed(8), 5, 12), (unsigned(4), 2, 5), (signed(3), 2, 3), (unsigned(7), 6, 9),
    (signed(4), 2, 12), (unsigned(4), 2, 12)],
    ids=["s5_sh4_w8", "u5_sh4_w8", "s10_sh3_w16", "u10_sh3_w16", "s8_sh5_w12",
         "u4_sh2_w5", "s3_sh2_w3", "u7_sh6_w9", "s4_sh2_w12", "u4_sh2_w12"])
def test_shifted_product_matches_the_golden_model_exhaustively(mant_shape, shift_bits, width):
    cases = [(x, s) for x in every_value(mant_shape) for s in range(1 << shift_bits)]
    got = sweep_combinational(_Shifter(mant_shape, shift_bits, width),
                              [{"mant": x, "shift": s} for x, s in cases], ("value", "out"))
    value, out = golden_shifted_product([x for x, _ in cases], [s for _, s in cases], width)
    want = list(zip(value.tolist(), out.tolist()))
    wrong = [(*case, g, w) for case, g, w in zip(cases, got, want) if g != (w[0], int(w[1]))]
    assert not wrong, f"(mant, shift, got, want) {wrong[:5]}"
    # Where the largest shift can leave the range, the sweep reaches both sides
    # of the check; otherwise (the shifter narrower than the width) every value
    # is sign-extended to the width.
    reachable = mant_shape.width + (1 << shift_bits) - 1 > width - (not mant_shape.signed)
    assert (0 < np.count_nonzero(out) < len(cases)) if reachable else not out.any()
