# SPDX-License-Identifier: BSD-2-Clause
"""The small floating-point formats: descriptions, the NumPy decoder against
ml_dtypes, and the Amaranth decoder against the NumPy one."""

import fractions

import ml_dtypes
import numpy as np
import pytest
from amaranth.hdl import Fragment, Module, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from accelgen.hw.fp import decode_fp
from accelgen.num.fp import decode, encode, to_float
from accelgen.num.fpformats import FORMATS, ELEMENT_FORMATS, get_format
from accelgen.verif.amaranth_sim import sweep_combinational

# The independent reference: ml_dtypes' (and NumPy's) types of the same names.
REFERENCE = {
    "e4m3": ml_dtypes.float8_e4m3fn, "e5m2": ml_dtypes.float8_e5m2,
    "e3m2": ml_dtypes.float6_e3m2fn, "e2m3": ml_dtypes.float6_e2m3fn,
    "e2m1": ml_dtypes.float4_e2m1fn, "e8m0": ml_dtypes.float8_e8m0fnu,
    "bf16": ml_dtypes.bfloat16, "fp16": np.float16, "fp32": np.float32,
}
STORAGE = {4: np.uint8, 6: np.uint8, 8: np.uint8, 16: np.uint16, 32: np.uint32}
EXHAUSTIVE = sorted(n for n in REFERENCE if FORMATS[n].width <= 16)


def reference_values(name, codes=None):
    """The ``codes`` (by default every code) of ``name`` as float64, read by
    ml_dtypes (sub-byte types hold one code per byte)."""
    fmt = FORMATS[name]
    codes = np.arange(1 << fmt.width) if codes is None else codes
    with np.errstate(invalid="ignore"):  # casting bfloat16's NaNs
        return codes.astype(STORAGE[fmt.width]).view(REFERENCE[name]).astype(np.float64)


def test_every_float_format_has_a_reference():
    assert set(REFERENCE) == {n for n, f in FORMATS.items() if f.kind == "float"}
    assert set(ELEMENT_FORMATS) <= set(FORMATS)


@pytest.mark.parametrize("name", EXHAUSTIVE)
def test_every_code_decodes_to_the_ml_dtypes_value(name):
    fmt = FORMATS[name]
    ref = reference_values(name)
    codes = np.arange(1 << fmt.width)
    with np.errstate(invalid="ignore"):
        got = to_float(fmt, codes)
    nan = np.isnan(ref)
    np.testing.assert_array_equal(np.isnan(got), nan)
    np.testing.assert_array_equal(got[~nan], ref[~nan])
    np.testing.assert_array_equal(np.signbit(got[~nan]), np.signbit(ref[~nan]))
    mant, exp, is_nan, is_inf = decode(fmt, codes)
    np.testing.assert_array_equal(is_nan, nan)
    np.testing.assert_array_equal(is_inf, np.isinf(ref))
    # The published facts: largest finite value and emax, and the pair widths.
    finite = ref[np.isfinite(ref)]
    assert fmt.max_value == finite.max() == float(ml_dtypes.finfo(REFERENCE[name]).max)
    assert fmt.emax == int(np.floor(np.log2(finite.max())))
    lo, hi = -(1 << (fmt.mant_width - 1)), 1 << (fmt.mant_width - 1)
    assert lo <= mant.min() and mant.max() < hi and abs(mant).max() >= hi // 2
    assert exp.min() == fmt.exp_min and exp.max() == fmt.exp_max
    e_lo, e_hi = -(1 << (fmt.exp_width - 1)), 1 << (fmt.exp_width - 1)
    assert e_lo <= fmt.exp_min and fmt.exp_max < e_hi
    assert not (e_lo // 2 <= fmt.exp_min and fmt.exp_max < e_hi // 2), "exp_width not minimal"


def test_fp32_codes_decode_to_numpy_float32():
    """binary32: the codes around every exponent boundary and seeded random codes."""
    print("seed 7")
    rng = np.random.default_rng(7)
    edges = np.array([(e << 23) + d for e in range(256) for d in (0, 1, (1 << 23) - 1)])
    codes = np.concatenate([edges, edges | 1 << 31, rng.integers(0, 1 << 32, 100_000)])
    ref = reference_values("fp32", codes)
    got = to_float("fp32", codes)
    nan = np.isnan(ref)
    np.testing.assert_array_equal(np.isnan(got), nan)
    np.testing.assert_array_equal(got[~nan], ref[~nan])
    assert FORMATS["fp32"].max_value == float(np.finfo(np.float32).max)


def _as_pairs(x):
    """Float64 ``x`` as exact integer pairs ``(mant, exp)``."""
    f, e = np.frexp(x)
    return (f * 2.0 ** 53).astype(np.int64), e - 53


@pytest.mark.parametrize("name", sorted(set(REFERENCE) - {"e8m0"}))
def test_encode_rounds_as_ml_dtypes_casts(name):
    """Round to nearest even, subnormals, overflow to inf / NaN / the largest value,
    against ml_dtypes' non-saturating casts of seeded random floats over a wide
    exponent range, every midpoint between neighbouring codes, and the
    midpoints nudged either way."""
    fmt = FORMATS[name]
    print("seed 11")
    rng = np.random.default_rng(11)
    wide = rng.standard_normal(20_000) * np.exp2(rng.integers(-40, 40, 20_000))
    if fmt.width <= 16:
        values = reference_values(name)
        finite = np.unique(values[np.isfinite(values)])
        mid = (finite[1:] + finite[:-1]) / 2
        wide = np.concatenate([wide, mid, np.nextafter(mid, np.inf), np.nextafter(mid, -np.inf)])
    mant, exp = _as_pairs(wide)
    with np.errstate(over="ignore"):  # NumPy warns when float16 overflows
        want = wide.astype(REFERENCE[name]).view(STORAGE[fmt.width]).astype(np.int64)
    np.testing.assert_array_equal(encode(name, mant, exp), want)


def test_encode_saturates_and_takes_huge_integers():
    top = FORMATS["e4m3"].max_value
    mant, exp = _as_pairs(np.array([1e6, -1e6, 470.0, -470.0, 464.0]))
    got = encode("e4m3", mant, exp, saturate=True)
    np.testing.assert_array_equal(to_float("e4m3", got), [top, -top, top, -top, top])
    np.testing.assert_array_equal(encode("e4m3", mant, exp), [0x7F, 0xFF, 0x7F, 0xFF, 0x7E])
    # Python ints far beyond int64 (fp32's last place at 2**100 is 2**77): a tie
    # goes to the even mantissa, just past it rounds away.
    big = np.array([2 ** 100 + 1, -(2 ** 100) - 2 ** 76, -(2 ** 100) - 2 ** 76 - 1], dtype=object)
    np.testing.assert_array_equal(to_float("fp32", encode("fp32", big, 0)),
                                  [2.0 ** 100, -(2.0 ** 100), -(2.0 ** 100) - 2.0 ** 77])
    with pytest.raises(ValueError, match=r"^encode takes a signed floating-point format, not e8m0$"):
        encode("e8m0", [1], [0])


def test_decode_is_exact_in_integers():
    """``mant * 2**exp`` read as exact fractions equals the float64 value."""
    for name in ("e4m3", "e2m1", "e8m0", "int8"):
        fmt = FORMATS[name]
        codes = np.arange(1 << fmt.width)
        mant, exp, nan, _ = decode(fmt, codes)
        values = to_float(fmt, codes)
        for c in codes[~nan]:
            exact = fractions.Fraction(int(mant[c])) * fractions.Fraction(2) ** int(exp[c])
            assert exact == fractions.Fraction(values[c]), (name, c)


def test_mxint8_is_twos_complement_over_64():
    fmt = FORMATS["int8"]
    codes = np.arange(256)
    np.testing.assert_array_equal(to_float(fmt, codes), codes.astype(np.int8) / 64.0)
    assert fmt.max_value == 127 / 64 and fmt.emax == 0


def test_bad_codes_and_names():
    with pytest.raises(ValueError, match=r"^codes of e2m1 must be in 0\.\.15$"):
        decode("e2m1", [16])
    with pytest.raises(TypeError, match=r"^codes of e4m3 must be integers, not float64$"):
        decode("e4m3", [1.0])
    with pytest.raises(ValueError, match=r"^unknown number format 'e9m9'; formats are e4m3, "):
        get_format("e9m9")


class _Decoder(wiring.Component):
    def __init__(self, fmt):
        self.fmt = fmt
        super().__init__({"code": In(fmt.width), "mant": Out(signed(fmt.mant_width)),
                          "exp": Out(signed(fmt.exp_width)), "nan": Out(1), "inf": Out(1)})

    def elaborate(self, platform):
        m = Module()
        mant, exp, nan, inf = decode_fp(m, self.code, self.fmt)
        m.d.comb += [self.mant.eq(mant), self.exp.eq(exp), self.nan.eq(nan), self.inf.eq(inf)]
        return m


@pytest.mark.sim
def test_amaranth_decoder_matches_numpy():
    """Every code of the formats up to 8 bits, and for BF16/FP16 the codes around
    every exponent boundary plus seeded random codes, through the Amaranth simulator."""
    rng = np.random.default_rng(2026)
    print("seed 2026")
    for name, fmt in FORMATS.items():
        if fmt.width <= 8:
            codes = np.arange(1 << fmt.width)
        else:
            edges = [(e << fmt.man_bits) + d for e in range(1 << fmt.exp_bits) for d in (0, 1, -1)]
            edges = np.array(edges) % (1 << (fmt.width - 1))
            codes = np.unique(np.concatenate([edges, edges | (1 << (fmt.width - 1)),
                                              rng.integers(0, 1 << fmt.width, 256)]))
        got = sweep_combinational(_Decoder(fmt), [{"code": c} for c in codes],
                                  ("mant", "exp", "nan", "inf"))
        mant, exp, nan, inf = decode(fmt, codes)
        want = list(zip(mant.tolist(), exp.tolist(), nan.astype(int).tolist(),
                        inf.astype(int).tolist()))
        assert got == want, name


def test_amaranth_decoder_checks_the_code_width():
    m = Module()
    with pytest.raises(ValueError, match=r"^code of e4m3 must be 8 bits wide, not 6$"):
        decode_fp(m, Signal(6), "e4m3")
    Fragment.get(m, None)  # elaborated: the unused module does not warn
