# SPDX-License-Identifier: BSD-2-Clause
"""Golden model of the streaming GELU (docs/nonlinear.md): bit-exact for every method,
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
    I-BERT's i-GELU (Kim et al., ICML 2021, Alg. 2) with its constants
    (``k = 1.4142, a = -0.2888, b = -1.769``, the ``2**14`` shift), then one
    dyadic requantisation of ``q*(y + one)`` (scale ``S*S_erf/2``) to the output
    scale: ``round(prod * M / 2**R)`` with ``M = round(scale * 2**(out_frac+R))``
    of ``out_bits + 8`` significant bits, so the output is within ``1/2 + 2**-9``
    LSB of the exact ``prod * scale * 2**out_frac``
    (:func:`accelgen.consts.gelu.ibert_mult_bits`). Past the erf clip, ``|x| >=
    2.50``, the unit computes ``lambda * x`` with the slopes of
    :func:`accelgen.consts.gelu.ibert_tail_slopes` (I-BERT's own behaviour: an
    error growing with ``|x|``, 0.018 * |x| on the negative tail at ``in_frac
    = 8``).

The tables and constants (``lut`` entries, ``pwl`` coefficients, i-GELU
constants) come from :mod:`accelgen.consts.gelu`, which the generator embeds
too; the arithmetic on them is written here in NumPy.
"""

import numpy as np

from accelgen.consts.gelu import (PWL_FRAC, IBERT_SHIFT, gelu_float, ibert_constants,
                                  ibert_mult_bits, ibert_tail_slopes,
                                  lut_table as _lut_table,
                                  pwl_coefficients as _pwl_coefficients)
from accelgen.num.fixed import round_shift, floor_shift, saturate

__all__ = ["gelu", "gelu_real", "reference", "lut_table", "pwl_coefficients",
           "ibert_constants", "ibert_mult_bits", "ibert_tail_slopes", "ibert_erf",
           "PWL_FRAC", "IBERT_SHIFT"]

_gelu_float = np.vectorize(gelu_float, otypes=[np.float64])


def gelu_real(x):
    """float64 GELU, ``x/2 * (1 + erf(x / sqrt 2))``, elementwise
    (:func:`accelgen.consts.gelu.gelu_float`)."""
    return _gelu_float(np.asarray(x, dtype=np.float64))


def reference(params, q):
    """The ideal output of codes ``q`` in output LSBs (float64): GELU of the
    exact input value, scaled, clipped to the output range (not rounded)."""
    x = np.asarray(q, dtype=np.float64) * 2.0 ** -params.in_frac
    hi = (1 << (params.out_bits - 1)) - 1
    return np.clip(gelu_real(x) * 2.0 ** params.out_frac, -hi - 1, hi)


def _out(params, values):
    return saturate(values, params.out_bits, True)


def lut_table(params):
    """The ``lut`` method's table (int64, ``2**lut_bits`` output codes):
    :func:`accelgen.consts.gelu.lut_table` as an array."""
    return np.array(_lut_table(params), dtype=np.int64)


def pwl_coefficients(params):
    """``(A, B)`` (int64, one per segment) of the ``pwl`` method: ``A`` has
    :data:`PWL_FRAC` fraction bits, ``B`` ``in_frac + PWL_FRAC``
    (:func:`accelgen.consts.gelu.pwl_coefficients` as arrays)."""
    a, b = _pwl_coefficients(params)
    return np.array(a, dtype=np.int64), np.array(b, dtype=np.int64)


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
