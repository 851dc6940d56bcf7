# SPDX-License-Identifier: BSD-2-Clause
"""ANT number-format decoder: an int / PoT / float / flint code to an
exponent-integer pair (combinational)."""

import dataclasses

from amaranth.hdl import Module, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from accelgen.hw.formats import decode_ant
from accelgen.num.formats import AntFormat, KINDS
from accelgen.params import UnitParams, param, check_int, check_bool, check_choice, require

__all__ = ["Params", "AntDecoder", "BITS_RANGE"]

# Code widths built per format: flint for any n >= 3 (docs/formats.md), int up to 16 bits;
# PoT and float stop at 8 bits (a 9-bit PoT already spans 2**510).
BITS_RANGE = {"int": (2, 16), "pot": (2, 8), "float": (3, 8), "flint": (3, 16)}


@dataclasses.dataclass(frozen=True, kw_only=True)
class Params(UnitParams):
    """Parameters of :class:`AntDecoder`."""

    unit = "ant_decoder"

    fmt: str = param("flint", "number format: int, pot, float or flint")
    bits: int = param(4, "code width (int 2..16, pot 2..8, float 3..8, flint 3..16, "
                         "signed flint 4..16)",
                      abbr="n")
    signed: bool = param(False, "two's complement (int) or sign-magnitude (pot, float, "
                                "flint) codes", abbr="s")
    exp_bits: int = param(3, "float exponent bits (1 .. magnitude bits; mantissa bits "
                             "are the rest); fmt='float' only", abbr="e")

    def __post_init__(self):
        check_choice(self, "fmt", KINDS)
        check_bool(self, "signed")
        lo, hi = BITS_RANGE[self.fmt]
        if self.fmt == "flint" and self.signed:
            lo += 1  # sign + an unsigned flint of at least 3 bits
        check_int(self, "bits", min=lo, max=hi,
                  when=f"fmt={self.fmt!r}" + (", signed=True" if lo > BITS_RANGE[self.fmt][0]
                                              else ""))
        check_int(self, "exp_bits", min=1)
        if self.fmt == "float":
            magnitude = self.format.magnitude_bits
            check_int(self, "exp_bits", min=1, max=magnitude,
                      when=f"a {'signed' if self.signed else 'unsigned'} {self.bits}-bit "
                           f"float ({magnitude} magnitude bits)")
        else:
            require(self, self.exp_bits == 3,
                    f"exp_bits applies to fmt='float' only; leave it at 3, "
                    f"not {self.exp_bits}")

    @property
    def format(self):
        return AntFormat(self.fmt, self.bits, self.signed, self.exp_bits)

    @property
    def latency(self):
        return 0

    @property
    def throughput(self):
        return 1

    def manifest_extra(self):
        f = self.format
        return {"format": f.name, "value": "mant << exp",
                "exp_width": f.exp_width, "mant_width": f.mant_width,
                "exp_max": f.exp_max, "mant_max": f.mant_max}


class AntDecoder(wiring.Component):
    """ANT number-format decoder (Guo et al., MICRO 2022; docs/formats.md).

    ``code`` (``bits`` wide) is decoded into ``exp`` (unsigned) and ``mant`` (two's
    complement) with value ``mant << exp``. Formats, by ``fmt``:

    * ``int``: ``exp = 0``, ``mant = code`` (two's complement when ``signed``);
    * ``pot``: magnitude ``k`` decodes to ``1 << (k-1)``, ``k = 0`` to 0;
    * ``float``: ``exp_bits`` exponent and ``bits - exp_bits`` (unsigned) mantissa
      bits, with subnormals: ``[e|f]`` is ``f`` for ``e = 0``, else
      ``(2**M + f) << (e - 1)`` (4-bit E3M1: 0, 1, 2, 3, 4, 6, ... 128, 192);
    * ``flint``: ``[b|r]`` is ``r`` for ``b = 0``, ``r << (2*LZD(r) + 1)`` for
      ``b = 1, r != 0`` and ``1 << (2w - 2)`` for ``b = 1, r = 0`` (4-bit: 0..7,
      64, 32, 16, 24, 8, 10, 12, 14);
    * ``signed`` pot / float / flint are sign + magnitude; ``-0`` decodes to 0.

    Overflow: cannot overflow, so there is no flag. ``exp_width`` and
    ``mant_width`` (in the manifest) are derived from the format
    (:class:`accelgen.num.formats.AntFormat`) to hold its largest exponent and
    mantissa magnitude, so every code decodes exactly.

    Combinational: latency 0, one code per evaluation.

    Members
    -------
    code : In(bits)
    exp : Out(unsigned(exp_width))
    mant : Out(signed(mant_width))
    """

    def __init__(self, params=None):
        self.params = params = Params.ensure(params, self)
        f = params.format
        super().__init__({
            "code": In(unsigned(f.bits)),
            "exp": Out(unsigned(f.exp_width)),
            "mant": Out(signed(f.mant_width)),
        })

    def elaborate(self, platform):
        m = Module()
        exp, mant = decode_ant(m, self.code, self.params.format)
        m.d.comb += [self.exp.eq(exp), self.mant.eq(mant)]
        return m
