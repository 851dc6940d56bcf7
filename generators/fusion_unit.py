# SPDX-License-Identifier: BSD-2-Clause
"""BitFusion Fusion Unit: 16 BitBricks and a shift-add tree with run-time precision."""

import dataclasses

from amaranth.hdl import Module, Signal, Cat, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from accelgen.hw.accumulate import accumulate_packets
from accelgen.hw.bitfusion import (ALL_MODES, OPERAND_BITS, PRECISION_BITS, STEP_WIDTH,
                                   FusionStep, Precision, brick_role, check_modes,
                                   parse_modes)
from accelgen.hw.stream import PIPELINE, pipeline_handshake
from accelgen.params import UnitParams, param, check_int, check_bool

# The unit's interface besides Params and the component: the precision codes of
# the input fields, the modes a ``modes`` string can name, the packing rule.
__all__ = ["Params", "FusionUnit", "Precision", "PRECISION_BITS", "ALL_MODES", "brick_role"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class Params(UnitParams):
    """Parameters of :class:`FusionUnit`."""

    unit = "fusion_unit"

    acc_width: int = param(32, "accumulator and result width, two's complement (18..48)",
                           abbr="acc")
    pipeline: int = param(5, "register stages in the step (0..5): 1 cuts after the "
                             "second adder level, 2 after the first and the last, 3 "
                             "after the BitBricks, the second and the last, 4 after the "
                             "operand steering, the BitBricks, the second and the last "
                             "adder levels, 5 after the steering, the BitBricks and the "
                             "first, third and last levels (docs/bitfusion.md)", abbr="p")
    modes: str = param("all", "run-time precision modes built, 'all' or a list of "
                              "AxW with A, W in 2, 4, 8 (e.g. '8x8,4x4')", abbr="m")
    saturate: bool = param(False, "clamp the accumulator at its range (else wrap)",
                           abbr="sat")

    def __post_init__(self):
        check_int(self, "acc_width", min=STEP_WIDTH, max=48)
        check_int(self, "pipeline", min=0, max=5)
        check_bool(self, "saturate")
        check_modes(self)

    @property
    def mode_set(self):
        """The ``(wa, ww)`` pairs built, wider first."""
        return parse_modes(self.modes)

    @property
    def latency(self):
        """Cycles from accepting a packet's last beat to its result on ``o``."""
        return 1 + self.pipeline

    @property
    def throughput(self):
        """Input beats accepted per cycle (without backpressure)."""
        return 1

    def input_layout(self):
        return data.StructLayout({
            "a": unsigned(OPERAND_BITS), "w": unsigned(OPERAND_BITS),
            "a_prec": Precision, "w_prec": Precision,
            "a_signed": 1, "w_signed": 1, "last": 1})

    def output_layout(self):
        return data.StructLayout({
            "acc": signed(self.acc_width), "overflow": 1, "mode_error": 1})

    def manifest_extra(self):
        return {
            "precision_codes": {str(c.value): bits for c, bits in PRECISION_BITS.items()},
            "modes": [f"{wa}x{ww}" for wa, ww in self.mode_set],
            "products_per_beat": {f"{wa}x{ww}": (8 // wa) * (8 // ww)
                                  for wa, ww in self.mode_set},
            "packing": "product k of a beat uses a[k*wa +: wa] and w[k*ww +: ww], "
                       "k = 0 .. (8/wa)*(8/ww) - 1; elements are two's complement "
                       "when the beat's a_signed / w_signed is set",
        }


class FusionUnit(wiring.Component):
    """BitFusion Fusion Unit (Sharma et al., ISCA 2018): a streaming dot-product
    accumulator whose operand precision is chosen per beat.

    Each beat on ``i`` carries a packed activation word ``a`` and weight word ``w``
    (32 bits each), their precision codes ``a_prec``/``w_prec`` (:class:`Precision`:
    0 = 2-bit, 1 = 4-bit, 2 = 8-bit), their signedness ``a_signed``/``w_signed`` and
    ``last``. In mode ``wa x ww`` the beat holds ``P = (8/wa)*(8/ww)`` products:

    * product ``k`` (``0 <= k < P``) multiplies ``a[k*wa +: wa]`` by ``w[k*ww +: ww]``,
      each two's complement when its ``*_signed`` bit is set, unsigned otherwise;
      bits above ``P*wa`` of ``a`` and ``P*ww`` of ``w`` are ignored;
    * digit ``i`` (bits ``2i+1:2i``) of activation ``k`` is BitBrick input
      ``a[2*(k*wa/2 + i) +: 2]``; see :func:`accelgen.hw.bitfusion.brick_role`
      (also importable from this module) for the BitBrick of each
      digit pair and its shift.

    The beat's step is the exact sum of its ``P`` products; a packet (beats up to
    one with ``last = 1``) accumulates its steps in a two's-complement accumulator
    of ``acc_width`` bits and emits one beat on ``o``: ``acc``, plus ``overflow``
    (some addition left the range: the result wrapped modulo ``2**acc_width``, or
    with ``saturate`` was clamped to ``-2**(acc_width-1) .. 2**(acc_width-1)-1``)
    and ``mode_error`` (some beat's precision pair was not built, see ``modes``, or
    used code 3; such a beat adds 0). Unsigned operands are accumulated in the
    same signed register.

    Overflow: flagged, then wrapped or (``saturate``) clamped. A step is exact
    (``|step| <= 9 * 85**2 = 65025``, held in ``signed(18)``) and fits the
    narrowest accumulator, so only the accumulator's additions can leave the
    range ``-2**(acc_width-1) .. 2**(acc_width-1)-1``. Each one that does sets
    the packet's ``overflow`` and wraps modulo ``2**acc_width``, or is clamped to
    the bound it crossed; later steps continue from that value and ``overflow``
    stays set until the packet's result. A sum landing exactly on a bound does
    not set it.

    Timing: one beat per cycle; the result is valid ``latency = 1 + pipeline``
    cycles after the edge that accepts the last beat. The whole pipeline stalls
    while ``o.valid & ~o.ready``; ``i.ready = ~o.valid | o.ready``. Synchronous
    reset discards the accumulator and in-flight beats.

    Members
    -------
    i : In(stream.Signature(Params.input_layout()))
    o : Out(stream.Signature(Params.output_layout()))
    """

    ready_contract = PIPELINE

    def __init__(self, params=None):
        self.params = params = Params.ensure(params, self)
        super().__init__({
            "i": In(stream.Signature(params.input_layout())),
            "o": Out(stream.Signature(params.output_layout())),
        })

    def elaborate(self, platform):
        p = self.params
        m = Module()
        width = p.acc_width

        advance = pipeline_handshake(m, self.i, self.o)

        step = FusionStep(m, self.i.payload, modes=p.mode_set, pipeline=p.pipeline,
                          en=advance, side=Cat(self.i.valid, self.i.payload.last))
        valid, last = step.side[0], step.side[1]

        acc = Signal(signed(width))
        overflow = Signal()
        mode_error = Signal()
        total = Signal(signed(width + 1))
        out_of_range = Signal()
        result = Signal(signed(width))
        m.d.comb += [
            total.eq(acc + step.step),
            out_of_range.eq(total[width] != total[width - 1]),
            result.eq(total[:width]),
        ]
        if p.saturate:
            with m.If(out_of_range):
                m.d.comb += result.eq(Cat(~total[width].replicate(width - 1), total[width]))

        accumulate_packets(m, self.o, advance=advance, valid=valid, last=last, state=[
            (acc, result, self.o.payload.acc),
            (overflow, overflow | out_of_range, self.o.payload.overflow),
            (mode_error, mode_error | step.mode_error, self.o.payload.mode_error),
        ])
        return m

