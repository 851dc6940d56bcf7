# SPDX-License-Identifier: BSD-2-Clause
"""Golden model of the OliVe processing element (Guo et al., ISCA 2023; docs/formats.md):
a streaming MAC over outlier-victim pairs.

Each beat carries an activation pair word ``a`` and a weight pair word ``w``
(:func:`accelgen.golden.olive_decoder.decode_pairs`); element ``k`` of each
(``k = 0, 1``) gives the product ``(ma_k * mw_k) << (ea_k + ew_k)``, so a beat
adds ``a_0 w_0 + a_1 w_1``, the dot product of the two pairs. Accumulation,
reduction and the ``overflow`` flag are ``ant_pe``'s
(:func:`accelgen.golden.ant_pe.accumulate`).
"""

import numpy as np

from accelgen.golden.ant_pe import accumulate, shifted_product
from accelgen.golden.olive_decoder import decode_pairs

__all__ = ["olive_pe", "pair_products"]


def pair_products(fmt, a, w, width):
    """``(values, outs)`` of shape ``(beats, 2)``: each element product reduced to
    ``width`` bits and its out-of-range flag."""
    ea, ma = decode_pairs(fmt, a)
    ew, mw = decode_pairs(fmt, w)
    return shifted_product(ma * mw, ea + ew, width)


def olive_pe(params, a, w, last):
    """Packet results of ``olive_pe`` for a stream of beats (1-D arrays):
    ``{"acc", "overflow"}``, one entry per packet closed by ``last``."""
    last = np.asarray(last, dtype=bool)
    values, outs = pair_products(params.format, a, w, params.acc_width)
    acc, overflow, _ = accumulate(values, outs, np.zeros(last.shape, dtype=bool), last,
                                  params.acc_width)
    return {"acc": acc, "overflow": overflow}
