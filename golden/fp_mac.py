# SPDX-License-Identifier: BSD-2-Clause
"""Golden model of the streaming floating-point MAC (``fp_mac``)."""

import numpy as np

from accelgen.num.fp import check_codes, decode, encode, to_float

__all__ = ["fp_mac", "products_fp32", "FP32_NAN"]

#: The code every NaN result takes (the RTL's canonical quiet NaN).
FP32_NAN = 0x7FC00000
#: The FP32 infinities.
FP32_POS_INF, FP32_NEG_INF = 0x7F800000, 0xFF800000


def _packets(last):
    """``(packet index of each beat, position in its packet, number of packets)``
    for the beats up to the final ``last`` (later beats are dropped)."""
    last = np.asarray(last, dtype=bool)
    ends = np.flatnonzero(last)
    count = ends.size
    used = ends[-1] + 1 if count else 0
    packet = np.concatenate([[0], np.cumsum(last[:used - 1])]) if used else np.zeros(0, int)
    starts = np.concatenate([[0], ends[:-1] + 1]) if count else np.zeros(0, int)
    position = np.arange(used) - starts[packet] if used else np.zeros(0, int)
    return packet.astype(np.int64), position.astype(np.int64), count, used


def products_fp32(params, a, b):
    """The products as float32: ``np.float32(np.float64(a) * np.float64(b))`` with
    the operands decoded exactly (:func:`accelgen.num.fp.to_float`); the float64
    product of two operands of at most 11 significant bits is exact, so the cast
    is the one rounding (to nearest even, subnormals kept, ``±inf`` beyond)."""
    x = to_float(params.a_fmt, a)
    y = to_float(params.b_fmt, b)
    with np.errstate(invalid="ignore", over="ignore"):
        return (x * y).astype(np.float32)


def _fp32(params, a, b, last):
    packet, position, count, used = _packets(last)
    p = products_fp32(params, a[:used], b[:used])
    acc = np.zeros(count, dtype=np.float32)  # +0
    with np.errstate(invalid="ignore", over="ignore"):
        for k in range(int(position.max()) + 1 if used else 0):
            sel = position == k
            acc[packet[sel]] = acc[packet[sel]] + p[sel]  # float32 + float32: IEEE, RNE
    codes = acc.view(np.uint32).astype(np.int64)
    return {"acc": np.where(np.isnan(acc), FP32_NAN, codes).astype(np.uint32)}


def _exact(params, a, b, last):
    packet, _position, count, used = _packets(last)
    ma, ea, na, ia = decode(params.a_fmt, a[:used])
    mb, eb, nb, ib = decode(params.b_fmt, b[:used])
    nan = na | nb | (ia & (mb == 0)) | (ib & (ma == 0))
    inf = (ia | ib) & ~nan
    negative = (ma < 0) != (mb < 0)
    finite = ~(nan | inf)
    shift = (ea + eb - params.lsb_exp) * finite
    # Python integers: e5m2 products reach 64 bits before the guard bits.
    fixed = (ma.astype(object) * mb.astype(object) * finite) << shift.astype(object)
    width = params.acc_width
    acc = [0] * count
    overflow = np.zeros(count, dtype=bool)
    lo, hi = -(1 << (width - 1)), 1 << (width - 1)
    for k, pk in zip(fixed.tolist(), packet.tolist()):
        s = acc[pk] + k
        if not lo <= s < hi:
            overflow[pk] = True
            s = (s - lo) % (1 << width) + lo
        acc[pk] = s
    flags = {}
    for name, beat in (("nan", nan), ("pos_inf", inf & ~negative), ("neg_inf", inf & negative)):
        flags[name] = np.bincount(packet, weights=beat, minlength=count) > 0
    if params.out == "fp32":  # acc='exact', out='fp32': rounded once
        return _rounded(params, acc, overflow, flags)
    return {"acc": np.array(acc, dtype=object), "overflow": overflow, **flags}


def _rounded(params, acc, overflow, flags):
    """``out='fp32'``: the packets' exact sums rounded once to FP32, with IEEE specials."""
    nan = flags["nan"] | (flags["pos_inf"] & flags["neg_inf"])
    inf = ~nan & (flags["pos_inf"] | flags["neg_inf"])
    codes = encode("fp32", np.array(acc, dtype=object),
                   np.full(len(acc), params.lsb_exp, dtype=object)).astype(np.int64)
    codes = np.where(inf, np.where(flags["neg_inf"], FP32_NEG_INF, FP32_POS_INF), codes)
    return {"acc": np.where(nan, FP32_NAN, codes).astype(np.uint32), "overflow": overflow}


def fp_mac(params, a, b, last):
    """Packet results of ``fp_mac``: a dict of arrays, one entry per packet closed
    by ``last`` (beats after the final ``last`` produce nothing).

    ``acc='fp32'``: ``{"acc": uint32 FP32 codes}``. Each product is
    ``np.float32(np.float64(a) * np.float64(b))`` (:func:`products_fp32`), the
    packet's sum starts at ``np.float32(0)`` (``+0``) and adds the products in
    order in float32 (NumPy's float32 addition is IEEE binary32, round to
    nearest even, with subnormals); every NaN becomes the canonical ``0x7fc00000``.

    ``acc='exact'``: ``{"acc", "overflow", "nan", "pos_inf", "neg_inf"}``:
    ``acc`` the sum of the finite products ``mant_a * mant_b * 2**(exp_a +
    exp_b - lsb_exp)`` (Python ints, an object array) kept modulo
    ``2**acc_width`` as two's complement, ``overflow`` set when a running sum
    left that range; ``nan`` when a beat has a NaN operand or ``inf * 0``;
    ``pos_inf``/``neg_inf`` when a beat's product is ``+inf``/``-inf``.

    ``acc='exact', out='fp32'``: ``{"acc", "overflow"}``: ``acc`` the FP32 code
    (uint32) of ``acc * 2**lsb_exp`` rounded once to nearest even by
    :func:`accelgen.num.fp.encode` (a zero gives ``+0``), ``0x7fc00000`` when
    ``nan`` or both infinity flags are set, else ``±inf`` when one is;
    ``overflow`` as above.

    ``a``, ``b`` are integer code arrays (checked), ``last`` a 0/1 array of the
    same length.
    """
    a, b = (np.asarray(x) for x in (a, b))
    a, b = (x.astype(np.int64) if x.size == 0 else x for x in (a, b))  # [] is float64
    a = check_codes(params.a_fmt, a)
    b = check_codes(params.b_fmt, b)
    last = np.asarray(last, dtype=bool)
    if not (a.shape == b.shape == last.shape) or a.ndim != 1:
        raise ValueError("a, b and last must be 1-D arrays of the same length")
    return (_fp32 if params.acc == "fp32" else _exact)(params, a, b, last)
