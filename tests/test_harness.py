# SPDX-License-Identifier: BSD-2-Clause
"""The shared verification machinery can fail: scoreboard, payload packing and
(under Verilator) the stream monitor's handshake checks."""

import logging
import random

import pytest
from amaranth.back import verilog
from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from accelgen.verif.amaranth_sim import run_stream, run_vectors, sweep_combinational
from accelgen.verif.payload import pack, unpack, to_bits
from accelgen.verif.scoreboard import Scoreboard


def test_scoreboard_counts_mismatches_and_leftovers():
    sb = Scoreboard(logging.getLogger("test"))
    sb.expect(1)
    sb.expect(2)
    sb.observe(1)
    sb.observe(3)
    sb.observe(4)
    with pytest.raises(AssertionError, match=r"^scoreboard: 2 errors, 0 items never seen, "
                                             r"1 matched$"):
        sb.check()
    sb = Scoreboard(logging.getLogger("test"))
    sb.expect(5)
    with pytest.raises(AssertionError, match=r"1 items never seen"):
        sb.check()
    sb.flush()
    sb.check()


def test_pack_uses_layout_offsets():
    layout = data.StructLayout({"a": signed(4), "b": unsigned(3), "last": 1})
    bits = pack(layout, a=-1, b=5, last=1)
    assert bits == 0b1_101_1111
    assert unpack(layout, bits) == {"a": -1, "b": 5, "last": 1}
    assert unpack(signed(8), 0xFF) == -1
    with pytest.raises(ValueError, match=r"^8 does not fit in 3 bits$"):
        to_bits(8, 3)
    with pytest.raises(KeyError):
        pack(layout, c=1)


def test_pack_array_fields_element_zero_low():
    layout = data.StructLayout({"acc": data.ArrayLayout(signed(4), 3), "flag": 1})
    bits = pack(layout, acc=[1, -1, -8], flag=1)
    assert bits == (1 << 12) | (0x8 << 8) | (0xF << 4) | 0x1
    assert unpack(layout, bits) == {"acc": [1, -1, -8], "flag": 1}
    with pytest.raises(ValueError, match=r"^2 values for an array of 3$"):
        pack(layout, acc=[1, 2])


class StreamViolator(wiring.Component):
    """A counting stream; ``mode`` 1 drops valid and 2 changes the payload while
    the beat waits for ready."""

    mode: In(2)
    o: Out(stream.Signature(8))

    def elaborate(self, platform):
        m = Module()
        with m.If(~self.o.valid | self.o.ready):
            m.d.sync += [self.o.valid.eq(1), self.o.payload.eq(self.o.payload + 1)]
        with m.Elif(self.mode == 1):
            m.d.sync += self.o.valid.eq(0)
        with m.Elif(self.mode == 2):
            m.d.sync += self.o.payload.eq(self.o.payload + 100)
        return m


@pytest.mark.cocotb
def test_stream_monitor_under_verilator():
    from accelgen.verif.runner import build_verilog, run_tests
    module = "harness_stream_violator"
    text = verilog.convert(StreamViolator(), name=module, emit_src=False)
    runner, build_dir, seconds = build_verilog(module, text)
    result = run_tests(runner, build_dir, module, "accelgen.verif.selftest")
    assert result.tests == 3


def test_simulate_stops_at_the_cycle_budget_and_when_done():
    from amaranth.hdl import Module
    from accelgen.verif.amaranth_sim import simulate

    class Counter(wiring.Component):
        count: Out(8)

        def elaborate(self, platform):
            m = Module()
            m.d.sync += self.count.eq(self.count + 1)
            return m

    dut = Counter()
    seen = []

    async def waits_forever(ctx):
        # A plain tick loop: a testbench abandoned inside tick().until() also makes
        # Python report an unraisable error when it is collected.
        while True:
            await ctx.tick()

    with pytest.raises(AssertionError, match=r"^1 testbench\(es\) did not finish within "
                                             r"50 cycles$"):
        simulate(dut, waits_forever, max_cycles=50)

    async def short(ctx):
        await ctx.tick().repeat(3)
        seen.append(ctx.get(dut.count))

    dut = Counter()
    simulate(dut, short, max_cycles=10**9)  # returns as soon as the testbench is done
    assert seen == [3]


class _Delay(wiring.Component):
    """A stream of 8-bit words through a two-entry queue, with ``last`` set on
    every ``period``-th output word (``period=0``: never)."""

    def __init__(self, period=0):
        self.period = period
        i_layout = data.StructLayout({"x": data.ArrayLayout(8, 1)})
        o_layout = data.StructLayout({"y": data.ArrayLayout(8, 1), "last": 1})
        super().__init__({"i": In(stream.Signature(i_layout)),
                          "o": Out(stream.Signature(o_layout))})

    def elaborate(self, platform):
        from amaranth.lib.fifo import SyncFIFOBuffered
        m = Module()
        m.submodules.fifo = fifo = SyncFIFOBuffered(width=8, depth=2)
        count = Signal(range(max(self.period, 1)))
        m.d.comb += [fifo.w_data.eq(self.i.payload.x[0]), fifo.w_en.eq(self.i.valid),
                     self.i.ready.eq(fifo.w_rdy),
                     self.o.payload.y[0].eq(fifo.r_data), self.o.valid.eq(fifo.r_rdy),
                     fifo.r_en.eq(self.o.ready),
                     self.o.payload.last.eq(count == self.period - 1 if self.period else 0)]
        if self.period:
            with m.If(self.o.valid & self.o.ready):
                m.d.sync += count.eq(Mux(count == self.period - 1, 0, count + 1))
        return m


class _VectorShape:
    """The ``words``/``lanes``/``vector_cycles`` a vector unit's ``Params`` offer."""
    words, lanes, vector_cycles = 3, 1, 3


@pytest.mark.sim
def test_run_stream_keeps_order_under_stalls():
    words = list(range(40))
    got = run_stream(_Delay(), [{"x": [w]} for w in words], len(words), max_cycles=2000,
                     read=lambda b: int(b.y[0]), rng=random.Random(3), idle=0.5,
                     backpressure=0.5)
    assert got == words


@pytest.mark.sim
def test_run_vectors_checks_last():
    x = [[1, 2, 3], [4, 5, 6]]
    assert run_vectors(_Delay(period=3), _VectorShape, {"x": x},
                       rng=random.Random(1), idle=0.3, backpressure=0.3) == x
    with pytest.raises(AssertionError, match=r"^o.last is not on the last of every 3 beats: "
                                             r"\[0, 1, 0, 1, 0, 1\]$"):
        run_vectors(_Delay(period=2), _VectorShape, {"x": x})


@pytest.mark.sim
def test_sweep_combinational_reads_settled_outputs():
    class Add(wiring.Component):
        a: In(4)
        b: In(4)
        s: Out(5)
        d: Out(signed(5))

        def elaborate(self, platform):
            m = Module()
            m.d.comb += [self.s.eq(self.a + self.b), self.d.eq(self.a - self.b)]
            return m

    rows = [{"a": a, "b": b} for a in range(16) for b in range(16)]
    assert sweep_combinational(Add(), rows, ("s", "d")) == [
        (r["a"] + r["b"], r["a"] - r["b"]) for r in rows]


def test_sim_speed_reads_cocotb_results(tmp_path):
    from accelgen.verif.runner import sim_speed
    xml = tmp_path / "results.xml"
    case = ('<testcase name="t{n}" time="{t}"><properties>'
            '<property name="sim_time_unit" value="ns" />'
            '<property name="sim_time_duration" value="{ns}" /></properties></testcase>')
    xml.write_text("<testsuites><testsuite>" + case.format(n=1, t=0.5, ns=1000.0) +
                   case.format(n=2, t=1.5, ns=3000.0) + "</testsuite></testsuites>")
    assert sim_speed(xml) == (400.0, 2.0)
