# SPDX-License-Identifier: BSD-2-Clause
"""Number-format RTL builders: ANT and OliVe decoders, typed selection, product shifters."""

import dataclasses

from amaranth.hdl import Const, Signal, Value, Mux, Cat, signed, unsigned

from accelgen.hw.multiply import narrow_product
from accelgen.num.formats import Abfloat, OliveFormat, TYPE_CODE
from accelgen.params import UnitParams, param, check_int, check_choice, require

__all__ = ["FormatParams", "leading_zeros", "decode_ant", "decode_typed", "shifted_product",
           "decode_pair", "pair_step", "pair_multiply", "pair_shift"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class FormatParams(UnitParams):
    """The OliVe format parameters, shared by ``olive_decoder`` and ``olive_pe``
    (their ``Params`` derive from this class); :attr:`format` is the
    :class:`~accelgen.num.formats.OliveFormat` the decoders are built for."""

    bits: int = param(4, "element width: 4 (a pair per byte) or 8 (a pair per 16 bits)",
                      abbr="n")
    normal: str = param("int", "normal type: 'int' (symmetric two's complement) or "
                               "'flint' (signed flint)")
    exp_bits: int = param(2, "abfloat exponent bits (exp_bits + man_bits = bits - 1; "
                             "E2M1 at 4 bits; E4M3 (paper) or E2M5 (authors' code) at 8)",
                          abbr="e")
    man_bits: int = param(1, "abfloat mantissa bits", abbr="m")
    bias: int = param(2, "abfloat exponent bias (0..32): outlier magnitudes are "
                         "(2**M + f) << (e + bias); 2 for int4 and 3 for flint4 start "
                         "just above the normal range", abbr="b")

    def __post_init__(self):
        check_int(self, "bits", min=4, max=8)
        require(self, self.bits in (4, 8), f"bits must be 4 or 8, not {self.bits}")
        check_choice(self, "normal", ("int", "flint"))
        check_int(self, "exp_bits", min=1, max=self.bits - 1)
        check_int(self, "man_bits", min=0, max=self.bits - 2)
        require(self, self.exp_bits + self.man_bits == self.bits - 1,
                f"exp_bits + man_bits must be bits - 1 = {self.bits - 1} (sign + exponent "
                f"+ mantissa fill an element), not {self.exp_bits + self.man_bits}")
        check_int(self, "bias", min=0, max=32)

    @property
    def format(self):
        return OliveFormat(self.bits, self.normal,
                           Abfloat(self.exp_bits, self.man_bits, self.bias))

    def format_manifest(self):
        f = self.format
        return {"element_bits": f.bits, "identifier": f.identifier,
                "normal": f.normal_format.name if f.normal == "flint"
                else f"int{f.bits} symmetric",
                "normal_max": f.normal_max,
                "outlier": f"abfloat E{f.outlier.exp_bits}M{f.outlier.man_bits} "
                           f"bias {f.outlier.bias}",
                "outlier_magnitudes": f.outlier.magnitudes(),
                "exp_width": f.exp_width, "mant_width": f.mant_width,
                "value": "mant << exp", "pair": "element 0 in the low bits"}


def leading_zeros(m, r, name):
    """``LZD(r)``: leading zeros of the field ``r`` (its width when all zero)."""
    width = len(r)
    z = Signal(range(width + 1), name=name)
    value = width
    for i in range(width):  # the highest set bit wins: it is applied last
        value = Mux(r[i], width - 1 - i, value)
    m.d.comb += z.eq(value)
    return z


def decode_ant(m, code, fmt, prefix=""):
    """Add a decoder for :class:`~accelgen.num.formats.AntFormat` ``fmt`` to ``m``:
    ``(exp, mant)`` signals, ``unsigned(fmt.exp_width)`` and ``signed(fmt.mant_width)``.

    Every code decodes exactly to the value ``mant << exp`` (the widths come
    from the format). Used inline (so each unit stays one Verilog module) by
    ``ant_decoder``, ``ant_pe`` (through :func:`decode_typed`), the OliVe pair
    decoder (:func:`decode_pair`, for the normal values) and ``systolic_array``.
    """
    exp = Signal(unsigned(fmt.exp_width), name=f"{prefix}exp")
    mant = Signal(signed(fmt.mant_width), name=f"{prefix}mant")
    if fmt.kind == "int":
        m.d.comb += [exp.eq(0), mant.eq(code.as_signed() if fmt.signed else code)]
        return exp, mant
    w = fmt.magnitude_bits
    mag = code[:w]
    magnitude = Signal(unsigned(fmt.mant_width - 1), name=f"{prefix}magnitude")
    if fmt.kind == "pot":
        m.d.comb += [exp.eq(Mux(mag != 0, mag - 1, 0)), magnitude.eq(mag != 0)]
    elif fmt.kind == "float":
        e, f = mag[fmt.man_bits:], mag[:fmt.man_bits]
        m.d.comb += [exp.eq(Mux(e != 0, e - 1, 0)),
                     magnitude.eq(Mux(e != 0, Cat(f, 1), f))]
    else:  # flint
        b, r = mag[w - 1], mag[:w - 1]
        z = leading_zeros(m, r, f"{prefix}lzd")
        m.d.comb += [exp.eq(Mux(b, Mux(r == 0, 2 * w - 2, 2 * z + 1), 0)),
                     magnitude.eq(Mux(b & (r == 0), 1, r))]
    if fmt.signed:
        m.d.comb += mant.eq(Mux(code[w], -magnitude, magnitude))
    else:
        m.d.comb += mant.eq(magnitude)
    return exp, mant


def decode_typed(m, code, type_code, formats, prefix):
    """ANT decoders (:func:`decode_ant`) for every format of ``formats`` and a
    selection by the run-time ``type_code`` (:data:`accelgen.num.formats.TYPE_CODE`):
    ``(exp, mant, error)``, wide enough for every format; a type code not built
    gives ``exp = mant = 0`` and ``error = 1``. Combinational."""
    exp = Signal(range(max(f.exp_max for f in formats) + 1), name=f"{prefix}exp")
    mant = Signal(signed(max(f.mant_width for f in formats)), name=f"{prefix}mant")
    error = Signal(name=f"{prefix}type_error")
    decoded = {f.kind: decode_ant(m, code, f, f"{prefix}{f.kind}_") for f in formats}
    with m.Switch(type_code):
        for kind, (e, v) in decoded.items():
            with m.Case(TYPE_CODE[kind]):
                m.d.comb += [exp.eq(e), mant.eq(v), error.eq(0)]
        with m.Default():
            m.d.comb += [exp.eq(0), mant.eq(0), error.eq(1)]
    return exp, mant, error


def shifted_product(m, mant, shift, width, prefix):
    """``(value, out_of_range)``: ``mant << shift`` modulo ``2**width`` as
    ``signed(width)``, and a flag set when the exact value does not fit
    ``width`` bits (signed or unsigned ``mant``). Shifts of ``width`` or more
    give 0 (and the flag unless ``mant == 0``); the shifter is ``width`` wide,
    whatever ``len(shift)``. The flag does not wait for the shifter: for each
    amount ``s`` it is ``mant``'s bits from ``width - 1 - s`` up, all copies of
    the sign, decided from ``mant`` beside the shifter and selected by the
    amount. Combinational."""
    mant = Value.cast(mant)
    value = Signal(signed(width), name=f"{prefix}value")
    out = Signal(name=f"{prefix}out_of_range")
    k = (width - 1).bit_length()
    amount = shift[:k] if len(shift) >= k else shift
    fits = Signal(1 << len(amount), name=f"{prefix}fits")
    for s in range(1 << len(amount)):
        low = width - 1 - s
        if low < 0:
            fit = mant == 0
        elif low >= len(mant):
            fit = Const(1)
        elif mant.shape().signed:
            top = mant[low:]
            fit = (top == 0) | (top == (1 << len(top)) - 1)
        else:
            fit = mant[low:] == 0
        m.d.comb += fits[s].eq(fit)
    big = (shift >= width) if (1 << len(shift)) > width else 0
    m.d.comb += [value.eq(Mux(big, 0, mant << amount)),  # sign-extended or truncated
                 out.eq(Mux(big, mant != 0, ~fits.bit_select(amount, 1)))]
    return value, out


def _abfloat(m, code, fmt, prefix):
    """``(exp, mant)`` of an OliVe outlier element: sign + abfloat magnitude."""
    ab, w = fmt.outlier, fmt.bits - 1
    mag = code[:w]
    exp = Signal(unsigned(fmt.exp_width), name=f"{prefix}ab_exp")
    magnitude = Signal(unsigned(fmt.mant_width - 1), name=f"{prefix}ab_magnitude")
    m.d.comb += [exp.eq(Mux(mag != 0, mag[ab.man_bits:] + ab.bias, 0)),
                 magnitude.eq(Mux(mag != 0, Cat(mag[:ab.man_bits], 1), 0))]
    return exp, Mux(code[w], -magnitude, magnitude)


def decode_pair(m, word, fmt, prefix=""):
    """Add a pair decoder for :class:`~accelgen.num.formats.OliveFormat` ``fmt`` to ``m``:
    ``[(exp0, mant0), (exp1, mant1)]``, ``unsigned(fmt.exp_width)`` /
    ``signed(fmt.mant_width)``, value ``mant << exp``: the identifier decodes to 0,
    its partner to an abfloat outlier, other elements to normal values; every pair
    decodes exactly. Combinational; used inline by ``olive_decoder``, ``olive_pe``
    and ``systolic_array``."""
    n = fmt.bits
    codes = [word[:n], word[n:2 * n]]
    is_id = [Signal(name=f"{prefix}id{k}") for k in range(2)]
    m.d.comb += [is_id[k].eq(codes[k] == fmt.identifier) for k in range(2)]
    out = []
    for k in range(2):
        p = f"{prefix}e{k}_"
        n_exp, n_mant = decode_ant(m, codes[k], fmt.normal_format, f"{p}normal_")
        o_exp, o_mant = _abfloat(m, codes[k], fmt, p)
        exp = Signal(unsigned(fmt.exp_width), name=f"{p}exp")
        mant = Signal(signed(fmt.mant_width), name=f"{p}mant")
        with m.If(is_id[k]):
            m.d.comb += [exp.eq(0), mant.eq(0)]
        with m.Elif(is_id[1 - k]):
            m.d.comb += [exp.eq(o_exp), mant.eq(o_mant)]
        with m.Else():
            m.d.comb += [exp.eq(n_exp), mant.eq(n_mant)]
        out.append((exp, mant))
    return out


def pair_step(m, a_pairs, w_pairs, width, prefix=""):
    """Products ``a_k * w_k`` (``k = 0, 1``) of decoded pairs
    (:func:`decode_pair`), each ``(ma * mw) << (ea + ew)`` through
    :func:`shifted_product`: ``([value0, value1], [out0, out1])``, the products
    modulo ``2**width`` and their out-of-range flags. Combinational."""
    values, outs = [], []
    for k, ((ea, ma), (ew, mw)) in enumerate(zip(a_pairs, w_pairs)):
        shift = Signal(max(len(ea), len(ew)) + 1, name=f"{prefix}shift{k}")
        m.d.comb += shift.eq(ea + ew)
        value, out = shifted_product(m, narrow_product(ma, mw), shift, width,
                                     f"{prefix}product{k}_")
        values.append(value)
        outs.append(out)
    return values, outs


def pair_multiply(m, a_pairs, w_pairs, prefix=""):
    """The first half of :func:`pair_step`, for a register between the halves:
    ``[(mant0, shift0), (mant1, shift1)]``, each ``ma * mw`` and ``ea + ew`` of
    decoded pairs (:func:`decode_pair`), exact. Combinational."""
    out = []
    for k, ((ea, ma), (ew, mw)) in enumerate(zip(a_pairs, w_pairs)):
        mant = Signal(signed(len(ma) + len(mw)), name=f"{prefix}mant{k}")
        shift = Signal(max(len(ea), len(ew)) + 1, name=f"{prefix}shift{k}")
        m.d.comb += [mant.eq(narrow_product(ma, mw)), shift.eq(ea + ew)]
        out.append((mant, shift))
    return out


def pair_shift(m, multiplied, width, prefix=""):
    """The second half of :func:`pair_step`: ``[(mant, shift)]`` from
    :func:`pair_multiply` through :func:`shifted_product`, ``([value0, value1],
    [out0, out1])`` as :func:`pair_step` returns them. Combinational."""
    values, outs = [], []
    for k, (mant, shift) in enumerate(multiplied):
        value, out = shifted_product(m, mant, shift, width, f"{prefix}product{k}_")
        values.append(value)
        outs.append(out)
    return values, outs
