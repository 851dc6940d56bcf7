# SPDX-License-Identifier: BSD-2-Clause
"""GELU's tables and constants (docs/nonlinear.md), shared by its generator and golden model.

An input code ``q`` (signed ``in_bits``) stands for ``x = q * S``,
``S = 2**-in_frac``; an output code (signed ``out_bits``) for
``y * 2**-out_frac``. Plain Python (``math``, ``fractions``, integers): no NumPy,
no Amaranth. Tables are tuples of Python integers, computed once per set of the
parameters they depend on.
"""

import functools
import math
from fractions import Fraction

__all__ = ["PWL_FRAC", "IBERT_K", "IBERT_A", "IBERT_B", "IBERT_SHIFT", "gelu_float",
           "lut_table", "pwl_coefficients", "ibert_mult_bits", "ibert_constants",
           "ibert_tail_slopes"]

#: Fraction bits of the ``pwl`` slopes ``A`` (the intercepts ``B`` have
#: ``in_frac + PWL_FRAC``).
PWL_FRAC = 16

#: I-BERT's i-GELU constants (Kim et al., ICML 2021, Alg. 2; docs/nonlinear.md):
#: ``erf(x) ~ sgn(x) * (a * (min(|x|, -b) + b)**2 + 1)`` at ``x / k``, and the
#: floor shift by ``2**IBERT_SHIFT`` of the integer polynomial.
IBERT_K, IBERT_A, IBERT_B, IBERT_SHIFT = 1.4142, -0.2888, -1.769, 14


def gelu_float(x):
    """float64 GELU of one float, ``x/2 * (1 + erf(x / sqrt 2))``, evaluated in
    that order (``(0.5 * x) * (1.0 + math.erf(x / math.sqrt(2.0)))``)."""
    return 0.5 * x * (1.0 + math.erf(x / math.sqrt(2.0)))


def _saturate(v, bits):
    """``v`` clamped to the signed ``bits``-bit range."""
    return max(-(1 << (bits - 1)), min(v, (1 << (bits - 1)) - 1))


def lut_table(params):
    """The ``lut`` method's table: ``2**lut_bits`` output codes (a tuple of ints).

    Entry ``k`` is GELU at the centre code of bin ``k`` of the offset code
    ``q + 2**(in_bits-1)`` (bins ``2**(in_bits - lut_bits)`` codes wide):
    ``c = k * 2**(in_bits-lut_bits) - 2**(in_bits-1) + (2**(in_bits-lut_bits) - 1)/2``,
    ``floor(GELU(c * S) * 2**out_frac + 1/2)`` in float64 (halves up),
    saturated to the signed ``out_bits`` range (exact when ``lut_bits == in_bits``).
    """
    return _lut_table(params.in_bits, params.in_frac, params.out_bits, params.out_frac,
                      params.lut_bits)


@functools.lru_cache(maxsize=16)
def _lut_table(in_bits, in_frac, out_bits, out_frac, lut_bits):
    shift = in_bits - lut_bits
    offset = ((1 << shift) - 1) / 2
    table = []
    for k in range(1 << lut_bits):
        centre = ((k << shift) - (1 << (in_bits - 1))) + offset
        value = gelu_float(centre * 2.0 ** -in_frac) * 2.0 ** out_frac
        table.append(_saturate(math.floor(value + 0.5), out_bits))
    return tuple(table)


def pwl_coefficients(params):
    """``(A, B)`` of the ``pwl`` method: one slope and one intercept per segment
    (two tuples of ints).

    The codes ``[-h, h)``, ``h = params.pwl_half_range_codes``, are cut into
    ``segments`` equal segments of ``L = 2h / segments`` codes. Segment ``k``'s
    line ``y = a*x + b`` is the exact least-squares line through the float64
    samples ``(q*S, GELU(q*S))`` of its codes ``q = -h + k*L .. -h + (k+1)*L - 1``
    (``a = 0`` and ``b`` the sample when ``L == 1``), computed in rationals;
    ``A = floor(a * 2**PWL_FRAC + 1/2)``, ``B = floor(b * 2**(in_frac + PWL_FRAC)
    + 1/2)`` (halves up). The unit evaluates ``A*q + B`` with ``in_frac + PWL_FRAC``
    fraction bits.
    """
    return _pwl_coefficients(params.in_frac, params.pwl_half_range_codes, params.segments)


@functools.lru_cache(maxsize=16)
def _pwl_coefficients(in_frac, h, segments):
    length = 2 * h // segments
    slopes, intercepts = [], []
    for k in range(segments):
        qs = range(-h + k * length, -h + (k + 1) * length)
        # every sample is a float n/d, d a power of two: scale all to a common D
        ratios = [gelu_float(q * 2.0 ** -in_frac).as_integer_ratio() for q in qs]
        if length == 1:
            slope, intercept = Fraction(0), Fraction(*ratios[0])
        else:
            d = max(den for _, den in ratios)
            ys = [num * (d // den) for num, den in ratios]
            sq = sum(qs)
            sqq = sum(q * q for q in qs)
            sy = sum(ys)
            sqy = sum(q * y for q, y in zip(qs, ys))
            # the line in codes, y = alpha*q + beta; x = q*S, so a = alpha / S
            alpha = Fraction(length * sqy - sq * sy, (length * sqq - sq * sq) * d)
            beta = (Fraction(sy, d) - alpha * sq) / length
            slope, intercept = alpha * 2 ** in_frac, beta
        slopes.append(math.floor(slope * 2 ** PWL_FRAC + Fraction(1, 2)))
        intercepts.append(math.floor(intercept * 2 ** (in_frac + PWL_FRAC) + Fraction(1, 2)))
    return tuple(slopes), tuple(intercepts)


def ibert_mult_bits(params):
    """Significant bits of i-GELU's output multiplier ``mult``: ``out_bits + 8``.

    ``mult = round(scale' * 2**shift)`` is within half a unit of ``scale' *
    2**shift``, whose magnitude is at least ``2**(m - 1)`` (``m`` these bits),
    so ``mult`` is within a factor ``1 ± 2**-m`` of it. For an exact value
    ``v = q * (y + one) * scale'`` inside the output range (``|v| <=
    2**(out_bits - 1)`` LSBs) the requantised value moves by at most ``|v| *
    2**-m <= 2**-9`` LSB: the output is within ``1/2 + 2**-9`` LSB of ``v``
    (both clipped to the output range), so faithful, and the correctly
    rounded code except where ``v`` lies within ``2**-9`` LSB of a rounding
    boundary (halves round up).
    """
    return params.out_bits + 8


def ibert_constants(params):
    """i-GELU's integer constants for ``S = 2**-in_frac`` (a new dict of ints).

    With ``S1 = S / IBERT_K`` (I-BERT Alg. 2): ``b_int = floor(IBERT_B /
    S1)``, ``c_int = floor((1 / IBERT_A) / S1**2)``, ``S_erf = IBERT_A * S1**2 *
    2**IBERT_SHIFT``, ``one = floor(1 / S_erf)``; the output requantiser of
    ``q * (y + one)`` (scale ``S * S_erf / 2``, negative) is ``mult = round(scale'
    * 2**shift)`` with ``scale' = S * S_erf / 2 * 2**out_frac`` and ``shift =
    m - 1 - floor(log2 |scale'|)``, so ``|mult|`` has ``m =
    ibert_mult_bits(params) = out_bits + 8`` significant bits. float64
    throughout, as written.
    """
    s = 2.0 ** -params.in_frac
    s1 = s / IBERT_K
    b_int = math.floor(IBERT_B / s1)
    c_int = math.floor((1.0 / IBERT_A) / s1 ** 2)
    s_erf = IBERT_A * s1 ** 2 * 2 ** IBERT_SHIFT
    one = math.floor(1.0 / s_erf)
    scale = s * s_erf / 2 * 2.0 ** params.out_frac  # negative: S_erf < 0
    r = ibert_mult_bits(params) - 1 - math.floor(math.log2(abs(scale)))
    mult = round(scale * 2.0 ** r)
    return {"b_int": b_int, "c_int": c_int, "one": one, "mult": mult, "shift": r}


def ibert_tail_slopes(params):
    """i-GELU's slopes past its erf clip: ``(negative, positive)`` floats.

    For ``|q| >= -b_int`` (``|x| >= -IBERT_B * IBERT_K``, about 2.50) the erf
    polynomial is clipped, ``y = floor(sgn(q) * c_int / 2**14)`` is a constant
    per sign, and the unit computes ``lambda * x`` (then rounds it to the output
    scale, within ``1/2 + 2**-9`` LSB): ``lambda = (y + one) * S_erf / 2``. GELU
    there is ``x * Phi(x)``, within 0.016 of 0 (``x <= -2.5``) and of ``x``
    (``x >= 2.5``); the floors of ``c_int`` and ``one`` leave ``lambda`` off 0
    and 1, so the error on the tails grows as ``|lambda - 0| * |x|`` and
    ``|lambda - 1| * |x|`` (0.0181 and 0.0108 at ``in_frac = 8``, 0.0011 and
    0.0018 at 10, below 0.0001 from 12 up).
    """
    c = ibert_constants(params)
    s_erf = IBERT_A * (2.0 ** -params.in_frac / IBERT_K) ** 2 * 2 ** IBERT_SHIFT
    return tuple(((sign * c["c_int"]) // (1 << IBERT_SHIFT) + c["one"]) * s_erf / 2
                 for sign in (-1, 1))
