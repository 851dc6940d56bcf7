# SPDX-License-Identifier: BSD-2-Clause
"""Descriptions of the ANT and OliVe number formats (docs/formats.md), shared by the
generators and the golden models.

A decoder turns a code into an exponent-integer pair ``(exp, mant)`` with value
``mant << exp``. These classes only *describe* a format: its code width, its
signedness, and the widths of ``exp`` (unsigned) and ``mant`` (two's complement)
that hold every code's pair, derived by formula. The decoding itself is written
twice, independently: in NumPy (``accelgen.golden.ant_decoder`` /
``olive_decoder``) and in Amaranth (``accelgen.generators.ant_decoder`` /
``olive_decoder``); the tests check the formulas below against the NumPy tables.
"""

import dataclasses

__all__ = ["KINDS", "TYPE_CODE", "AntFormat", "Abfloat", "OliveFormat",
           "parse_types", "format_types", "default_olive_format"]

# ANT's primitive types, in the order of their run-time type codes (``ant_pe``).
KINDS = ("int", "pot", "float", "flint")
TYPE_CODE = {kind: code for code, kind in enumerate(KINDS)}


def parse_types(text):
    """Kinds named in a comma-separated ``types`` string, in code order;
    ``ValueError`` for an unknown or empty list."""
    names = {item.strip() for item in text.split(",")}
    if not names or not names <= set(KINDS):
        raise ValueError(text)
    return tuple(kind for kind in KINDS if kind in names)


def format_types(kinds):
    return ",".join(kinds)


@dataclasses.dataclass(frozen=True)
class AntFormat:
    """An ANT primitive type of ``bits`` bits (docs/formats.md).

    * ``int``: two's complement when ``signed``, else unsigned; ``exp = 0``.
    * ``pot``: magnitude code ``k`` is 0 for ``k = 0`` and ``1 << (k-1)`` otherwise.
    * ``float``: magnitude ``[e | f]`` with ``exp_bits`` exponent bits and the rest
      mantissa; ``f`` when ``e = 0`` (subnormal), else ``(2**M + f) << (e-1)``.
    * ``flint``: magnitude ``[b | r]``: ``r`` when ``b = 0``; ``r << (2*LZD(r)+1)``
      when ``b = 1, r != 0``; ``1 << (2*w - 2)`` when ``b = 1, r = 0`` (``w`` =
      magnitude bits).

    ``signed`` pot / float / flint are sign-magnitude: the MSB is the sign and the
    other ``bits - 1`` bits are the unsigned magnitude (``-0`` decodes to 0).
    """

    kind: str
    bits: int
    signed: bool
    exp_bits: int = 3  # float only

    @property
    def magnitude_bits(self):
        return self.bits - 1 if self.signed and self.kind != "int" else self.bits

    @property
    def man_bits(self):
        """Mantissa bits of a float (``magnitude_bits - exp_bits``)."""
        return self.magnitude_bits - self.exp_bits

    @property
    def exp_max(self):
        w = self.magnitude_bits
        return {"int": 0, "pot": (1 << w) - 2, "float": (1 << self.exp_bits) - 2,
                "flint": 2 * w - 2}[self.kind]

    @property
    def mant_max(self):
        """The largest ``|mant|``."""
        w = self.magnitude_bits
        if self.kind == "int":
            return 1 << (self.bits - 1) if self.signed else (1 << self.bits) - 1
        if self.kind == "pot":
            return 1
        if self.kind == "float":
            return (1 << (self.man_bits + 1)) - 1
        return (1 << (w - 1)) - 1

    @property
    def exp_width(self):
        return max(1, self.exp_max.bit_length())

    @property
    def mant_width(self):
        if self.kind == "int" and self.signed:
            return self.bits
        return self.mant_max.bit_length() + 1

    @property
    def name(self):
        suffix = f"e{self.exp_bits}m{self.man_bits}" if self.kind == "float" else ""
        return f"{'' if self.signed else 'u'}{self.kind}{self.bits}{suffix}"


@dataclasses.dataclass(frozen=True)
class Abfloat:
    """OliVe's outlier type (docs/formats.md): sign + ``exp_bits`` exponent + ``man_bits``
    mantissa; magnitude code ``[e | f]`` is ``(2**M + f) << (e + bias)``, code 0
    decodes to 0 (it is never produced)."""

    exp_bits: int
    man_bits: int
    bias: int

    @property
    def bits(self):
        return 1 + self.exp_bits + self.man_bits

    @property
    def exp_max(self):
        return (1 << self.exp_bits) - 1 + self.bias

    @property
    def mant_max(self):
        return (1 << (self.man_bits + 1)) - 1

    def magnitudes(self):
        """Outlier magnitudes of magnitude codes 1 .. 2**(E+M) - 1, ascending."""
        return [((1 << self.man_bits) + (c & ((1 << self.man_bits) - 1)))
                << ((c >> self.man_bits) + self.bias)
                for c in range(1, 1 << (self.exp_bits + self.man_bits))]


@dataclasses.dataclass(frozen=True)
class OliveFormat:
    """An OliVe outlier-victim pair of two ``bits``-bit elements (docs/formats.md).

    Normal values are ``normal`` = ``"int"`` (two's complement, symmetric: the code
    ``1 << (bits-1)`` is not a number) or ``"flint"`` (signed flint, whose ``-0``
    is freed); that code is the **identifier**: a nibble (element) equal to it is a
    victim (value 0) and the other element of the pair is then an abfloat outlier.
    """

    bits: int
    normal: str
    outlier: Abfloat

    @property
    def identifier(self):
        return 1 << (self.bits - 1)

    @property
    def normal_format(self):
        return AntFormat(self.normal, self.bits, True)

    @property
    def normal_max(self):
        """The largest normal magnitude."""
        if self.normal == "int":
            return (1 << (self.bits - 1)) - 1
        return 1 << (2 * (self.bits - 1) - 2)

    @property
    def exp_width(self):
        return max(self.normal_format.exp_width, self.outlier.exp_max.bit_length(), 1)

    @property
    def mant_width(self):
        normal = (self.normal_max if self.normal == "int"
                  else self.normal_format.mant_max).bit_length()
        return max(normal, self.outlier.mant_max.bit_length()) + 1

    def min_bias(self):
        """The smallest bias whose smallest outlier exceeds every normal value."""
        bias = 0
        while Abfloat(self.outlier.exp_bits, self.outlier.man_bits, bias).magnitudes()[0] \
                <= self.normal_max:
            bias += 1
        return bias


def default_olive_format(bits=4, normal="int", exp_bits=None, man_bits=None, bias=None):
    """An :class:`OliveFormat` with OliVe's abfloat (E2M1 at 4 bits, E4M3 at 8) and,
    unless given, the smallest bias that puts every outlier above the normal range
    (int4: 2, flint4: 3, int8 E4M3: 4)."""
    if exp_bits is None:
        exp_bits, man_bits = (2, 1) if bits == 4 else (4, bits - 5)
    if bias is None:
        bias = OliveFormat(bits, normal, Abfloat(exp_bits, man_bits, 0)).min_bias()
    return OliveFormat(bits, normal, Abfloat(exp_bits, man_bits, bias))
