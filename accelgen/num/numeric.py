# SPDX-License-Identifier: BSD-2-Clause
"""Integer ranges of fixed-width operands, shared by golden models and testbenches."""

import numpy as np

__all__ = ["int_range", "check_range", "packet_bounds"]


def int_range(width, signed):
    """``(lo, hi)`` of a ``width``-bit integer: two's complement when ``signed``."""
    if signed:
        return -(1 << (width - 1)), (1 << (width - 1)) - 1
    return 0, (1 << width) - 1


def check_range(name, values, width, signed):
    """``ValueError("<name> values must be in lo..hi")`` if any value is outside."""
    lo, hi = int_range(width, signed)
    values = np.asarray(values)
    if values.size and (values.min() < lo or values.max() > hi):
        raise ValueError(f"{name} values must be in {lo}..{hi}")


def packet_bounds(last):
    """``(starts, ends)`` (int64) of the packets closed by the 0/1 array ``last``:
    packet ``k`` is beats ``starts[k] .. ends[k]``; beats after the final ``last``
    belong to no packet."""
    ends = np.flatnonzero(np.asarray(last, dtype=bool)).astype(np.int64)
    starts = np.concatenate(([0], ends[:-1] + 1)).astype(np.int64)[:ends.size]
    return starts, ends
