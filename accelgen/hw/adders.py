# SPDX-License-Identifier: BSD-2-Clause
"""Carry-select adders: wide sums and negations whose carry chains are half as
long, for the loops and stages that a single chain would make the slowest
(as it does on the iCE40, whose carry chains are slow per bit)."""

from amaranth.hdl import Signal, Cat, Mux, Value, signed, unsigned

__all__ = ["SPLIT_MIN_BITS", "split_add", "split_negate"]

#: Narrower sums and negations keep one carry chain.
SPLIT_MIN_BITS = 17


def split_add(m, a, b, width, name, *, min_bits=SPLIT_MIN_BITS):
    """``a + b`` modulo ``2**width`` (``a``, ``b`` extended to ``width`` bits by
    their shapes) as a ``signed(width)`` signal. From ``min_bits`` wide, a carry
    select: the low ``width // 2`` bits and the high bits, with and without a
    carry in, are summed side by side, and the low half's carry picks the high
    sum. Combinational."""
    total = Signal(signed(width), name=name)
    if width < min_bits:
        m.d.comb += total.eq(a + b)
        return total
    half = width // 2
    wide_a, wide_b = Signal(width, name=f"{name}_a"), Signal(width, name=f"{name}_b")
    m.d.comb += [wide_a.eq(a), wide_b.eq(b)]
    low = Signal(half + 1, name=f"{name}_low")
    high = [Signal(width - half, name=f"{name}_high{c}") for c in (0, 1)]
    # ``a + b + 1`` as ``a - ~b``: no sum shared with ``a + b``, which synthesis
    # would otherwise turn with the select into one chain after the other.
    m.d.comb += [low.eq(wide_a[:half] + wide_b[:half]),
                 high[0].eq(wide_a[half:] + wide_b[half:]),
                 high[1].eq(wide_a[half:] - ~wide_b[half:]),
                 total.eq(Cat(low[:half], Mux(low[half], high[1], high[0])))]
    return total


def split_negate(m, value, name, *, min_bits=SPLIT_MIN_BITS):
    """``-value`` modulo ``2**len(value)``, as ``unsigned(len(value))``. From
    ``min_bits`` wide, the halves side by side: the high half is ``-high``
    when the low half is zero, else ``~high``. Combinational."""
    value = Value.cast(value)
    width = len(value)
    neg = Signal(unsigned(width), name=name)
    if width < min_bits:
        m.d.comb += neg.eq(-value)
        return neg
    half = width // 2
    low, high = value[:half], value[half:]
    neg_low = Signal(half, name=f"{name}_low")
    neg_high = Signal(width - half, name=f"{name}_high")
    m.d.comb += [neg_low.eq(-low), neg_high.eq(-high),
                 neg.eq(Cat(neg_low, Mux(low == 0, neg_high, ~high)))]
    return neg
