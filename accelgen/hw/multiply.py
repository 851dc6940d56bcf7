# SPDX-License-Identifier: BSD-2-Clause
"""Multipliers written as partial-product logic, for products too narrow to
spend a DSP block on."""

from amaranth.hdl import Cat, Const, Value, signed, unsigned

__all__ = ["LOGIC_PRODUCT_MAX_BITS", "logic_product", "narrow_product", "product_terms",
           "product_carry_save", "sum_terms"]

#: The widest operand :func:`logic_product` is used for by the units that choose
#: between it and ``*`` (whose ``$mul`` cell Yosys maps to a DSP block).
LOGIC_PRODUCT_MAX_BITS = 6


def logic_product(a, b):
    """``a * b``, exact, as partial-product logic with no multiplier cell.

    ``a`` and ``b`` are Amaranth values, each signed or unsigned (their shapes
    say which); the result has the shape ``a * b`` has in Amaranth: width
    ``len(a) + len(b)``, signed when either operand is. The partial products
    are :func:`product_terms` (rows of ANDed bits, those that weigh negatively
    complemented, and one constant), summed by :func:`sum_terms` modulo
    ``2**width`` (the exact product fits).

    There is no ``$mul`` cell, so no synthesis flow maps the product to a DSP
    block (Yosys maps every ``$mul`` with both operands 2 bits or wider to one on
    ECP5 and iCE40): for narrow operands the logic is smaller than the DSP and
    faster than the path into and out of it. Combinational.
    """
    a, b = Value.cast(a), Value.cast(b)
    width = len(a) + len(b)
    is_signed = a.shape().signed or b.shape().signed
    shape = signed(width) if is_signed else unsigned(width)
    if len(a) == 0 or len(b) == 0:
        return Const(0, shape)
    total = sum_terms(product_terms(a, b, width), width)
    return total.as_signed() if is_signed else total.as_unsigned()


def product_terms(a, b, width):
    """The partial products of ``a * b`` modulo ``2**width`` (any ``width``), as
    non-negative rows and one constant (Baugh-Wooley): ``width``-bit values
    whose sum modulo ``2**width`` is ``a * b`` modulo ``2**width``, so that a
    sum the product goes into (an accumulator) can take them as terms of its
    own (:func:`sum_terms`) with one carry chain for both.

    Bit ``a[i] & b[j]`` weighs ``2**(i+j)``, negated when exactly one of ``i``
    and ``j`` is the top bit of a signed operand; a negated bit ``x`` is written
    ``~x - 1`` (``~x`` in the row, ``-2**(i+j)`` in the constant). So no row is
    sign-extended: row ``j`` spans ``len(a)`` bits from bit ``j``."""
    rows, constant = _partial_products(a, b, width)
    if not rows:
        return [Const(0, width)]
    constant %= 1 << width
    return [row[:width] for row in rows] + ([Const(constant, width)] if constant else [])


def product_carry_save(a, b):
    """The partial products of ``a * b`` (:func:`product_terms`) but the constant,
    reduced by carry-save levels to at most two unsigned rows of ``len(a) +
    len(b)`` bits, and that constant as a (non-positive) integer: ``a * b =
    sum(rows) + constant``, exactly. A pipelined multiply-add registers the
    rows and leaves their addition to the sum they go into (:func:`sum_terms`
    with the constant modulo its width), so that the cut is after the
    carry-save levels and one carry chain does both additions.

    No level drops a bit: the rows are non-negative and sum to at most
    ``(2**len(a) - 1) * (2**len(b) - 1)``, so each of them, carries included,
    stays below ``2**(len(a) + len(b))``. Combinational; one LUT level per
    carry-save level."""
    a, b = Value.cast(a), Value.cast(b)
    width = len(a) + len(b)
    rows, constant = _partial_products(a, b, width)
    rows = [_extend(row, width) for row in rows]
    while len(rows) > 2:
        rows = _compress(rows, width)
    return rows, constant


def _partial_products(a, b, width):
    """``(rows, constant)`` of :func:`product_terms`, the constant not reduced."""
    a, b = Value.cast(a), Value.cast(b)
    n, m = len(a), len(b)
    if n == 0 or m == 0:
        return [], 0
    a_top = n - 1 if a.shape().signed else None
    b_top = m - 1 if b.shape().signed else None
    rows, constant = [], 0
    for j in range(min(m, width)):
        bits = []
        for i in range(min(n, width - j)):
            negative = (i == a_top) != (j == b_top)
            bit = a[i] & b[j]
            if negative:
                bit = ~bit
                constant -= 1 << (i + j)
            bits.append(bit)
        rows.append(Cat(*(bits or [Const(0, 1)])) << j)
    return rows, constant


def sum_terms(terms, width):
    """The sum of ``terms`` modulo ``2**width``, as an unsigned ``width``-bit
    value: carry-save levels (full adders side by side, one LUT level each, as
    Yosys' ``maccmap`` reduces a multiply-add it keeps in logic) down to two
    terms, then one adder: one carry chain on FPGAs, not one per level of an
    adder tree. A term narrower than ``width`` is extended by its shape (sign
    or zeros), a wider one truncated."""
    rows = [_extend(Value.cast(t), width) for t in terms]
    while len(rows) > 2:
        rows = _compress(rows, width)
    return (rows[0] + rows[1])[:width] if len(rows) == 2 else rows[0]


def _extend(value, width):
    """``value`` as ``width`` bits: extended by its shape, or truncated."""
    if len(value) >= width:
        return value[:width]
    fill = value[-1] if value.shape().signed else Const(0, 1)
    return Cat(value, fill.replicate(width - len(value)))


def _compress(rows, width):
    """One carry-save level: every three rows become their bitwise sum and their
    carries (a full adder per bit, one LUT level, no carry chain); the rows
    left over pass through."""
    out = []
    for k in range(0, len(rows) - 2, 3):
        x, y, z = rows[k], rows[k + 1], rows[k + 2]
        out.append(x ^ y ^ z)
        out.append((((x & y) | (x & z) | (y & z)) << 1)[:width])
    return out + rows[len(rows) - len(rows) % 3:]


def narrow_product(a, b, max_bits=LOGIC_PRODUCT_MAX_BITS):
    """``a * b``, exact: :func:`logic_product` when neither operand is wider than
    ``max_bits``, else Amaranth's ``*`` (a ``$mul`` cell, which synthesis may map
    to a DSP block). Combinational."""
    a, b = Value.cast(a), Value.cast(b)
    if max(len(a), len(b)) <= max_bits:
        return logic_product(a, b)
    return a * b
