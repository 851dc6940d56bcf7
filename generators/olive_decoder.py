# SPDX-License-Identifier: BSD-2-Clause
"""OliVe outlier-victim pair decoder: one pair word to two exponent-integer pairs
(combinational)."""

import dataclasses

from amaranth.hdl import Module, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from accelgen.hw.formats import FormatParams, decode_pair

__all__ = ["Params", "OliveDecoder"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class Params(FormatParams):
    """Parameters of :class:`OliveDecoder`: the OliVe format
    (:class:`accelgen.hw.formats.FormatParams`)."""

    unit = "olive_decoder"

    @property
    def latency(self):
        return 0

    @property
    def throughput(self):
        return 1

    def manifest_extra(self):
        return self.format_manifest()


class OliveDecoder(wiring.Component):
    """OliVe outlier-victim pair decoder (Guo et al., ISCA 2023; docs/formats.md).

    ``code`` holds an aligned pair: element 0 in bits ``[0, bits)``, element 1 in
    ``[bits, 2*bits)``. Each element decodes to ``exp`` (unsigned) and ``mant``
    (two's complement), value ``mant << exp``:

    * the identifier ``1 << (bits-1)`` (``1000`` at 4 bits) is a victim: 0;
    * the partner of an identifier is an abfloat outlier: sign, ``exp_bits``
      exponent, ``man_bits`` mantissa; magnitude ``[e|f]`` is
      ``(2**M + f) << (e + bias)`` (E2M1 bias 2: 12, 16, 24, 32, 48, 64, 96);
      magnitude 0 (never produced by the encoder) decodes to 0;
    * otherwise both are normal: symmetric int (``-(2**(bits-1) - 1) ..``) or
      signed flint.

    Two identifiers decode to two zeros. Combinational.

    Overflow: cannot overflow, so there is no flag. ``exp_width`` and
    ``mant_width`` (in the manifest) are derived from the format
    (:class:`accelgen.num.formats.OliveFormat`) to hold the largest outlier and
    normal exponent and mantissa, so every pair word decodes exactly.

    Members
    -------
    code : In(2 * bits)
    exp0, exp1 : Out(unsigned(exp_width))
    mant0, mant1 : Out(signed(mant_width))
    """

    def __init__(self, params=None):
        self.params = params = Params.ensure(params, self)
        f = params.format
        super().__init__({
            "code": In(unsigned(2 * f.bits)),
            "exp0": Out(unsigned(f.exp_width)),
            "mant0": Out(signed(f.mant_width)),
            "exp1": Out(unsigned(f.exp_width)),
            "mant1": Out(signed(f.mant_width)),
        })

    def elaborate(self, platform):
        m = Module()
        (e0, m0), (e1, m1) = decode_pair(m, self.code, self.params.format)
        m.d.comb += [self.exp0.eq(e0), self.mant0.eq(m0),
                     self.exp1.eq(e1), self.mant1.eq(m1)]
        return m
