# SPDX-License-Identifier: BSD-2-Clause
"""Multipliers written as partial-product logic, for products too narrow to
spend a DSP block on."""

from amaranth.hdl import Cat, Const, Value, signed, unsigned

__all__ = ["LOGIC_PRODUCT_MAX_BITS", "logic_product", "narrow_product"]

#: The widest operand :func:`logic_product` is used for by the units that choose
#: between it and ``*`` (whose ``$mul`` cell Yosys maps to a DSP block).
LOGIC_PRODUCT_MAX_BITS = 6


def logic_product(a, b):
    """``a * b``, exact, as partial-product logic with no multiplier cell.

    ``a`` and ``b`` are Amaranth values, each signed or unsigned (their shapes
    say which); the result has the shape ``a * b`` has in Amaranth: width
    ``len(a) + len(b)``, signed when either operand is. Row ``j`` is ``a``
    (sign-extended to the product's width) ANDed with bit ``j`` of ``b`` and
    shifted left by ``j``; when ``b`` is signed its top bit weighs
    ``-2**(len(b) - 1)``, so its row is negated, written ``(a & x) ^ x`` plus
    ``x`` (``x`` the bit repeated), the two's-complement negation when ``x`` is 1
    and 0 when it is 0; that ``x`` is a term of the sum of its own, so no row
    waits for an increment. The terms are summed in a balanced tree, modulo
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
    wide = a.as_signed() if a.shape().signed else a.as_unsigned()
    wide = Cat(*(wide[min(k, len(a) - 1)] if a.shape().signed else
                 (wide[k] if k < len(a) else Const(0, 1)) for k in range(width)))
    rows = []
    for j in range(len(b)):
        bit = b[j].replicate(width)
        row = wide & bit
        if j == len(b) - 1 and b.shape().signed:
            row = row ^ bit
            rows.append((b[j] << j)[:width])  # the negation's +1: a term of its own
        rows.append((row << j)[:width])
    while len(rows) > 1:
        rows = [(rows[k] + rows[k + 1])[:width] if k + 1 < len(rows) else rows[k]
                for k in range(0, len(rows), 2)]
    return rows[0].as_signed() if is_signed else rows[0].as_unsigned()


def narrow_product(a, b, max_bits=LOGIC_PRODUCT_MAX_BITS):
    """``a * b``, exact: :func:`logic_product` when neither operand is wider than
    ``max_bits``, else Amaranth's ``*`` (a ``$mul`` cell, which synthesis may map
    to a DSP block). Combinational."""
    a, b = Value.cast(a), Value.cast(b)
    if max(len(a), len(b)) <= max_bits:
        return logic_product(a, b)
    return a * b
