# SPDX-License-Identifier: BSD-2-Clause
"""The shared verification machinery can fail: scoreboard, payload packing and
(under Verilator) the stream monitor's handshake checks."""

import logging

import pytest
from amaranth.back import verilog
from amaranth.hdl import Module, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

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


def test_sim_speed_reads_cocotb_results(tmp_path):
    from accelgen.verif.runner import sim_speed
    xml = tmp_path / "results.xml"
    case = ('<testcase name="t{n}" time="{t}"><properties>'
            '<property name="sim_time_unit" value="ns" />'
            '<property name="sim_time_duration" value="{ns}" /></properties></testcase>')
    xml.write_text("<testsuites><testsuite>" + case.format(n=1, t=0.5, ns=1000.0) +
                   case.format(n=2, t=1.5, ns=3000.0) + "</testsuite></testsuites>")
    assert sim_speed(xml) == (400.0, 2.0)
