# SPDX-License-Identifier: BSD-2-Clause
"""Golden model of N:M structured sparsity (NVIDIA Ampere 2:4; docs/sparse.md).

Compression (:func:`compress`): every group of ``m`` consecutive weights keeps
its ``n`` of largest magnitude (on equal magnitudes the lower position), in
increasing position, with their positions as metadata (``log2(m)`` bits each,
packed least-significant first; 2:4: ``idx0 = meta & 3``, ``idx1 = meta >> 2``).
The sparse dot product multiplies each kept weight by the dense activation at
its position. A group whose positions do not strictly increase is invalid: it
contributes 0 and flags the packet's result (:func:`nm_sparse`).
"""

import numpy as np

from accelgen.golden.int_mac import wrap
from accelgen.num.numeric import check_range, packet_bounds

__all__ = ["compress", "decompress", "prune", "pack_meta", "unpack_meta", "valid_meta",
           "nm_sparse"]


def compress(w, n, m):
    """``(values, positions)``, both ``(..., groups * n)``: the kept weights of each
    group of ``m`` along the last axis and their positions in the group."""
    w = np.asarray(w, dtype=np.int64)
    if w.shape[-1] % m:
        raise ValueError(f"the last axis ({w.shape[-1]}) must be a multiple of m = {m}")
    groups = w.reshape(*w.shape[:-1], -1, m)
    # Stable sort by descending magnitude: equal magnitudes keep the lower position.
    order = np.argsort(-np.abs(groups), axis=-1, kind="stable")[..., :n]
    positions = np.sort(order, axis=-1)
    values = np.take_along_axis(groups, positions, axis=-1)
    return values.reshape(*w.shape[:-1], -1), positions.reshape(*w.shape[:-1], -1)


def decompress(values, positions, n, m):
    """Dense weights (``(..., groups * m)``) from kept ``values`` and valid ``positions``."""
    values = np.asarray(values, dtype=np.int64)
    positions = np.asarray(positions, dtype=np.int64)
    groups = values.shape[-1] // n
    out = np.zeros((*values.shape[:-1], groups * m), dtype=np.int64)
    slots = (np.arange(values.shape[-1]) // n) * m + positions
    np.put_along_axis(out, slots, values, axis=-1)
    return out


def prune(w, n, m):
    """``w`` with all but the ``n`` largest-magnitude values of each group of ``m``
    zeroed (ties: the lower position is kept)."""
    return decompress(*compress(w, n, m), n, m)


def pack_meta(positions, n, m):
    """Metadata words (one per group) from positions ``(..., groups * n)``:
    ``sum_k positions[k] << (k * log2(m))``; 2:4 gives NVIDIA's nibbles."""
    bits = (m - 1).bit_length()
    p = np.asarray(positions, dtype=np.int64).reshape(*np.shape(positions)[:-1], -1, n)
    return (p << (np.arange(n) * bits)).sum(axis=-1)


def unpack_meta(words, n, m):
    """Inverse of :func:`pack_meta`: positions ``(..., groups * n)``."""
    bits = (m - 1).bit_length()
    w = np.asarray(words, dtype=np.int64)[..., None]
    p = (w >> (np.arange(n) * bits)) & ((1 << bits) - 1)
    return p.reshape(*p.shape[:-2], -1)


def valid_meta(positions, n):
    """Per group: its positions strictly increase."""
    p = np.asarray(positions, dtype=np.int64).reshape(*np.shape(positions)[:-1], -1, n)
    return np.all(np.diff(p, axis=-1) > 0, axis=-1)


def nm_sparse(params, a, w, meta, last):
    """Packet results ``(acc, meta_error)`` of ``nm_sparse`` for a stream of beats:
    ``a`` (beats, groups*m), ``w`` and ``meta`` (beats, groups*n) positions,
    ``last`` (beats,). ``acc`` is the sum over valid groups of
    ``w[g*n+k] * a[g*m + meta[g*n+k]]`` modulo ``2**acc_width``."""
    p = params
    a = np.asarray(a, dtype=np.int64).reshape(-1, p.groups * p.m)
    w = np.asarray(w, dtype=np.int64).reshape(-1, p.groups * p.n)
    meta = np.asarray(meta, dtype=np.int64).reshape(-1, p.groups * p.n)
    last = np.asarray(last, dtype=bool)
    check_range("a", a, p.a_width, p.a_signed)
    check_range("w", w, p.w_width, p.w_signed)
    check_range("meta", meta, p.index_bits, False)
    slots = (np.arange(p.groups * p.n) // p.n) * p.m + meta
    selected = np.take_along_axis(a, slots, axis=-1)
    valid = np.repeat(valid_meta(meta, p.n), p.n, axis=-1)
    with np.errstate(over="ignore"):
        products = np.where(valid, selected * w, 0).astype(np.uint64)
        steps = products.sum(axis=-1, dtype=np.uint64)
    bad = ~valid.all(axis=-1)
    starts, ends = packet_bounds(last)
    with np.errstate(over="ignore"):
        totals = np.array([steps[s:e + 1].sum(dtype=np.uint64) for s, e in zip(starts, ends)],
                          dtype=np.uint64)
    errors = np.array([bad[s:e + 1].any() for s, e in zip(starts, ends)], dtype=bool)
    return wrap(totals, p.acc_width, p.acc_signed), errors
