# SPDX-License-Identifier: BSD-2-Clause
"""Floating-point RTL builders: the decoder of the small formats (FP8, FP6, FP4,
BF16, FP16, E8M0, MXINT8) to an exact ``(mant, exp)`` pair."""

from amaranth.hdl import Signal, Mux, Cat, Const, signed

from accelgen.num.fpformats import get_format

__all__ = ["decode_fp"]


def decode_fp(m, code, fmt, prefix=""):
    """Add a decoder of ``fmt`` (an :mod:`accelgen.num.fpformats` format or its
    name) for the ``fmt.width``-bit ``code`` to ``m``: ``(mant, exp, nan, inf)``,
    ``signed(fmt.mant_width)``, ``signed(fmt.exp_width)`` and two flags.

    Every code decodes exactly to ``mant * 2**exp`` (sign and hidden bit in
    ``mant``; ``±0`` gives ``mant = 0``); ``nan``/``inf`` flag the special codes,
    whose pair is what the formula gives their bits. Combinational, no
    multiplier: a subnormal test, a constant subtraction and a negation. Used
    inline (each unit stays one Verilog module) by ``fp_decoder``, ``fp_mac``
    and ``mx_dot``.
    """
    fmt = get_format(fmt) if isinstance(fmt, str) else fmt
    if len(code) != fmt.width:
        raise ValueError(f"code of {fmt.name} must be {fmt.width} bits wide, not {len(code)}")
    mant = Signal(signed(fmt.mant_width), name=f"{prefix}mant")
    exp = Signal(signed(fmt.exp_width), name=f"{prefix}exp")
    nan = Signal(name=f"{prefix}nan")
    inf = Signal(name=f"{prefix}inf")
    if fmt.kind == "int":
        m.d.comb += [mant.eq(code.as_signed()), exp.eq(-fmt.frac_bits),
                     nan.eq(0), inf.eq(0)]
        return mant, exp, nan, inf
    m_bits, e_bits = fmt.man_bits, fmt.exp_bits
    f = code[:m_bits] if m_bits else Const(0, 1)  # e8m0 has no mantissa
    e = code[m_bits:m_bits + e_bits]
    normal = (e != 0) if fmt.subnormals else Const(1, 1)
    magnitude = Signal(m_bits + 1, name=f"{prefix}magnitude")
    m.d.comb += magnitude.eq(Cat(f, normal) if m_bits else normal)
    # exp = max(e, 1) - bias - M for formats with subnormals, e - bias - M otherwise
    # (a signed constant makes the sum signed).
    biased = Mux(normal, e, 1) if fmt.subnormals else e
    offset = fmt.bias + m_bits
    m.d.comb += exp.eq(biased + Const(-offset, signed(offset.bit_length() + 1)))
    if fmt.signed:
        m.d.comb += mant.eq(Mux(code[fmt.width - 1], -magnitude, magnitude))
    else:
        m.d.comb += mant.eq(magnitude)
    ones = (1 << e_bits) - 1
    if fmt.specials == "ieee":
        m.d.comb += [nan.eq((e == ones) & (f != 0)), inf.eq((e == ones) & (f == 0))]
    elif fmt.specials == "fn":
        body = code[:e_bits + m_bits]
        m.d.comb += [nan.eq(body == (1 << (e_bits + m_bits)) - 1), inf.eq(0)]
    else:
        m.d.comb += [nan.eq(0), inf.eq(0)]
    return mant, exp, nan, inf
