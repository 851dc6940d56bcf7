# SPDX-License-Identifier: BSD-2-Clause
"""Golden model of the systolic array: tiles, the tiling driver, and the cycle model.

Definitions (docs/systolic.md; TPU v1 for WS, Gemmini for WS/OS):

* a **WS tile** holds weights ``W`` (``rows x cols``); each activation row ``a``
  (``rows`` values) gives ``o[c] = sum_r a[r] * W[r][c]``;
* an **OS tile** takes ``K`` beats ``(A[:, k], B[k, :])`` and gives the
  ``rows x cols`` product ``A @ B``;
* every result is reduced modulo ``2**acc_width`` (two's complement when either
  operand is signed), like an accumulator that wraps at every addition;
* a PE's product is ``a * w`` (``int_mac``), the Fusion Unit step of two packed
  words with the beat's and the weight row's precision (``fusion_unit``, whose
  GEMMs :func:`pack_gemm` prepares), the ANT or OliVe product of decoded codes,
  or the exact product of two FP8 codes as a fixed-point integer with LSB
  ``2**lsb_exp`` (``fp_mac``, whose NaN and infinite products add 0 and set the
  result's flags);
* :func:`gemm` computes any ``M x K @ K x N`` by tiles, as the testbench's
  driver does (:func:`ws_schedule`, :func:`os_schedule`), summing WS partial
  results over K tiles with the same wrap; it equals ``A @ B`` reduced modulo
  ``2**acc_width``;
* :func:`cycles` is the exact cycle count of a whole GEMM with streams that never
  idle or stall, from the RTL's documented acceptance rules.
"""

import numpy as np

from accelgen.num.formats import KINDS, default_olive_format
from accelgen.golden.ant_pe import decode_typed
from accelgen.golden.fusion_unit import (PREC_CODE, pack_lanes, products_per_beat,
                                         step as fusion_step)
from accelgen.golden.olive_decoder import decode_pairs
from accelgen.golden.int_mac import wrap
from accelgen.num.fp import decode as fp_decode
from accelgen.num.numeric import check_range

__all__ = ["ws_tile", "os_tile", "ws_schedule", "os_schedule", "gemm", "pack_gemm",
           "cycles", "utilization", "PE_PRODUCTS", "FP_NAN", "FP_POS_INF", "FP_NEG_INF"]

def _int_mac_product(params, a, w, a_mode, w_mode):
    """``a * w`` modulo 2**64 (uint64), never an error."""
    with np.errstate(over="ignore"):
        return a.astype(np.uint64) * w.astype(np.uint64), None


def _fusion_product(params, a, w, a_mode, w_mode):
    """The Fusion Unit step of packed words, with its precision-code error."""
    steps, errors = fusion_step(_ALL_MODES, a, w, a_mode["prec"], w_mode["prec"],
                                a_mode["signed"], w_mode["signed"])
    return steps.astype(np.uint64), errors


def _shift_mod64(mant, shift):
    """``(mant << shift) mod 2**64`` (uint64), for any non-negative ``shift``."""
    with np.errstate(over="ignore"):
        bits = mant.astype(np.uint64) << np.minimum(shift, 63).astype(np.uint64)
    return np.where(shift >= 64, np.uint64(0), bits)


def _ant_product(params, a, w, a_mode, w_mode):
    """ANT: both codes decoded in their type (all four built; float E3), then
    ``(ma * mw) << (ea + ew)`` modulo 2**64."""
    ea, ma, _ = decode_typed(KINDS, a, a_mode["type"], params.a_width, params.a_signed, 3)
    ew, mw, _ = decode_typed(KINDS, w, w_mode["type"], params.w_width, params.w_signed, 3)
    ea, ma, ew, mw = np.broadcast_arrays(ea, ma, ew, mw)
    return _shift_mod64(ma * mw, ea + ew), None


def _olive_product(params, a, w, a_mode, w_mode):
    """OliVe: the dot product of two decoded pairs modulo 2**64."""
    fmt = default_olive_format(params.a_width)
    ea, ma = decode_pairs(fmt, a)
    ew, mw = decode_pairs(fmt, w)
    with np.errstate(over="ignore"):
        return _shift_mod64(ma * mw, ea + ew).sum(axis=-1, dtype=np.uint64), None


#: Bits of the ``fp_mac`` PE's flag codes (``flags[c]`` on ``o``).
FP_NAN, FP_POS_INF, FP_NEG_INF = 1, 2, 4


def _fp_product(params, a, w, a_mode, w_mode):
    """FP8 codes decoded exactly (:func:`accelgen.num.fp.decode`); a finite
    product is ``(ma * mw) << (ea + ew - lsb_exp)`` modulo 2**64, a NaN or
    infinite one is 0 with its flag code (:data:`FP_NAN`: an operand NaN or
    ``inf * 0``; :data:`FP_POS_INF` / :data:`FP_NEG_INF`: an infinite product of
    that sign)."""
    ma, ea, na, ia = fp_decode(params.a_fmt, a)
    mw, ew, nw, iw = fp_decode(params.w_fmt, w)
    nan = na | nw | (ia & (mw == 0)) | (iw & (ma == 0))
    inf = (ia | iw) & ~nan
    mant = ma.astype(np.int64) * mw.astype(np.int64)
    finite = ~(nan | inf)
    shift = np.where(finite, ea + ew - params.lsb_exp, 0)
    products = np.where(finite, _shift_mod64(mant, shift), np.uint64(0))
    flags = (nan * FP_NAN + (inf & (mant > 0)) * FP_POS_INF
             + (inf & (mant < 0)) * FP_NEG_INF).astype(np.int64)
    return products, flags


class _AllModes:
    mode_set = tuple((wa, ww) for wa in (8, 4, 2) for ww in (8, 4, 2))


_ALL_MODES = _AllModes()

# Processing-element products by ``pe`` parameter value:
# (params, a, w, a_mode, w_mode) -> (products modulo 2**64, errors or None).
PE_PRODUCTS = {"int_mac": _int_mac_product, "fusion_unit": _fusion_product,
               "ant_pe": _ant_product, "olive_pe": _olive_product, "fp_mac": _fp_product}


def _modes(mode, shape):
    """Per-row mode fields: ``{field: int array of shape}`` (scalars broadcast)."""
    return {k: np.broadcast_to(np.asarray(v, dtype=np.int64), shape)
            for k, v in (mode or {}).items()}


def _check(params, name, values, width, signed):
    if params.pe != "int_mac":
        shape = {"activation": params.a_shape(), "weight": params.w_shape()}[name]
        check_range(name, values, shape.width, False)  # codes: every pattern decodes
        return
    check_range(name, values, width, signed)


def _reduce(params, a, w, a_mode, w_mode):
    """Sum over axis 1 of PE products of ``a (X, R, 1)`` and ``w (1, R, C)``:
    ``(values modulo 2**acc_width, errors)``; errors are one bool per X (a PE
    whose errors are per row, or none), or the OR of the flag codes per
    ``(X, C)`` (a PE whose errors are per result)."""
    products, errors = PE_PRODUCTS[params.pe](params, a, w, a_mode, w_mode)
    with np.errstate(over="ignore"):
        total = products.sum(axis=1, dtype=np.uint64)
    values = wrap(total, params.acc_width, params.acc_signed)
    if errors is None:
        return values, np.zeros(values.shape[0], dtype=bool)
    errors = np.broadcast_to(errors, products.shape)
    if params.pe_type.error_per_column:
        return values, np.bitwise_or.reduce(errors, axis=1)
    return values, errors.any(axis=(1, 2))


def ws_tile(params, weights, acts, a_mode=None, w_mode=None):
    """WS: ``(rows M x cols, errors)`` (errors as :func:`_reduce`'s) of activation rows ``acts``
    (``M x rows``) on ``weights`` (``rows x cols``). ``a_mode`` holds per-beat mode
    fields (scalars or ``(M,)`` arrays), ``w_mode`` per-weight-row ones (``(rows,)``)."""
    acts = np.asarray(acts, dtype=np.int64)
    weights = np.asarray(weights, dtype=np.int64)
    _check(params, "activation", acts, params.a_width, params.a_signed)
    _check(params, "weight", weights, params.w_width, params.w_signed)
    am = {k: v[:, None, None] for k, v in _modes(a_mode, acts.shape[:1]).items()}
    wm = {k: v[None, :, None] for k, v in _modes(w_mode, weights.shape[:1]).items()}
    return _reduce(params, acts[:, :, None], weights[None], am, wm)


def os_tile(params, a, b, a_mode=None, w_mode=None):
    """OS: ``(rows x cols result, errors)`` (as :func:`_reduce`'s) of ``a`` (``rows x K``) by
    ``b`` (``K x cols``); ``a_mode`` / ``w_mode`` are per beat (scalars or ``(K,)``)."""
    a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    _check(params, "activation", a, params.a_width, params.a_signed)
    _check(params, "weight", b, params.w_width, params.w_signed)
    am = {k: v[None, :, None] for k, v in _modes(a_mode, a.shape[1:]).items()}
    wm = {k: v[None, :, None] for k, v in _modes(w_mode, a.shape[1:]).items()}
    return _reduce(params, a[:, :, None], b[None], am, wm)


def pack_gemm(a, b, wa, ww, a_signed, w_signed):
    """For ``pe="fusion_unit"``: pack element matrices ``a`` (``M x K``) and ``b``
    (``K x N``) into word matrices (``M x Kw``, ``Kw x N``, ``P`` elements per word
    along K, zero-padded) and the per-GEMM modes; ``gemm`` of the result is
    ``a @ b``."""
    a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    per = products_per_beat(wa, ww)
    k = a.shape[1]
    kw = max(1, -(-k // per))
    a_pad = np.zeros((a.shape[0], kw * per), dtype=np.int64)
    b_pad = np.zeros((kw * per, b.shape[1]), dtype=np.int64)
    a_pad[:, :k], b_pad[:k] = a, b
    a_words = pack_lanes(a_pad.reshape(a.shape[0], kw, per), wa, a_signed)
    b_words = pack_lanes(b_pad.reshape(kw, per, b.shape[1]).transpose(0, 2, 1), ww, w_signed)
    return (a_words, b_words, {"prec": PREC_CODE[wa], "signed": int(a_signed)},
            {"prec": PREC_CODE[ww], "signed": int(w_signed)})


def _pad(x, shape):
    out = np.zeros(shape, dtype=np.int64)
    out[:x.shape[0], :x.shape[1]] = x
    return out


def ws_schedule(params, a, b):
    """WS tiles of ``a @ b``: ``[(n0, weights rows x cols, acts M x rows)]``, N tiles
    outer, K tiles inner; partial tiles are zero-padded."""
    a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    (m, k), n = a.shape, b.shape[1]
    r, c = params.rows, params.cols
    return [(n0, _pad(b[k0:k0 + r, n0:n0 + c], (r, c)), _pad(a[:, k0:k0 + r], (m, r)))
            for n0 in range(0, n, c) for k0 in range(0, k, r)]


def os_schedule(params, a, b):
    """OS tiles of ``a @ b``: ``[(m0, n0, A rows x K, B K x cols)]``, M tiles outer."""
    a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    (m, k), n = a.shape, b.shape[1]
    r, c = params.rows, params.cols
    return [(m0, n0, _pad(a[m0:m0 + r], (r, k)), _pad(b[:, n0:n0 + c], (k, c)))
            for m0 in range(0, m, r) for n0 in range(0, n, c)]


def gemm(params, a, b, a_mode=None, w_mode=None):
    """``a @ b`` computed tile by tile as the driver does, modulo ``2**acc_width``
    (for ``pe="fusion_unit"``: word matrices and modes from :func:`pack_gemm`)."""
    a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    (m, k), n = a.shape, b.shape[1]
    out = np.zeros((m, n), dtype=np.uint64)
    with np.errstate(over="ignore"):
        if params.dataflow == "ws":
            for n0, weights, acts in ws_schedule(params, a, b):
                part, _errors = ws_tile(params, weights, acts, a_mode, w_mode)
                out[:, n0:n0 + params.cols] += part.astype(np.uint64)[:, :n - n0]
        else:
            for m0, n0, a_tile, b_tile in os_schedule(params, a, b):
                part, _errors = os_tile(params, a_tile, b_tile, a_mode, w_mode)
                out[m0:m0 + params.rows, n0:n0 + params.cols] += \
                    part.astype(np.uint64)[:m - m0, :n - n0]
    return wrap(out, params.acc_width, params.acc_signed)


def cycles(params, m, k, n):
    """Exact cycles of a whole ``M x K @ K x N`` GEMM on the RTL when every beat is
    offered as early as the driver can and ``o`` is always ready: from the first
    accepted input beat to the last result row's transfer, inclusive.

    WS (tiles ``t`` of :func:`ws_schedule`, each ``rows`` weight beats into bank
    ``t mod 2`` and ``M`` activation beats): weight rows of tile ``t`` start at
    ``ws(t) = max(we(t-1) + 1, ae(t-2) + rows + cols - 1)`` (the bank is free
    once tile ``t-2``'s last activation is ``rows + cols - 1`` cycles old) and
    take ``rows`` cycles; activations start at ``as(t) = max(ae(t-1), we(t)) + 1``
    and take ``M`` cycles; the last row leaves ``latency`` cycles after
    ``ae(T-1)``. Steady state is one activation row per cycle when
    ``M >= 2 * rows + cols - 2`` (a bank frees ``rows + cols - 1`` cycles after
    its last activation row, then takes ``rows`` cycles to load); below that, two
    consecutive tiles take ``2 * rows + cols - 2 + M`` cycles on average together.

    OS (tiles of :func:`os_schedule`, ``K`` beats each): a tile's beats are taken
    back to back, but its last beat waits until the previous tile's ``rows``
    result rows have left, ``latency + rows`` cycles after that tile's last beat;
    the GEMM ends ``latency + rows - 1`` cycles after the final last beat.
    """
    if min(m, k, n) < 1:
        raise ValueError("M, K and N must be at least 1")
    r, c, lat = params.rows, params.cols, params.latency
    if params.dataflow == "ws":
        tiles = -(-n // c) * -(-k // r)
        we, ae = [], []
        for t in range(tiles):
            start = 0 if t == 0 else we[t - 1] + 1
            if t >= 2:
                start = max(start, ae[t - 2] + r + c - 1)
            we.append(start + r - 1)
            ae.append(max(ae[t - 1] if t else -1, we[t]) + m)
        return ae[-1] + lat + 1
    tiles = -(-m // r) * -(-n // c)
    last = -1
    for t in range(tiles):
        first = last + 1
        last = first + k - 1 if t == 0 else max(first + k - 1, last + lat + r)
    return last + lat + r


def utilization(params, m, k, n):
    """Useful MACs over ``rows * cols * cycles``."""
    return m * k * n / (params.rows * params.cols * cycles(params, m, k, n))
