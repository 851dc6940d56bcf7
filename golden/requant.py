# SPDX-License-Identifier: BSD-2-Clause
"""Golden model of the requantizer (``requant``; docs/requant.md).

``y = saturate(round(x' * M * 2**-(mult_bits-1) * 2**-shift) + zero_point)`` with
``x' = saturate_in_bits(x + in_offset)``; ``shift > 0`` divides, ``shift < 0``
multiplies. The roundings, by ``params.mode``:

* ``gemmlowp``: ``RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(
  saturate_in_bits(x' * 2**l), M), r)``, ``l = max(-shift, 0)``, ``r =
  max(shift, 0)`` (gemmlowp's ``fixedpoint.h``, TFLite's
  ``MultiplyByQuantizedMultiplier``), generalized from int32 to ``in_bits`` x
  ``mult_bits``. The high multiply is ``floor((a*b + 2**(mult_bits-2)) /
  2**(mult_bits-1))`` (halves toward +infinity: gemmlowp's sign-dependent nudge
  followed by C++'s truncating division), saturated to ``in_bits`` (only
  ``a = b = min`` leaves the range: gemmlowp's ``INT32_MIN * INT32_MIN`` case);
  the divide rounds halves away from zero.
* ``even`` / ``floor``: one rounding of the exact ``x' * M /
  2**(mult_bits-1+shift)``, halves to even / toward -infinity.
* ``pot``: ``x' * 2**-shift``; ``apot``: ``x' * (2**-shift + 2**-shift2)`` (a
  sum of two powers of two, no multiplier); one rounding, halves to even.

Products reach ``2**63`` and the shifted values more, so the arithmetic is done
on NumPy arrays of Python integers (``dtype=object``), which are exact; results
are int64.
"""

import numpy as np

__all__ = ["requant", "round_shift", "saturating_rounding_doubling_high_mul",
           "rounding_divide_by_pot", "RULES"]

#: Rounding rules of :func:`round_shift`.
RULES = ("floor", "even", "up", "away")


def _exact(values):
    """``values`` as an array of Python integers (``dtype=object``)."""
    a = np.asarray(values)
    if a.dtype == object:
        return np.vectorize(int, otypes=[object])(a) if a.size else a.astype(object)
    if not np.issubdtype(a.dtype, np.integer):
        raise TypeError(f"requant values must be integers, not {a.dtype}")
    return a.astype(object)


def _check(name, values, lo, hi):
    """``ValueError("<name> values must be in lo..hi")`` if any value is outside."""
    if values.size and (np.min(values) < lo or np.max(values) > hi):
        raise ValueError(f"{name} values must be in {lo}..{hi}")


def _clip(v, lo, hi):
    return np.minimum(np.maximum(v, lo), hi)


def round_shift(value, shift, rule):
    """``value * 2**-shift`` rounded to an integer by ``rule``: ``floor``;
    ``even`` (halves to even); ``up`` (halves toward +infinity); ``away``
    (halves away from zero). ``shift <= 0`` is an exact left shift. Arrays of
    integers (broadcast); returns an object array of Python integers."""
    if rule not in RULES:
        raise ValueError(f"rule must be one of {', '.join(RULES)}, not {rule!r}")
    v, s = np.broadcast_arrays(_exact(value), _exact(shift))
    right = np.maximum(s, 0)
    v = v * (np.ones_like(s) << np.maximum(-s, 0))
    unit = np.ones_like(right) << right
    floor = v >> right
    twice = 2 * (v - floor * unit)  # 2 * remainder, compared with one unit
    above, tie = twice > unit, twice == unit
    inc = {"floor": np.zeros(v.shape, dtype=bool),
           "even": above | (tie & (floor % 2 == 1)),
           "up": above | tie,
           "away": above | (tie & (v >= 0))}[rule]
    return floor + inc.astype(object)


def saturating_rounding_doubling_high_mul(a, b, a_bits=32, b_bits=32):
    """gemmlowp's ``SaturatingRoundingDoublingHighMul`` for ``a_bits``-bit ``a``
    and ``b_bits``-bit ``b`` (32 and 32: the original): ``a * b / 2**(b_bits-1)``
    rounded with halves toward +infinity, and ``2**(a_bits-1) - 1`` when ``a``
    and ``b`` are both their minimum. Object array of Python integers."""
    a, b = np.broadcast_arrays(_exact(a), _exact(b))
    high = round_shift(a * b, b_bits - 1, "up")
    overflow = (a == -(1 << (a_bits - 1))) & (b == -(1 << (b_bits - 1)))
    return np.where(overflow, (1 << (a_bits - 1)) - 1, high)


def rounding_divide_by_pot(x, exponent):
    """gemmlowp's ``RoundingDivideByPOT``: ``x / 2**exponent`` (``exponent >= 0``)
    rounded with halves away from zero."""
    return round_shift(x, exponent, "away")


def requant(params, x, m=None, shift=None, shift2=None):
    """Outputs of ``requant`` for inputs ``x`` (any shape; a beat's lanes are
    the last axis or consecutive values); int64 of the same shape.

    Per tensor (``params.per_channel`` false) the scale comes from ``params``;
    per channel ``m`` (dyadic modes), ``shift`` and (``apot``) ``shift2`` give
    each value's scale and broadcast against ``x``. Values are checked against
    their field ranges (``ValueError`` naming the field)."""
    p = params
    x = _exact(x)
    lo_x, hi_x = -(1 << (p.in_bits - 1)), (1 << (p.in_bits - 1)) - 1
    _check("x", x, lo_x, hi_x)
    lo_s, hi_s = p.shift_range
    if p.per_channel:
        needed = {"m": m, "shift": shift, "shift2": shift2}
        for name in ("m", "shift", "shift2"):
            if name in p.stream_fields() and needed[name] is None:
                raise ValueError(f"requant per channel ({p.mode}) needs {name}")
        mult = _exact(m) if p.dyadic else None
        s1 = _exact(shift)
        s2 = _exact(shift2) if p.mode == "apot" else None
    else:
        if m is not None or shift is not None or shift2 is not None:
            raise ValueError("requant per tensor takes its scale from params, not from "
                             "m/shift/shift2")
        mult = _exact(p.multiplier) if p.dyadic else None
        s1 = _exact(p.shift)
        s2 = _exact(p.shift2) if p.mode == "apot" else None
    if mult is not None:
        _check("m", mult, -(1 << (p.mult_bits - 1)), (1 << (p.mult_bits - 1)) - 1)
    for name, s in (("shift", s1), ("shift2", s2)):
        if s is not None:
            _check(name, s, lo_s, hi_s)
    xs = _clip(x + p.in_offset, lo_x, hi_x)
    if p.mode == "gemmlowp":
        left = np.maximum(-s1, 0)
        shifted = _clip(xs * (np.ones_like(left) << left), lo_x, hi_x)
        high = saturating_rounding_doubling_high_mul(shifted, mult, p.in_bits, p.mult_bits)
        q = rounding_divide_by_pot(high, np.maximum(s1, 0))
    elif p.dyadic:
        q = round_shift(xs * mult, p.mult_bits - 1 + s1, p.mode)
    elif p.mode == "pot":
        q = round_shift(xs, s1, "even")
    else:
        point = np.maximum(np.maximum(s1, s2), 0)
        one = np.ones_like(point)
        total = xs * (one << (point - s1)) + xs * (one << (point - s2))
        q = round_shift(total, point, "even")
    lo, hi = p.out_range
    y = _clip(q + p.zero_point, lo, hi)
    return np.asarray(y, dtype=np.int64)
