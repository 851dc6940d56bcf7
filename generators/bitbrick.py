# SPDX-License-Identifier: BSD-2-Clause
"""BitFusion BitBrick: a 2-bit x 2-bit multiplier with per-operand signedness."""

import dataclasses

from amaranth.hdl import Module, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from accelgen.hw.bitfusion import brick_product
from accelgen.params import UnitParams

__all__ = ["Params", "BitBrick"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class Params(UnitParams):
    """The BitBrick has no parameters: its widths are fixed by BitFusion (docs/bitfusion.md)."""

    unit = "bitbrick"

    @property
    def latency(self):
        return 0

    @property
    def throughput(self):
        return 1


class BitBrick(wiring.Component):
    """BitFusion BitBrick (Sharma et al., ISCA 2018).

    Each 2-bit field is extended to 3 bits, ``{sx & x[1], x}`` (two's complement
    when its sign flag is 1, unsigned otherwise), and ``p`` is the exact 6-bit
    signed product of the two 3-bit values. Combinational: latency 0, one product
    per evaluation.

    Overflow: cannot overflow. An extended digit is -2..1 (signed) or 0..3
    (unsigned), so the product lies in -6 (``-2 * 3``) .. 9 (``3 * 3``), which
    ``signed(6)`` holds exactly.

    Parameters
    ----------
    params : Params

    Members
    -------
    x, y : In(2)
        The two 2-bit digits.
    sx, sy : In(1)
        1 if the digit is signed (the most significant digit of a signed operand).
    p : Out(signed(6))
        The product.
    """

    def __init__(self, params=None):
        self.params = params = Params.ensure(params, self)
        super().__init__({
            "x": In(unsigned(2)),
            "y": In(unsigned(2)),
            "sx": In(1),
            "sy": In(1),
            "p": Out(signed(6)),
        })

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.p.eq(brick_product(self.x, self.y, self.sx, self.sy))
        return m
