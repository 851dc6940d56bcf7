# SPDX-License-Identifier: BSD-2-Clause
"""Descriptions of the floating-point formats (FP8, FP6, FP4, BF16, FP16, FP32, E8M0)
and MX's INT8 element, shared by the generators and the golden models (docs/fp.md).

A decoder turns a code into an integer pair ``(mant, exp)`` with value
``mant * 2**exp``: ``mant`` two's complement, the sign and the hidden bit
included, ``exp`` two's complement and unbiased. These classes only *describe*
a format (field widths, bias, which codes are NaN or infinite, and the widths
of ``mant`` and ``exp`` that hold every code's pair, derived by formula). The
decoding itself is written twice, independently: in NumPy
(:func:`accelgen.num.fp.decode`) and in Amaranth (:func:`accelgen.hw.fp.decode_fp`).

Sources: the OCP 8-bit Floating Point Specification (OFP8) rev. 1.0 for E4M3
(no infinities; ``S.1111.111`` is NaN) and E5M2 (IEEE-like); the OCP
Microscaling Formats (MX) Specification v1.0 for the element formats E3M2, E2M3
and E2M1 (no infinities, no NaN), the shared scale E8M0 (unsigned, no zero,
``0xFF`` is NaN) and MXINT8 (two's complement, value ``code * 2**-6``);
IEEE 754 for binary16 and binary32, and Google's bfloat16 (binary32's top half).
"""

import dataclasses

__all__ = ["FpFormat", "IntFormat", "FORMATS", "ELEMENT_FORMATS", "get_format"]


def _signed_width(lo, hi):
    """Bits of the smallest two's complement type holding ``lo .. hi``."""
    width = 1
    while not (-(1 << (width - 1)) <= lo and hi < (1 << (width - 1))):
        width += 1
    return width


@dataclasses.dataclass(frozen=True)
class FpFormat:
    """A binary floating-point format: ``[sign] exponent mantissa``, MSB first.

    * Normal codes (``e != 0`` or no subnormals): ``(-1)**s * (2**M + f) * 2**(e - bias - M)``.
    * Subnormal codes (``e == 0`` when ``subnormals``): ``(-1)**s * f * 2**(1 - bias - M)``;
      ``e = f = 0`` is ``±0`` (``mant = 0``).
    * ``specials``: ``"ieee"``: the all-ones exponent is infinity (``f == 0``) or
      NaN (``f != 0``); ``"fn"``: only the code whose bits below the sign are
      all ones is NaN, there is no infinity; ``"none"``: every code is finite.
      A special code's ``(mant, exp)`` is what the formula gives its bits.
    """

    name: str
    exp_bits: int
    man_bits: int
    bias: int
    specials: str
    signed: bool = True
    subnormals: bool = True

    kind = "float"

    @property
    def width(self):
        """Code width in bits."""
        return int(self.signed) + self.exp_bits + self.man_bits

    @property
    def exp_min(self):
        """``exp`` of the smallest codes (subnormals, or the lowest exponent)."""
        return (1 if self.subnormals else 0) - self.bias - self.man_bits

    @property
    def exp_max(self):
        """``exp`` of the all-ones exponent field (a special code where there are any)."""
        return (1 << self.exp_bits) - 1 - self.bias - self.man_bits

    @property
    def mant_width(self):
        """Width of the two's complement ``mant``: hidden bit, mantissa and sign."""
        return self.man_bits + 2

    @property
    def exp_width(self):
        """Width of the two's complement ``exp``."""
        return _signed_width(self.exp_min, self.exp_max)

    @property
    def emax(self):
        """Unbiased exponent of the largest finite value (OCP MX's ``emax_elem``)."""
        top = (1 << self.exp_bits) - 1
        if self.specials == "ieee" or (self.specials == "fn" and self.man_bits == 0):
            top -= 1
        return top - self.bias

    @property
    def max_value(self):
        """The largest finite value, exactly (an ``int`` or a ``float`` that is exact)."""
        mag = (1 << (self.man_bits + 1)) - 1
        if self.specials == "fn" and self.man_bits > 0:
            mag -= 1  # the all-ones mantissa at the top exponent is NaN
        elif self.man_bits == 0:
            mag = 1
        scale = self.emax - self.man_bits
        return mag * 2 ** scale if scale >= 0 else mag / 2 ** -scale

    def manifest(self):
        """The format's facts as a JSON-ready dict (for unit manifests)."""
        return {"name": self.name, "width": self.width, "exp_bits": self.exp_bits,
                "man_bits": self.man_bits, "bias": self.bias, "specials": self.specials,
                "signed": self.signed, "subnormals": self.subnormals,
                "mant_width": self.mant_width, "exp_width": self.exp_width}


@dataclasses.dataclass(frozen=True)
class IntFormat:
    """A two's complement fixed-point element: value ``code * 2**-frac_bits``
    (``mant = code``, ``exp = -frac_bits``); MXINT8 is ``IntFormat("int8", 8, 6)``.
    Every code is finite."""

    name: str
    width: int
    frac_bits: int

    kind = "int"
    specials = "none"
    signed = True

    @property
    def exp_min(self):
        return -self.frac_bits

    exp_max = exp_min

    @property
    def mant_width(self):
        return self.width

    @property
    def exp_width(self):
        return _signed_width(self.exp_min, self.exp_max)

    @property
    def emax(self):
        """Exponent of the largest magnitude's leading bit (the MX spec's ``emax_elem``: 0)."""
        return self.width - 2 - self.frac_bits

    @property
    def max_value(self):
        return ((1 << (self.width - 1)) - 1) / 2 ** self.frac_bits

    def manifest(self):
        return {"name": self.name, "width": self.width, "frac_bits": self.frac_bits,
                "mant_width": self.mant_width, "exp_width": self.exp_width}


#: Every format by name. ``e4m3``/``e5m2``: OCP FP8; ``e3m2``/``e2m3``/``e2m1``:
#: MX elements; ``bf16``, ``fp16``, ``fp32``; ``e8m0``: the MX shared scale;
#: ``int8``: the MXINT8 element.
FORMATS = {f.name: f for f in (
    FpFormat("e4m3", 4, 3, 7, "fn"),
    FpFormat("e5m2", 5, 2, 15, "ieee"),
    FpFormat("e3m2", 3, 2, 3, "none"),
    FpFormat("e2m3", 2, 3, 1, "none"),
    FpFormat("e2m1", 2, 1, 1, "none"),
    FpFormat("bf16", 8, 7, 127, "ieee"),
    FpFormat("fp16", 5, 10, 15, "ieee"),
    FpFormat("fp32", 8, 23, 127, "ieee"),
    FpFormat("e8m0", 8, 0, 127, "fn", signed=False, subnormals=False),
    IntFormat("int8", 8, 6),
)}

#: The MX element formats (OCP MX v1.0, section 5): the operands of ``mx_dot``.
ELEMENT_FORMATS = ("e4m3", "e5m2", "e3m2", "e2m3", "e2m1", "int8")


def get_format(name):
    """The format called ``name``; ``ValueError`` listing the known ones."""
    try:
        return FORMATS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown number format {name!r}; formats are "
                         f"{', '.join(FORMATS)}") from None
