# SPDX-License-Identifier: BSD-2-Clause
"""accelgen.hw.vector.BufferRing: every reading stage sees the words stage 0 wrote, in
order, one a cycle and with no added latency, under random stalls; its memory lands
in block RAM; the serial reciprocal and square root are exact, in their declared
cycles; the vector units built on it keep their declared latency and rate."""

import math

import random
from types import SimpleNamespace

import pytest
from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from accelgen.flow.synth import synthesize
from accelgen.generators import layernorm, softmax
from accelgen.hw.vector import BufferRing, serial_cycles, serial_isqrt, serial_reciprocal
from accelgen.registry import module_name
from accelgen.verif.amaranth_sim import simulate

__all__ = []

WIDTH = 8


class _Ring(wiring.Component):
    """A :class:`BufferRing` alone: stage 0 writes ``wdata`` when ``wvalid`` and it
    owns a buffer; stage ``k > 0`` takes its word (a reader: ``step``; otherwise
    ``finish``) when it owns a buffer and ``go[k]`` is high. ``word[k]`` is the
    reader's word, ``take[k]`` high in the cycles stage ``k`` takes one."""

    def __init__(self, *, stages, words, readers):
        self.stages, self.words, self.readers = stages, words, readers
        super().__init__({"wdata": In(WIDTH), "wvalid": In(1), "wready": Out(1),
                          "go": In(stages), "take": Out(stages),
                          **{f"word{k}": Out(WIDTH) for k in readers}})

    def elaborate(self, platform):
        m = Module()
        self.ring = ring = BufferRing(m, stages=self.stages, words=self.words,
                                      word_width=WIDTH, readers=self.readers, name="ring")
        m.d.comb += self.wready.eq(ring.active(0))
        with m.If(self.wvalid & self.wready):
            m.d.comb += ring.write(self.wdata)
            ring.step(0)
        for k in range(1, self.stages):
            m.d.comb += self.take[k].eq(ring.active(k) & self.go[k])
            with m.If(self.take[k]):
                if k in self.readers:
                    ring.step(k)
                else:
                    ring.finish(k)
            if k in self.readers:
                m.d.comb += getattr(self, f"word{k}").eq(ring.word(k))
        return m


def _run(dut, vectors, *, seed, idle, stall):
    """Write ``vectors`` vectors of distinct words (idle with probability ``idle``),
    let every later stage stall with probability ``stall``; return the cycles of
    the writes and, per reader, the ``(cycle, word)`` it took. In every cycle each
    stage's :meth:`~BufferRing.active` register must equal its definition: the
    buffer its pointer is at is in the stage's state."""
    rng = random.Random(seed)
    total = vectors * dut.words
    data = [rng.randrange(1 << WIDTH) for _ in range(total)]
    writes, reads = [], {k: [] for k in dut.readers}

    async def bench(ctx):
        cycle = 0
        while len(writes) < total or any(len(r) < total for r in reads.values()):
            if len(writes) < total and rng.random() >= idle:
                ctx.set(dut.wvalid, 1)
                ctx.set(dut.wdata, data[len(writes)])
            else:
                ctx.set(dut.wvalid, 0)
                ctx.set(dut.wdata, rng.randrange(1 << WIDTH))
            ctx.set(dut.go, sum(1 << k for k in range(1, dut.stages)
                                if rng.random() >= stall))
            if ctx.get(dut.wvalid) and ctx.get(dut.wready):
                writes.append(cycle)
            ring = dut.ring
            for k in range(dut.stages):
                at = ctx.get(ring.pointer[k])
                owns = ctx.get(ring.state[at]) == k
                assert ctx.get(ring.active(k)) == owns, f"stage {k} active, cycle {cycle}"
            take = ctx.get(dut.take)
            for k in dut.readers:
                if take >> k & 1:
                    reads[k].append((cycle, ctx.get(getattr(dut, f"word{k}"))))
            await ctx.tick()
            cycle += 1

    simulate(dut, bench, max_cycles=total * dut.stages * 20 + 200)
    return data, writes, reads


RINGS = ([(4, words, (1, 3)) for words in (1, 2, 3, 5)] + [(3, words, (2,)) for words in (1, 4)]
         + [(2, words, (1,)) for words in (1, 3)])


@pytest.mark.sim
@pytest.mark.parametrize("stages,words,readers", RINGS,
                         ids=[f"s{s}_w{w}" for s, w, _ in RINGS])
def test_readers_see_the_written_words_under_stalls(stages, words, readers):
    dut = _Ring(stages=stages, words=words, readers=readers)
    data, _writes, reads = _run(dut, 6, seed=words * 10 + stages, idle=0.3, stall=0.3)
    for k, got in reads.items():
        assert [word for _cycle, word in got] == data, f"stage {k}"


@pytest.mark.sim
@pytest.mark.parametrize("stages,words,readers", RINGS,
                         ids=[f"s{s}_w{w}" for s, w, _ in RINGS])
def test_one_word_a_cycle_with_no_added_latency(stages, words, readers):
    """With no stalls, stage 0 writes a word every cycle, and stage 1 (or the first
    reader after a one-cycle ``finish`` stage) takes word ``j`` of a vector ``words``
    cycles (``words + 1``) after it was written, the next cycle after its last."""
    dut = _Ring(stages=stages, words=words, readers=readers)
    data, writes, reads = _run(dut, 5, seed=1, idle=0.0, stall=0.0)
    assert writes == list(range(5 * words))
    k = readers[0]
    delay = words + (k - 1)  # each finish-only stage before it holds a buffer a cycle
    assert [cycle for cycle, _word in reads[k]] == [c + delay for c in writes]
    assert [word for _cycle, word in reads[k]] == data


@pytest.mark.synth
def test_buffers_land_in_block_ram(tmp_path):
    """Four buffers of 64 bytes with two reading stages (the default softmax's ring)
    map to ECP5 block RAM (DP16KD), not to LUT RAM or flip-flops."""
    dut = _Ring(stages=4, words=64, readers=(1, 3))
    emitted = SimpleNamespace(module="buffer_ring_probe", verilog="", manifest_text="")
    result = synthesize(emitted, dut, "ecp5", tmp_path)
    assert result["BRAM"] >= 1 and result["LUTRAM"] == 0, result
    assert result["FF"] < 128, result  # counters, pointers, states: not 2,048 bits of buffer


class _Serial(wiring.Component):
    """``serial_reciprocal`` (``kind="recip"``: ``floor(2**shift / value)``) or
    ``serial_isqrt`` (``"isqrt"``: ``isqrt(value * 4**shift)``) alone: ``start``
    loads ``value`` (held in a register, as the units hold their divisors)."""

    def __init__(self, kind, *, value_bits, result_bits, shift, per_cycle, registered=False):
        self.kind, self.result_bits, self.shift, self.per_cycle = (
            kind, result_bits, shift, per_cycle)
        self.registered = registered
        self.value_bits = value_bits
        super().__init__({"start": In(1), "value": In(value_bits),
                          "result": Out(result_bits), "done": Out(1)})

    def elaborate(self, platform):
        m = Module()
        held = Signal(self.value_bits)
        with m.If(self.start):
            m.d.sync += held.eq(self.value)
        if self.kind == "recip":
            result, done = serial_reciprocal(
                m, start=self.start, divisor=held, numerator_shift=self.shift,
                quotient_bits=self.result_bits, name="recip", per_cycle=self.per_cycle,
                registered=self.registered)
        else:
            result, done = serial_isqrt(
                m, start=self.start, value=self.value, root_bits=self.result_bits,
                shift=self.shift, name="isqrt", per_cycle=self.per_cycle,
                registered=self.registered)
        m.d.comb += [self.result.eq(result), self.done.eq(done)]
        return m


def _serial_results(dut, values):
    """Start ``dut`` on each of ``values`` in turn; return ``(result, cycles)`` of each,
    ``cycles`` counted from the start strobe to the ``done`` strobe."""
    got = []

    async def bench(ctx):
        for value in values:
            ctx.set(dut.value, value)
            ctx.set(dut.start, 1)
            await ctx.tick()
            ctx.set(dut.start, 0)
            ctx.set(dut.value, 0)  # the divisor is held; the radicand was loaded
            cycles = 1
            while not ctx.get(dut.done):
                await ctx.tick()
                cycles += 1
            got.append((ctx.get(dut.result), cycles))
            await ctx.tick()

    bound = len(values) * (serial_cycles(dut.result_bits, dut.per_cycle) + 4) + 20
    simulate(dut, bench, max_cycles=bound)
    return got


@pytest.mark.sim
@pytest.mark.parametrize("per_cycle,registered", [(1, False), (2, False), (3, False),
                                                  (4, False), (3, True)])
def test_serial_reciprocal_is_exact(per_cycle, registered):
    """``floor(2**9 / d)`` for every divisor ``d`` of 6 bits the 7-bit quotient
    allows (``d > 2**(9 - 7)``), ``ceil(7 / per_cycle)`` cycles after the start
    (one more when the result is ``registered``)."""
    dut = _Serial("recip", value_bits=6, result_bits=7, shift=9, per_cycle=per_cycle,
                  registered=registered)
    divisors = list(range(5, 64))
    got = _serial_results(dut, divisors)
    assert [r for r, _ in got] == [(1 << 9) // d for d in divisors]
    assert {c for _, c in got} == {serial_cycles(7, per_cycle) + registered}


@pytest.mark.sim
@pytest.mark.parametrize("per_cycle,registered", [(1, False), (2, False), (3, False),
                                                  (4, False), (2, True)])
def test_serial_isqrt_is_exact(per_cycle, registered):
    """``isqrt(v * 4)`` for every 7-bit ``v`` (a 5-bit root), ``ceil(5 / per_cycle)``
    cycles after the start (one more when the result is ``registered``)."""
    dut = _Serial("isqrt", value_bits=7, result_bits=5, shift=1, per_cycle=per_cycle,
                  registered=registered)
    values = list(range(128))
    got = _serial_results(dut, values)
    assert [r for r, _ in got] == [math.isqrt(v * 4) for v in values]
    assert {c for _, c in got} == {serial_cycles(5, per_cycle) + registered}


def _vector_timing(dut, p, vectors):
    """``vectors`` vectors offered back to back, ``o`` always ready: the cycles in
    which input beats were taken and output beats left."""
    rng = random.Random(3)
    beats = vectors * p.words
    ins, outs = [], []

    async def bench(ctx):
        ctx.set(dut.o.ready, 1)
        cycle = 0
        while len(outs) < beats:
            ctx.set(dut.i.valid, len(ins) < beats)
            ctx.set(dut.i.payload.as_value(), rng.getrandbits(len(dut.i.payload.as_value())))
            if ctx.get(dut.i.valid) and ctx.get(dut.i.ready):
                ins.append(cycle)
            if ctx.get(dut.o.valid):
                outs.append(cycle)
            await ctx.tick()
            cycle += 1

    simulate(dut, bench, max_cycles=vectors * (p.vector_cycles + p.latency) * 4 + 200)
    return ins, outs


TIMED = [softmax.Params(n=8), softmax.Params(n=8, recip_steps=3, exp_bits=8),
         softmax.Params(n=4, lanes=4, recip_steps=4, lut_bits=2, method="base2"),
         softmax.Params(n=8, lanes=2, pipeline=1),
         softmax.Params(n=7, recip_steps=3, exp_bits=8, pipeline=1),  # words = recip + 1
         softmax.Params(n=8, recip_steps=3, exp_bits=8, pipeline=2),  # stage 1 sets the rate
         softmax.Params(n=4, lanes=4, recip_steps=4, lut_bits=2, method="base2", pipeline=1),
         softmax.Params(n=2, recip_steps=4, method="ibert", in_bits=16, in_frac=10, pipeline=2),
         softmax.Params(n=7, recip_steps=3, exp_bits=8, pipeline=3),  # stage 2 sets the rate
         # words = recip_cycles + 1 + sum_wait
         softmax.Params(n=10, recip_steps=3, exp_bits=8, pipeline=4),
         layernorm.Params(channels=8), layernorm.Params(channels=16, stats_steps=4, pipeline=1),
         layernorm.Params(channels=4, lanes=4, method="rsqrt", lut_bits=4, pipeline=2),
         layernorm.Params(channels=4, stats_steps=4, affine=True, pipeline=2),
         layernorm.Params(channels=4, lanes=2, method="rsqrt", lut_bits=4, pipeline=3)]


@pytest.mark.sim
@pytest.mark.parametrize("p", TIMED, ids=module_name)
def test_vector_units_keep_latency_and_rate(p):
    """Through the ring's synchronous reads: a vector's first result beat leaves
    ``latency`` cycles after its last beat is taken, and vectors back to back
    leave one every ``vector_cycles`` cycles, each as ``words`` beats in a row."""
    dut = (softmax.Softmax if p.unit == "softmax" else layernorm.LayerNorm)(p)
    ins, outs = _vector_timing(dut, p, 12)
    words = p.words
    assert outs[0] - ins[words - 1] == p.latency
    firsts = outs[::words]
    assert all(outs[k + words - 1] - outs[k] == words - 1 for k in range(0, len(outs), words))
    gaps = [b - a for a, b in zip(firsts, firsts[1:])]
    assert gaps[len(gaps) // 2:] == [p.vector_cycles] * (len(gaps) - len(gaps) // 2), gaps
