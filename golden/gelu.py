# SPDX-License-Identifier: BSD-2-Clause
"""Golden model of the streaming GELU (SPEC §5): bit-exact for every method,
plus the float64 reference it is measured against.

``GELU(x) = x * Phi(x) = x/2 * (1 + erf(x / sqrt(2)))``. An input code ``q``
(signed ``in_bits``) stands for ``x = q * S``, ``S = 2**-in_frac``; an output
code ``y`` (signed ``out_bits``) for ``y * 2**-out_frac``. Every method ends by
rounding halves up (:func:`accelgen.num.fixed.round_shift`) and saturating to the
output range.

``lut``
    ``2**lut_bits`` entries indexed by the top ``lut_bits`` bits of the offset
    code ``q + 2**(in_bits-1)``; each entry is the rounded GELU at its bin's
    centre code (exact when ``lut_bits == in_bits``).
``pwl``
    ``segments`` equal segments over codes ``[-h, h)``, ``h = min(4 / S,
    2**(in_bits-1))``, each ``y = A*q + B`` with ``A`` (16 fraction bits) and
    ``B`` (``in_frac + 16``) the rounded least-squares line through GELU at the
    segment's codes; below the range 0, above it ``x`` itself.
``ibert``
    I-BERT's i-GELU (Kim et al., ICML 2021, Alg. 2) with SPEC's constants
    (``k = 1.4142, a = -0.2888, b = -1.769``, the ``2**14`` shift), then one
    dyadic requantisation of ``q*(y + one)`` (scale ``S*S_erf/2``) to the output
    scale: ``round(prod * M / 2**R)`` with ``M = round(scale * 2**(out_frac+R))``
    of 16 significant bits.
"""

import math

import numpy as np

from accelgen.num.fixed import round_half_up, round_shift, floor_shift, saturate

__all__ = ["gelu", "gelu_real", "reference", "lut_table", "pwl_coefficients",
           "ibert_constants", "ibert_erf", "PWL_FRAC", "IBERT_SHIFT"]

PWL_FRAC = 16
IBERT_K, IBERT_A, IBERT_B, IBERT_SHIFT = 1.4142, -0.2888, -1.769, 14


def gelu_real(x):
    """float64 GELU, ``x/2 * (1 + erf(x / sqrt 2))``."""
    x = np.asarray(x, dtype=np.float64)
    return 0.5 * x * (1.0 + np.vectorize(math.erf, otypes=[np.float64])(x / math.sqrt(2.0)))


def reference(params, q):
    """The ideal output of codes ``q`` in output LSBs (float64): GELU of the
    exact input value, scaled, clipped to the output range (not rounded)."""
    x = np.asarray(q, dtype=np.float64) * 2.0 ** -params.in_frac
    hi = (1 << (params.out_bits - 1)) - 1
    return np.clip(gelu_real(x) * 2.0 ** params.out_frac, -hi - 1, hi)


def _out(params, values):
    return saturate(values, params.out_bits, True)


def lut_table(params):
    """The ``lut`` method's table (int64, ``2**lut_bits`` output codes)."""
    shift = params.in_bits - params.lut_bits
    index = np.arange(1 << params.lut_bits, dtype=np.int64)
    centre = (index << shift) - (1 << (params.in_bits - 1)) + ((1 << shift) - 1) / 2
    x = centre * 2.0 ** -params.in_frac
    return _out(params, round_half_up(gelu_real(x) * 2.0 ** params.out_frac))


def pwl_coefficients(params):
    """``(A, B)`` (int64, one per segment) of the ``pwl`` method: ``A`` has
    :data:`PWL_FRAC` fraction bits, ``B`` ``in_frac + PWL_FRAC``."""
    h = params.pwl_half_range_codes
    length = 2 * h // params.segments
    s = 2.0 ** -params.in_frac
    slopes, intercepts = [], []
    for k in range(params.segments):
        q = np.arange(-h + k * length, -h + (k + 1) * length, dtype=np.float64)
        if length == 1:
            a, b = 0.0, float(gelu_real(q * s)[0])
        else:
            a, b = np.polyfit(q * s, gelu_real(q * s), 1)
        slopes.append(a)
        intercepts.append(b)
    return (round_half_up(np.array(slopes) * 2.0 ** PWL_FRAC),
            round_half_up(np.array(intercepts) * 2.0 ** (params.in_frac + PWL_FRAC)))


def ibert_constants(params):
    """The integer constants of i-GELU for input scale ``S = 2**-in_frac``:
    ``b_int, c_int, one`` (SPEC §5) and the requantiser ``M, R``."""
    s = 2.0 ** -params.in_frac
    s1 = s / IBERT_K
    b_int = math.floor(IBERT_B / s1)
    c_int = math.floor((1.0 / IBERT_A) / s1 ** 2)
    s_erf = IBERT_A * s1 ** 2 * 2 ** IBERT_SHIFT
    one = math.floor(1.0 / s_erf)
    scale = s * s_erf / 2 * 2.0 ** params.out_frac  # negative: S_erf < 0
    r = 15 - math.floor(math.log2(abs(scale)))  # |M| has 16 significant bits
    mult = round(scale * 2.0 ** r)
    return {"b_int": b_int, "c_int": c_int, "one": one, "mult": mult, "shift": r}


def ibert_erf(params, q):
    """i-GELU's integer erf term ``y`` (after the ``2**14`` floor shift)."""
    c = ibert_constants(params)
    q = np.asarray(q, dtype=np.int64)
    t = np.minimum(np.abs(q), -c["b_int"]) + c["b_int"]
    y = np.sign(q) * (t * t + c["c_int"])
    return floor_shift(y, IBERT_SHIFT)


def gelu(params, q):
    """Output codes (int64) of the unit for input codes ``q`` (any shape)."""
    q = np.asarray(q, dtype=np.int64)
    if params.method == "lut":
        index = (q + (1 << (params.in_bits - 1))) >> (params.in_bits - params.lut_bits)
        return lut_table(params)[index]
    if params.method == "pwl":
        h = params.pwl_half_range_codes
        length = 2 * h // params.segments
        a, b = pwl_coefficients(params)
        k = np.clip((q + h) // length, 0, params.segments - 1)
        line = round_shift(a[k] * q + b[k], params.in_frac + PWL_FRAC - params.out_frac)
        identity = round_shift(q, params.in_frac - params.out_frac)
        y = np.where(q < -h, 0, np.where(q >= h, identity, line))
        return _out(params, y)
    c = ibert_constants(params)
    prod = q * (ibert_erf(params, q) + c["one"])
    return _out(params, round_shift(prod * c["mult"], c["shift"]))
