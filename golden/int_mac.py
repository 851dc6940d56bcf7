# SPDX-License-Identifier: BSD-2-Clause
"""Golden model of the streaming integer MAC (``int_mac``)."""

import numpy as np

from accelgen.num.numeric import check_range

__all__ = ["int_mac", "wrap"]


def wrap(values, width, signed):
    """Reduce integers modulo ``2**width`` (``width <= 64``); read as two's
    complement when ``signed``. Returns int64 (signed) or uint64 (unsigned)."""
    bits = np.asarray(values).astype(np.uint64, copy=False)
    if width < 64:
        bits = bits & np.uint64((1 << width) - 1)
    if not signed:
        return bits
    out = bits.astype(np.int64)
    if width < 64:
        # Sign-extend with an OR: -(1 << width) fits int64 up to width 63.
        out = np.where(out >= (1 << (width - 1)), out | np.int64(-(1 << width)), out)
    return out


def int_mac(params, a, b, last):
    """Packet results of ``int_mac``: one value per packet closed by ``last``.

    ``result[k] = sum(a[j] * b[j] for j in packet k)  mod 2**acc_width``, read as
    two's complement when ``params.acc_signed``. Beats after the final ``last``
    form an unfinished packet and produce nothing.

    ``a``, ``b`` are integer arrays within the operand ranges (checked), ``last``
    a 0/1 array of the same length. The sum is exact: all arithmetic is done
    modulo 2**64, which is exact modulo ``2**acc_width`` for ``acc_width <= 64``.
    """
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    last = np.asarray(last, dtype=bool)
    if not (a.shape == b.shape == last.shape) or a.ndim != 1:
        raise ValueError("a, b and last must be 1-D arrays of the same length")
    check_range("a", a, params.a_width, params.a_signed)
    check_range("b", b, params.b_width, params.b_signed)
    ends = np.flatnonzero(last)
    if ends.size == 0:
        return wrap(np.zeros(0, dtype=np.uint64), params.acc_width, params.acc_signed)
    with np.errstate(over="ignore"):
        products = a.astype(np.uint64) * b.astype(np.uint64)  # exact mod 2**64
        cumulative = np.cumsum(products, dtype=np.uint64)
        totals = cumulative[ends]
        totals[1:] -= cumulative[ends[:-1]]
    return wrap(totals, params.acc_width, params.acc_signed)
