# SPDX-License-Identifier: BSD-2-Clause
"""Softmax's exp tables and constants (docs/nonlinear.md), shared by generator and golden model.

An input code ``q`` (signed ``in_bits``) stands for ``x = q * S``,
``S = 2**-in_frac``; the exp of a difference ``d = max - q >= 0`` is an unsigned
code with ``E = exp_bits`` fraction bits (``e(0)`` is about ``2**E``). Plain
Python (``math``, integers): no NumPy, no Amaranth. Tables are tuples of Python
integers, computed once per set of the parameters they depend on.
"""

import functools
import math

__all__ = ["LOG2E_FRAC", "lut_step", "lut_table", "base2_constant", "base2_table",
           "ibert_constants", "exp_of_zero"]

#: Fraction bits of the ``base2`` constant ``C = round(log2(e) * 2**LOG2E_FRAC)``.
LOG2E_FRAC = 16


def lut_step(params):
    """``s``: the ``lut`` table's bins are ``2**s`` differences wide.

    The least ``s >= 0`` with ``2**(lut_bits + s) >= min(z, 2**in_bits)``, where
    ``z = floor((E + 1) * ln 2 * 2**in_frac) + 1`` is the first difference whose
    exp rounds to 0: the table reaches it, or covers every difference the input
    range allows.
    """
    first_zero = math.floor((params.exp_bits + 1) * math.log(2) * 2 ** params.in_frac) + 1
    reach = min(first_zero, 1 << params.in_bits)
    s = 0
    while (1 << (params.lut_bits + s)) < reach:
        s += 1
    return s


def lut_table(params):
    """The ``lut`` method's exp codes: ``2**lut_bits`` entries (a tuple of ints).

    Entry ``k`` is ``floor(2**E * exp(-c * S) + 1/2)`` (float64, halves up) at
    the centre ``c = k * 2**s + (2**s - 1)/2`` of its bin of ``2**s``
    differences, ``s = lut_step(params)`` (exact samples when ``s = 0``);
    differences past the table have exp 0.
    """
    return _lut_table(params.in_frac, params.exp_bits, params.lut_bits, lut_step(params))


@functools.lru_cache(maxsize=16)
def _lut_table(in_frac, exp_bits, lut_bits, s):
    offset = ((1 << s) - 1) / 2
    return tuple(math.floor(2.0 ** exp_bits * math.exp(-((k << s) + offset) * 2.0 ** -in_frac)
                            + 0.5)
                 for k in range(1 << lut_bits))


def base2_constant():
    """``C = round(log2(e) * 2**LOG2E_FRAC)``: ``e**-y = 2**-(y * log2 e)``."""
    return round(math.log2(math.e) * 2 ** LOG2E_FRAC)


def base2_table(params):
    """The ``base2`` method's ``2**-v`` codes: ``2**lut_bits`` entries (a tuple of ints).

    Entry ``k`` is ``floor(2**E * 2**(-(k + 1/2) / 2**lut_bits) + 1/2)``
    (float64, halves up): ``2**-v`` at the centre of the ``k``-th of
    ``2**lut_bits`` equal bins of the fraction ``v`` in ``[0, 1)``.
    """
    return _base2_table(params.exp_bits, params.lut_bits)


@functools.lru_cache(maxsize=16)
def _base2_table(exp_bits, lut_bits):
    return tuple(math.floor(2.0 ** exp_bits * 2.0 ** (-(k + 0.5) / (1 << lut_bits)) + 0.5)
                 for k in range(1 << lut_bits))


def ibert_constants(params):
    """I-BERT's i-exp constants for ``S = 2**-in_frac`` (a new dict of ints).

    I-BERT (Kim et al., ICML 2021, Alg. 2) with the constants of docs/nonlinear.md, float64 as
    written: ``x0 = floor(-0.6931 / S)`` (``-ln 2``), ``b = floor(2.7073248645 /
    S)``, ``c = floor(2.7921147441 / S**2)`` (``exp(r) ~ 0.3585 * (r + 1.353)**2
    + 0.344``, scaled); and the requantising shift ``h = bitlen(c) + 30 - E``
    that takes ``P * 2**(30 - z)`` to ``E`` fraction bits, rounding to nearest
    (halves up): ``e = floor(P * 2**(30 - z) / 2**h + 1/2)``.
    """
    s = 2.0 ** -params.in_frac
    c = math.floor(2.7921147441 / s ** 2)
    return {"x0": math.floor(-0.6931 / s), "b": math.floor(2.7073248645 / s), "c": c,
            "h": c.bit_length() + 30 - params.exp_bits}


def exp_of_zero(params):
    """``e(0)``, the exp code of a vector's maximum: a lower bound of every sum.

    ``lut`` and ``base2``: the table's first entry (``d = 0`` falls in bin 0,
    and ``u = 0``); ``ibert``: ``z = r = 0`` leave ``P = c``, so ``e(0) =
    floor(c * 2**30 / 2**h + 1/2)`` (at most ``2**E``: ``c < 2**bitlen(c)``).
    """
    if params.method == "lut":
        return lut_table(params)[0]
    if params.method == "base2":
        return base2_table(params)[0]
    c = ibert_constants(params)
    n = c["h"] - 30
    if n <= 0:
        return c["c"] << -n
    return (c["c"] + (1 << (n - 1))) >> n
