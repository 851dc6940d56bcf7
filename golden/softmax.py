# SPDX-License-Identifier: BSD-2-Clause
"""Golden model of the streaming Softmax (docs/nonlinear.md): bit-exact for every method,
plus the float64 reference it is measured against.

An input code ``q`` (signed ``in_bits``) stands for ``x = q * S``,
``S = 2**-in_frac``; an output code (unsigned ``out_bits``) for
``y * 2**-out_frac``. For each vector of ``n`` codes:

1. ``d_i = max(q) - q_i`` (``in_bits`` unsigned: it never wraps).
2. ``e_i = exp(-d_i * S)`` as an unsigned code with ``E = exp_bits`` fraction
   bits (``e(0)`` is about ``2**E``), by ``method``:

   ``lut``
       ``2**lut_bits`` entries, ``round(2**E * exp(-c*S))`` at the centre ``c``
       of bins of ``2**s`` differences, ``s`` the smallest step for which the
       table reaches the first difference whose exp rounds to 0 or covers the
       input range's ``2**in_bits`` differences; differences past the table
       give 0 (exact samples when ``s = 0``).
   ``base2``
       ``e^-y = 2**-(u + v)``: ``t = d * C``, ``C = round(log2(e) * 2**16)``;
       ``u = floor(t / 2**F)`` (``F = in_frac + 16``) is a right shift; the top
       ``lut_bits`` bits of ``v = t mod 2**F`` index a table of
       ``round(2**E * 2**-(k + 1/2) / 2**lut_bits)``: ``e = T[k] >> u``.
   ``ibert``
       I-BERT's i-exp (Kim et al., ICML 2021, Alg. 2) with its constants:
       ``x0 = floor(-0.6931/S)``, the clamp ``q >= 30*x0``, ``z = floor(q/x0)``,
       ``r = q - x0*z``, ``b = floor(2.7073248645/S)``, ``c =
       floor(2.7921147441/S**2)``, ``P = r*(r + b) + c``, ``exp = floor(P *
       2**(30 - z))``; then requantised to ``E`` bits by rounding to nearest,
       halves up, ``e = floor(exp / 2**h + 1/2)``, ``h = bitlen(c) + 30 - E``
       (I-BERT requantises to 16 bits, rounding, before IntSoftmax).
3. ``sum = sum_i e_i`` (wide enough for ``n`` values: never wraps).
4. ``f = floor(2**K / sum)``, ``K = E + 16`` (exact; I-BERT's IntSoftmax
   ``floor(2**32 / sum)`` at ``E = 16``).
5. ``y_i = (e_i * f) / 2**(K - out_frac)``, rounded halves up for ``lut`` and
   ``base2``, floored for ``ibert`` (as IntSoftmax), then saturated at
   ``2**out_bits - 1``.

Because ``f <= 2**K / sum``, the unrounded outputs sum to at most 1: the
rounded ones to at most ``1 + n/2`` LSBs.

The tables and constants (``lut_step``, the ``lut`` and ``base2`` tables, ``C``,
the i-exp constants, ``e(0)``) come from :mod:`accelgen.consts.softmax`, which
the generator embeds too; the arithmetic on them is written here in NumPy.
"""

import numpy as np

from accelgen.consts.softmax import (LOG2E_FRAC, lut_step, base2_constant, ibert_constants,
                                     exp_of_zero, lut_table as _lut_table,
                                     base2_table as _base2_table)
from accelgen.num.fixed import round_shift, floor_shift

__all__ = ["softmax", "reference", "exp_codes", "exp_of_zero", "lut_step", "lut_table",
           "base2_constant", "base2_table", "ibert_constants", "LOG2E_FRAC"]


def reference(params, q):
    """The ideal outputs of vectors ``q`` (last axis ``n``) in output LSBs
    (float64): softmax of the exact input values, scaled, clipped to the output
    range (not rounded)."""
    x = np.asarray(q, dtype=np.float64) * 2.0 ** -params.in_frac
    z = np.exp(x - x.max(axis=-1, keepdims=True))
    y = z / z.sum(axis=-1, keepdims=True) * 2.0 ** params.out_frac
    return np.minimum(y, (1 << params.out_bits) - 1)


def lut_table(params):
    """The ``lut`` method's table of exp codes (int64, ``2**lut_bits``):
    :func:`accelgen.consts.softmax.lut_table` as an array."""
    return np.array(_lut_table(params), dtype=np.int64)


def base2_table(params):
    """The ``base2`` method's table of ``2**-v`` codes (int64, ``2**lut_bits``):
    :func:`accelgen.consts.softmax.base2_table` as an array."""
    return np.array(_base2_table(params), dtype=np.int64)


def exp_codes(params, d):
    """``e(d)``: exp codes (int64) of differences ``d = max - q >= 0``."""
    d = np.asarray(d, dtype=np.int64)
    if params.method == "lut":
        index = d >> lut_step(params)
        table = lut_table(params)
        return np.where(index < table.size, table[np.minimum(index, table.size - 1)], 0)
    if params.method == "base2":
        frac = params.in_frac + LOG2E_FRAC
        t = d * base2_constant()
        u = t >> frac
        k = (t & ((1 << frac) - 1)) >> (frac - params.lut_bits)
        return base2_table(params)[k] >> np.minimum(u, 62)
    c = ibert_constants(params)
    a = -c["x0"]
    dc = np.minimum(d, 30 * a)  # the clamp q >= 30 * x0
    z = dc // a
    r = -(dc - a * z)
    p = np.maximum(r * (r + c["b"]) + c["c"], 0)
    n = z + c["h"] - 30  # floor(P * 2**(30 - z) / 2**h + 1/2): halves up
    half = np.where(n >= 1, 1 << np.maximum(n - 1, 0), 0)
    return np.where(n >= 0, (p + half) >> np.maximum(n, 0), p << np.maximum(-n, 0))


def softmax(params, q):
    """Output codes (int64) of vectors ``q`` (last axis ``n``)."""
    q = np.asarray(q, dtype=np.int64)
    e = exp_codes(params, q.max(axis=-1, keepdims=True) - q)
    k = params.recip_shift
    f = (1 << k) // e.sum(axis=-1, keepdims=True)
    shift = k - params.out_frac
    y = floor_shift(e * f, shift) if params.method == "ibert" else round_shift(e * f, shift)
    return np.minimum(y, (1 << params.out_bits) - 1)
