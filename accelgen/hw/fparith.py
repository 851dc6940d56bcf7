# SPDX-License-Identifier: BSD-2-Clause
"""Floating-point MAC datapath builders: exact products of small formats, FP32 addition, fixed-point alignment."""

from amaranth.hdl import Signal, Mux, Cat, Const, signed

from accelgen.hw.fp import decode_fp
from accelgen.hw.fpround import round_to_float
from accelgen.hw.multiply import narrow_product
from accelgen.hw.pipeline import Carry
from accelgen.num.fpformats import get_format

__all__ = ["FP32_NAN", "product_width", "fp_product", "product_to_fp32", "fp32_add",
           "exact_lsb", "exact_product_width", "align_exact", "decode_pair", "exact_to_fp32"]

#: The canonical quiet NaN every FP32 result that is NaN takes (sign 0, quiet bit set).
FP32_NAN = 0x7FC00000
_FP32_INF = 0x7F800000


def _fmt(fmt):
    return get_format(fmt) if isinstance(fmt, str) else fmt


def product_width(a_fmt, b_fmt):
    """Width of the exact signed product ``mant_a * mant_b``: ``a.mant_width + b.mant_width - 1``
    (two sign-magnitude-derived values never reach ``-2**(n-1)``)."""
    a_fmt, b_fmt = _fmt(a_fmt), _fmt(b_fmt)
    return a_fmt.mant_width + b_fmt.mant_width - 1


def fp_product(m, a_dec, b_dec, a_fmt, b_fmt, prefix=""):
    """The exact product of two decoded operands (``(mant, exp, nan, inf)`` of
    :func:`accelgen.hw.fp.decode_fp`): ``(mant, exp, nan, inf)`` with value
    ``mant * 2**exp``, ``signed(product_width)`` and a signed exponent one bit
    wider than the operands'. ``nan``: an operand is NaN, or infinity times
    zero; ``inf``: an operand is infinite and the product is not NaN (its sign
    is ``mant``'s: an infinite code's pair is its formula's, non-zero).
    Combinational: one multiplier (partial-product logic for mantissas of at
    most 6 bits, the FP8/FP6/FP4 ones: :func:`accelgen.hw.multiply.narrow_product`)
    and one small adder."""
    a_fmt, b_fmt = _fmt(a_fmt), _fmt(b_fmt)
    ma, ea, na, ia = a_dec
    mb, eb, nb, ib = b_dec
    mant = Signal(signed(product_width(a_fmt, b_fmt)), name=f"{prefix}mant")
    exp = Signal(signed(max(a_fmt.exp_width, b_fmt.exp_width) + 1), name=f"{prefix}exp")
    nan = Signal(name=f"{prefix}nan")
    inf = Signal(name=f"{prefix}inf")
    m.d.comb += [
        mant.eq(narrow_product(ma, mb)),
        exp.eq(ea + eb),
        nan.eq(na | nb | (ia & (mb == 0)) | (ib & (ma == 0))),
        inf.eq((ia | ib) & ~nan),
    ]
    return mant, exp, nan, inf


def product_to_fp32(m, product, prefix=""):
    """The FP32 code of an exact product ``(mant, exp, nan, inf)``: rounded to
    nearest even by :func:`accelgen.hw.fpround.round_to_float` (exact for FP8,
    FP16 and BF16 normal operands; BF16 products may underflow or overflow),
    :data:`FP32_NAN` for NaN, ``±inf`` for an infinite product. Combinational."""
    mant, exp, nan, inf = product
    rounded = round_to_float(m, mant, exp, "fp32", prefix=f"{prefix}r_")
    code = Signal(32, name=f"{prefix}fp32")
    m.d.comb += code.eq(Mux(nan, FP32_NAN,
                            Mux(inf, Cat(Const(_FP32_INF, 31), mant[-1]), rounded)))
    return code


def _right_shift_sticky(m, x, amount, name):
    """``x >> amount`` with the bits shifted out ORed into bit 0 (``amount``
    unsigned, any width; ``len(x)`` or more clears ``x`` into the sticky bit)."""
    width = len(x)
    k = (width - 1).bit_length()
    cur, sticky = x, Const(0, 1)
    for i in range(k):
        step = 1 << i
        nxt = Signal(width, name=f"{name}_s{i}")
        lost = Signal(name=f"{name}_t{i}")
        m.d.comb += [nxt.eq(Mux(amount[i], cur >> step, cur)),
                     lost.eq(sticky | (amount[i] & cur[:step].any()))]
        cur, sticky = nxt, lost
    if len(amount) > k:
        big = amount[k:].any()
        out = Signal(width, name=f"{name}_out")
        m.d.comb += out.eq(Mux(big, Cat(x.any(), Const(0, width - 1)),
                               Cat(cur[0] | sticky, cur[1:])))
        return out
    out = Signal(width, name=f"{name}_out")
    m.d.comb += out.eq(Cat(cur[0] | sticky, cur[1:]))
    return out


def fp32_add(m, x, y, prefix=""):
    """``fp32(x + y)``: the FP32 code of the sum of FP32 codes ``x`` and ``y``,
    IEEE 754 addition with round to nearest, ties to even, subnormals in and
    out (no flush to zero). NaN (either operand NaN, or ``+inf + -inf``) gives
    :data:`FP32_NAN`; an infinite operand otherwise gives that infinity;
    overflow gives ``±inf``. An exact zero sum is ``+0`` except ``-0 + -0 = -0``.

    Structure (combinational): order the operands by magnitude (their codes
    below the sign compare as magnitudes), align the smaller one right by the
    exponent difference keeping three bits below the larger one's last place
    (the lowest a sticky OR of everything shifted out, enough for correct
    rounding of a sum or difference), add or subtract the 28-bit magnitudes,
    and round with :func:`accelgen.hw.fpround.round_to_float`."""
    fields = {}
    for name, v in (("x", x), ("y", y)):
        e, f = v[23:31], v[:23]
        fields[name] = (v[31], e, f, (e == 0xFF) & (f != 0), (e == 0xFF) & (f == 0))
    sx, _ex, _fx, nx, ix = fields["x"]
    sy, _ey, _fy, ny, iy = fields["y"]
    swap = Signal(name=f"{prefix}swap")
    m.d.comb += swap.eq(y[:31] > x[:31])
    big, small = Signal(32, name=f"{prefix}big"), Signal(32, name=f"{prefix}small")
    m.d.comb += [big.eq(Mux(swap, y, x)), small.eq(Mux(swap, x, y))]
    eb, es = big[23:31], small[23:31]
    mb = Cat(big[:23], eb != 0)                  # 24-bit significands, hidden bit on top
    ms = Cat(small[:23], es != 0)
    diff = Signal(8, name=f"{prefix}ediff")      # max(eb, 1) - max(es, 1) >= 0
    m.d.comb += diff.eq(Mux(eb == 0, 1, eb) - Mux(es == 0, 1, es))
    aligned = _right_shift_sticky(m, Cat(Const(0, 3), ms), diff, f"{prefix}align")
    subtract = big[31] ^ small[31]
    total = Signal(28, name=f"{prefix}sum")
    m.d.comb += total.eq(Mux(subtract, Cat(Const(0, 3), mb) - aligned,
                             Cat(Const(0, 3), mb) + aligned))
    # LSB of total: 2**(max(eb, 1) - 127 - 23 - 3).
    lsb = Signal(signed(10), name=f"{prefix}lsb")
    m.d.comb += lsb.eq(Mux(eb == 0, 1, eb) - (127 + 26))
    rounded = round_to_float(m, total, lsb, "fp32", prefix=f"{prefix}r_", negative=big[31])
    code = Signal(32, name=f"{prefix}code")
    nan = nx | ny | (ix & iy & (sx != sy))
    zero_sign = sx & sy                          # -0 + -0 = -0; other exact zeros are +0
    m.d.comb += code.eq(
        Mux(nan, FP32_NAN,
            Mux(ix, x, Mux(iy, y,
                           Mux(total == 0, Cat(Const(0, 31), zero_sign), rounded)))))
    return code


def exact_lsb(a_fmt, b_fmt):
    """Exponent of the exact accumulator's LSB: ``a.exp_min + b.exp_min`` (the
    product of the two smallest subnormals is 1)."""
    return _fmt(a_fmt).exp_min + _fmt(b_fmt).exp_min


def exact_product_width(a_fmt, b_fmt):
    """Bits of the two's complement fixed-point product (LSB :func:`exact_lsb`)
    holding every finite product: ``max_a * max_b / 2**lsb`` in magnitude, plus
    the sign."""
    a_fmt, b_fmt = _fmt(a_fmt), _fmt(b_fmt)
    top = (a_fmt.max_value * b_fmt.max_value) * 2 ** -exact_lsb(a_fmt, b_fmt)
    return int(top).bit_length() + 1


def align_exact(m, product, a_fmt, b_fmt, prefix=""):
    """The exact product ``(mant, exp, nan, inf)`` as a fixed-point integer with
    LSB ``2**exact_lsb``: ``signed(exact_product_width)``, ``mant << (exp -
    lsb)``; 0 for a NaN or infinite product (the caller flags those).
    Combinational: one left shift by ``exp - lsb`` (never negative)."""
    mant, exp, nan, inf = product
    lsb = exact_lsb(a_fmt, b_fmt)
    width = exact_product_width(a_fmt, b_fmt)
    span = _fmt(a_fmt).exp_max - _fmt(a_fmt).exp_min + _fmt(b_fmt).exp_max \
        - _fmt(b_fmt).exp_min
    shift = Signal(range(span + 1), name=f"{prefix}shift")
    m.d.comb += shift.eq(exp - lsb)
    value = Signal(signed(width), name=f"{prefix}fixed")
    m.d.comb += value.eq(Mux(nan | inf, 0, mant << shift))
    return value


def decode_pair(m, a, b, a_fmt, b_fmt, prefix=""):
    """:func:`accelgen.hw.fp.decode_fp` of both operands (prefixes ``<prefix>a_``, ``<prefix>b_``)."""
    return (decode_fp(m, a, _fmt(a_fmt), prefix=f"{prefix}a_"),
            decode_fp(m, b, _fmt(b_fmt), prefix=f"{prefix}b_"))


def exact_to_fp32(m, enable, *, valid, total, exp, nan, inf, neg, cuts=(), prefix="fp32_"):
    """The FP32 result of an exact sum ``total * 2**exp`` (``total`` two's
    complement) with its IEEE flags: :data:`FP32_NAN` when ``nan``, the
    infinity of sign ``neg`` when ``inf``, else ``total * 2**exp`` rounded to
    nearest even by :func:`accelgen.hw.fpround.round_to_float` (an exact zero
    gives ``+0``). ``cuts`` names the rounder's register cuts to build (a
    subset of :data:`accelgen.hw.fpround.ROUND_CUTS`), loading when ``enable``
    is high; ``valid`` and the flags travel beside them. Returns ``(valid,
    code)``, both ``len(cuts)`` cycles after the inputs."""
    carry = Carry(m, enable, f"{prefix}stage", enabled=cuts, valid=valid, nan=nan, inf=inf,
                  neg=neg)
    rounded = round_to_float(m, total, exp, "fp32", prefix=prefix, cut=carry.cut)
    side = carry.side
    code = Signal(32, name=f"{prefix}code")
    m.d.comb += code.eq(Mux(side["nan"], FP32_NAN,
                            Mux(side["inf"], Cat(Const(_FP32_INF, 31), side["neg"]), rounded)))
    return side["valid"], code
