# SPDX-License-Identifier: BSD-2-Clause
"""Streaming Softmax over vectors of ``n`` elements, ``lanes`` per beat: max
subtraction, exp by lookup table, base-2 decomposition or I-BERT's i-exp, an
exact reciprocal of the sum, normalization."""

import dataclasses
import math

from amaranth.hdl import Module, Signal, Mux, Array, Const, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from accelgen.params import UnitParams, param, check_int, check_choice, require, int_shape
from accelgen.consts import softmax as consts
from accelgen.hw.reduce import reduce_tree
from accelgen.hw.pipeline import register_stage, register_values, delay_chain
from accelgen.hw.stream import stall_advance
from accelgen.hw.vector import BufferRing, serial_reciprocal, beat_rate

__all__ = ["Params", "Softmax", "METHODS"]

METHODS = ("lut", "base2", "ibert")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Params(UnitParams):
    """Parameters of :class:`Softmax`."""

    unit = "softmax"

    method: str = param("lut", "exp by 'lut' (table of exp over the input differences), "
                               "'base2' (2**u shift times a 2**-v table) or 'ibert' "
                               "(I-BERT i-exp and IntSoftmax)", abbr="m")
    n: int = param(64, "vector length (2..1024), a multiple of lanes")
    lanes: int = param(1, "elements per beat (1..16)", abbr="l")
    in_bits: int = param(8, "input width (signed, 2..16)", abbr="i")
    in_frac: int = param(4, "input fraction bits (0..16): x = code / 2**in_frac", abbr="if")
    out_bits: int = param(8, "output width (unsigned, 2..16)", abbr="o")
    out_frac: int = param(8, "output fraction bits (1..16): y = code / 2**out_frac; "
                             "default 1/256", abbr="of")
    exp_bits: int = param(16, "fraction bits of the exp values (8..20); the reciprocal "
                              "is floor(2**(exp_bits + 16) / sum)", abbr="e")
    lut_bits: int = param(8, "lut/base2: table index bits (1..12)", abbr="t")
    recip_steps: int = param(1, "quotient bits of the reciprocal per cycle (1..4): "
                                "more divider logic, fewer cycles per vector", abbr="r")
    pipeline: int = param(4, "register cuts (0..4): 1 after the exp in the sum stage and "
                             "in the output stage, 2 also after the product with the "
                             "reciprocal, 3 also a second register after the exp "
                             "(a table in block RAM then feeds a flip-flop) and the "
                             "divisor, 4 also before the difference max - x in both "
                             "stages", abbr="p")

    def __post_init__(self):
        check_choice(self, "method", METHODS)
        check_int(self, "n", min=2, max=1024)
        check_int(self, "lanes", min=1, max=16)
        require(self, self.n % self.lanes == 0,
                f"n must be a multiple of lanes = {self.lanes}, not {self.n}")
        check_int(self, "in_bits", min=2, max=16)
        check_int(self, "in_frac", min=0, max=16)
        check_int(self, "out_bits", min=2, max=16)
        check_int(self, "out_frac", min=1, max=16)
        check_int(self, "exp_bits", min=8, max=20)
        check_int(self, "lut_bits", min=1, max=12)
        check_int(self, "recip_steps", min=1, max=4)
        check_int(self, "pipeline", min=0, max=4)

    @property
    def words(self):
        """Beats per vector: ``n / lanes``."""
        return self.n // self.lanes

    @property
    def recip_shift(self):
        """``K``: the reciprocal is ``floor(2**K / sum)``; I-BERT's IntSoftmax has 32."""
        return self.exp_bits + 16

    @property
    def sum_bits(self):
        """Width of the exp sum: ``n`` values below ``2**(exp_bits+1)``."""
        return self.exp_bits + 1 + math.ceil(math.log2(self.n))

    @property
    def quotient_bits(self):
        """Width of the reciprocal: the sum is at least ``exp(0)``'s code."""
        return ((1 << self.recip_shift) // consts.exp_of_zero(self)).bit_length()

    @property
    def recip_cycles(self):
        """Cycles of the reciprocal: ``ceil(quotient_bits / recip_steps)``."""
        return -(-self.quotient_bits // self.recip_steps)

    @property
    def sum_wait(self):
        """Cycles the reciprocal waits for the sum after it gets the buffer:
        ``max(0, pipeline - 2)`` (the cuts of stage 1 beyond its first), and one
        more with ``pipeline >= 3`` (the divisor is registered)."""
        return max(0, self.pipeline - 2) + int(self.pipeline >= 3)

    @property
    def vector_cycles(self):
        """Cycles per vector in steady state: every stage handles one vector in
        ``max(words, recip_cycles + 1 + sum_wait)`` cycles."""
        return max(self.words, self.recip_cycles + 1 + self.sum_wait)

    @property
    def latency(self):
        """Cycles from accepting a vector's last beat to its first result beat,
        with no stalls and the unit otherwise idle:
        ``words + recip_cycles + 3 + pipeline + sum_wait`` (stage 1's first cut
        adds none)."""
        return self.words + self.recip_cycles + 3 + self.pipeline + self.sum_wait

    @property
    def throughput(self):
        """Beats (``lanes`` elements) accepted per cycle in steady state:
        ``words / vector_cycles`` (1 while ``words >= recip_cycles + 1 + sum_wait``)."""
        return beat_rate(self.words, self.vector_cycles)

    def in_shape(self):
        return int_shape(self.in_bits, True)

    def out_shape(self):
        return unsigned(self.out_bits)

    def input_layout(self):
        return data.StructLayout({"x": data.ArrayLayout(self.in_shape(), self.lanes)})

    def output_layout(self):
        return data.StructLayout({"y": data.ArrayLayout(self.out_shape(), self.lanes),
                                  "last": 1})

    def manifest_extra(self):
        return {"input_scale": f"2**-{self.in_frac}", "output_scale": f"2**-{self.out_frac}",
                "vector": f"{self.words} beats of {self.lanes} elements in, the same out; "
                          f"o.last marks a vector's final beat",
                "vector_cycles": self.vector_cycles,
                "overflow": "no intermediate can wrap (widths derived from n and the "
                            "formats); outputs saturate at 2**out_bits - 1"}


def exp_unit(m, p, d, name):
    """``e(d)`` (golden ``exp_codes``) of the difference ``d = max - x`` (unsigned
    ``in_bits``): combinational, an unsigned ``exp_bits + 1``-bit code."""
    e = Signal(p.exp_bits + 1, name=f"{name}_exp")
    if p.method == "lut":
        table = consts.lut_table(p)
        index = Signal(max(1, p.in_bits - consts.lut_step(p)), name=f"{name}_index")
        m.d.comb += index.eq(d >> consts.lut_step(p))
        rom = Array(Const(int(v), p.exp_bits + 1) for v in table)
        m.d.comb += e.eq(Mux(index < len(table), rom[index[:p.lut_bits]], 0))
    elif p.method == "base2":
        frac = p.in_frac + consts.LOG2E_FRAC
        t = Signal(p.in_bits + consts.LOG2E_FRAC + 1, name=f"{name}_t")
        m.d.comb += t.eq(d * consts.base2_constant())
        u = Signal(max(1, len(t) - frac), name=f"{name}_u")
        k = Signal(p.lut_bits, name=f"{name}_k")
        m.d.comb += [u.eq(t[frac:]), k.eq(t[frac - p.lut_bits:frac])]
        rom = Array(Const(int(v), p.exp_bits + 1) for v in consts.base2_table(p))
        m.d.comb += e.eq(Mux(u > p.exp_bits + 1, 0, rom[k] >> u))
    else:
        c = consts.ibert_constants(p)
        a = -c["x0"]
        dc = Signal(range(30 * a + 1), name=f"{name}_clamped")
        m.d.comb += dc.eq(Mux(d > 30 * a, 30 * a, d))
        above = [Signal(name=f"{name}_ge{k}") for k in range(1, 31)]
        m.d.comb += [bit.eq(dc >= k * a) for k, bit in enumerate(above, 1)]
        z = reduce_tree(m, above, lambda x, y: x + y, f"{name}_z")
        rm = Signal(range(a), name=f"{name}_rm")  # -r = dc mod a
        m.d.comb += rm.eq(dc - z * a)
        poly = Signal(range(c["c"] + 1), name=f"{name}_poly")  # P = c - rm * (b - rm)
        m.d.comb += poly.eq(c["c"] - rm * (c["b"] - rm))
        # e = floor(P * 2**(30 - z) / 2**h + 1/2): one guard bit below the
        # shift, then (2v' + 1) >> 1 rounds halves up (exact when nothing drops)
        pre = max(0, 30 - c["h"]) + 1
        shifted = Signal(len(poly) + pre, name=f"{name}_pre")
        m.d.comb += shifted.eq(poly << pre)
        twice = Signal(len(shifted), name=f"{name}_twice")
        m.d.comb += twice.eq(shifted >> (z + (c["h"] - 30 + pre - 1)))
        m.d.comb += e.eq((twice + 1) >> 1)
    return e


class Softmax(wiring.Component):
    """Streaming Softmax over vectors of ``n`` elements (docs/nonlinear.md; the
    golden model, golden/softmax.py, gives every formula and constant).

    A vector arrives as ``words = n / lanes`` beats on ``i`` (element ``k`` of
    beat ``j`` is element ``j*lanes + k``) and leaves as ``words`` beats on
    ``o``, ``o.last`` on its final beat. Inputs are signed ``in_bits`` codes of
    scale ``2**-in_frac``; outputs unsigned ``out_bits`` codes of scale
    ``2**-out_frac``.

    Overflow: saturates, with no flag. Every intermediate (the exp values, their
    sum over ``n`` elements, the reciprocal, the products) is sized from the
    parameters and never wraps; an output above ``2**out_bits - 1`` is clamped
    to it (1.0 is, when ``out_frac >= out_bits``: the default 8/8). Outputs are
    never negative.

    Four stages work on four vectors at once, each in its own buffer
    (:class:`accelgen.hw.vector.BufferRing`):

    0. take ``words`` beats into the buffer and keep the running maximum;
    1. read the buffer: exp of ``max - x`` (``method``), sum (``lanes`` per cycle);
    2. reciprocal ``floor(2**(exp_bits+16) / sum)``, exact (restoring
       division, ``recip_steps`` bits per cycle; ``recip_cycles + 1`` cycles);
    3. read the buffer again: recompute exp, times the reciprocal, rounded
       (``lut``, ``base2``: halves up; ``ibert``: floored), out on ``o``.

    Stages 1 and 3 read the buffer through synchronous (block RAM) reads.
    Register cuts (``pipeline``, 0 to 4; each cut is in both reading stages
    unless said):

    1. after the exp: stage 1 registers a word's exp sum before it is added to
       the total; stage 3 registers the exp values and the reciprocal (a
       ``lut`` table in block RAM takes this register as its read register);
    2. stage 3 only: after the products with the reciprocal;
    3. a second register after the exp (stage 1: before the lanes' sum), so
       that a table in block RAM feeds a flip-flop rather than the adder or
       the multiplier; and stage 2's divisor, the buffer's sum copied into a
       register every cycle, so that the divider starts at a flip-flop
       rather than at the selection of the buffer's sum;
    4. before the difference ``max - x``: the buffer's word (stage 3: and the
       maximum), so that the buffer's block RAM feeds a flip-flop rather than
       the subtractor and the table address. Stage 0 then stores a buffer's
       maximum a cycle after its last beat, from the running maximum's
       register, and stage 1 reads it after the word's register, by the
       buffer the word came from.

    Stage 3's cuts load with the output register and stall with it; stages 0
    to 2 never stall. With ``pipeline <= 2`` a buffer's total is stored in the
    cycle stage 2 starts, before its divider first reads it; cuts 3 and 4
    store it later and cut 3 registers the divisor, so the divider waits
    ``sum_wait`` cycles (``max(0, pipeline - 2)``, plus 1 when ``pipeline >=
    3``). The divider is non-restoring
    (:func:`accelgen.hw.vector.serial_reciprocal`): each step one
    add/subtract chosen by a registered sign.

    Critical path on the ECP5 (nextpnr, the Fmax harness, ``lut``, one lane):
    with ``pipeline == 2``, from the exp table's block RAM output (its read
    register is cut 1) through the multiplier to cut 2; with ``pipeline ==
    3``, from the buffer's block RAM output through the difference to the
    exp table's address; with ``pipeline == 4`` (the default), from cut 3
    through the multiplier (a DSP block, nothing else) to cut 2.

    Timing: a vector every ``vector_cycles = max(words, recip_cycles + 1 +
    sum_wait)`` cycles in steady state; ``latency = words + recip_cycles + 3 +
    pipeline + sum_wait`` cycles from its last beat in to its first beat out
    when the unit was idle. ``i.ready`` is low while the next buffer is still
    in use; ``o`` stalls only stage 3.
    Synchronous reset empties every buffer (vectors in flight are dropped).

    Members
    -------
    i : In(stream.Signature(Params.input_layout()))
    o : Out(stream.Signature(Params.output_layout()))
    """

    # No fixed formula: ``i.ready`` is high while stage 0 owns a free buffer
    # (buffer state), whatever ``o`` does.
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
        ring = BufferRing(m, stages=4, words=p.words, word_width=p.lanes * p.in_bits,
                          readers=(1, 3), name="buf")
        max_regs, max_of = ring.register(p.in_shape(), "vmax")
        sum_regs, sum_of = ring.register(unsigned(p.sum_bits), "vsum")
        recip_regs, recip_of = ring.register(unsigned(p.quotient_bits), "recip")

        # Stage 0: take beats, keep the running maximum.
        m.d.comb += self.i.ready.eq(ring.active(0))
        beat_max = reduce_tree(m, list(self.i.payload.x),
                               lambda a, b: Mux(a > b, a, b), "beat_max")
        running = Signal(p.in_shape(), name="running_max")
        new_max = Signal(p.in_shape(), name="new_max")
        taken = Signal(name="taken")
        m.d.comb += taken.eq(self.i.valid & self.i.ready)
        if p.pipeline >= 4:
            # The buffer's maximum is stored a cycle after its last beat, from the
            # running maximum's register. A beat is compared with ``base``: the
            # running maximum, or the smallest code before a vector's first beat
            # (then the beat wins, or equals it), so that one multiplexer follows
            # the comparison.
            smallest = -(1 << (p.in_bits - 1))
            base = Signal(p.in_shape(), name="max_base", init=smallest)
            m.d.comb += new_max.eq(Mux(beat_max > base, beat_max, base))
            with m.If(taken):
                m.d.sync += base.eq(Mux(ring.last_word(0), smallest, new_max))
            pending = register_stage(m, 1, "max_store", go=taken & ring.last_word(0),
                                     buffer=ring.pointer[0])
            with m.If(pending.go):
                ring.store(max_regs, 0, running, buffer=pending.buffer)
        else:
            m.d.comb += new_max.eq(Mux((ring.count[0] == 0) | (beat_max > running),
                                       beat_max, running))
        with m.If(taken):
            m.d.comb += ring.write(self.i.payload.x.as_value())
            m.d.sync += running.eq(new_max)
            if p.pipeline < 4:
                with m.If(ring.last_word(0)):
                    ring.store(max_regs, 0, new_max)
            ring.step(0)

        def exps(k, word, top):
            """The exp of ``top - x`` for every lane of ``word`` (stage ``k``)."""
            word = data.View(data.ArrayLayout(p.in_shape(), p.lanes), word)
            out = []
            for lane in range(p.lanes):
                d = Signal(p.in_bits, name=f"s{k}_diff{lane}")
                m.d.comb += d.eq(top - word[lane])
                out.append(exp_unit(m, p, d, f"s{k}_lane{lane}"))
            return out


        # Stage 1: exp and sum, through the cuts ``pipeline`` asks for: before the
        # difference (4), after the exp (3) and after the word's exp sum (1). The
        # buffer's total is stored as stage 1 hands the buffer on (pipeline 0),
        # a cycle later (1, 2), or one more cycle later per cut 3 and 4; stage
        # 2's divider starts ``sum_wait`` cycles after stage 2 gets the buffer
        # and first reads its divisor (with ``pipeline >= 3``, a register
        # copying the sum) a cycle after that.
        total = Signal(p.sum_bits, name="exp_sum")
        with m.If(ring.active(1)):
            ring.step(1)
        summed = {"take": ring.active(1), "last": ring.last_word(1),
                  "buffer": ring.pointer[1], "word": ring.word(1)}
        if p.pipeline >= 4:
            # the maximum is read a cycle later (stage 0 stores it a cycle late),
            # from the buffer the word came from
            summed = register_values(m, 1, "sum_word_cut", summed)
            summed["top"] = Array(max_regs)[summed["buffer"]]
        else:
            summed["top"] = max_of(1)
        summed.update({f"exp{lane}": e for lane, e in
                       enumerate(exps(1, summed.pop("word"), summed.pop("top")))})
        if p.pipeline >= 3:
            summed = register_values(m, 1, "sum_exp_cut", summed)
        summed["step_sum"] = reduce_tree(m, [summed.pop(f"exp{lane}") for lane in range(p.lanes)],
                                         lambda a, b: a + b, "step_sum")
        if p.pipeline >= 1:
            summed = register_values(m, 1, "sum_cut", summed)
        with m.If(summed["take"]):
            with m.If(summed["last"]):
                ring.store(sum_regs, 1, total + summed["step_sum"], buffer=summed["buffer"])
                m.d.sync += total.eq(0)
            with m.Else():
                m.d.sync += total.eq(total + summed["step_sum"])

        # Stage 2: the exact reciprocal of the sum.
        started = Signal(name="recip_started")
        start = Signal(name="recip_start")
        m.d.comb += start.eq(ring.active(2) & ~started)
        divide = delay_chain(m, start, "recip_wait", p.sum_wait)[-1]
        divisor = sum_of(2)
        if p.pipeline >= 3:
            # the buffer's sum, copied every cycle: the divider reads a register
            held = Signal.like(divisor, name="recip_divisor")
            m.d.sync += held.eq(divisor)
            divisor = held
        result, done = serial_reciprocal(m, start=divide, divisor=divisor,
                                         numerator_shift=p.recip_shift,
                                         quotient_bits=p.quotient_bits, name="recip",
                                         per_cycle=p.recip_steps)
        with m.If(start):
            m.d.sync += started.eq(1)
        with m.If(done):
            ring.store(recip_regs, 2, result)
            ring.finish(2)
            m.d.sync += started.eq(0)

        # Stage 3: normalize and send, through the cuts ``pipeline`` asks for
        # (before the difference (4), after the exp (1, and again with 3), after
        # the product (2)), which load with the output register (the stage
        # stalls as a whole).
        advance = stall_advance(m, self.o)
        with m.If(advance & ring.active(3)):
            ring.step(3)
        carried = {"valid": ring.active(3), "last": ring.last_word(3), "factor": recip_of(3),
                   "word": ring.word(3), "top": max_of(3)}
        if p.pipeline >= 4:
            carried = register_values(m, advance, "word_cut", carried)
        carried.update({f"exp{lane}": e for lane, e in
                        enumerate(exps(3, carried.pop("word"), carried.pop("top")))})
        if p.pipeline >= 1:
            carried = register_values(m, advance, "cut1", carried)
        if p.pipeline >= 3:
            carried = register_values(m, advance, "exp_cut", carried)
        factor = carried.pop("factor")
        # y = floor(scaled / 2**shift + 1/2) (lut, base2) is (scaled[shift-1:] + 1) >> 1;
        # ibert's floor is scaled[shift:]
        shift = p.recip_shift - p.out_frac
        rounds = p.method != "ibert"
        kept = shift - 1 if rounds else shift
        for lane in range(p.lanes):
            e = carried.pop(f"exp{lane}")
            scaled_e = Signal(p.exp_bits + 1 + p.quotient_bits, name=f"scaled{lane}")
            m.d.comb += scaled_e.eq(e * factor)
            # only the bits from the rounding position up reach the output
            carried[f"scaled{lane}"] = scaled_e[kept:]
        if p.pipeline >= 2:
            carried = register_values(m, advance, "cut2", carried)
        top = (1 << p.out_bits) - 1
        with m.If(advance):
            m.d.sync += [self.o.valid.eq(carried["valid"]),
                         self.o.payload.last.eq(carried["last"])]
        for lane in range(p.lanes):
            scaled_e = carried[f"scaled{lane}"]
            y = Signal(len(scaled_e) + 1 - rounds, name=f"y{lane}")
            m.d.comb += y.eq((scaled_e + 1) >> 1 if rounds else scaled_e)
            with m.If(advance):
                m.d.sync += self.o.payload.y[lane].eq(Mux(y > top, top, y))
        return m
