# SPDX-License-Identifier: BSD-2-Clause
"""Golden model of OliVe's outlier-victim pair encoding (Guo et al., ISCA 2023;
docs/formats.md): the bit-exact pair decoder and the pair encoder.

A pair word holds elements ``2i`` (low ``bits``) and ``2i+1`` (high ``bits``).
Each element decodes to ``(exp, mant)`` with value ``mant << exp``:

* equal to the identifier ``1 << (bits-1)``: a **victim**, ``(0, 0)``;
* else, if the *other* element is the identifier: an **outlier** in abfloat,
  sign + magnitude ``[e | f]`` = ``(e + bias, +-(2**M + f))``; magnitude code 0
  (never produced) decodes to ``(0, 0)``;
* else a **normal** value: int (two's complement; the symmetric range excludes
  the identifier) or signed flint (:func:`accelgen.golden.ant_decoder.decode`).

Encoding (:func:`encode_pairs`): every value ``x / scale`` goes to the nearest
point of the normal grid united with the outlier grid (ties to the larger,
clipped at the ends); it is an outlier when that point is not a normal value
(with the default biases: beyond the normal range; with a smaller bias, also a
point inside it that only abfloat represents). A pair with one outlier stores
it in abfloat and its partner as the victim; a pair with two keeps the one of
larger ``|x|`` (``keep="larger"``, the paper; the left element on equal
magnitudes) or the left element (``keep="left"``, the authors' code) and makes
the other its victim.
"""

import numpy as np

from accelgen.num.formats import default_olive_format as default_format
from accelgen.golden.ant_decoder import decode as decode_ant, values as ant_values, nearest

__all__ = ["decode_element", "decode_pairs", "olive_decoder", "outlier_values",
           "normal_values", "encode_pairs", "quantize", "pair_values", "default_format",
           "scale_search"]


def _abfloat(fmt, codes):
    ab = fmt.outlier
    mag = codes & ((1 << (fmt.bits - 1)) - 1)
    e, f = mag >> ab.man_bits, mag & ((1 << ab.man_bits) - 1)
    exp = np.where(mag == 0, 0, e + ab.bias)
    mant = np.where(mag == 0, 0, (1 << ab.man_bits) | f)
    return exp, np.where(codes >> (fmt.bits - 1), -mant, mant)


def decode_element(fmt, code, other):
    """``(exp, mant)`` of element codes ``code`` whose pair partners are ``other``."""
    code = np.asarray(code, dtype=np.int64)
    other = np.asarray(other, dtype=np.int64)
    for name, v in (("element", code), ("partner", other)):
        if v.size and (v.min() < 0 or v.max() >= 1 << fmt.bits):
            raise ValueError(f"OliVe {fmt.bits}-bit {name} codes must be in "
                             f"0..{(1 << fmt.bits) - 1}")
    victim = code == fmt.identifier
    outlier = ~victim & (other == fmt.identifier)
    n_exp, n_mant = decode_ant(fmt.normal_format, np.where(victim, 0, code))
    o_exp, o_mant = _abfloat(fmt, code)
    exp = np.where(victim, 0, np.where(outlier, o_exp, n_exp))
    mant = np.where(victim, 0, np.where(outlier, o_mant, n_mant))
    return exp, mant


def decode_pairs(fmt, words):
    """``(exp, mant)`` of shape ``words.shape + (2,)``: element 0 from the low bits."""
    words = np.asarray(words, dtype=np.int64)
    if words.size and (words.min() < 0 or words.max() >= 1 << (2 * fmt.bits)):
        raise ValueError(f"OliVe pair words must be in 0..{(1 << (2 * fmt.bits)) - 1}")
    lo, hi = words & ((1 << fmt.bits) - 1), words >> fmt.bits
    e0, m0 = decode_element(fmt, lo, hi)
    e1, m1 = decode_element(fmt, hi, lo)
    return np.stack([e0, e1], axis=-1), np.stack([m0, m1], axis=-1)


def olive_decoder(params, word):
    """The ``olive_decoder`` unit: ``(exp, mant)`` pairs of ``word`` (see above)."""
    return decode_pairs(params.format, word)


def pair_values(fmt, words):
    """Element values (Python integers, object array ``(..., 2)``) of pair words."""
    exp, mant = decode_pairs(fmt, words)
    out = np.empty(exp.shape, dtype=object)
    out.flat[:] = [int(m) << int(e) for e, m in zip(exp.ravel(), mant.ravel())]
    return out


def normal_values(fmt):
    """``{value: lowest code}`` of the normal type (the identifier excluded)."""
    table = {}
    for code, value in enumerate(ant_values(fmt.normal_format)):
        if code != fmt.identifier:
            table.setdefault(value, code)
    return table


def outlier_values(fmt):
    """``{value: code}`` of the abfloat outliers (both signs, magnitude codes >= 1)."""
    table = {}
    sign = 1 << (fmt.bits - 1)
    for mag, value in enumerate(fmt.outlier.magnitudes(), start=1):
        table.setdefault(value, mag)
        table.setdefault(-value, sign | mag)
    return table


def encode_pairs(fmt, x, scale=1.0, keep="larger"):
    """Pair words (int64, ``len(x) / 2`` of them) encoding ``x`` (even length)."""
    if keep not in ("larger", "left"):
        raise ValueError(f"keep must be 'larger' or 'left', not {keep!r}")
    x = np.asarray(x, dtype=np.float64).ravel() / scale
    if x.size % 2:
        raise ValueError("OliVe encodes pairs: x must have an even number of elements")
    normal, outlier = normal_values(fmt), outlier_values(fmt)
    points = np.array(sorted(set(normal) | set(outlier)), dtype=np.float64)
    q = nearest(points, x)
    is_outlier = ~np.isin(q, np.array(sorted(normal), dtype=np.float64))
    codes = np.array([normal[v] if not o else outlier[v]
                      for v, o in zip(q.astype(object).tolist(), is_outlier)],
                     dtype=np.int64).reshape(-1, 2)
    # Python ints for the dict lookups: the float grid values are all integers.
    o = is_outlier.reshape(-1, 2)
    mag = np.abs(x).reshape(-1, 2)  # the values' own magnitudes (both may clip alike)
    if keep == "larger":
        keep_left = mag[:, 0] >= mag[:, 1]
    else:
        keep_left = np.ones(len(o), dtype=bool)
    both = o[:, 0] & o[:, 1]
    victim_left = (o[:, 1] & ~o[:, 0]) | (both & ~keep_left)
    victim_right = (o[:, 0] & ~o[:, 1]) | (both & keep_left)
    codes[victim_left, 0] = fmt.identifier
    codes[victim_right, 1] = fmt.identifier
    return codes[:, 0] | (codes[:, 1] << fmt.bits)


def quantize(fmt, x, scale=1.0, keep="larger"):
    """``scale * decode(encode_pairs(x))`` as float64: what OliVe keeps of ``x``."""
    words = encode_pairs(fmt, x, scale, keep)
    return scale * pair_values(fmt, words).astype(np.float64).ravel()


def scale_search(fmt, x, steps=200, keep="larger"):
    """``(scale, mse)`` of OliVe quantization of ``x`` with the best scale of a
    geometric sweep (``steps`` points) from ``max|x| / max outlier`` (everything
    representable) to ``max|x| / max normal`` (no outliers needed)."""
    x = np.asarray(x, dtype=np.float64).ravel()
    padded = np.concatenate([x, [0.0]]) if x.size % 2 else x  # the pad is not scored
    peak = np.abs(x).max() if x.size else 0.0
    if peak == 0:
        return 1.0, 0.0
    best = None
    for scale in np.geomspace(peak / max(outlier_values(fmt)), peak / fmt.normal_max, steps):
        mse = float(np.mean((quantize(fmt, padded, scale, keep)[:x.size] - x) ** 2))
        if best is None or mse < best[1]:
            best = (float(scale), mse)
    return best
