# SPDX-License-Identifier: BSD-2-Clause
"""Quantizers to the floating-point formats and to OCP MX blocks: floats to codes,
rounded by :func:`accelgen.num.fp.encode` (docs/fp.md)."""

import numpy as np

from accelgen.num.fp import encode, to_float
from accelgen.num.fpformats import ELEMENT_FORMATS, get_format

__all__ = ["quantize", "dequantize", "mx_quantize", "mx_dequantize", "nan_code",
           "SCALE_FORMAT", "SCALE_EXP_MIN", "SCALE_EXP_MAX", "SCALE_NAN"]

#: The MX shared scale's format (OCP MX v1.0: E8M0, value ``2**(code - 127)``).
SCALE_FORMAT = "e8m0"
#: The shared exponents an E8M0 scale holds (codes 0 .. 254); code 255 is NaN.
SCALE_EXP_MIN, SCALE_EXP_MAX = -127, 127
SCALE_NAN = 0xFF

# An exponent that puts 1 * 2**exp beyond every format's range: infinities are
# encoded as this value, so that encode's overflow rule applies to them.
_HUGE_EXP = 1 << 16


def _format(fmt, what="quantize"):
    fmt = get_format(fmt) if isinstance(fmt, str) else fmt
    if fmt.kind == "int":
        return fmt
    if not fmt.signed:
        raise ValueError(f"{what} takes a signed floating-point format or int8, not "
                         f"{fmt.name}; MX scales come from mx_quantize")
    return fmt


def _floats(x, what="x"):
    x = np.asarray(x)
    if x.dtype.kind not in "fiu":
        raise TypeError(f"{what} must be an array of real numbers, not {x.dtype}")
    return x.astype(np.float64)


def nan_code(fmt, negative=False):
    """The NaN code of ``fmt`` (``None`` when it has none): the quiet NaN of the
    IEEE-like formats (all-ones exponent, top mantissa bit set) and
    ``S.1111.111`` of e4m3, with the sign bit when ``negative``."""
    fmt = get_format(fmt) if isinstance(fmt, str) else fmt
    sign = (1 << (fmt.width - 1)) if negative and fmt.signed else 0
    if fmt.specials == "ieee":
        return sign | (((1 << fmt.exp_bits) - 1) << fmt.man_bits) | (1 << (fmt.man_bits - 1))
    if fmt.specials == "fn":
        return sign | ((1 << (fmt.width - int(fmt.signed))) - 1)
    return None


def _pairs(x):
    """Finite float64 ``x`` as exact integer pairs ``(mant, exp)``, ``x = mant * 2**exp``."""
    f, e = np.frexp(x)
    return np.ldexp(f, 53).astype(np.int64), e.astype(np.int64) - 53


def _encode_float(fmt, x, shift, saturate):
    """Codes of finite-or-infinite float64 ``x * 2**-shift`` (NaN excluded by the caller)."""
    inf = np.isinf(x)
    mant, exp = _pairs(np.where(inf, 0.0, x))
    mant = np.where(inf, np.sign(x).astype(np.int64), mant)
    exp = np.where(inf, _HUGE_EXP, exp - shift)
    codes = encode(fmt, mant, exp, saturate=saturate)
    # encode gives +0 for mant = 0: keep the sign of -0.0.
    return np.where((x == 0) & np.signbit(x), 1 << (fmt.width - 1), codes)


def _encode_int(fmt, x, shift):
    """MXINT8-style codes: ``x * 2**(frac_bits - shift)`` rounded half to even
    (exact: a power-of-two scaling of a float64, then ``rint``), clamped to the
    two's complement range; returned as unsigned codes."""
    lo, hi = -(1 << (fmt.width - 1)), (1 << (fmt.width - 1)) - 1
    with np.errstate(over="ignore"):
        scaled = np.ldexp(x, fmt.frac_bits - shift)
    n = np.clip(np.rint(np.clip(scaled, 2.0 * lo, 2.0 * hi)), lo, hi).astype(np.int64)
    return n & ((1 << fmt.width) - 1)


def quantize(x, fmt, *, saturate=False):
    """The codes (int64) of ``fmt`` nearest to the floats ``x`` (any shape).

    ``fmt`` (a format or its name) is a signed floating-point format (e4m3,
    e5m2, e3m2, e2m3, e2m1, bf16, fp16, fp32) or int8 (MXINT8, value
    ``code * 2**-6``). Rounding is to nearest, ties to even
    (:func:`accelgen.num.fp.encode`, exact for every float64), with subnormals;
    ``-0.0`` (and a negative value rounding to zero) gives the negative zero.

    Overflow (OCP OFP8 rev. 1.0's two conversions): without ``saturate``, a
    value whose rounding exceeds the largest finite value, and an infinity,
    gives infinity in e5m2/bf16/fp16/fp32 and the NaN of its sign in e4m3;
    with ``saturate``, both give the largest finite value of their sign. The
    MX FP6/FP4 elements and int8 have no specials and always saturate (int8 to
    ``-128 .. 127``).

    NaN gives the format's quiet NaN of the same sign (:func:`nan_code`); the
    formats without NaN (e3m2, e2m3, e2m1, int8) refuse it with ``ValueError``
    rather than invent a value. ``ValueError`` for e8m0 (MX scales come from
    :func:`mx_quantize`) and unknown formats; ``TypeError`` for non-numeric ``x``.
    """
    fmt = _format(fmt)
    x = _floats(x)
    nan = np.isnan(x)
    if nan.any() and (fmt.kind == "int" or fmt.specials == "none"):
        raise ValueError(f"x holds NaN, which {fmt.name} cannot represent")
    clean = np.where(nan, 0.0, x)
    if fmt.kind == "int":
        return _encode_int(fmt, clean, 0)
    codes = _encode_float(fmt, clean, 0, saturate)
    if nan.any():
        codes = np.where(nan, np.where(np.signbit(x), nan_code(fmt, True), nan_code(fmt)), codes)
    return codes


def dequantize(codes, fmt):
    """The float64 values of ``codes`` of ``fmt`` (:func:`accelgen.num.fp.to_float`)."""
    return to_float(fmt, codes)


def _blocks(x, block):
    if isinstance(block, bool) or not isinstance(block, (int, np.integer)):
        raise TypeError(f"block must be an integer, not {block!r}")
    if block < 1:
        raise ValueError(f"block must be a positive integer, not {block}")
    if x.ndim == 0:
        raise ValueError("x must have at least one dimension (blocks run along the last axis)")
    n = x.shape[-1]
    if n % block:
        raise ValueError(f"the last axis of x ({n} elements) must be a multiple of "
                         f"block = {block}")
    return x.reshape(*x.shape[:-1], n // block, int(block))


def mx_quantize(x, elem_fmt, block=32):
    """OCP MX v1.0 quantization of ``x`` along its last axis in blocks of ``block``
    (32 in the spec): ``(scales, elements)``, int64 E8M0 scale codes of shape
    ``x.shape[:-1] + (n // block,)`` and int64 element codes of ``x.shape``.

    Per block (the spec's conversion, section 6.3): the shared exponent is
    ``floor(log2(max |x|)) - emax_elem`` (``emax_elem`` the element format's
    ``emax``: 8 for e4m3, 15 e5m2, 4 e3m2, 2 e2m3 and e2m1, 0 int8), clamped to
    E8M0's ``-127 .. 127``; the scale code is ``shared + 127``; each element is
    ``quantize(x / 2**shared, elem_fmt, saturate=True)`` (computed exactly, with
    no intermediate rounding), so a block's largest magnitude lands in the
    element format's top binade and may saturate to its largest value.

    Special blocks (documented choices): a block holding NaN or an infinity
    gets the NaN scale (code 255, which makes every element of the block NaN)
    and elements of code 0; a block of zeros (no non-zero magnitude) gets the
    smallest scale, code 0 (``2**-127``), and its zeros keep their signs.

    ``ValueError`` when ``block`` is not positive, when the last axis is not a
    multiple of it, for a 0-d ``x`` and for an element format outside
    e4m3, e5m2, e3m2, e2m3, e2m1 and int8; ``TypeError`` for a non-integer
    ``block`` or non-numeric ``x``.
    """
    fmt = _format(elem_fmt, "mx_quantize")
    if fmt.name not in ELEMENT_FORMATS:
        raise ValueError(f"mx_quantize elem_fmt must be one of {', '.join(ELEMENT_FORMATS)}, "
                         f"not {fmt.name}")
    x = _floats(x)
    blocks = _blocks(x, block)
    special = ~np.isfinite(blocks).all(axis=-1)
    peak = np.where(special, 0.0, np.abs(np.where(np.isfinite(blocks), blocks, 0.0)).max(axis=-1))
    zero = peak == 0
    # floor(log2(peak)) exactly: frexp gives peak = f * 2**e with 0.5 <= f < 1.
    lead = np.frexp(np.where(zero, 1.0, peak))[1].astype(np.int64) - 1
    shared = np.clip(lead - fmt.emax, SCALE_EXP_MIN, SCALE_EXP_MAX)
    shared = np.where(zero, SCALE_EXP_MIN, shared)
    scales = np.where(special, SCALE_NAN, shared - SCALE_EXP_MIN).astype(np.int64)
    clean = np.where(special[..., None], 0.0, blocks)
    shift = np.broadcast_to(shared[..., None], clean.shape)
    if fmt.kind == "int":
        elements = _encode_int(fmt, clean, shift)
    else:
        elements = _encode_float(fmt, clean, shift, True)
    elements = np.where(special[..., None], 0, elements)
    return scales, elements.reshape(x.shape)


def mx_dequantize(scales, elements, elem_fmt, block=32):
    """The float64 values of MX blocks: element value times ``2**(scale - 127)``
    along the last axis, NaN for a whole block whose scale is NaN (code 255)
    and for NaN elements. Shapes as :func:`mx_quantize` returns them;
    ``ValueError`` when they disagree."""
    fmt = _format(elem_fmt, "mx_dequantize")
    scales = np.asarray(scales, dtype=np.int64)
    values = to_float(fmt, elements)
    blocks = _blocks(values, block)
    if blocks.shape[:-1] != scales.shape:
        raise ValueError(f"scales of shape {scales.shape} do not match elements of shape "
                         f"{values.shape} in blocks of {block}")
    if scales.size and (scales.min() < 0 or scales.max() > SCALE_NAN):
        raise ValueError(f"scale codes must be in 0..{SCALE_NAN}")
    factor = np.where(scales == SCALE_NAN, np.nan,
                      np.ldexp(1.0, np.where(scales == SCALE_NAN, 0, scales) + SCALE_EXP_MIN))
    return (blocks * factor[..., None]).reshape(values.shape)
