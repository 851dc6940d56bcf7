# SPDX-License-Identifier: BSD-2-Clause
"""Floating-point decoder: an FP8 / FP6 / FP4 / BF16 / FP16 / FP32 / E8M0 / MXINT8 code
to an exact ``(mant, exp)`` pair with NaN and infinity flags (combinational)."""

import dataclasses

from amaranth.hdl import Module, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from accelgen.hw.fp import decode_fp
from accelgen.num.fpformats import FORMATS, get_format
from accelgen.params import UnitParams, param, check_choice

__all__ = ["Params", "FpDecoder", "FORMAT_NAMES"]

#: Every format the decoder is built for (:data:`accelgen.num.fpformats.FORMATS`).
FORMAT_NAMES = tuple(FORMATS)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Params(UnitParams):
    """Parameters of :class:`FpDecoder`."""

    unit = "fp_decoder"

    fmt: str = param("e4m3", "number format: e4m3, e5m2 (OCP FP8), e3m2, e2m3 (MX FP6), "
                             "e2m1 (MX FP4), bf16, fp16, fp32, e8m0 (MX scale), "
                             "int8 (MXINT8)")

    def __post_init__(self):
        check_choice(self, "fmt", FORMAT_NAMES)

    @property
    def format(self):
        """The :mod:`accelgen.num.fpformats` description of ``fmt``."""
        return get_format(self.fmt)

    @property
    def latency(self):
        return 0

    @property
    def throughput(self):
        return 1

    def manifest_extra(self):
        f = self.format
        return {"format": f.manifest(), "value": "mant * 2**exp",
                "exp_min": f.exp_min, "exp_max": f.exp_max, "emax": f.emax}


class FpDecoder(wiring.Component):
    """Floating-point decoder (OCP OFP8 rev. 1.0, OCP MX v1.0, IEEE 754,
    bfloat16; docs/fp.md).

    ``code`` (``width`` bits of the format ``fmt``, MSB first: sign, exponent,
    mantissa) is decoded to ``mant`` (two's complement, ``mant_width`` bits:
    sign and hidden bit included) and ``exp`` (two's complement, unbiased,
    ``exp_width`` bits) with value exactly ``mant * 2**exp``:

    * normal codes: ``mant = ±(2**M + f)``, ``exp = e - bias - M``;
    * subnormal codes (``e = 0``): ``mant = ±f``, ``exp = 1 - bias - M``; ``±0``
      gives ``mant = 0``;
    * ``e8m0`` (unsigned, no mantissa, no subnormals): ``mant = 1``,
      ``exp = e - 127``; ``int8`` (MXINT8): ``mant = code`` (two's complement),
      ``exp = -6``.

    ``nan`` flags the NaN codes (e5m2, bf16, fp16, fp32: all-ones exponent,
    non-zero mantissa; e4m3: ``S.1111.111``; e8m0: ``0xFF``) and ``inf`` the
    infinities (e5m2, bf16, fp16, fp32: all-ones exponent, zero mantissa); the
    MX FP6/FP4 elements and MXINT8 have neither (both flags constant 0). A
    special code's ``(mant, exp)`` is what the formula above gives its bits;
    a user masks it with the flags. No rounding: every code is exact.

    Overflow: cannot overflow, so there is no flag. ``mant_width`` (``M + 2``;
    the code width for int8) and ``exp_width`` (the smallest two's complement
    width holding ``exp_min .. exp_max``) are derived from the format
    (:class:`accelgen.num.fpformats.FpFormat`) and published in the manifest,
    so every code's pair fits.

    Combinational: latency 0, one code per evaluation.

    Members
    -------
    code : In(width)
    mant : Out(signed(mant_width))
    exp : Out(signed(exp_width))
    nan : Out(1)
    inf : Out(1)
    """

    def __init__(self, params=None):
        self.params = params = Params.ensure(params, self)
        f = params.format
        super().__init__({
            "code": In(unsigned(f.width)),
            "mant": Out(signed(f.mant_width)),
            "exp": Out(signed(f.exp_width)),
            "nan": Out(1),
            "inf": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        mant, exp, nan, inf = decode_fp(m, self.code, self.params.format)
        m.d.comb += [self.mant.eq(mant), self.exp.eq(exp), self.nan.eq(nan), self.inf.eq(inf)]
        return m
