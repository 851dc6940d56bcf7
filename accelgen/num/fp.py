# SPDX-License-Identifier: BSD-2-Clause
"""Decoding of the small floating-point formats in NumPy: codes to exact
``(mant, exp)`` pairs and to float64 (the formats are described in
:mod:`accelgen.num.fpformats`; docs/fp.md)."""

import numpy as np

from accelgen.num.fpformats import get_format

__all__ = ["decode", "to_float", "encode", "check_codes"]


def check_codes(fmt, codes):
    """``codes`` as an int64 array; ``ValueError`` when one is outside ``0 .. 2**width - 1``."""
    fmt = get_format(fmt) if isinstance(fmt, str) else fmt
    c = np.asarray(codes)
    if c.dtype.kind not in "iu":
        raise TypeError(f"codes of {fmt.name} must be integers, not {c.dtype}")
    c = c.astype(np.int64)
    if c.size and (c.min() < 0 or c.max() >= 1 << fmt.width):
        raise ValueError(f"codes of {fmt.name} must be in 0..{(1 << fmt.width) - 1}")
    return c


def decode(fmt, codes):
    """``(mant, exp, nan, inf)`` of every code of ``fmt`` (a format or its name):
    int64 arrays ``mant`` (sign and hidden bit included) and ``exp``
    (unbiased), value ``mant * 2**exp`` exactly, and bool arrays flagging the
    NaN and infinite codes. ``±0`` gives ``mant = 0``; a special code's
    ``(mant, exp)`` is what the format's formula gives its bits."""
    fmt = get_format(fmt) if isinstance(fmt, str) else fmt
    c = check_codes(fmt, codes)
    if fmt.kind == "int":
        mant = c - ((c >> (fmt.width - 1)) << fmt.width)
        exp = np.full_like(c, -fmt.frac_bits)
        no = np.zeros(c.shape, dtype=bool)
        return mant, exp, no, no.copy()
    m_bits, e_mask = fmt.man_bits, (1 << fmt.exp_bits) - 1
    sign = (c >> (fmt.width - 1)) & 1 if fmt.signed else np.zeros_like(c)
    e = (c >> m_bits) & e_mask
    f = c & ((1 << m_bits) - 1)
    sub = (e == 0) if fmt.subnormals else np.zeros(c.shape, dtype=bool)
    magnitude = np.where(sub, f, f | (1 << m_bits))
    exp = np.where(sub, 1, e) - fmt.bias - m_bits
    mant = np.where(sign == 1, -magnitude, magnitude)
    if fmt.specials == "ieee":
        nan, inf = (e == e_mask) & (f != 0), (e == e_mask) & (f == 0)
    elif fmt.specials == "fn":
        body = (1 << (fmt.exp_bits + m_bits)) - 1
        nan, inf = (c & body) == body, np.zeros(c.shape, dtype=bool)
    else:
        nan = np.zeros(c.shape, dtype=bool)
        inf = nan.copy()
    return mant, exp, nan, inf


def to_float(fmt, codes):
    """The values of ``codes`` as float64 (exact: every format here fits), with
    NaN and ``±inf`` for the special codes; ``-0.0`` for the negative zero."""
    fmt = get_format(fmt) if isinstance(fmt, str) else fmt
    mant, exp, nan, inf = decode(fmt, codes)
    value = np.ldexp(mant.astype(np.float64), exp)
    if fmt.signed:
        negative = ((check_codes(fmt, codes) >> (fmt.width - 1)) & 1) == 1
        value = np.where(negative & (mant == 0), -0.0, value)
        value = np.where(inf, np.where(negative, -np.inf, np.inf), value)
    return np.where(nan, np.nan, value)


def _encode_one(fmt, mant, exp, saturate):
    """The code of ``mant * 2**exp`` (Python ints) in ``fmt``, rounded to nearest even."""
    negative, a = mant < 0, abs(mant)
    sign = (1 << (fmt.width - 1)) if negative else 0
    m_bits = fmt.man_bits
    if a == 0:
        return 0
    lead = a.bit_length() - 1 + exp          # value in [2**lead, 2**(lead + 1))
    quantum = max(lead, 1 - fmt.bias) - m_bits  # the last place there (subnormals below)
    shift = quantum - exp
    if shift <= 0:
        n = a << -shift
    else:
        n, rest, half = a >> shift, a & ((1 << shift) - 1), 1 << (shift - 1)
        if rest > half or (rest == half and n & 1):
            n += 1
    if n == 0:
        return sign  # rounded to a signed zero
    if n >> (m_bits + 1):  # the rounding carried into the next binade
        n, quantum = n >> 1, quantum + 1
    field = quantum + m_bits + fmt.bias if n >> m_bits else 0
    top = (1 << fmt.exp_bits) - 1
    body = (field << m_bits) | (n & ((1 << m_bits) - 1))
    largest = (top << m_bits) | ((1 << m_bits) - 1)  # bits below the sign, all ones
    if fmt.specials == "ieee":
        largest -= 1 << m_bits  # the top exponent is inf/NaN
    elif fmt.specials == "fn":
        largest -= 1  # the all-ones code is NaN
    if field > top or body > largest:
        if saturate or fmt.specials == "none":
            return sign | largest
        return sign | (top << m_bits if fmt.specials == "ieee" else (1 << (fmt.width - 1)) - 1)
    return sign | body


def encode(fmt, mant, exp, *, saturate=False):
    """The codes of ``fmt`` nearest to ``mant * 2**exp`` (integer arrays,
    broadcast; ``mant`` may be an object array of Python ints of any size),
    rounded to nearest, ties to even, as an int64 array.

    Subnormals are produced (and a value below half the smallest one gives a
    zero of its sign); ``mant = 0`` gives ``+0``. A value whose rounding
    exceeds the largest finite value gives, with ``saturate``, the largest
    finite value of its sign; otherwise infinity (``"ieee"`` formats), the NaN
    code of its sign (``"fn"`` formats, as OCP FP8's non-saturating
    conversion) or the largest finite value (formats without specials, which
    always saturate). Signed floating-point formats only: ``ValueError`` for
    ``e8m0`` and ``int8``."""
    fmt = get_format(fmt) if isinstance(fmt, str) else fmt
    if fmt.kind != "float" or not fmt.signed:
        raise ValueError(f"encode takes a signed floating-point format, not {fmt.name}")
    one = np.frompyfunc(lambda m, e: _encode_one(fmt, int(m), int(e), saturate), 2, 1)
    return np.asarray(one(np.asarray(mant), np.asarray(exp)), dtype=np.int64)
