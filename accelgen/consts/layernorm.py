# SPDX-License-Identifier: BSD-2-Clause
"""LayerNorm's rsqrt table (docs/nonlinear.md), shared by its generator and golden model.

The ``rsqrt`` method normalises the variance numerator ``V = C*S2 - S1**2`` by
an even left shift ``s`` into ``[2**(w-2), 2**w)`` and looks up
``1 / sqrt`` of it in a table indexed by its top ``lut_bits`` bits. Plain
Python (``math``, integers): no NumPy, no Amaranth.
"""

import functools
import math

__all__ = ["RSQRT_FRAC", "variance_width", "rsqrt_table"]

#: The ``rsqrt`` entries are ``2**(w/2 + RSQRT_FRAC) / sqrt(m)`` for ``m`` in
#: ``[2**(w-2), 2**w)``: they lie in ``(2**RSQRT_FRAC, 2**(RSQRT_FRAC + 1)]``.
RSQRT_FRAC = 16


def variance_width(params):
    """``w``: ``params.variance_bits`` rounded up to even (the ``rsqrt``
    normalisation shifts by even amounts, so ``sqrt`` halves them exactly)."""
    return params.variance_bits + params.variance_bits % 2


def rsqrt_table(params):
    """The ``rsqrt`` table: ``2**lut_bits`` entries (a tuple of ints).

    Entry ``k`` is ``floor(2**(w/2 + RSQRT_FRAC) / sqrt(c) + 1/2)`` (float64,
    halves up) at the bin centre ``c = (k + 1/2) * 2**(w - lut_bits)``,
    ``w = variance_width(params)``. Normalised values lie in ``[2**(w-2),
    2**w)``, so the lower quarter of the table is never indexed.
    """
    return _rsqrt_table(variance_width(params), params.lut_bits)


@functools.lru_cache(maxsize=16)
def _rsqrt_table(w, lut_bits):
    top = 2.0 ** (w // 2 + RSQRT_FRAC)
    return tuple(math.floor(top / math.sqrt((k + 0.5) * 2.0 ** (w - lut_bits)) + 0.5)
                 for k in range(1 << lut_bits))
