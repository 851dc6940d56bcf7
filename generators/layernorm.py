# SPDX-License-Identifier: BSD-2-Clause
"""Streaming LayerNorm over ``channels`` elements, ``lanes`` per beat: running
sums of x and x**2, an exact integer square root (or a reciprocal-square-root
table), normalization and an optional streamed affine gamma/beta."""

import dataclasses
import math

from amaranth.hdl import Module, Signal, Mux, Array, Const, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from accelgen.params import (UnitParams, param, check_int, check_bool, check_choice, require,
                             int_shape)
from accelgen.consts.layernorm import rsqrt_table, variance_width
from accelgen.hw.reduce import reduce_tree
from accelgen.hw.pipeline import register_values, delay_chain
from accelgen.hw.stream import stall_advance
from accelgen.hw.vector import BufferRing, serial_reciprocal, serial_isqrt, beat_rate

__all__ = ["Params", "LayerNorm", "METHODS", "SLICE_BITS"]

METHODS = ("isqrt", "rsqrt")

#: ``pipeline >= 4`` multiplies ``C*x - S1`` by the factor in slices of this many
#: bits: a slice, zero-extended, is a 16-bit signed operand (iCE40's SB_MAC16;
#: ECP5's MULT18X18D takes 18).
SLICE_BITS = 15


@dataclasses.dataclass(frozen=True, kw_only=True)
class Params(UnitParams):
    """Parameters of :class:`LayerNorm`."""

    unit = "layernorm"

    method: str = param("isqrt", "'isqrt' (exact integer square root, then an exact "
                                 "reciprocal) or 'rsqrt' (reciprocal square root from a "
                                 "table)", abbr="m")
    channels: int = param(64, "channels normalized together (2..1024), a multiple of "
                              "lanes", abbr="c")
    lanes: int = param(1, "elements per beat (1..16)", abbr="l")
    in_bits: int = param(8, "input width (signed, 2..16)", abbr="i")
    in_frac: int = param(4, "input fraction bits (0..16); cancels out of the result",
                         abbr="if")
    out_bits: int = param(8, "output width (signed, 2..16)", abbr="o")
    out_frac: int = param(4, "output fraction bits (0..12)", abbr="of")
    lut_bits: int = param(8, "rsqrt: table index bits (4..12)", abbr="t")
    affine: bool = param(False, "each beat also carries gamma and beta per element: "
                                "y * gamma + beta", abbr="aff")
    gamma_bits: int = param(8, "affine: gamma width (signed, 2..16)", abbr="g")
    gamma_frac: int = param(6, "affine: gamma fraction bits (0..15)", abbr="gf")
    stats_steps: int = param(1, "isqrt: root and reciprocal bits per cycle (1..4): more "
                                "logic, fewer cycles per vector", abbr="r")
    pipeline: int = param(4, "register cuts (0..4): 1 after C*x - S1 in the output stage, "
                             "2 also after its product with the factor and after the "
                             "products of V, 3 also after a beat's square and sums in the "
                             "load stage and before C*x - S1, 4 also after the partial "
                             "products of the factor's 15-bit slices and before the "
                             "products of V; each adds latency", abbr="p")

    def __post_init__(self):
        check_choice(self, "method", METHODS)
        check_int(self, "channels", min=2, max=1024)
        check_int(self, "lanes", min=1, max=16)
        require(self, self.channels % self.lanes == 0,
                f"channels must be a multiple of lanes = {self.lanes}, not {self.channels}")
        check_int(self, "in_bits", min=2, max=16)
        check_int(self, "in_frac", min=0, max=16)
        check_int(self, "out_bits", min=2, max=16)
        check_int(self, "out_frac", min=0, max=12)
        check_int(self, "lut_bits", min=4, max=12)
        if self.method == "rsqrt":
            w = self.variance_bits + self.variance_bits % 2
            check_int(self, "lut_bits", min=4, max=min(12, w),
                      when=f"method='rsqrt', in_bits={self.in_bits}, "
                           f"channels={self.channels}")
        check_bool(self, "affine")
        check_int(self, "gamma_bits", min=2, max=16)
        check_int(self, "gamma_frac", min=0, max=15)
        check_int(self, "stats_steps", min=1, max=4)
        check_int(self, "pipeline", min=0, max=4)

    @property
    def words(self):
        """Beats per vector: ``channels / lanes``."""
        return self.channels // self.lanes

    @property
    def log_channels(self):
        return math.ceil(math.log2(self.channels))

    @property
    def sum_bits(self):
        """Width of ``S1 = sum x`` (signed)."""
        return self.in_bits + self.log_channels

    @property
    def square_sum_bits(self):
        """Width of ``S2 = sum x**2`` (unsigned)."""
        return 2 * self.in_bits - 1 + self.log_channels

    @property
    def guard_bits(self):
        """``g``: the square root is taken of ``V * 4**g`` so that it has
        ``out_frac + log2(channels)/2 + 3`` bits beyond the output's."""
        return self.out_frac + (self.log_channels + 1) // 2 + 3

    @property
    def variance_bits(self):
        """Width of ``V = channels*S2 - S1**2`` (``channels**2`` times the variance
        in input LSBs squared; unsigned)."""
        return self.square_sum_bits + self.log_channels + 1

    @property
    def root_bits(self):
        """Width of ``isqrt(V * 4**g)``."""
        return (self.variance_bits + 2 * self.guard_bits + 1) // 2

    @property
    def numerator_bits(self):
        """Width of ``channels*x - S1`` (signed)."""
        return self.in_bits + self.log_channels + 1

    @property
    def recip_shift(self):
        """``K``: the factor is ``floor(2**K / isqrt(V * 4**g))``."""
        return self.numerator_bits + self.guard_bits + self.out_frac + 4

    @property
    def factor_bits(self):
        """Width of the factor: the root is at least ``2**g`` when ``V > 0``."""
        return self.recip_shift - self.guard_bits + 1

    @property
    def stats_cycles(self):
        """Cycles to turn the sums into the factor: ``isqrt`` the root, then the
        reciprocal, ``stats_steps`` bits per cycle each (``rsqrt``: 2); one more
        with ``pipeline >= 2`` (the products of ``V`` registered) and another
        with each of ``pipeline >= 3`` (the sums land a cycle later) and
        ``pipeline >= 4`` (the sums registered before their multiplies; with
        ``isqrt`` also the root's and the reciprocal's results, two more)."""
        cut = int(self.pipeline >= 2) + max(0, self.pipeline - 2)
        if self.method == "rsqrt":
            return 2 + cut
        return (-(-self.root_bits // self.stats_steps) - (-self.factor_bits // self.stats_steps)
                + cut + 2 * int(self.pipeline >= 4))

    @property
    def vector_cycles(self):
        """Cycles per vector in steady state."""
        return max(self.words, self.stats_cycles + 1)

    @property
    def latency(self):
        """Cycles from accepting a vector's last beat to its first result beat,
        with no stalls and the unit otherwise idle: ``stats_cycles + 3 + pipeline``
        (``stats_cycles`` counts the cut before the root)."""
        return self.stats_cycles + 3 + self.pipeline

    @property
    def throughput(self):
        """Beats (``lanes`` elements) accepted per cycle in steady state:
        ``words / vector_cycles`` (1 while ``words >= stats_cycles + 1``)."""
        return beat_rate(self.words, self.vector_cycles)

    def in_shape(self):
        return int_shape(self.in_bits, True)

    def out_shape(self):
        return int_shape(self.out_bits, True)

    def input_layout(self):
        fields = {"x": data.ArrayLayout(self.in_shape(), self.lanes)}
        if self.affine:
            fields["gamma"] = data.ArrayLayout(int_shape(self.gamma_bits, True), self.lanes)
            fields["beta"] = data.ArrayLayout(self.out_shape(), self.lanes)
        return data.StructLayout(fields)

    def output_layout(self):
        return data.StructLayout({"y": data.ArrayLayout(self.out_shape(), self.lanes),
                                  "last": 1})

    def manifest_extra(self):
        return {"input_scale": f"2**-{self.in_frac}", "output_scale": f"2**-{self.out_frac}",
                "vector": f"{self.words} beats of {self.lanes} elements in, the same out; "
                          f"o.last marks a vector's final beat",
                "vector_cycles": self.vector_cycles,
                "affine": (f"gamma signed {self.gamma_bits} bits, scale "
                           f"2**-{self.gamma_frac}; beta in the output format"
                           if self.affine else "none"),
                "overflow": "no intermediate can wrap (widths derived from channels and "
                            "the formats); outputs saturate to the signed out_bits range"}


class LayerNorm(wiring.Component):
    """Streaming LayerNorm over vectors of ``channels`` elements (docs/nonlinear.md;
    the golden model, golden/layernorm.py, gives every formula).

    A vector arrives as ``words = channels / lanes`` beats on ``i`` (with
    ``affine``, each element with its ``gamma`` and ``beta``) and leaves as
    ``words`` beats on ``o``, ``o.last`` on its final beat. Inputs are signed
    ``in_bits`` codes (their scale cancels); outputs signed ``out_bits`` codes of
    scale ``2**-out_frac``, rounded halves up. The mean is never rounded:
    ``(x - mu) / sigma = (C*x - S1) / sqrt(C*S2 - S1**2)``.

    Overflow: saturates, with no flag. Every intermediate (``S1`` and ``S2`` over
    ``C`` channels, ``V``, the root, the factor, the products with ``gamma``, the
    sum with ``beta``) is sized from the parameters and never wraps; the
    rounded output is clamped to ``-2**(out_bits-1) .. 2**(out_bits-1)-1``. One
    outlier among ``C`` equal values lies ``sqrt(C - 1)`` deviations out, so
    narrow outputs reach both bounds.

    Three stages work on three vectors at once, each in its own buffer
    (:class:`accelgen.hw.vector.BufferRing`):

    0. take ``words`` beats into the buffer, summing ``x`` and ``x**2``;
    1. ``V = C*S2 - S1**2``; ``isqrt``: the exact root of ``V * 4**guard_bits``
       and the exact reciprocal, ``stats_steps`` bits per cycle each;
       ``rsqrt``: a table lookup (``stats_cycles`` cycles in all, plus one);
    2. read the buffer: ``(C*x - S1) * factor`` (``* gamma``, ``+ beta``),
       rounded, out on ``o``.

    Stage 2 reads the buffer through a synchronous (block RAM) read. Register
    cuts (``pipeline``, 0 to 4):

    1. stage 2: after ``C*x - S1`` (with the factor, ``gamma``, ``beta``);
    2. stage 2: after its product with the factor; stage 1: after ``C*S2``
       and ``S1**2``, before their difference ``V`` goes to the root or table;
    3. stage 0: after a beat's square and sums, before they are added to the
       running sums; stage 2: before ``C*x - S1`` (the buffer's word and
       ``S1``), so that the buffer's block RAM feeds a flip-flop;
    4. stage 2: after the products of the factor's ``SLICE_BITS``-bit (15)
       slices with ``C*x - S1`` (each fits a 16x16 signed multiplier when
       ``C*x - S1`` does), before they are added; stage 1: after the
       buffer's ``S1`` and ``S2``, before their multiplies, and (``isqrt``)
       the root and the reciprocal come from their registers, a cycle later
       each.

    Stage 2's cuts load with the output register and stall with it; stages 0
    and 1 never stall. Each cut of stages 0 and 1 adds a cycle to
    ``stats_cycles``. The root and the reciprocal are non-restoring
    (:func:`accelgen.hw.vector.serial_isqrt`, ``serial_reciprocal``): each
    step one add/subtract chosen by a registered sign.

    Critical path on the ECP5 (nextpnr, the Fmax harness, ``isqrt``, one
    lane): with ``pipeline == 2``, from the input through stage 0's square (a
    multiplier) and the running sum of squares to its register; with
    ``pipeline == 3``, from cut 1 through the multiplier by the factor to cut
    2; with ``pipeline == 4`` (the default), a multiplier alone between
    registers (a DSP block: stage 0's square or a stage-2 slice product).

    Timing: a vector every ``vector_cycles = max(words, stats_cycles + 1)``
    cycles in steady state; ``latency = stats_cycles + 3 + pipeline`` cycles
    from its last beat in to its first beat out when the unit was idle.
    ``i.ready`` is low while the next buffer is still in use; ``o`` stalls
    only stage 2.
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
        layout = p.input_layout()


        ring = BufferRing(m, stages=3, words=p.words, word_width=layout.size,
                          readers=(2,), name="buf")
        s1_regs, s1_of = ring.register(signed(p.sum_bits), "sum")
        s2_regs, s2_of = ring.register(unsigned(p.square_sum_bits), "square_sum")
        f_regs, f_of = ring.register(unsigned(p.factor_bits), "factor")

        # Stage 0: take beats, sum x and x**2.
        x = self.i.payload.x
        m.d.comb += self.i.ready.eq(ring.active(0))
        squares = []
        for lane in range(p.lanes):
            sq = Signal(2 * p.in_bits - 1, name=f"square{lane}")
            m.d.comb += sq.eq(x[lane] * x[lane])
            squares.append(sq)
        beat_sum = reduce_tree(m, list(x), lambda a, b: a + b, "beat_sum")
        beat_squares = reduce_tree(m, squares, lambda a, b: a + b, "beat_square_sum")
        s1 = Signal(signed(p.sum_bits), name="running_sum")
        s2 = Signal(p.square_sum_bits, name="running_square_sum")
        taken = Signal(name="taken")
        m.d.comb += taken.eq(self.i.valid & self.i.ready)
        with m.If(taken):
            m.d.comb += ring.write(self.i.payload.as_value())
            ring.step(0)
        # With ``pipeline >= 3`` a beat's square and sums are registered before
        # they are added: the buffer's sums land a cycle after it is handed on.
        loaded = {"take": taken, "last": ring.last_word(0), "buffer": ring.pointer[0],
                  "beat_sum": beat_sum, "beat_squares": beat_squares}
        if p.pipeline >= 3:
            loaded = register_values(m, 1, "load_cut", loaded)
        with m.If(loaded["take"]):
            with m.If(loaded["last"]):
                ring.store(s1_regs, 0, s1 + loaded["beat_sum"], buffer=loaded["buffer"])
                ring.store(s2_regs, 0, s2 + loaded["beat_squares"], buffer=loaded["buffer"])
                m.d.sync += [s1.eq(0), s2.eq(0)]
            with m.Else():
                m.d.sync += [s1.eq(s1 + loaded["beat_sum"]), s2.eq(s2 + loaded["beat_squares"])]

        # Stage 1: variance numerator, then the factor. With ``pipeline >= 4`` the
        # buffer's sums are registered (the sums stay put while stage 1 owns the
        # buffer) before their multiplies: V is a cycle later.
        sum1, square_sum1 = s1_of(1), s2_of(1)
        if p.pipeline >= 4:
            held = register_values(m, 1, "sums_cut", {"sum1": sum1, "square_sum1": square_sum1})
            sum1, square_sum1 = held["sum1"], held["square_sum1"]
        scaled_square_sum = Signal(p.square_sum_bits + p.log_channels, name="scaled_square_sum")
        square = Signal(2 * p.sum_bits - 1, name="sum_square")
        m.d.comb += [scaled_square_sum.eq(p.channels * square_sum1), square.eq(sum1 * sum1)]
        started = Signal(name="stats_started")
        first = Signal(name="stats_first")  # stage 1's first cycle on a buffer
        m.d.comb += first.eq(ring.active(1) & ~started)
        with m.If(first):
            m.d.sync += started.eq(1)
        # the cycle the sums reach the multiplies: a cycle later with stage 0's
        # cut, another with the sums' own
        first = delay_chain(m, first, "stats_wait", max(0, p.pipeline - 2))[-1]
        start = Signal(name="stats_start")  # V is ready: the root (or table) starts
        if p.pipeline >= 2:
            # Cut between the multiplies of V and its subtraction (the sums stay
            # put while stage 1 owns the buffer): the root starts a cycle later.
            products = [Signal.like(scaled_square_sum, name="scaled_square_sum_cut"),
                        Signal.like(square, name="sum_square_cut")]
            m.d.sync += [products[0].eq(scaled_square_sum), products[1].eq(square),
                         start.eq(first)]
            scaled_square_sum, square = products
        else:
            m.d.comb += start.eq(first)
        variance = Signal(p.variance_bits, name="variance")
        m.d.comb += variance.eq(scaled_square_sum - square)
        factor = Signal(p.factor_bits, name="factor")
        done = Signal(name="stats_done")
        if p.method == "isqrt":
            # With ``pipeline >= 4`` the root and the factor come from their
            # registers, a cycle later each; the root's holds while it divides.
            root, root_done = serial_isqrt(m, start=start, value=variance,
                                           root_bits=p.root_bits, shift=p.guard_bits,
                                           name="isqrt", per_cycle=p.stats_steps,
                                           registered=p.pipeline >= 4)
            if p.pipeline >= 4:
                divisor = root
            else:
                divisor = Signal(p.root_bits, name="root")
                with m.If(root_done):
                    m.d.sync += divisor.eq(root)
            quotient, done_div = serial_reciprocal(m, start=root_done, divisor=divisor,
                                                   numerator_shift=p.recip_shift,
                                                   quotient_bits=p.factor_bits,
                                                   name="recip", per_cycle=p.stats_steps,
                                                   registered=p.pipeline >= 4)
            m.d.comb += [done.eq(done_div), factor.eq(Mux(divisor == 0, 0, quotient))]
        else:
            self.rsqrt_factor(m, p, start, variance, factor, done)
        with m.If(done):
            ring.store(f_regs, 1, factor)
            ring.finish(1)
            m.d.sync += started.eq(0)

        # Stage 2: normalize and send, through ``pipeline`` register cuts that load
        # with the output register (the stage stalls as a whole).
        advance = stall_advance(m, self.o)
        shift = p.recip_shift - p.guard_bits - p.out_frac
        lo, hi = -(1 << (p.out_bits - 1)), (1 << (p.out_bits - 1)) - 1
        with m.If(advance & ring.active(2)):
            ring.step(2)
        carried = {"valid": ring.active(2), "last": ring.last_word(2), "factor": f_of(2),
                   "word": ring.word(2), "sum": s1_of(2)}
        if p.pipeline >= 3:
            carried = register_values(m, advance, "word_cut", carried)
        word = data.View(layout, carried.pop("word"))
        sum2 = carried.pop("sum")
        for lane in range(p.lanes):
            numer = Signal(signed(p.numerator_bits), name=f"numerator{lane}")
            m.d.comb += numer.eq(p.channels * word.x[lane] - sum2)
            carried[f"numerator{lane}"] = numer
        if p.affine:
            carried.update({f"gamma{lane}": word.gamma[lane] for lane in range(p.lanes)})
            carried.update({f"beta{lane}": word.beta[lane] for lane in range(p.lanes)})
        if p.pipeline >= 1:
            carried = register_values(m, advance, "cut1", carried)
        # ``pipeline >= 4``: the products with the factor's SLICE_BITS-bit slices
        # are registered, then shifted into place and added (each slice's
        # product fits a 16x16 signed multiplier when the numerator does).
        factor = carried.pop("factor")
        slices = range(0, p.factor_bits, SLICE_BITS) if p.pipeline >= 4 else (0,)
        for lane in range(p.lanes):
            numer = carried.pop(f"numerator{lane}")
            for j, at in enumerate(slices):
                part = factor[at:at + SLICE_BITS] if p.pipeline >= 4 else factor
                prod = Signal(signed(p.numerator_bits + len(part) + 1),
                              name=f"partial{lane}_{j}")
                m.d.comb += prod.eq(numer * part)
                carried[f"partial{lane}_{j}"] = prod
        if p.pipeline >= 4:
            carried = register_values(m, advance, "product_cut", carried)
        for lane in range(p.lanes):
            y = Signal(signed(p.numerator_bits + p.factor_bits + 1), name=f"normalized{lane}")
            m.d.comb += y.eq(sum(carried.pop(f"partial{lane}_{j}") << at
                                 for j, at in enumerate(slices)))
            carried[f"normalized{lane}"] = y
        if p.pipeline >= 2:
            carried = register_values(m, advance, "cut2", carried)
        with m.If(advance):
            m.d.sync += [self.o.valid.eq(carried["valid"]),
                         self.o.payload.last.eq(carried["last"])]
        for lane in range(p.lanes):
            y = carried[f"normalized{lane}"]
            if p.affine:
                scaled = Signal(signed(len(y) + p.gamma_bits), name=f"scaled{lane}")
                m.d.comb += scaled.eq(y * carried[f"gamma{lane}"])
                rounded = Signal(signed(max(len(scaled) - shift - p.gamma_frac + 1,
                                            p.out_bits) + 2), name=f"rounded{lane}")
                m.d.comb += rounded.eq(((scaled + (1 << (shift + p.gamma_frac - 1)))
                                        >> (shift + p.gamma_frac)) + carried[f"beta{lane}"])
            else:
                rounded = Signal(signed(len(y) - shift + 1), name=f"rounded{lane}")
                m.d.comb += rounded.eq((y + (1 << (shift - 1))) >> shift)
            with m.If(advance):
                m.d.sync += self.o.payload.y[lane].eq(
                    Mux(rounded > hi, hi, Mux(rounded < lo, lo, rounded)))
        return m

    @staticmethod
    def rsqrt_factor(m, p, start, variance, factor, done):
        """The ``rsqrt`` factor in three cycles: latch ``V``; normalise it by an
        even shift and look up the table; shift the entry."""
        w = variance_width(p)
        held = Signal(w, name="rsqrt_variance")
        phase = Signal(2, name="rsqrt_phase")
        even = Signal(range(w), name="rsqrt_shift")  # s: V << s in [2**(w-2), 2**w)
        m.d.comb += even.eq(0)
        for s in range(2, w - 1, 2):  # the largest even s that fits wins
            with m.If(held < (1 << (w - s))):
                m.d.comb += even.eq(s)
        normal = Signal(w, name="rsqrt_normal")
        m.d.comb += normal.eq(held << even)
        table = rsqrt_table(p)
        used = 1 << (p.lut_bits - 2)  # normalised values index the top 3/4 only
        rom = Array(Const(int(v) if k >= used else 0, 18) for k, v in enumerate(table))
        entry = Signal(18, name="rsqrt_entry")
        half_shift = Signal(range(w), name="rsqrt_half_shift")
        zero = Signal(name="rsqrt_zero")
        base = w // 2 + 16 - (p.recip_shift - p.guard_bits)  # shift = base - s/2
        pre = max(0, -(base - (w - 2) // 2))
        wide = Signal(18 + pre, name="rsqrt_wide")
        amount = Signal(range(base + pre + 1), name="rsqrt_amount")
        m.d.comb += [done.eq(phase == 2), wide.eq(entry << pre),
                     amount.eq(base + pre - half_shift),
                     factor.eq(Mux(zero, 0, wide >> amount))]
        with m.If(start):
            m.d.sync += [held.eq(variance), phase.eq(1)]
        with m.Elif(phase == 1):
            m.d.sync += [entry.eq(rom[normal[w - p.lut_bits:]]), half_shift.eq(even >> 1),
                         zero.eq(held == 0), phase.eq(2)]
        with m.Elif(phase == 2):
            m.d.sync += phase.eq(0)
