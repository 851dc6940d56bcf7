# SPDX-License-Identifier: BSD-2-Clause
"""Golden model of the OCP Microscaling (MX) block dot product (docs/mx_dot.md)."""

import numpy as np

from accelgen.num.fp import check_codes, decode, encode

__all__ = ["mx_dot", "block_terms", "FP32_NAN", "FP32_INF", "SCALE_NAN"]

#: The FP32 code of a NaN result (canonical quiet NaN) and of ``+inf``.
FP32_NAN = 0x7FC00000
FP32_INF = 0x7F800000
#: The E8M0 NaN code.
SCALE_NAN = 0xFF


def block_terms(params, a, b):
    """The exact aligned products of every element pair, ``(blocks, block)``:
    ``mant_a * mant_b * 2**(exp_a + exp_b - lsb_exp)`` (0 where a code is NaN or
    infinite), int64 when ``sum_width`` fits in 63 bits, else Python ints in an
    object array; and per block the special flags ``(nan, pinf, ninf)`` of the
    elements (NaN element, ``inf * 0``; an infinite product of each sign)."""
    p = params
    fa, fb = p.a_format, p.b_format
    ma, ea, na, ia = decode(fa, a)
    mb, eb, nb, ib = decode(fb, b)
    va = np.where(na | ia, 0, ma) << (ea - fa.exp_min)
    vb = np.where(nb | ib, 0, mb) << (eb - fb.exp_min)
    if p.sum_width > 63:
        va, vb = va.astype(object), vb.astype(object)
    terms = va * vb
    nan = (na | nb | (ia & (mb == 0)) | (ib & (ma == 0))).any(axis=-1)
    neg = (ma < 0) ^ (mb < 0)
    inf = ia | ib
    return terms, nan, (inf & ~neg).any(axis=-1), (inf & neg).any(axis=-1)


def mx_dot(params, a, b, scale_a, scale_b):
    """Results of ``mx_dot`` for blocks ``a``, ``b`` (element codes, ``(blocks,
    block)``) and ``scale_a``, ``scale_b`` (E8M0 codes, ``(blocks,)``), as a dict
    of arrays keyed like the output payload.

    ``C = 2**(scale_a - 127) * 2**(scale_b - 127) * sum_i a_i * b_i`` exactly
    (OCP MX v1.0, section 6.3). ``out="exact"``: ``sum`` (int64, or Python ints
    in an object array when ``sum_width > 63``) and ``exp`` (int64) with
    ``C = sum * 2**exp``, ``exp = scale_a + scale_b - 254 + lsb_exp``, and bool
    ``nan``/``inf``: NaN when a scale is ``0xFF``, an element is NaN, a product
    is ``inf * 0`` or infinities of both signs meet (``sum = 0``); else an
    infinity of the products' sign (``sum = ±1``). ``out="fp32"``: ``c``, the
    FP32 codes (int64) nearest to ``C``, ties to even, subnormals, overflow to
    ``±inf``, zero to ``+0``, NaN as ``0x7FC00000``."""
    p = params
    a = check_codes(p.a_format, np.asarray(a)).reshape(-1, p.block)
    b = check_codes(p.b_format, np.asarray(b)).reshape(-1, p.block)
    scale_a = check_codes("e8m0", np.asarray(scale_a)).reshape(-1)
    scale_b = check_codes("e8m0", np.asarray(scale_b)).reshape(-1)
    if not len(a) == len(b) == len(scale_a) == len(scale_b):
        raise ValueError(f"a, b, scale_a and scale_b must give as many blocks, not "
                         f"{len(a)}, {len(b)}, {len(scale_a)}, {len(scale_b)}")
    terms, nan, pinf, ninf = block_terms(p, a, b)
    total = terms.sum(axis=-1)
    exp = (scale_a + scale_b - 254 + p.lsb_exp).astype(np.int64)
    nan = nan | (scale_a == SCALE_NAN) | (scale_b == SCALE_NAN) | (pinf & ninf)
    inf = ~nan & (pinf | ninf)
    if p.out == "exact":
        sign = np.where(ninf, -1, 1)
        value = np.where(nan, 0, np.where(inf, sign, total))
        if value.dtype != object:
            value = value.astype(np.int64)
        return {"sum": value, "exp": exp, "nan": nan, "inf": inf}
    c = encode("fp32", total if total.dtype == object else total.astype(object), exp)
    c = np.where(inf, np.where(ninf, FP32_INF | 1 << 31, FP32_INF), c)
    return {"c": np.where(nan, FP32_NAN, c).astype(np.int64)}
