# SPDX-License-Identifier: BSD-2-Clause
"""Golden model of the ANT processing element (Guo et al., MICRO 2022; docs/formats.md):
decode both operands in their tensor's type, multiply the integers, shift by the
summed exponents, accumulate.

Per beat: ``(ea, ma) = decode(a)``, ``(ew, mw) = decode(w)`` in the types
``a_type`` / ``w_type`` (codes 0 int, 1 pot, 2 float, 3 flint); the product is
``(ma * mw) << (ea + ew)``. A type that was not built (``params.kinds``) makes
the beat add 0 and sets ``type_error`` on its packet.

Accumulation (shared with ``olive_pe``, :func:`accumulate`) keeps
``acc_width``-bit two's complement: every product is reduced modulo
``2**acc_width``, and so are the beat's sum and the running sum; ``overflow`` is
set on a packet when any product, any beat's sum or any running sum was
outside the range. Without ``overflow`` the result is exact; with it, it is
still exact modulo ``2**acc_width``.
"""

import numpy as np

from accelgen.num.formats import AntFormat, TYPE_CODE
from accelgen.golden.ant_decoder import decode
from accelgen.num.numeric import int_range, packet_bounds

__all__ = ["decode_typed", "shifted_product", "accumulate", "ant_pe", "products"]


def decode_typed(kinds, codes, types, bits, signed, exp_bits):
    """``(exp, mant, error)`` of ``codes`` each in the type of its ``types`` code;
    types outside ``kinds`` decode to ``(0, 0)`` with ``error``."""
    codes = np.asarray(codes, dtype=np.int64)
    types = np.broadcast_to(np.asarray(types, dtype=np.int64), codes.shape)
    exp, mant = np.zeros_like(codes), np.zeros_like(codes)
    known = np.zeros(codes.shape, dtype=bool)
    for kind in kinds:
        sel = types == TYPE_CODE[kind]
        e, m = decode(AntFormat(kind, bits, signed, exp_bits), codes)
        exp, mant = np.where(sel, e, exp), np.where(sel, m, mant)
        known |= sel
    return exp, mant, ~known


def shifted_product(mant, shift, width):
    """``(mant << shift) mod 2**width`` as ``width``-bit two's complement (int64) and
    whether the exact value was outside that range; ``width <= 62``, ``|mant| < 2**40``."""
    mant = np.asarray(mant, dtype=np.int64)
    shift = np.asarray(shift, dtype=np.int64)
    big = shift >= width
    s = np.where(big, 0, shift)
    limit = np.int64(1) << (width - 1 - s)  # mant << s fits iff -limit <= mant < limit
    out = np.where(big, mant != 0, (mant < -limit) | (mant >= limit))
    with np.errstate(over="ignore"):
        bits = (mant.astype(np.uint64) << s.astype(np.uint64)) & np.uint64((1 << width) - 1)
    bits = np.where(big, np.uint64(0), bits).astype(np.int64)
    return np.where(bits >= 1 << (width - 1), bits - (1 << width), bits), out


def _wrap(values, width):
    lo = -(1 << (width - 1))
    return ((values - lo) & ((1 << width) - 1)) + lo


def accumulate(values, outs, errors, last, width):
    """Per packet ``(acc, overflow, error)`` from per-beat products ``values``
    (``(beats, P)``, already reduced by :func:`shifted_product`), their ``outs``
    flags, per-beat ``errors`` and ``last`` (see the module docstring)."""
    values = np.asarray(values, dtype=np.int64).reshape(len(last), -1)
    outs = np.asarray(outs, dtype=bool).reshape(len(last), -1)
    errors = np.asarray(errors, dtype=bool)
    lo, hi = int_range(width, True)
    step = values.sum(axis=1)
    beat_out = outs.any(axis=1) | (step < lo) | (step > hi)
    step = _wrap(step, width)
    starts, ends = packet_bounds(last)
    lengths = ends - starts + 1
    acc = np.zeros(ends.size, dtype=np.int64)
    overflow = np.zeros(ends.size, dtype=bool)
    error = np.zeros(ends.size, dtype=bool)
    for t in range(int(lengths.max()) if ends.size else 0):
        live = np.flatnonzero(lengths > t)
        beat = starts[live] + t
        total = acc[live] + step[beat]
        overflow[live] |= beat_out[beat] | (total < lo) | (total > hi)
        error[live] |= errors[beat]
        acc[live] = _wrap(total, width)
    return acc, overflow, error


def products(params, a, w, a_type, w_type):
    """``(value, out, error)`` per beat: the shifted product reduced to
    ``acc_width`` bits, its out-of-range flag and the type error."""
    ea, ma, a_err = decode_typed(params.kinds, a, a_type, params.bits, params.a_signed,
                                 params.float_exp)
    ew, mw, w_err = decode_typed(params.kinds, w, w_type, params.bits, params.w_signed,
                                 params.float_exp)
    value, out = shifted_product(ma * mw, ea + ew, params.acc_width)
    return value, out, a_err | w_err


def ant_pe(params, a, w, a_type, w_type, last):
    """Packet results of ``ant_pe`` for a stream of beats (1-D arrays; ``a_type``,
    ``w_type`` may be scalars): ``{"acc", "overflow", "type_error"}``, one entry per
    packet closed by ``last``."""
    last = np.asarray(last, dtype=bool)
    value, out, error = products(params, a, w, a_type, w_type)
    acc, overflow, type_error = accumulate(value, out, error, last, params.acc_width)
    return {"acc": acc, "overflow": overflow, "type_error": type_error}
