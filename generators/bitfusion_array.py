# SPDX-License-Identifier: BSD-2-Clause
"""BitFusion array: a weight-stationary systolic grid of Fusion Units."""

import dataclasses

from amaranth.hdl import Module, Signal, Cat, Mux, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from accelgen.hw.bitfusion import (FusionStep, Precision, StepOperands, OPERAND_BITS,
                                   PIPELINE_CUTS, STEP_WIDTH, PRECISION_BITS, check_modes,
                                   parse_modes)
from accelgen.hw.pipeline import delay_chain
from accelgen.hw.stream import stall_advance
from accelgen.params import UnitParams, param, check_int

__all__ = ["Params", "BitFusionArray"]

# An activation word with its beat's mode, as it moves along a row.
_ROW_WORD = data.StructLayout({"a": unsigned(OPERAND_BITS), "prec": Precision, "signed": 1})


@dataclasses.dataclass(frozen=True, kw_only=True)
class Params(UnitParams):
    """Parameters of :class:`BitFusionArray`."""

    unit = "bitfusion_array"

    rows: int = param(4, "Fusion Unit rows: reduction chunks summed per column (1..16)",
                      abbr="r")
    cols: int = param(4, "Fusion Unit columns: output lanes (1..16)", abbr="c")
    acc_width: int = param(32, "result width, two's complement (18 + ceil(log2(rows))..48)",
                           abbr="acc")
    modes: str = param("all", "run-time precision modes built, 'all' or a list of "
                              "AxW with A, W in 2, 4, 8 (e.g. '8x8,4x4')", abbr="m")
    pipeline: int = param(5, "register stages in every unit's step (0..6): 0..5 cut "
                             "as fusion_unit's pipeline does, 6 after every adder "
                             "level; each adds one cycle of latency",
                          abbr="p")

    def __post_init__(self):
        check_int(self, "rows", min=1, max=16)
        check_int(self, "cols", min=1, max=16)
        check_int(self, "pipeline", min=0, max=max(PIPELINE_CUTS))
        check_int(self, "acc_width", min=self.min_acc_width, max=48,
                  min_expr="18 + ceil(log2(rows))")
        check_modes(self)

    @property
    def min_acc_width(self):
        """The narrowest result that holds every column sum exactly."""
        return STEP_WIDTH + (self.rows - 1).bit_length()

    @property
    def mode_set(self):
        return parse_modes(self.modes)

    @property
    def lanes(self):
        """32-bit words in a beat's ``data``: ``max(rows, cols)``."""
        return max(self.rows, self.cols)

    @property
    def latency(self):
        """Cycles from accepting an activation beat to its result on ``o``."""
        return self.rows + self.cols - 1 + self.pipeline

    @property
    def throughput(self):
        """Activation beats accepted per cycle (without backpressure or weight loads)."""
        return 1

    def input_layout(self):
        return data.StructLayout({
            "data": data.ArrayLayout(unsigned(OPERAND_BITS), self.lanes),
            "weights": 1, "prec": Precision, "signed": 1})

    def output_layout(self):
        return data.StructLayout({
            "acc": data.ArrayLayout(signed(self.acc_width), self.cols), "mode_error": 1})

    def manifest_extra(self):
        return {
            "precision_codes": {str(c.value): bits for c, bits in PRECISION_BITS.items()},
            "modes": [f"{wa}x{ww}" for wa, ww in self.mode_set],
            "products_per_column": {f"{wa}x{ww}": self.rows * (8 // wa) * (8 // ww)
                                    for wa, ww in self.mode_set},
            "packing": "weight beat: data[c] is the packed weight word of column c for "
                       "the next row (rows load in order 0..rows-1); activation beat: "
                       "data[r] is the packed activation word of row r; a word packs "
                       "element k at bits [k*w, (k+1)*w) as in fusion_unit",
            "weight_load": "a weight beat waits until no activation beat is left to "
                           "meet a unit (up to rows + cols - 2 cycles), not for o.ready",
        }


class BitFusionArray(wiring.Component):
    """A ``rows x cols`` weight-stationary systolic array of BitFusion Fusion Units.

    One input stream ``i`` carries two kinds of beat, in order:

    * **weight** (``weights = 1``): ``data[c]`` (``c < cols``) is the packed
      32-bit weight word of Fusion Unit ``(row, c)``, where ``row`` counts weight
      beats modulo ``rows`` from 0 after reset; ``prec``/``signed`` are that row's
      weight precision code and signedness. A weight beat is accepted only when
      no activation beat is left to meet a unit (none accepted in the last
      ``rows + cols - 2`` cycles of advance), so every activation sees one
      consistent set of weights; it does not wait for ``o.ready``.
    * **activation** (``weights = 0``): ``data[r]`` (``r < rows``) is the packed
      activation word of row ``r`` with precision ``prec`` and ``signed``.
      Unit ``(r, c)`` computes the Fusion Unit step of ``data[r]`` with its weight
      word (packing as in ``fusion_unit``: element ``k`` at bits ``[k*w, (k+1)*w)``),
      and column ``c``'s result is the sum over rows: with ``K = rows * P``
      elements per beat, ``acc[c] = sum_k a[k] * W[k, c]``, exact. ``mode_error`` is
      set when some row's precision pair was not built (``modes``) or used
      code 3; such a row adds 0.

    Overflow: cannot overflow, so there is no flag. A Fusion Unit step is at most
    ``9 * 85**2 = 65025 < 2**16`` in magnitude and a column adds ``rows`` of them,
    less than ``2**(16 + ceil(log2(rows)))``; ``acc_width`` is at least ``18 +
    ceil(log2(rows))``, so every partial sum and result is exact.

    Dataflow: activation words move right one unit per cycle, partial sums move
    down; row ``r`` is skewed by ``r`` cycles on entry and column ``c``'s result
    de-skewed by ``cols - 1 - c`` cycles on exit, so users see plain row vectors.
    Every processing element is a :class:`FusionStep` plus a partial-sum register;
    no combinational path spans more than one unit. ``pipeline`` registers the
    step inside every unit where ``fusion_unit``'s ``pipeline`` does, and at 6
    after every adder level (:data:`~accelgen.hw.bitfusion.PIPELINE_CUTS`), so
    each unit adds its step
    ``pipeline`` cycles after its operands, into the partial sum coming from
    above, which is late by the same ``pipeline`` cycles. A unit reads its
    weight registers only in the cycle its activation arrives.

    Timing: one activation beat per cycle; its result is valid ``latency =
    rows + cols - 1 + pipeline`` cycles after the edge that accepts it. The
    array stalls as a whole while ``o.valid & ~o.ready``: ``i.ready`` is
    ``~o.valid | o.ready`` for an activation beat and ``~in_flight`` for a
    weight beat. Synchronous reset discards beats in flight and clears the
    weights to 0 (2-bit unsigned) and the row counter.

    Members
    -------
    i : In(stream.Signature(Params.input_layout()))
    o : Out(stream.Signature(Params.output_layout()))
    """

    # No fixed formula: ``i.ready`` also reads ``i.payload.weights`` (a weight
    # beat waits while an activation beat is inside the array).
    ready_contract = None

    def __init__(self, params=None):
        self.params = params = Params.ensure(params, self)
        super().__init__({
            "i": In(stream.Signature(params.input_layout())),
            "o": Out(stream.Signature(params.output_layout())),
        })

    def elaborate(self, platform):
        p = self.params
        m = Module()
        rows, cols, depth = p.rows, p.cols, p.rows + p.cols - 1
        # An activation beat meets unit (r, c) at depth r + c; its weights are
        # read then and never later, so the interlock below looks only that far.
        beat = self.i.payload

        advance = stall_advance(m, self.o)

        def delayed(value, name, stages):
            return delay_chain(m, value, name, stages, advance)

        # Valid bit of the beat at each depth (cycles since accepted).
        accept_act = Signal()
        m.d.comb += accept_act.eq(self.i.valid & ~beat.weights & advance)
        valid = delayed(accept_act, "valid", depth + p.pipeline)
        # in_flight: some activation is at depth 1 .. depth - 1 (still to meet a
        # unit). Kept in its own register, computed from the valid chain's next
        # state, so the weight load's wide enable does not wait for o.ready.
        # The depths both cases share are OR-ed first, so ``advance`` (a wide net)
        # enters only the last gate.
        in_flight = Signal()
        if depth > 1:
            shared = Cat(*valid[1:depth - 1], 0).any()
            m.d.sync += in_flight.eq(shared | Mux(advance, valid[0], valid[depth - 1]))

        # Weights: one row per weight beat, accepted when no activation is left to
        # meet a unit; a weight beat enters no pipeline, so a stalled output does
        # not hold it back.
        w_words = [[Signal(OPERAND_BITS, name=f"w{r}_{c}") for c in range(cols)]
                   for r in range(rows)]
        w_prec = [Signal(Precision, name=f"w{r}_prec") for r in range(rows)]
        w_signed = [Signal(name=f"w{r}_signed") for r in range(rows)]
        row = Signal(range(rows), name="load_row") if rows > 1 else 0
        load = Signal()
        m.d.comb += [
            load.eq(self.i.valid & beat.weights & ~in_flight),
            self.i.ready.eq(Mux(beat.weights, ~in_flight, advance)),
        ]
        with m.If(load):
            if rows > 1:
                m.d.sync += row.eq(Mux(row == rows - 1, 0, row + 1))
            for r in range(rows):
                with m.If(row == r):
                    m.d.sync += [w_words[r][c].eq(beat.data[c]) for c in range(cols)]
                    m.d.sync += [w_prec[r].eq(beat.prec), w_signed[r].eq(beat.signed)]

        # Processing elements: psum[r][c] holds the beat of depth r + c + 1 + pipeline.
        psum = [[None] * cols for _ in range(rows)]
        error = [None] * rows
        for r in range(rows):
            # Each row's word travels with its own copy of the beat's mode, so
            # no mode register fans out to a whole diagonal of units.
            row_beat = Signal(_ROW_WORD, name=f"a{r}")
            m.d.comb += [row_beat.a.eq(beat.data[r]), row_beat.prec.eq(beat.prec),
                         row_beat.signed.eq(beat.signed)]
            words = delayed(row_beat, f"a{r}", r + cols - 1)
            for c in range(cols):
                word = words[r + c]
                operands = StepOperands(a=word.a, w=w_words[r][c], a_prec=word.prec,
                                        w_prec=w_prec[r], a_signed=word.signed,
                                        w_signed=w_signed[r])
                step = FusionStep(m, operands, modes=p.mode_set, pipeline=p.pipeline,
                                  en=advance, prefix=f"pe{r}_{c}_")
                acc = psum[r][c] = Signal(signed(p.acc_width), name=f"psum{r}_{c}")
                above = psum[r - 1][c] if r > 0 else 0
                with m.If(advance):
                    m.d.sync += acc.eq(above + step.step)
                if c == cols - 1:  # one column's flags stand for all: modes are per row
                    err = error[r] = Signal(name=f"mode_error{r}")
                    with m.If(advance):
                        m.d.sync += err.eq((error[r - 1] if r > 0 else 0) | step.mode_error)

        # De-skew: column c's result is ready at depth rows + c + pipeline; all
        # leave at depth + pipeline.
        for c in range(cols):
            aligned = delayed(psum[rows - 1][c], f"out{c}", cols - 1 - c)[-1]
            m.d.comb += self.o.payload.acc[c].eq(aligned)
        m.d.comb += [self.o.payload.mode_error.eq(error[rows - 1]),
                     self.o.valid.eq(valid[depth + p.pipeline])]
        return m
