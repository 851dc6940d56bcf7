# SPDX-License-Identifier: BSD-2-Clause
"""Requantization scales as dyadic numbers: a real scale to ``(multiplier, shift)`` and back."""

import fractions
import math
import numbers

__all__ = ["quantize_multiplier", "dyadic_scale", "MODES", "DYADIC_MODES"]

#: The modes of ``requant`` (docs/requant.md): three roundings of ``x * M``
#: and two multiplier-free scales.
MODES = ("gemmlowp", "even", "floor", "pot", "apot")

#: The modes that multiply by ``M`` (the others only shift).
DYADIC_MODES = ("gemmlowp", "even", "floor")


def dyadic_scale(multiplier, shift, mult_bits=32):
    """The exact value ``multiplier * 2**-(mult_bits - 1) * 2**-shift`` of a dyadic
    scale, as a :class:`fractions.Fraction` (``shift`` > 0 shifts right)."""
    return fractions.Fraction(multiplier, 1 << (mult_bits - 1)) * fractions.Fraction(2) ** -shift


def quantize_multiplier(scale, mult_bits=32):
    """``(multiplier, shift)`` with ``dyadic_scale(multiplier, shift, mult_bits)``
    nearest to the real ``scale``: the mantissa of ``scale`` rounded to
    ``mult_bits - 1`` fraction bits (halves away from zero, as TFLite's
    ``QuantizeMultiplier``).

    For ``scale != 0`` the multiplier is normalized, ``2**(mult_bits-2) <=
    |multiplier| < 2**(mult_bits-1)`` (a mantissa that rounds up to
    ``2**(mult_bits-1)`` is halved and the shift lowered by one), so the error
    is at most half a unit of the multiplier's last place::

        |dyadic_scale(M, shift) - scale| <= 2**-(mult_bits + shift)
                                         <= |scale| * 2**-(mult_bits - 1)

    ``scale = 0`` gives ``(0, 0)``. ``shift`` is a right shift (the opposite sign
    of TFLite's exponent); the caller checks it against the unit's shift range.
    The arithmetic is exact (the float is read as a fraction).

    Raises
    ------
    TypeError
        If ``scale`` is not a real number or ``mult_bits`` not an integer.
    ValueError
        If ``scale`` is not finite or ``mult_bits`` is outside 2..64.
    """
    if isinstance(scale, bool) or not isinstance(scale, numbers.Real):
        raise TypeError(f"quantize_multiplier scale must be a real number, not {scale!r}")
    if isinstance(mult_bits, bool) or not isinstance(mult_bits, numbers.Integral):
        raise TypeError(f"quantize_multiplier mult_bits must be an integer, not {mult_bits!r}")
    mult_bits = int(mult_bits)
    if not 2 <= mult_bits <= 64:
        raise ValueError(f"quantize_multiplier mult_bits must be an integer from 2 to 64, "
                         f"not {mult_bits}")
    if isinstance(scale, float) and not math.isfinite(scale):
        raise ValueError(f"quantize_multiplier scale must be finite, not {scale!r}")
    exact = fractions.Fraction(scale)
    if exact == 0:
        return 0, 0
    magnitude = abs(exact)
    # exponent e with 1/2 <= magnitude * 2**-e < 1
    e = magnitude.numerator.bit_length() - magnitude.denominator.bit_length()
    while magnitude * fractions.Fraction(2) ** -e >= 1:
        e += 1
    while magnitude * fractions.Fraction(2) ** -e < fractions.Fraction(1, 2):
        e -= 1
    mantissa = magnitude * fractions.Fraction(2) ** (mult_bits - 1 - e)
    m = math.floor(mantissa + fractions.Fraction(1, 2))  # halves away from zero
    if m == 1 << (mult_bits - 1):
        m >>= 1
        e += 1
    return (m if exact > 0 else -m), -e
