# SPDX-License-Identifier: BSD-2-Clause
"""cocotb testbench of ``int_mac``: random packets under stalls, corners, timing, reset."""

import cocotb
import numpy as np
from cocotb.triggers import FallingEdge, RisingEdge

from accelgen.verif.bench import configuration, rngs, start_clock, reset, wait_until, scaled
from accelgen.verif.payload import pack, unpack
from accelgen.verif.scoreboard import Scoreboard
from accelgen.verif.stream import StreamSource, StreamSink, StreamMonitor

__all__ = ["IntMACBench"]

# Every test also has a simulated-time limit, so a hang fails instead of stalling.
TIMEOUT = {"timeout_time": scaled(50), "timeout_unit": "ms"}


def operand_range(width, signed):
    return (-(1 << (width - 1)), (1 << (width - 1)) - 1) if signed else (0, (1 << width) - 1)


class IntMACBench:
    """Source on ``i``, sink on ``o``; the input monitor feeds the golden model,
    whose packet results the output monitor's beats are compared with."""

    def __init__(self, dut, *, idle=0.0, backpressure=0.0, salt=0):
        self.dut = dut
        self.unit, self.p = configuration()
        self.rng, self.np_rng = rngs(dut, salt)
        self.layout = self.p.input_layout()
        self.scoreboard = Scoreboard(dut._log)
        self.packet = []  # beats of the packet being received by the DUT
        self.source = StreamSource(dut, "i", dut.clk, rng=self.rng, idle=idle, reset=dut.rst)
        self.sink = StreamSink(dut, "o", dut.clk, rng=self.rng, backpressure=backpressure,
                               reset=dut.rst)
        self.in_monitor = StreamMonitor(dut, "i", dut.clk, self._input_beat, reset=dut.rst,
                                        check_rules=False)
        self.out_monitor = StreamMonitor(dut, "o", dut.clk, self._output_beat, reset=dut.rst)

    def _input_beat(self, bits):
        beat = unpack(self.layout, bits)
        self.packet.append(beat)
        if beat["last"]:
            a, b, last = (np.array([x[k] for x in self.packet]) for k in ("a", "b", "last"))
            (result,) = self.unit.golden_fn(self.p, a, b, last)
            self.scoreboard.expect(int(result))
            self.packet = []

    def _output_beat(self, bits):
        self.scoreboard.observe(unpack(self.p.acc_shape(), bits))

    async def start(self):
        self.dut.rst.value = 0
        start_clock(self.dut)
        await reset(self.dut)
        for part in (self.source, self.sink, self.in_monitor, self.out_monitor):
            cocotb.start_soon(part.run())

    def random_operands(self, count):
        lo_a, hi_a = operand_range(self.p.a_width, self.p.a_signed)
        lo_b, hi_b = operand_range(self.p.b_width, self.p.b_signed)
        a = self.np_rng.integers(lo_a, hi_a, count, endpoint=True)
        b = self.np_rng.integers(lo_b, hi_b, count, endpoint=True)
        # One beat in eight takes an extreme value, to reach the corners often.
        corner = self.np_rng.random(count) < 0.125
        a[corner] = self.np_rng.choice([lo_a, hi_a], corner.sum())
        b[corner] = self.np_rng.choice([lo_b, hi_b], corner.sum())
        return a, b

    def send_packet(self, a, b):
        for k, (x, y) in enumerate(zip(a, b)):
            self.source.send(pack(self.layout, a=int(x), b=int(y), last=int(k == len(a) - 1)))

    def send_random(self, beats, max_len=16):
        a, b = self.random_operands(beats)
        k = 0
        while k < beats:
            n = min(int(self.rng.randint(1, max_len)), beats - k)
            self.send_packet(a[k:k + n], b[k:k + n])
            k += n

    async def drain(self, max_cycles):
        await wait_until(self.dut, lambda: self.source.empty and not self.scoreboard.expected
                         and not self.packet, max_cycles, "all results")
        await RisingEdge(self.dut.clk)
        self.scoreboard.check()


@cocotb.test(**TIMEOUT)
async def random_packets_under_stalls(dut):
    """>= 10^4 random beats in packets of 1..16 under several idle/backpressure mixes."""
    beats = scaled(3000)
    tb = IntMACBench(dut)
    await tb.start()
    for idle, backpressure in [(0.0, 0.0), (0.3, 0.3), (0.0, 0.9), (0.9, 0.0)]:
        tb.source.idle, tb.sink.backpressure = idle, backpressure
        matched = tb.scoreboard.matched
        tb.send_random(beats)
        await tb.drain(max_cycles=beats * 40 + 1000)
        dut._log.info("idle %.1f backpressure %.1f: %d beats, %d packets checked",
                      idle, backpressure, beats, tb.scoreboard.matched - matched)
    dut._log.info("%d beats checked in all", tb.in_monitor.beats)
    assert tb.in_monitor.beats == 4 * beats


@cocotb.test(**TIMEOUT)
async def corners_and_wrap(dut):
    """Extreme operands, single-beat packets, and long packets that wrap the accumulator."""
    tb = IntMACBench(dut)
    await tb.start()
    p = tb.p
    lo_a, hi_a = operand_range(p.a_width, p.a_signed)
    lo_b, hi_b = operand_range(p.b_width, p.b_signed)
    for x in (lo_a, hi_a, 0, 1 if hi_a else 0):
        for y in (lo_b, hi_b, 0, 1 if hi_b else 0):
            tb.send_packet([x], [y])
    # The largest product magnitude, repeated until the sum leaves the accumulator range.
    x, y = max(((x, y) for x in (lo_a, hi_a) for y in (lo_b, hi_b)), key=lambda t: abs(t[0] * t[1]))
    repeats = min(4096, (1 << p.acc_width) // max(1, abs(x * y)) + 3)
    tb.send_packet([x] * repeats, [y] * repeats)
    wraps = repeats * abs(x * y) >= 1 << (p.acc_width - p.acc_signed)
    dut._log.info("long packet of %d x (%d * %d): accumulator %s", repeats, x, y,
                  "wraps" if wraps else "does not wrap at this acc_width")
    tb.send_packet([lo_a] * 64, [hi_b] * 64)
    await tb.drain(max_cycles=20000)


@cocotb.test(**TIMEOUT)
async def latency_and_throughput(dut):
    """With no stalls, n beats take n cycles and the result appears ``latency`` cycles
    after the last beat is accepted (the manifest's figures)."""
    tb = IntMACBench(dut)
    await tb.start()
    n = 50
    a, b = tb.random_operands(n)
    tb.send_packet(a, b)
    await wait_until(dut, lambda: tb.in_monitor.beats == 1, 100, "first beat")
    first = tb.in_monitor.cycles
    await wait_until(dut, lambda: tb.in_monitor.beats == n, 10 * n, "last beat")
    last = tb.in_monitor.cycles
    await wait_until(dut, lambda: tb.out_monitor.beats == 1, 100, "result")
    done = tb.out_monitor.cycles
    assert last - first == n - 1, f"{n} beats took {last - first + 1} cycles, not {n}"
    assert done - last == tb.p.latency, \
        f"result {done - last} cycles after the last beat, manifest says {tb.p.latency}"
    await tb.drain(100)


@cocotb.test(**TIMEOUT)
async def reset_mid_stream(dut):
    """Reset at random points of a stream: in-flight work is discarded and the
    packets sent afterwards are correct."""
    tb = IntMACBench(dut, idle=0.2, backpressure=0.2)
    await tb.start()
    for _ in range(scaled(8)):
        tb.send_random(400)
        target = tb.source.sent + tb.rng.randint(1, 300)
        await wait_until(dut, lambda: tb.source.sent >= target, 4000, "some beats sent")
        await FallingEdge(dut.clk)
        tb.source.clear()
        await reset(dut, cycles=tb.rng.randint(1, 3))
        tb.scoreboard.flush()
        tb.packet = []
    tb.send_random(500)
    await tb.drain(max_cycles=20000)
    dut._log.info("%d resets; %d results discarded by them", scaled(8), tb.scoreboard.flushed)
