# SPDX-License-Identifier: BSD-2-Clause
"""Golden model of the systolic array: tiles, the tiling driver, and the cycle model.

Definitions (SPEC §3; TPU v1 for WS, Gemmini for WS/OS):

* a **WS tile** holds weights ``W`` (``rows x cols``); each activation row ``a``
  (``rows`` values) gives ``o[c] = sum_r a[r] * W[r][c]``;
* an **OS tile** takes ``K`` beats ``(A[:, k], B[k, :])`` and gives the
  ``rows x cols`` product ``A @ B``;
* every result is reduced modulo ``2**acc_width`` (two's complement when either
  operand is signed), like an accumulator that wraps at every addition;
* :func:`gemm` computes any ``M x K @ K x N`` by tiles, as the testbench's
  driver does (:func:`ws_schedule`, :func:`os_schedule`), summing WS partial
  results over K tiles with the same wrap; it equals ``A @ B`` reduced modulo
  ``2**acc_width``;
* :func:`cycles` is the exact cycle count of a whole GEMM with streams that never
  idle or stall, from the RTL's documented acceptance rules.
"""

import numpy as np

from accelgen.golden.int_mac import wrap

__all__ = ["ws_tile", "os_tile", "ws_schedule", "os_schedule", "gemm", "cycles",
           "utilization", "PE_PRODUCTS"]

# Processing-element products by ``pe`` parameter value: (params, a, w) -> a * w.
PE_PRODUCTS = {"int_mac": lambda params, a, w: a * w}


def _matmul(params, a, w):
    """Exact ``a @ w`` modulo 2**64 (uint64 arithmetic), through the PE's product."""
    a = np.asarray(a, dtype=np.int64)
    w = np.asarray(w, dtype=np.int64)
    with np.errstate(over="ignore"):
        products = PE_PRODUCTS[params.pe](params, a[..., :, :, None].astype(np.uint64),
                                          w[..., None, :, :].astype(np.uint64))
        return products.sum(axis=-2, dtype=np.uint64)


def _check(name, values, width, signed):
    lo, hi = (-(1 << (width - 1)), (1 << (width - 1)) - 1) if signed else (0, (1 << width) - 1)
    values = np.asarray(values)
    if values.size and (values.min() < lo or values.max() > hi):
        raise ValueError(f"{name} values must be in {lo}..{hi}")


def ws_tile(params, weights, acts):
    """WS: result rows (``M x cols``) of activation rows ``acts`` (``M x rows``)."""
    _check("activation", acts, params.a_width, params.a_signed)
    _check("weight", weights, params.w_width, params.w_signed)
    return wrap(_matmul(params, acts, weights), params.acc_width, params.acc_signed)


def os_tile(params, a, b):
    """OS: the ``rows x cols`` result of ``a`` (``rows x K``) by ``b`` (``K x cols``)."""
    _check("activation", a, params.a_width, params.a_signed)
    _check("weight", b, params.w_width, params.w_signed)
    return wrap(_matmul(params, a, b), params.acc_width, params.acc_signed)


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


def gemm(params, a, b):
    """``a @ b`` computed tile by tile as the driver does, modulo ``2**acc_width``."""
    a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    (m, k), n = a.shape, b.shape[1]
    out = np.zeros((m, n), dtype=np.uint64)
    with np.errstate(over="ignore"):
        if params.dataflow == "ws":
            for n0, weights, acts in ws_schedule(params, a, b):
                part = ws_tile(params, weights, acts).astype(np.uint64)
                out[:, n0:n0 + params.cols] += part[:, :n - n0]
        else:
            for m0, n0, a_tile, b_tile in os_schedule(params, a, b):
                part = os_tile(params, a_tile, b_tile).astype(np.uint64)
                out[m0:m0 + params.rows, n0:n0 + params.cols] += \
                    part[:m - m0, :n - n0]
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
    ``M >= rows + cols - 1``; otherwise weight loads add bubbles.

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
