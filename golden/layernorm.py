# SPDX-License-Identifier: BSD-2-Clause
"""Golden model of the streaming LayerNorm (docs/nonlinear.md): bit-exact for both
methods, plus the float64 reference it is measured against.

For a vector of ``C = channels`` input codes ``q`` (scale ``S`` cancels):

1. ``S1 = sum q``, ``S2 = sum q**2`` (streamed, exact).
2. ``V = C*S2 - S1**2 = C**2 * var / S**2`` (exact, never negative): the mean
   is never rounded, because ``(x - mu) / sigma = (C*q - S1) / sqrt(V)``.
3. ``method``:

   ``isqrt``
       ``r = isqrt(V * 4**g)`` by the Newton iteration of docs/nonlinear.md (``x0 =
       2**ceil(bits/2)``, ``x' = floor((x + floor(n/x)) / 2)`` until it stops
       decreasing: the exact integer square root), ``g = guard_bits``; then the
       exact ``f = floor(2**K / r)`` (I-BERT's ``floor(2**31 / std)`` with
       ``K = recip_shift`` sized from the parameters).
   ``rsqrt``
       ``V`` is normalised by an even shift ``s`` to ``m = V * 2**s`` in
       ``[2**(w-2), 2**w)`` (``w`` = ``variance_bits`` rounded up to even); the
       top ``lut_bits`` bits of ``m`` index ``round(2**(w/2 + 16) /
       sqrt(centre))``; ``f = floor(T * 2**(K - g + s/2 - w/2 - 16))``.

   A vector of equal values (``V = 0``) gets ``f = 0``: its outputs are ``beta``
   (0 without affine).
4. ``y = (C*q - S1) * f`` has ``K - g`` fraction bits; without affine the output
   is ``round(y / 2**(K - g - out_frac))``, with affine
   ``round(y * gamma / 2**(K - g - out_frac + gamma_frac)) + beta``; halves
   round up; the result saturates to signed ``out_bits``.

No epsilon is added to the variance (the float64 reference uses none either).
The ``rsqrt`` table and ``w`` come from :mod:`accelgen.consts.layernorm`, which
the generator embeds too.
"""

import numpy as np

from accelgen.consts.layernorm import RSQRT_FRAC, variance_width, rsqrt_table as _rsqrt_table
from accelgen.num.fixed import ints, round_shift, floor_shift, saturate, bit_length

__all__ = ["layernorm", "reference", "isqrt_newton", "rsqrt_table", "variance_width"]


def reference(params, q, gamma=None, beta=None):
    """Ideal outputs (float64, output LSBs, clipped to the output range, not
    rounded) of vectors ``q`` (last axis ``channels``); ``gamma``/``beta`` are
    codes like the unit's inputs (affine only)."""
    x = np.asarray(q, dtype=np.float64)
    mu = x.mean(axis=-1, keepdims=True)
    sd = np.sqrt(((x - mu) ** 2).mean(axis=-1, keepdims=True))
    y = np.divide(x - mu, sd, out=np.zeros_like(x), where=sd > 0)
    if params.affine:
        y = (y * np.asarray(gamma, dtype=np.float64) * 2.0 ** -params.gamma_frac
             + np.asarray(beta, dtype=np.float64) * 2.0 ** -params.out_frac)
    hi = (1 << (params.out_bits - 1)) - 1
    return np.clip(y * 2.0 ** params.out_frac, -hi - 1, hi)


def isqrt_newton(n):
    """``floor(sqrt(n))`` of non-negative integers (any array; ``object`` result)
    by the Newton iteration of docs/nonlinear.md: ``x0 = 2**ceil(bits(n)/2)``, ``x' = (x +
    n // x) // 2`` while it decreases."""
    n = ints(np.zeros(0)) if np.size(n) == 0 else np.asarray(n, dtype=object)
    x = np.vectorize(lambda v: 1 << ((int(v).bit_length() + 1) // 2), otypes=[object])(n)
    while True:
        nxt = (x + n // np.maximum(x, 1)) // 2
        smaller = nxt < x
        if not np.any(smaller):
            return np.where(n == 0, 0, x)
        x = np.where(smaller, nxt, x)


def rsqrt_table(params):
    """The ``rsqrt`` table (int64, ``2**lut_bits`` entries; the lower quarter is
    never indexed): :func:`accelgen.consts.layernorm.rsqrt_table` as an array."""
    return np.array(_rsqrt_table(params), dtype=np.int64)


def factors(params, v):
    """The factor ``f`` of each variance numerator ``V`` (``object`` array)."""
    k, g = params.recip_shift, params.guard_bits
    if params.method == "isqrt":
        r = isqrt_newton(v * (1 << (2 * g)))
        return np.where(r == 0, 0, (1 << k) // np.maximum(r, 1))
    w = variance_width(params)
    p = bit_length(v)
    s = (w - p) // 2 * 2
    m = np.vectorize(lambda t, u: int(t) << int(u), otypes=[object])(v, s)
    table = rsqrt_table(params)
    t = np.vectorize(lambda u: int(table[int(u) >> (w - params.lut_bits)]),
                     otypes=[object])(m)
    shift = w // 2 + RSQRT_FRAC - (k - g) - s // 2
    f = np.vectorize(lambda a, b: int(floor_shift(a, int(b))), otypes=[object])(t, shift)
    return np.where(v == 0, 0, f)


def layernorm(params, q, gamma=None, beta=None):
    """Output codes (int64) of vectors ``q`` (last axis ``channels``)."""
    q = ints(q)
    c = params.channels
    s1 = q.sum(axis=-1, keepdims=True)
    s2 = (q * q).sum(axis=-1, keepdims=True)
    f = factors(params, c * s2 - s1 * s1)
    y = (c * q - s1) * f
    shift = params.recip_shift - params.guard_bits - params.out_frac
    if params.affine:
        y = round_shift(y * ints(gamma), shift + params.gamma_frac) + ints(beta)
    else:
        y = round_shift(y, shift)
    return saturate(y, params.out_bits, True).astype(np.int64)
