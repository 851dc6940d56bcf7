# SPDX-License-Identifier: BSD-2-Clause
"""Golden model of ``fp_decoder``: codes of an FP8 / FP6 / FP4 / BF16 / FP16 / FP32 /
E8M0 / MXINT8 format to exact ``(mant, exp)`` pairs and NaN/infinity flags (docs/fp.md)."""

import numpy as np

from accelgen.num.fp import decode

__all__ = ["fp_decoder"]


def fp_decoder(params, code):
    """The ``fp_decoder`` unit on the codes ``code`` of ``params.format``:
    ``(mant, exp, nan, inf)``, int64 ``mant`` (two's complement, sign and hidden
    bit included) and ``exp`` (unbiased), value exactly ``mant * 2**exp``, and
    int64 0/1 flags of the NaN and infinite codes (a special code's pair is what
    the format's formula gives its bits). ``ValueError`` for a code outside
    ``0 .. 2**width - 1``."""
    mant, exp, nan, inf = decode(params.format, code)
    return mant, exp, nan.astype(np.int64), inf.astype(np.int64)
