# SPDX-License-Identifier: BSD-2-Clause
"""accelgen.num.fpquant: the quantizers against ml_dtypes' casts (random and
boundary floats, saturating and not), and the MX quantizer against a scalar
reading of the OCP MX v1.0 conversion written here (Python floats, math.frexp,
exact fractions)."""

import bisect
import fractions
import math

import ml_dtypes
import numpy as np
import pytest

from accelgen.num.fpformats import FORMATS, ELEMENT_FORMATS
from accelgen.num.fpquant import quantize, dequantize, mx_quantize, mx_dequantize, nan_code

SEED = 4242
REFERENCE = {
    "e4m3": ml_dtypes.float8_e4m3fn, "e5m2": ml_dtypes.float8_e5m2,
    "e3m2": ml_dtypes.float6_e3m2fn, "e2m3": ml_dtypes.float6_e2m3fn,
    "e2m1": ml_dtypes.float4_e2m1fn, "bf16": ml_dtypes.bfloat16,
    "fp16": np.float16, "fp32": np.float32,
}
STORAGE = {4: np.uint8, 6: np.uint8, 8: np.uint8, 16: np.uint16, 32: np.uint32}
WITH_NAN = ("e4m3", "e5m2", "bf16", "fp16", "fp32")


def cast(name, x):
    """ml_dtypes' (NumPy's) round-to-nearest-even cast of float64 ``x``, as codes."""
    with np.errstate(over="ignore", invalid="ignore"):
        return x.astype(REFERENCE[name]).view(STORAGE[FORMATS[name].width]).astype(np.int64)


def values(name):
    """Every finite value of ``name``, sorted and distinct (ml_dtypes' reading)."""
    fmt = FORMATS[name]
    codes = np.arange(1 << min(fmt.width, 16)) if fmt.width <= 16 else None
    with np.errstate(invalid="ignore"):
        v = codes.astype(STORAGE[fmt.width]).view(REFERENCE[name]).astype(np.float64)
    return np.unique(v[np.isfinite(v)])


def stimulus(name, rng):
    """Random floats over a wide exponent range, and the boundaries: zeros of
    both signs, every midpoint between neighbouring values (formats up to 8
    bits) nudged either way, the largest value and the midpoint above it
    (where rounding overflows) nudged, half the smallest subnormal, infinities."""
    fmt = FORMATS[name]
    top = float(fmt.max_value)
    tiny = 2.0 ** fmt.exp_min
    bounds = [0.0, -0.0, top, np.nextafter(top, np.inf), tiny, tiny / 2,
              np.nextafter(tiny / 2, 0), np.nextafter(tiny / 2, 1), 1.5 * tiny]
    edge = top + 2.0 ** (fmt.emax - fmt.man_bits - 1)  # halfway to the next binade's step
    bounds += [edge, np.nextafter(edge, 0), np.nextafter(edge, np.inf), 1e300, np.inf]
    x = [rng.standard_normal(3000) * np.exp2(rng.integers(-2 * fmt.emax - 10,
                                                          fmt.emax + 4, 3000))]
    if fmt.width <= 8:
        v = values(name)
        mid = (v[1:] + v[:-1]) / 2
        x += [mid, np.nextafter(mid, np.inf), np.nextafter(mid, -np.inf)]
    b = np.array(bounds)
    return np.concatenate([*x, b, -b])


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_quantize_rounds_as_ml_dtypes_casts(name):
    """Non-saturating: ml_dtypes' cast itself; saturating: the cast of the value
    clipped to the largest finite magnitude (clipping before a round-to-nearest
    cast is exactly the saturating conversion)."""
    print(f"seed {SEED}")
    x = stimulus(name, np.random.default_rng(SEED))
    np.testing.assert_array_equal(quantize(x, name), cast(name, x))
    top = float(FORMATS[name].max_value)
    np.testing.assert_array_equal(quantize(x, name, saturate=True),
                                  cast(name, np.clip(x, -top, top)))


def test_overflow_rules():
    """The rule per format beyond the range, infinities included."""
    big = np.array([1e6, -1e6, np.inf, -np.inf])
    assert quantize(big, "e4m3").tolist() == [0x7F, 0xFF, 0x7F, 0xFF]  # NaN of its sign
    assert quantize(big, "e4m3", saturate=True).tolist() == [0x7E, 0xFE, 0x7E, 0xFE]
    assert quantize(big, "e5m2").tolist() == [0x7C, 0xFC, 0x7C, 0xFC]  # infinities
    assert quantize(big, "e5m2", saturate=True).tolist() == [0x7B, 0xFB, 0x7B, 0xFB]
    for s in (False, True):  # no specials: always the largest value
        assert quantize(big, "e2m1", saturate=s).tolist() == [0x7, 0xF, 0x7, 0xF]
        assert quantize(big, "int8", saturate=s).tolist() == [0x7F, 0x80, 0x7F, 0x80]


def test_nan_and_negative_zero():
    assert quantize([-0.0, 0.0, -1e-30], "e4m3").tolist() == [0x80, 0x00, 0x80]
    nans = np.array([np.nan, -np.nan])
    for name in WITH_NAN:
        np.testing.assert_array_equal(quantize(nans, name), cast(name, nans))
        assert nan_code(name) == int(cast(name, np.array([np.nan]))[0])
        for s in (False, True):
            assert np.isnan(dequantize(quantize(nans, name, saturate=s), name)).all()
    for name in ("e3m2", "e2m3", "e2m1", "int8"):
        assert nan_code(name) is None
        with pytest.raises(ValueError, match=rf"^x holds NaN, which {name} cannot represent$"):
            quantize([1.0, np.nan], name)


def test_int8_rounds_half_to_even_and_clamps():
    """MXINT8: ``round(x * 64)`` half to even in exact fractions, clamped to -128..127."""
    print(f"seed {SEED}")
    rng = np.random.default_rng(SEED)
    x = np.concatenate([rng.uniform(-2.2, 2.2, 2000), (np.arange(-300, 300) + 0.5) / 64,
                        [-0.0, 2.0, -2.0, -2.0 - 1 / 128, 1e-300, 1e300, -np.inf]])
    want = [max(-128, min(127, round(fractions.Fraction(v) * 64))) if np.isfinite(v)
            else (127 if v > 0 else -128) for v in x.tolist()]
    np.testing.assert_array_equal(quantize(x, "int8"), np.array(want) % 256)


def test_quantize_errors():
    with pytest.raises(ValueError, match=r"^quantize takes a signed floating-point format or "
                                         r"int8, not e8m0; MX scales come from mx_quantize$"):
        quantize([1.0], "e8m0")
    with pytest.raises(ValueError, match=r"^unknown number format 'e9m1'; formats are "):
        quantize([1.0], "e9m1")
    with pytest.raises(TypeError, match=r"^x must be an array of real numbers, not <U1$"):
        quantize(["a"], "e4m3")


# --- MX: a scalar reading of OCP MX v1.0, section 6.3 ------------------------------

EMAX = {"e4m3": 8, "e5m2": 15, "e3m2": 4, "e2m3": 2, "e2m1": 2, "int8": 0}  # the spec's table


def element_table(name):
    """(sorted finite values, their codes) of an element format, +0 and -0 apart."""
    if name == "int8":
        codes = list(range(256))
        vals = [(c - 256 if c >= 128 else c) / 64 for c in codes]
    else:
        fmt = FORMATS[name]
        codes = list(range(1 << fmt.width))
        with np.errstate(invalid="ignore"):
            vals = np.array(codes, np.uint8).view(REFERENCE[name]).astype(np.float64).tolist()
    pairs = sorted((v, c) for v, c in zip(vals, codes)
                   if math.isfinite(v) and not (v == 0 and math.copysign(1, v) < 0))
    return [v for v, _ in pairs], [c for _, c in pairs]


def scalar_element(name, table, v):
    """The element code of the scaled value ``v``: clamp to the largest finite
    magnitude, then the nearest value, ties to the even code (the even mantissa);
    a negative value rounding to zero gives -0 in the float formats."""
    vals, codes = table
    v = max(vals[0], min(vals[-1], v))
    k = bisect.bisect_left(vals, v)
    if vals[k] == v:
        c = codes[k]
    else:
        lo, hi = fractions.Fraction(vals[k - 1]), fractions.Fraction(vals[k])
        d_lo, d_hi = fractions.Fraction(v) - lo, hi - fractions.Fraction(v)
        c = codes[k - 1] if d_lo < d_hi or (d_lo == d_hi and codes[k - 1] % 2 == 0) \
            else codes[k]
    if name != "int8" and c == 0 and math.copysign(1, v) < 0:
        c = 1 << (FORMATS[name].width - 1)
    return c


def scalar_mx(name, block):
    """``(scale code, element codes)`` of one block (a list of Python floats)."""
    if any(not math.isfinite(v) for v in block):
        return 255, [0] * len(block)
    peak = max(abs(v) for v in block)
    if peak == 0:
        shared = -127
    else:
        shared = max(-127, min(127, math.frexp(peak)[1] - 1 - EMAX[name]))
    table = element_table(name)
    return shared + 127, [scalar_element(name, table, math.ldexp(v, -shared)) for v in block]


def mx_blocks(rng, block=32):
    """Seeded Gaussian blocks, and blocks chosen for the spec's corners."""
    g = lambda: rng.standard_normal(block)  # noqa: E731
    outlier = g()
    outlier[5] = 1e4
    sub = g() * 1e-6
    sub[0] = 3.0  # the rest falls into the elements' subnormal range or to zero
    zeros = g()
    zeros[::3] = 0.0
    zeros[1] = -0.0
    nan, inf = g(), g()
    nan[7], inf[3] = np.nan, -np.inf
    signed_zeros = np.zeros(block)
    signed_zeros[::2] = -0.0
    ties = np.tile([0.75, -1.25, 2.5, 0.3125, 6.0, -5.0, 7.0, 0.0], block // 8)  # exact midpoints
    return np.stack([*(g() * s for s in (1, 1e-3, 1e3)), outlier, sub, zeros, nan, inf,
                     signed_zeros, ties, g() * 1e300, g() * 1e-300, g() * 2.0 ** -130])


@pytest.mark.parametrize("name", ELEMENT_FORMATS)
def test_mx_quantize_matches_a_scalar_reading_of_the_spec(name):
    print(f"seed {SEED}")
    x = mx_blocks(np.random.default_rng(SEED))
    scales, elements = mx_quantize(x.reshape(1, -1), name)
    assert scales.shape == (1, len(x)) and elements.shape == (1, x.size)
    for b, block in enumerate(x.tolist()):
        scale, codes = scalar_mx(name, block)
        assert int(scales[0, b]) == scale, (name, b)
        assert elements[0, 32 * b:32 * (b + 1)].tolist() == codes, (name, b)
    # The corners the blocks are there for.
    assert scales[0, 6] == scales[0, 7] == 255 and scales[0, 8] == 0
    assert scales[0, 10] == 254 and scales[0, 12] == 0  # clamped to E8M0's range
    # Dequantized: element value times the scale, NaN blocks all NaN.
    got = mx_dequantize(scales, elements, name)
    assert np.isnan(got[0, 6 * 32:8 * 32]).all() and not np.isnan(got[0, :6 * 32]).any()
    fmt = FORMATS[name]
    for b in (0, 3, 4):
        want = [math.ldexp(v, int(scales[0, b]) - 127) for v in
                (dequantize(elements[0, 32 * b:32 * (b + 1)], fmt)).tolist()]
        assert got[0, 32 * b:32 * (b + 1)].tolist() == want


def test_mx_error_is_bounded_by_the_element_step():
    """A Gaussian tensor through MXFP8 (E4M3) in blocks of 16 along the last axis:
    an element whose scaled magnitude is at most E4M3's largest value (448) is
    within half a step of the top binade of its block maximum (``2**-4`` of the
    block maximum with 3 mantissa bits); above it the spec's scale saturates
    (a block maximum scales into ``[256, 512)``), an error below ``1/8`` of the
    block maximum."""
    print(f"seed {SEED}")
    x = np.random.default_rng(SEED).standard_normal((3, 4, 48))
    scales, elements = mx_quantize(x, "e4m3", block=16)
    assert scales.shape == (3, 4, 3) and elements.shape == x.shape
    y = mx_dequantize(scales, elements, "e4m3", block=16).reshape(3, 4, 3, 16)
    x = x.reshape(3, 4, 3, 16)
    peak = np.abs(x).max(axis=-1, keepdims=True)
    err = np.abs(y - x) / peak
    clipped = np.abs(x) / np.ldexp(1.0, scales[..., None] - 127) > 448
    assert clipped.any() and (~clipped).any()
    assert err[~clipped].max() <= 2.0 ** -4 and err[clipped].max() < 2.0 ** -3
    assert (np.abs(y[clipped]) == 448 * np.broadcast_to(
        np.ldexp(1.0, scales[..., None] - 127), x.shape)[clipped]).all()


@pytest.mark.parametrize("args,kwargs,error,message", [
    ((np.zeros(33), "e4m3"), {}, ValueError,
     r"^the last axis of x \(33 elements\) must be a multiple of block = 32$"),
    ((np.zeros(32), "e4m3"), {"block": 0}, ValueError,
     r"^block must be a positive integer, not 0$"),
    ((np.zeros(32), "e4m3"), {"block": 2.0}, TypeError, r"^block must be an integer, not 2.0$"),
    ((np.float64(1.0), "e4m3"), {}, ValueError,
     r"^x must have at least one dimension \(blocks run along the last axis\)$"),
    ((np.zeros(32), "bf16"), {}, ValueError,
     r"^mx_quantize elem_fmt must be one of e4m3, e5m2, e3m2, e2m3, e2m1, int8, not bf16$"),
    ((np.zeros(32), "e8m0"), {}, ValueError,
     r"^mx_quantize takes a signed floating-point format or int8, not e8m0; "
     r"MX scales come from mx_quantize$"),
])
def test_mx_quantize_errors(args, kwargs, error, message):
    with pytest.raises(error, match=message):
        mx_quantize(*args, **kwargs)


def test_mx_dequantize_errors():
    with pytest.raises(ValueError, match=r"^scales of shape \(2,\) do not match elements of "
                                         r"shape \(32,\) in blocks of 32$"):
        mx_dequantize([127, 127], np.zeros(32, np.int64), "e4m3")
    with pytest.raises(ValueError, match=r"^scale codes must be in 0\.\.255$"):
        mx_dequantize([256], np.zeros(32, np.int64), "e4m3")
