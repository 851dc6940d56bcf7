# SPDX-License-Identifier: BSD-2-Clause
"""Streaming integer multiply-accumulate: the baseline processing element."""

import dataclasses

from amaranth.hdl import Module, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from accelgen.params import UnitParams, param, check_int, check_bool, int_shape
from accelgen.hw.accumulate import accumulate_packets
from accelgen.hw.pipeline import register_stage
from accelgen.hw.stream import PIPELINE, pipeline_handshake

__all__ = ["Params", "IntMAC"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class Params(UnitParams):
    """Parameters of :class:`IntMAC`."""

    unit = "int_mac"

    a_width: int = param(8, "width of operand a in bits (1..32)", abbr="a")
    b_width: int = param(8, "width of operand b in bits (1..32)", abbr="b")
    acc_width: int = param(32, "accumulator and result width (a_width + b_width..64)",
                           abbr="acc")
    a_signed: bool = param(True, "operand a is two's complement (else unsigned)",
                           abbr="as")
    b_signed: bool = param(True, "operand b is two's complement (else unsigned)",
                           abbr="bs")
    pipeline: int = param(1, "register stages between the input and the accumulator "
                             "(0..4): 1 registers the product, 2 also the operands, "
                             "3 and 4 add product registers for retiming", abbr="p")

    def __post_init__(self):
        check_int(self, "a_width", min=1, max=32)
        check_int(self, "b_width", min=1, max=32)
        check_int(self, "acc_width", min=self.a_width + self.b_width, max=64,
                  min_expr="a_width + b_width")
        check_bool(self, "a_signed")
        check_bool(self, "b_signed")
        check_int(self, "pipeline", min=0, max=4)

    @property
    def acc_signed(self):
        """The accumulator is two's complement when either operand is."""
        return self.a_signed or self.b_signed

    @property
    def latency(self):
        """Cycles from accepting a packet's last beat to its result on ``o``."""
        return 1 + self.pipeline

    @property
    def throughput(self):
        """Input beats accepted per cycle (without backpressure)."""
        return 1

    def a_shape(self):
        return int_shape(self.a_width, self.a_signed)

    def b_shape(self):
        return int_shape(self.b_width, self.b_signed)

    def acc_shape(self):
        return int_shape(self.acc_width, self.acc_signed)

    def input_layout(self):
        return data.StructLayout({"a": self.a_shape(), "b": self.b_shape(), "last": 1})


class IntMAC(wiring.Component):
    """Streaming integer multiply-accumulate.

    Each beat on ``i`` carries operands ``a``, ``b`` and a ``last`` flag; a packet
    is the beats up to and including one with ``last = 1``. For every packet the
    unit emits one beat on ``o``: ``sum(a * b)`` over the packet, computed modulo
    ``2**acc_width`` and read as two's complement when either operand is signed.
    After the result the accumulator restarts from zero.

    Overflow: wraps, with no saturation and no flag. Each product is exact
    (``a_width + b_width + 1`` bits) and, since ``acc_width >= a_width +
    b_width``, one product always fits the accumulator; a longer packet whose
    sum leaves the range comes out modulo ``2**acc_width``.

    Timing: one beat per cycle when ``o`` is not stalled; the result is valid on
    ``o`` ``latency = 1 + pipeline`` cycles after the edge that accepts the last
    beat. The pipeline stalls as a whole while ``o.valid & ~o.ready``, and
    ``i.ready = ~o.valid | o.ready`` (a combinational path from ``o.ready`` to
    ``i.ready``). Synchronous reset clears the accumulator and every in-flight
    beat; a packet interrupted by reset produces no result.

    Parameters
    ----------
    params : Params

    Members
    -------
    i : In(stream.Signature(StructLayout({"a", "b", "last"})))
        Operand beats; ``a`` occupies the low bits of the payload, then ``b``,
        then ``last``.
    o : Out(stream.Signature(acc_shape))
        Packet results.
    """

    ready_contract = PIPELINE

    def __init__(self, params=None):
        self.params = params = Params.ensure(params, self)
        super().__init__({
            "i": In(stream.Signature(params.input_layout())),
            "o": Out(stream.Signature(params.acc_shape())),
        })

    def elaborate(self, platform):
        p = self.params
        m = Module()

        advance = pipeline_handshake(m, self.i, self.o)

        valid, last = self.i.valid, self.i.payload.last
        a, b = self.i.payload.a, self.i.payload.b
        if p.pipeline >= 2:
            s = register_stage(m, advance, "opnd", valid=valid, last=last, a=a, b=b)
            valid, last, a, b = s.valid, s.last, s.a, s.b
        product = Signal(signed(p.a_width + p.b_width + 1), name="product")
        m.d.comb += product.eq(a * b)
        for k in range(p.pipeline - (1 if p.pipeline >= 2 else 0)):
            s = register_stage(m, advance, f"prod{k}", valid=valid, last=last, product=product)
            valid, last, product = s.valid, s.last, s.product

        acc = Signal(p.acc_shape())
        total = Signal(p.acc_shape())
        m.d.comb += total.eq(acc + product)
        accumulate_packets(m, self.o, advance=advance, valid=valid, last=last,
                           state=[(acc, total, self.o.payload)])
        return m
