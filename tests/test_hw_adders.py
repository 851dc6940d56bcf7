# SPDX-License-Identifier: BSD-2-Clause
"""accelgen.hw.adders: the carry-select sum and negation equal ``a + b`` and
``-value`` modulo their width (exhaustively for narrow operands split at every
width, at random with corners for wide ones), and no adder in them is more than
half as wide as the result."""

import re

import numpy as np
import pytest
from amaranth.back import rtlil
from amaranth.hdl import Module, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from accelgen.hw.adders import SPLIT_MIN_BITS, split_add, split_negate
from accelgen.verif.amaranth_sim import every_value, sweep_combinational

__all__ = []


class _Sum(wiring.Component):
    def __init__(self, a_shape, b_shape, width, min_bits):
        self.width, self.min_bits = width, min_bits
        super().__init__({"a": In(a_shape), "b": In(b_shape), "y": Out(signed(width))})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.y.eq(split_add(m, self.a, self.b, self.width, "s",
                                        min_bits=self.min_bits))
        return m


class _Negation(wiring.Component):
    def __init__(self, width, min_bits):
        self.min_bits = min_bits
        super().__init__({"x": In(unsigned(width)), "y": Out(unsigned(width))})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.y.eq(split_negate(m, self.x, "n", min_bits=self.min_bits))
        return m


def _wrap(value, width):
    """``value`` modulo ``2**width`` read as two's complement."""
    value &= (1 << width) - 1
    return value - (1 << width) if value >> (width - 1) else value


def _mismatches(dut, cases, inputs, expect):
    """``[(*case, got, want)]`` where ``dut.y`` is not ``expect(*case)``."""
    rows = [dict(zip(inputs, case)) for case in cases]
    got = sweep_combinational(dut, rows, ("y",))
    return [(*case, y, expect(*case)) for case, (y,) in zip(cases, got) if y != expect(*case)]


@pytest.mark.sim
@pytest.mark.parametrize("a_shape,b_shape,width", [
    (signed(5), signed(5), 6), (signed(6), signed(3), 6), (unsigned(5), signed(4), 7),
    (signed(4), signed(4), 3)], ids=["s5+s5->6", "s6+s3->6", "u5+s4->7", "s4+s4->3"])
def test_split_add_is_exact_over_every_operand_pair(a_shape, b_shape, width):
    """Split even at 2 bits: every pair, the sum modulo ``2**width``."""
    dut = _Sum(a_shape, b_shape, width, min_bits=2)
    pairs = [(x, z) for x in every_value(a_shape) for z in every_value(b_shape)]
    wrong = _mismatches(dut, pairs, ("a", "b"), lambda x, z: _wrap(x + z, width))
    assert not wrong, f"(a, b, got, want) {wrong[:5]}"


@pytest.mark.sim
@pytest.mark.parametrize("width", range(2, 11))
def test_split_negate_is_exact_for_every_value(width):
    dut = _Negation(width, min_bits=2)
    pairs = [(x,) for x in range(1 << width)]
    wrong = _mismatches(dut, pairs, ("x",), lambda x: -x % (1 << width))
    assert not wrong, f"(x, got, want) {wrong[:5]}"


@pytest.mark.sim
def test_wide_split_add_and_negate_at_random_and_corners():
    """54 bits, the default split: random values and the carries at the seam."""
    seed = 11
    rng = np.random.default_rng(seed)
    half = 1 << 27
    corners = [0, 1, -1, half - 1, half, -half, (1 << 52) - 1, -(1 << 52), half * 5]
    xs = corners + [int(v) for v in rng.integers(-(1 << 52), 1 << 52, 300)]
    zs = corners + [int(v) for v in rng.integers(-(1 << 52), 1 << 52, 300)]
    fits = range(-(1 << 52), 1 << 52)
    pairs = list(zip(xs, zs)) + [(x, z) for x in xs for z in (-x, 1 - x, -1 - x) if z in fits]
    add = _Sum(signed(53), signed(53), 54, SPLIT_MIN_BITS)
    wrong = _mismatches(add, pairs, ("a", "b"), lambda x, z: _wrap(x + z, 54))
    assert not wrong, f"seed {seed}: (a, b, got, want) {wrong[:5]}"
    neg = _Negation(54, SPLIT_MIN_BITS)
    values = [x % (1 << 54) for x in xs] + [half * k for k in range(8)]
    wrong = _mismatches(neg, [(x,) for x in values], ("x",), lambda x: -x % (1 << 54))
    assert not wrong, f"seed {seed}: (x, got, want) {wrong[:5]}"


def _adder_widths(dut):
    text = rtlil.convert(dut, name="probe")
    return [int(w) for w in re.findall(r"cell \$(?:add|sub|neg) .*?parameter \\A_WIDTH (\d+)",
                                       text, flags=re.S)]


@pytest.mark.parametrize("build", ["add", "negate"])
def test_no_adder_is_wider_than_half_plus_a_carry(build):
    """The point of the split: at 54 bits no adder cell takes an operand wider
    than 28 bits; below ``SPLIT_MIN_BITS`` one adder spans the width."""
    make = (lambda w: _Sum(signed(w - 1), signed(w - 1), w, SPLIT_MIN_BITS)) \
        if build == "add" else (lambda w: _Negation(w, SPLIT_MIN_BITS))
    widths = _adder_widths(make(54))
    assert widths and max(widths) <= 28, widths
    narrow = SPLIT_MIN_BITS - 1
    assert max(_adder_widths(make(narrow))) >= narrow - 1  # the sum of two (w-1)-bit values
