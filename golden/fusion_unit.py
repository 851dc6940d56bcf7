# SPDX-License-Identifier: BSD-2-Clause
"""Golden model of the BitFusion Fusion Unit (docs/bitfusion.md), bit-exact and vectorized.

Definitions (Sharma et al., ISCA 2018; docs/bitfusion.md):

* an operand of width ``w`` in {2, 4, 8} is split into ``w/2`` 2-bit digits,
  ``x = sum_i d_i * 4**i``; only the most significant digit of a signed operand is
  signed (BitBrick extension ``{s & d[1], d}``);
* a product is ``sum_{i,j} (a_i * b_j) << 2*(i+j)``, each ``a_i * b_j`` a BitBrick;
* in mode ``wa x ww`` one beat holds ``P = (8/wa)*(8/ww)`` products; product ``k``
  takes ``a[k*wa +: wa]`` and ``w[k*ww +: ww]`` of the 32-bit words (the packing
  of :func:`pack_lanes`); the beat's step is the sum of its products;
* a packet's result is the running sum of its steps in a two's-complement
  accumulator of ``acc_width`` bits that wraps, or with ``saturate`` clamps, at
  every addition; ``overflow`` records that some addition left the range.

Precision codes: 0 = 2-bit, 1 = 4-bit, 2 = 8-bit (3 is invalid).
"""

import numpy as np

from accelgen.golden.bitbrick import bitbrick
from accelgen.num.numeric import int_range, packet_bounds

__all__ = ["PREC_CODE", "PREC_BITS", "products_per_beat", "pack_lanes", "unpack_lanes",
           "step", "accumulate", "fusion_unit", "dot_product_beats", "dot_product"]

PREC_BITS = {0: 2, 1: 4, 2: 8}
PREC_CODE = {bits: code for code, bits in PREC_BITS.items()}
WORD_BITS = 32


def products_per_beat(wa, ww):
    """``P = (8/wa) * (8/ww)``."""
    return (8 // wa) * (8 // ww)


def pack_lanes(values, width, signed):
    """Pack the last axis of ``values`` into words, element ``k`` at bits
    ``[k*width, (k+1)*width)``, two's complement. Returns int64 words (< 2**32)."""
    values = np.asarray(values, dtype=np.int64)
    lo, hi = int_range(width, signed)
    if values.size and (values.min() < lo or values.max() > hi):
        raise ValueError(f"{'signed' if signed else 'unsigned'} {width}-bit lanes must be "
                         f"in {lo}..{hi}")
    if values.shape[-1] * width > WORD_BITS:
        raise ValueError(f"{values.shape[-1]} lanes of {width} bits exceed {WORD_BITS} bits")
    bits = values & ((1 << width) - 1)
    shifts = np.arange(values.shape[-1], dtype=np.int64) * width
    return np.bitwise_or.reduce(bits << shifts, axis=-1) if values.shape[-1] else \
        np.zeros(values.shape[:-1], dtype=np.int64)


def unpack_lanes(words, width, count, signed):
    """Inverse of :func:`pack_lanes`: ``(..., count)`` int64 lane values."""
    words = np.asarray(words, dtype=np.int64)[..., None]
    shifts = np.arange(count, dtype=np.int64) * width
    lanes = (words >> shifts) & ((1 << width) - 1)
    if signed:
        lanes = np.where(lanes >= 1 << (width - 1), lanes - (1 << width), lanes)
    return lanes


def step(params, a, w, a_prec, w_prec, a_signed, w_signed):
    """``(step, mode_error)`` of beats, built from BitBrick products.

    ``step`` (int64) is ``sum_k sum_{i,j} bitbrick(a digit, w digit) << 2(i+j)`` over
    the beat's products; a precision pair not in ``params.mode_set`` (or code 3)
    gives ``step = 0`` and ``mode_error = True``. All arguments broadcast.
    """
    a, w, a_prec, w_prec, a_signed, w_signed = np.broadcast_arrays(
        *(np.asarray(v, dtype=np.int64) for v in (a, w, a_prec, w_prec, a_signed, w_signed)))
    a_digits = (a[..., None] >> (2 * np.arange(16))) & 3
    w_digits = (w[..., None] >> (2 * np.arange(16))) & 3
    out = np.zeros(a.shape, dtype=np.int64)
    known = np.zeros(a.shape, dtype=bool)
    for wa, ww in params.mode_set:
        mask = (a_prec == PREC_CODE[wa]) & (w_prec == PREC_CODE[ww])
        if not mask.any():
            continue
        da, dw = wa // 2, ww // 2
        k, i, j = (g.ravel() for g in np.meshgrid(
            np.arange(products_per_beat(wa, ww)), np.arange(da), np.arange(dw),
            indexing="ij"))
        x = a_digits[mask][:, k * da + i]
        y = w_digits[mask][:, k * dw + j]
        sx = a_signed[mask][:, None] & (i == da - 1)
        sy = w_signed[mask][:, None] & (j == dw - 1)
        out[mask] = (bitbrick(None, x, y, sx, sy) << (2 * (i + j))).sum(axis=-1)
        known |= mask
    return out, ~known


def accumulate(steps, errors, last, width, saturate):
    """Per packet: ``(acc, overflow, mode_error)`` arrays from per-beat steps.

    Every addition ``acc + step`` is reduced to ``width``-bit two's complement
    (wrap) or clamped (``saturate``); ``overflow`` is set when any addition of the
    packet left the range. Vectorized over packets, one pass per beat position.
    """
    steps = np.asarray(steps, dtype=np.int64)
    errors = np.asarray(errors, dtype=bool)
    starts, ends = packet_bounds(last)
    lengths = ends - starts + 1
    acc = np.zeros(ends.size, dtype=np.int64)
    overflow = np.zeros(ends.size, dtype=bool)
    mode_error = np.zeros(ends.size, dtype=bool)
    lo, hi = int_range(width, True)
    for t in range(int(lengths.max()) if ends.size else 0):
        live = np.flatnonzero(lengths > t)
        total = acc[live] + steps[starts[live] + t]
        out = (total < lo) | (total > hi)
        if saturate:
            total = np.clip(total, lo, hi)
        else:
            total = ((total - lo) & ((1 << width) - 1)) + lo
        acc[live] = total
        overflow[live] |= out
        mode_error[live] |= errors[starts[live] + t]
    return acc, overflow, mode_error


def fusion_unit(params, a, w, a_prec, w_prec, a_signed, w_signed, last):
    """Packet results of ``fusion_unit`` for a stream of beats (1-D arrays).

    Returns ``{"acc", "overflow", "mode_error"}``, one entry per packet closed by
    ``last``; beats after the final ``last`` produce nothing.
    """
    steps, errors = step(params, a, w, a_prec, w_prec, a_signed, w_signed)
    acc, overflow, mode_error = accumulate(steps, errors, last, params.acc_width,
                                           params.saturate)
    return {"acc": acc, "overflow": overflow, "mode_error": mode_error}


def dot_product_beats(x, y, wa, ww, a_signed, w_signed):
    """Beats ``(a_words, w_words)`` carrying the dot product of vectors ``x``, ``y``
    in mode ``wa x ww``: ``P`` elements per beat, the tail padded with zeros."""
    x = np.asarray(x, dtype=np.int64)
    y = np.asarray(y, dtype=np.int64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError("x and y must be 1-D arrays of the same length")
    per = products_per_beat(wa, ww)
    beats = max(1, -(-x.size // per))
    pad = beats * per - x.size
    x = np.concatenate([x, np.zeros(pad, dtype=np.int64)]).reshape(beats, per)
    y = np.concatenate([y, np.zeros(pad, dtype=np.int64)]).reshape(beats, per)
    return pack_lanes(x, wa, a_signed), pack_lanes(y, ww, w_signed)


def dot_product(params, x, y, wa, ww, a_signed, w_signed):
    """``(acc, overflow, mode_error)`` of the whole dot product ``x . y`` as one packet."""
    a_words, w_words = dot_product_beats(x, y, wa, ww, a_signed, w_signed)
    last = np.zeros(a_words.size, dtype=bool)
    last[-1] = True
    result = fusion_unit(params, a_words, w_words, PREC_CODE[wa], PREC_CODE[ww],
                         int(a_signed), int(w_signed), last)
    return tuple(v[0].item() for v in (result["acc"], result["overflow"],
                                       result["mode_error"]))
