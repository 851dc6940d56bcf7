# SPDX-License-Identifier: BSD-2-Clause
"""Golden model of the BitFusion BitBrick (docs/bitfusion.md)."""

import numpy as np

__all__ = ["extend_digit", "bitbrick"]


def extend_digit(d, s):
    """Value of the 2-bit digit ``d`` extended to 3 bits as ``{s & d[1], d}``.

    Signed (``s=1``): ``d - 4`` when ``d >= 2``; unsigned: ``d``. Vectorized, int64.
    """
    d = np.asarray(d, dtype=np.int64)
    s = np.asarray(s, dtype=np.int64)
    if np.any((d < 0) | (d > 3)) or np.any((s < 0) | (s > 1)):
        raise ValueError("bitbrick digits must be in 0..3 and sign flags in 0..1")
    return d - 4 * (s & (d >> 1))


def bitbrick(params, x, y, sx, sy):
    """BitBrick product ``p = ext(x, sx) * ext(y, sy)``, exact (range -6..9), int64.

    ``params`` is the (empty) ``bitbrick`` Params; ``x``, ``y`` are 2-bit digits,
    ``sx``, ``sy`` sign flags; all broadcast together.
    """
    return extend_digit(x, sx) * extend_digit(y, sy)
