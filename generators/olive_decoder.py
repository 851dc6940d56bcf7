# SPDX-License-Identifier: BSD-2-Clause
"""OliVe outlier-victim pair decoder: one pair word to two exponent-integer pairs
(combinational)."""

import dataclasses

from amaranth.hdl import Module, Signal, Mux, Cat, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from accelgen.num.formats import Abfloat, OliveFormat
from accelgen.generators.ant_decoder import decode_ant
from accelgen.params import UnitParams, param, check_int, check_choice, require

__all__ = ["Params", "OliveDecoder", "decode_pair", "FormatParams"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class FormatParams(UnitParams):
    """The OliVe format parameters, shared by ``olive_decoder`` and ``olive_pe``."""

    bits: int = param(4, "element width: 4 (a pair per byte) or 8 (a pair per 16 bits)",
                      abbr="n")
    normal: str = param("int", "normal type: 'int' (symmetric two's complement) or "
                               "'flint' (signed flint)")
    exp_bits: int = param(2, "abfloat exponent bits (exp_bits + man_bits = bits - 1; "
                             "E2M1 at 4 bits; E4M3 (paper) or E2M5 (authors' code) at 8)",
                          abbr="e")
    man_bits: int = param(1, "abfloat mantissa bits", abbr="m")
    bias: int = param(2, "abfloat exponent bias (0..32): outlier magnitudes are "
                         "(2**M + f) << (e + bias); 2 for int4 and 3 for flint4 start "
                         "just above the normal range", abbr="b")

    def __post_init__(self):
        check_int(self, "bits", min=4, max=8)
        require(self, self.bits in (4, 8), f"bits must be 4 or 8, not {self.bits}")
        check_choice(self, "normal", ("int", "flint"))
        check_int(self, "exp_bits", min=1, max=self.bits - 1)
        check_int(self, "man_bits", min=0, max=self.bits - 2)
        require(self, self.exp_bits + self.man_bits == self.bits - 1,
                f"exp_bits + man_bits must be bits - 1 = {self.bits - 1} (sign + exponent "
                f"+ mantissa fill an element), not {self.exp_bits + self.man_bits}")
        check_int(self, "bias", min=0, max=32)

    @property
    def format(self):
        return OliveFormat(self.bits, self.normal,
                           Abfloat(self.exp_bits, self.man_bits, self.bias))

    def format_manifest(self):
        f = self.format
        return {"element_bits": f.bits, "identifier": f.identifier,
                "normal": f.normal_format.name if f.normal == "flint"
                else f"int{f.bits} symmetric",
                "normal_max": f.normal_max,
                "outlier": f"abfloat E{f.outlier.exp_bits}M{f.outlier.man_bits} "
                           f"bias {f.outlier.bias}",
                "outlier_magnitudes": f.outlier.magnitudes(),
                "exp_width": f.exp_width, "mant_width": f.mant_width,
                "value": "mant << exp", "pair": "element 0 in the low bits"}


@dataclasses.dataclass(frozen=True, kw_only=True)
class Params(FormatParams):
    """Parameters of :class:`OliveDecoder`."""

    unit = "olive_decoder"

    @property
    def latency(self):
        return 0

    @property
    def throughput(self):
        return 1

    def manifest_extra(self):
        return self.format_manifest()


def _abfloat(m, code, fmt, prefix):
    ab, w = fmt.outlier, fmt.bits - 1
    mag = code[:w]
    exp = Signal(unsigned(fmt.exp_width), name=f"{prefix}ab_exp")
    magnitude = Signal(unsigned(fmt.mant_width - 1), name=f"{prefix}ab_magnitude")
    m.d.comb += [exp.eq(Mux(mag != 0, mag[ab.man_bits:] + ab.bias, 0)),
                 magnitude.eq(Mux(mag != 0, Cat(mag[:ab.man_bits], 1), 0))]
    return exp, Mux(code[w], -magnitude, magnitude)


def decode_pair(m, word, fmt, prefix=""):
    """Add a pair decoder for :class:`~accelgen.num.formats.OliveFormat` ``fmt`` to ``m``:
    ``[(exp0, mant0), (exp1, mant1)]``, ``unsigned(fmt.exp_width)`` /
    ``signed(fmt.mant_width)``. Used inline by :class:`OliveDecoder` and ``olive_pe``."""
    n = fmt.bits
    codes = [word[:n], word[n:2 * n]]
    is_id = [Signal(name=f"{prefix}id{k}") for k in range(2)]
    m.d.comb += [is_id[k].eq(codes[k] == fmt.identifier) for k in range(2)]
    out = []
    for k in range(2):
        p = f"{prefix}e{k}_"
        n_exp, n_mant = decode_ant(m, codes[k], fmt.normal_format, f"{p}normal_")
        o_exp, o_mant = _abfloat(m, codes[k], fmt, p)
        exp = Signal(unsigned(fmt.exp_width), name=f"{p}exp")
        mant = Signal(signed(fmt.mant_width), name=f"{p}mant")
        with m.If(is_id[k]):
            m.d.comb += [exp.eq(0), mant.eq(0)]
        with m.Elif(is_id[1 - k]):
            m.d.comb += [exp.eq(o_exp), mant.eq(o_mant)]
        with m.Else():
            m.d.comb += [exp.eq(n_exp), mant.eq(n_mant)]
        out.append((exp, mant))
    return out


class OliveDecoder(wiring.Component):
    """OliVe outlier-victim pair decoder (Guo et al., ISCA 2023; SPEC §2).

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
