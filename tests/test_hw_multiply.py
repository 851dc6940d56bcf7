# SPDX-License-Identifier: BSD-2-Clause
"""accelgen.hw.multiply: the partial-product multiplier is exact over every pair of
operands of every signedness, shaped like ``a * b``, and has no multiplier cell, so
ECP5 synthesis maps it to no DSP block; ``narrow_product`` keeps ``*`` past its bound."""

from types import SimpleNamespace

import pytest
from amaranth.back import rtlil
from amaranth.hdl import Module, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

from accelgen.flow.synth import synthesize
from accelgen.verif.amaranth_sim import every_value
from accelgen.hw.multiply import (LOGIC_PRODUCT_MAX_BITS, logic_product, narrow_product,
                                  product_carry_save, product_terms, sum_terms)

__all__ = []

#: Both signednesses of each operand, for the exhaustive checks.
A_SIGNED = pytest.mark.parametrize("a_signed", [False, True], ids=["ua", "sa"])
B_SIGNED = pytest.mark.parametrize("b_signed", [False, True], ids=["ub", "sb"])


def _shape(width, is_signed):
    return signed(width) if is_signed else unsigned(width)


class _Product(wiring.Component):
    """``y = build(a, b)`` of two operands of the given shapes, combinational."""

    def __init__(self, a_shape, b_shape, build=logic_product):
        self.build = build
        super().__init__({"a": In(a_shape), "b": In(b_shape),
                          "y": Out((Signal(a_shape) * Signal(b_shape)).shape())})

    def elaborate(self, platform):
        m = Module()
        product = self.build(self.a, self.b)
        assert product.shape() == self.y.shape(), (product.shape(), self.y.shape())
        m.d.comb += self.y.eq(product)
        return m


@pytest.mark.sim
@A_SIGNED
@B_SIGNED
@pytest.mark.parametrize("widths", [(1, 1), (1, 4), (4, 1), (2, 5), (3, 3), (6, 6)],
                         ids=lambda w: f"{w[0]}x{w[1]}")
def test_logic_product_is_exact_over_every_operand_pair(widths, a_signed, b_signed):
    """Exhaustive: every ``a`` and ``b`` of the shapes (up to 2**12 pairs)."""
    a_shape, b_shape = _shape(widths[0], a_signed), _shape(widths[1], b_signed)
    dut = _Product(a_shape, b_shape)
    wrong = []

    async def testbench(ctx):
        for x in every_value(a_shape):
            for z in every_value(b_shape):
                ctx.set(dut.a, x)
                ctx.set(dut.b, z)
                if ctx.get(dut.y) != x * z:
                    wrong.append((x, z, ctx.get(dut.y)))

    sim = Simulator(dut)
    sim.add_testbench(testbench)
    sim.run()
    assert not wrong, f"{a_shape} x {b_shape}: (a, b, got) {wrong[:5]}"


class _MultiplyAdd(wiring.Component):
    """``y = (a * b + c) mod 2**width`` from :func:`product_terms` and ``c`` in one
    :func:`sum_terms`, combinational."""

    def __init__(self, a_shape, b_shape, width):
        self.width = width
        super().__init__({"a": In(a_shape), "b": In(b_shape), "c": In(signed(width)),
                          "y": Out(unsigned(width))})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.y.eq(sum_terms(product_terms(self.a, self.b, self.width) + [self.c],
                                        self.width))
        return m


@pytest.mark.sim
@A_SIGNED
@B_SIGNED
@pytest.mark.parametrize("width", [3, 6, 11], ids=lambda w: f"mod{w}")
def test_product_terms_and_an_addend_sum_modulo_any_width(width, a_signed, b_signed):
    """4x3 operands, every pair, with addends at both ends of the range and
    between, at a width below, equal to and above the product's 7 bits."""
    a_shape, b_shape = _shape(4, a_signed), _shape(3, b_signed)
    dut = _MultiplyAdd(a_shape, b_shape, width)
    addends = sorted({0, 1, -1, (1 << (width - 1)) - 1, -(1 << (width - 1)), 5 % (1 << width)
                      - (1 << (width - 1))})
    wrong = []

    async def testbench(ctx):
        for x in every_value(a_shape):
            for z in every_value(b_shape):
                for c in addends:
                    ctx.set(dut.a, x)
                    ctx.set(dut.b, z)
                    ctx.set(dut.c, c)
                    want = (x * z + c) % (1 << width)
                    if ctx.get(dut.y) != want:
                        wrong.append((x, z, c, ctx.get(dut.y), want))

    sim = Simulator(dut)
    sim.add_testbench(testbench)
    sim.run()
    assert not wrong, f"(a, b, c, got, want) {wrong[:5]}"


class _CarrySave(wiring.Component):
    """The rows of :func:`product_carry_save` on ``rows[k]`` (zero when there are
    fewer than two); its constant depends on the shapes only."""

    def __init__(self, a_shape, b_shape):
        width = a_shape.width + b_shape.width
        super().__init__({"a": In(a_shape), "b": In(b_shape),
                          "rows": Out(unsigned(width)).array(2)})

    def elaborate(self, platform):
        m = Module()
        rows, _constant = product_carry_save(self.a, self.b)
        assert len(rows) <= 2 and all(len(row) == len(self.rows[0]) for row in rows)
        m.d.comb += [port.eq(row) for port, row in zip(self.rows, rows)]
        return m


@pytest.mark.sim
@A_SIGNED
@B_SIGNED
@pytest.mark.parametrize("widths", [(1, 1), (1, 4), (4, 1), (2, 5), (6, 6), (8, 3)],
                         ids=lambda w: f"{w[0]}x{w[1]}")
def test_product_carry_save_rows_sum_to_the_product_exactly(widths, a_signed, b_signed):
    """Exhaustive: for every ``a`` and ``b``, the (at most two) rows plus the
    constant are ``a * b`` as integers, not only modulo a width: no carry-save
    level lost a bit at the rows' width."""
    a_shape, b_shape = _shape(widths[0], a_signed), _shape(widths[1], b_signed)
    dut = _CarrySave(a_shape, b_shape)
    constant = product_carry_save(Signal(a_shape), Signal(b_shape))[1]
    wrong = []

    async def testbench(ctx):
        for x in every_value(a_shape):
            for z in every_value(b_shape):
                ctx.set(dut.a, x)
                ctx.set(dut.b, z)
                got = sum(ctx.get(row) for row in dut.rows) + constant
                if got != x * z:
                    wrong.append((x, z, got))

    sim = Simulator(dut)
    sim.add_testbench(testbench)
    sim.run()
    assert not wrong, f"{a_shape} x {b_shape}: (a, b, got) {wrong[:5]}"


def test_narrow_product_has_no_multiplier_cell_up_to_its_bound():
    """The RTLIL of ``narrow_product`` has a ``$mul`` cell only past the bound."""
    bound = LOGIC_PRODUCT_MAX_BITS
    for width, cells in ((bound, 0), (bound + 1, 1)):
        dut = _Product(signed(width), signed(width), build=narrow_product)
        assert rtlil.convert(dut, name="probe").count("cell $mul ") == cells, width


@pytest.mark.synth
def test_logic_product_maps_to_no_dsp_block(tmp_path):
    """A signed 6x6 product through ``*`` takes an ECP5 MULT18X18D; as
    ``logic_product`` it takes none."""
    counts = {}
    for build in (logic_product, lambda a, b: a * b):
        dut = _Product(signed(6), signed(6), build=build)
        emitted = SimpleNamespace(module="product_probe", verilog="", manifest_text="")
        counts[build is logic_product] = synthesize(emitted, dut, "ecp5",
                                                    tmp_path / str(len(counts)))["DSP"]
    assert counts == {True: 0, False: 1}, counts
