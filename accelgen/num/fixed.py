# SPDX-License-Identifier: BSD-2-Clause
"""Fixed-point arithmetic shared by the nonlinear units' golden models, their
generators (elaboration-time constants) and the accuracy reports.

A fixed-point code ``q`` of a format with ``frac`` fraction bits stands for
``q / 2**frac``. The helpers work on NumPy ``int64`` arrays and, for widths
beyond 62 bits, on ``object`` arrays of Python integers.
"""

import numpy as np

from accelgen.num.numeric import int_range

__all__ = ["round_shift", "floor_shift", "saturate", "codes", "round_half_up",
           "bit_length", "ints"]


def ints(values):
    """``values`` as an array of Python integers (``object`` dtype): exact at any
    width, for intermediates that can exceed 63 bits."""
    return np.asarray(values, dtype=np.int64).astype(object)


def round_half_up(x):
    """Nearest integer to the float ``x``, halves rounded up (towards +inf)."""
    return np.floor(np.asarray(x, dtype=np.float64) + 0.5).astype(np.int64)


def floor_shift(x, shift):
    """``floor(x / 2**shift)`` (an arithmetic right shift); ``x * 2**-shift`` when
    ``shift`` is negative."""
    x = np.asarray(x)
    return x >> shift if shift >= 0 else x << -shift


def round_shift(x, shift):
    """``floor(x / 2**shift + 1/2)``: divide by a power of two, halves up."""
    if shift <= 0:
        return floor_shift(x, shift)
    return (np.asarray(x) + (1 << (shift - 1))) >> shift


def saturate(x, bits, signed):
    """``x`` clamped to the range of a ``bits``-bit integer."""
    lo, hi = int_range(bits, signed)
    return np.minimum(np.maximum(x, lo), hi)


def codes(bits, signed):
    """Every code of a ``bits``-bit integer, ascending (``int64``)."""
    lo, hi = int_range(bits, signed)
    return np.arange(lo, hi + 1, dtype=np.int64)


def bit_length(x):
    """Elementwise ``int.bit_length`` of non-negative integers (any dtype)."""
    return np.vectorize(lambda v: int(v).bit_length(), otypes=[np.int64])(x)
