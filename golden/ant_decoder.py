# SPDX-License-Identifier: BSD-2-Clause
"""Golden model of ANT's number formats (Guo et al., MICRO 2022; docs/formats.md): the
bit-exact decoders, and the quantizer with ANT's scale search and per-tensor
type selection.

Decoding (:func:`decode`) maps a code to the pair ``(exp, mant)`` with value
``mant << exp``:

* ``int``: ``(0, code)``, two's complement when signed;
* ``pot``: magnitude ``k``: ``(0, 0)`` for ``k = 0``, else ``(k - 1, 1)``;
* ``float`` (``E`` exponent, ``M`` mantissa bits, subnormals, no bias beyond the
  one that makes the smallest step 1): ``[e | f]`` is ``(0, f)`` when ``e = 0``,
  else ``(e - 1, 2**M + f)``; 4-bit unsigned E3M1 gives
  ``{0, 1, 2, 3, 4, 6, ..., 128, 192}``;
* ``flint`` (``w`` magnitude bits, ``[b | r]``, ``z = LZD(r)`` over ``w - 1``
  bits): ``(0, r)`` when ``b = 0``; ``(2z + 1, r)`` when ``b = 1, r != 0``, which
  is docs/formats.md's ``(2**k + f) << (2z + 1)`` because ``r`` *is* ``2**k + f``;
  ``(2w - 2, 1)`` when ``b = 1, r = 0``;
* signed pot / float / flint: sign bit + unsigned magnitude; ``mant`` negated.

Quantization (:func:`quantize`, :func:`scale_search`, :func:`select_type`,
:func:`mse_report`): ``alpha = max|x| * i / 100`` for ``i`` in ``search``
(default 75..150), ``scale = alpha / max(grid)``; each ``x / scale`` goes to the
nearest grid value, ties to the larger grid value, clipped at the grid's ends;
the type of a tensor is the candidate with the lowest mean squared error.
"""

import numpy as np

from accelgen.num.formats import AntFormat, KINDS

__all__ = ["decode", "ant_decoder", "values", "grid", "nearest", "encode", "quantize",
           "scale_search", "select_type", "mse_report", "bit_length"]


def bit_length(x, width):
    """Vectorized ``int.bit_length`` of non-negative values below ``2**width``."""
    x = np.asarray(x, dtype=np.int64)
    out = np.zeros(x.shape, dtype=np.int64)
    for k in range(width):
        out = np.where((x >> k) != 0, k + 1, out)
    return out


def _check_codes(fmt, codes):
    codes = np.asarray(codes, dtype=np.int64)
    if codes.size and (codes.min() < 0 or codes.max() >= 1 << fmt.bits):
        raise ValueError(f"{fmt.name} codes must be in 0..{(1 << fmt.bits) - 1}")
    return codes


def _magnitude(fmt, mag):
    """``(exp, mant)`` of unsigned magnitude codes of a pot / float / flint."""
    w = fmt.magnitude_bits
    if fmt.kind == "pot":
        return np.where(mag > 0, mag - 1, 0), (mag > 0).astype(np.int64)
    if fmt.kind == "float":
        m = fmt.man_bits
        e, f = mag >> m, mag & ((1 << m) - 1)
        return np.where(e > 0, e - 1, 0), np.where(e > 0, (1 << m) | f, f)
    b, r = mag >> (w - 1), mag & ((1 << (w - 1)) - 1)
    z = (w - 1) - bit_length(r, w - 1)
    exp = np.where(b == 0, 0, np.where(r == 0, 2 * w - 2, 2 * z + 1))
    mant = np.where((b == 1) & (r == 0), 1, r)
    return exp, mant


def decode(fmt, codes):
    """``(exp, mant)`` int64 arrays of ``codes`` in the :class:`AntFormat` ``fmt``."""
    codes = _check_codes(fmt, codes)
    if fmt.kind == "int":
        mant = codes - ((codes >> (fmt.bits - 1)) << fmt.bits) if fmt.signed else codes
        return np.zeros_like(codes), mant
    w = fmt.magnitude_bits
    exp, mant = _magnitude(fmt, codes & ((1 << w) - 1))
    if fmt.signed:
        mant = np.where(codes >> w, -mant, mant)
    return exp, mant


def ant_decoder(params, code):
    """The ``ant_decoder`` unit: ``(exp, mant)`` of ``code`` for ``params.format``."""
    return decode(params.format, code)


def values(fmt):
    """Every code's value as a Python integer, in code order (exact at any width)."""
    exp, mant = decode(fmt, np.arange(1 << fmt.bits))
    return [int(m) << int(e) for e, m in zip(exp, mant)]


def grid(fmt):
    """The sorted distinct values of ``fmt`` (float64; exact for every format here)."""
    return np.unique(np.array(values(fmt), dtype=np.float64))


def nearest(points, x):
    """Nearest of the sorted ``points`` to each ``x``, ties to the larger point,
    clipped at both ends."""
    points = np.asarray(points, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    hi = np.clip(np.searchsorted(points, x, side="left"), 0, points.size - 1)
    lo = np.clip(hi - 1, 0, points.size - 1)
    take_hi = (points[hi] - x) <= (x - points[lo])
    return np.where(take_hi, points[hi], points[lo])


def encode(fmt, x):
    """Codes of the nearest values (:func:`nearest` over :func:`grid`) to ``x``
    (in units of the scale); where several codes share a value, the lowest."""
    table = np.array(values(fmt), dtype=np.float64)
    order = np.argsort(table, kind="stable")  # lowest code first among equal values
    points, first = np.unique(table[order], return_index=True)
    index = np.searchsorted(points, nearest(points, x))
    return order[first[index]]


def quantize(fmt, x, scale):
    """``scale * nearest(grid, x / scale)``."""
    return scale * nearest(grid(fmt), np.asarray(x, dtype=np.float64) / scale)


def scale_search(fmt, x, search=range(75, 151)):
    """ANT's scale search: ``(scale, mse)`` of the best ``alpha = max|x| * i / 100``."""
    x = np.asarray(x, dtype=np.float64).ravel()
    peak = np.abs(x).max() if x.size else 0.0
    if peak == 0:
        return 1.0, 0.0
    points = grid(fmt)
    best = None
    for i in search:
        scale = peak * i / 100 / points[-1]
        mse = float(np.mean((scale * nearest(points, x / scale) - x) ** 2))
        if best is None or mse < best[1]:
            best = (scale, mse)
    return best


def select_type(x, candidates, search=range(75, 151)):
    """ANT's per-tensor type selection: ``(best format, {name: (scale, mse)})``
    among the :class:`AntFormat` ``candidates`` (the first of equal MSEs wins)."""
    results = {fmt.name: scale_search(fmt, x, search) for fmt in candidates}
    best = min(candidates, key=lambda fmt: results[fmt.name][1])
    return best, results


def mse_report(x, bits=4, signed=True, kinds=KINDS, search=range(75, 151)):
    """Quantize tensor ``x`` in every type of ``kinds`` at ``bits`` bits and report
    ``{name: mse}`` plus the selected type: a quick look at which type fits a
    distribution. Floats use ANT's split (3 exponent bits, at most the magnitude)."""
    candidates = []
    for kind in kinds:
        w = bits - 1 if signed and kind != "int" else bits
        candidates.append(AntFormat(kind, bits, signed, exp_bits=min(3, w)))
    best, results = select_type(x, candidates, search)
    return {"mse": {name: float(mse) for name, (_scale, mse) in results.items()},
            "selected": best.name}
