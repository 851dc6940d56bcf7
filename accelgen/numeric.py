# SPDX-License-Identifier: BSD-2-Clause
"""Integer ranges of fixed-width operands, shared by golden models and testbenches."""

import numpy as np

__all__ = ["int_range", "check_range"]


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
