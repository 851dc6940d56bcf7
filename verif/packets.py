# SPDX-License-Identifier: BSD-2-Clause
"""Shared cocotb bench for packet units: beats in on ``i``, results in order on ``o``.

A packet is the beats up to and including one whose ``last`` field is 1 (the
convention of ``int_mac`` and ``fusion_unit``), or, for units without such a
field, every single beat (``bitfusion_array``). :class:`PacketBench` drives
``i`` with a :class:`StreamSource`, takes ``o`` with a :class:`StreamSink`,
watches both with monitors, turns every packet the DUT *accepted* into expected
results through the golden model, and compares them in order with what comes
out. The generic tests (:func:`check_latency`, :func:`check_reset_mid_stream`)
work on any such unit.
"""

import cocotb
from cocotb.triggers import FallingEdge, RisingEdge

from accelgen.verif.bench import configuration, rngs, start_clock, reset, wait_until, scaled
from accelgen.verif.payload import pack, unpack
from accelgen.verif.scoreboard import Scoreboard
from accelgen.verif.stream import StreamSource, StreamSink, StreamMonitor

__all__ = ["PacketBench", "STALL_MIXES", "check_under_stalls", "check_latency",
           "check_reset_mid_stream", "check_output_rate"]


# (idle, backpressure) mixes every packet unit's random traffic runs under.
STALL_MIXES = [(0.0, 0.0), (0.3, 0.3), (0.0, 0.9), (0.9, 0.0)]


class PacketBench:
    """Bench of a packet unit.

    ``expect(params, beats)`` returns the expected results (usually one) of a
    packet, given its beats as field dictionaries (set ``expect`` to ``None`` when
    a test feeds the scoreboard itself, e.g. with results computed in bulk);
    ``observe(fields)`` maps an output beat's fields to the item compared with
    them (default: unchanged).
    ``in_layout`` / ``out_layout`` are the payload layouts of ``i`` and ``o``;
    ``last`` names the field that closes a packet (``None``: every beat does;
    an integer: every packet is that many beats, as the vectors of ``softmax``).
    """

    def __init__(self, dut, *, in_layout, out_layout, expect, observe=lambda x: x,
                 last="last", idle=0.0, backpressure=0.0, salt=0):
        self.dut = dut
        self.unit, self.p = configuration()
        self.rng, self.np_rng = rngs(dut, salt)
        self.in_layout, self.out_layout = in_layout, out_layout
        self.expect, self.observe, self.last = expect, observe, last
        self.scoreboard = Scoreboard(dut._log)
        self.packet = []  # beats of the packet being received by the DUT
        self.source = StreamSource(dut, "i", dut.clk, rng=self.rng, idle=idle, reset=dut.rst)
        self.sink = StreamSink(dut, "o", dut.clk, rng=self.rng, backpressure=backpressure,
                               reset=dut.rst)
        self.in_monitor = StreamMonitor(dut, "i", dut.clk, self._input_beat, reset=dut.rst,
                                        check_rules=False)
        self.out_monitor = StreamMonitor(dut, "o", dut.clk, self._output_beat, reset=dut.rst)

    def _input_beat(self, bits):
        beat = unpack(self.in_layout, bits)
        self.packet.append(beat)
        if isinstance(self.last, int):
            closed = len(self.packet) == self.last
        else:
            closed = self.last is None or beat[self.last]
        if closed:
            if self.expect is not None:
                for item in self.expect(self.p, self.packet):
                    self.scoreboard.expect(item)
            self.packet = []

    def _output_beat(self, bits):
        self.scoreboard.observe(self.observe(unpack(self.out_layout, bits)))

    async def start(self):
        self.dut.rst.value = 0
        start_clock(self.dut)
        await reset(self.dut)
        for part in (self.source, self.sink, self.in_monitor, self.out_monitor):
            cocotb.start_soon(part.run())

    def send_packet(self, beats):
        """Queue ``beats`` (field dictionaries) as one packet: ``last`` on the final one."""
        for k, beat in enumerate(beats):
            if isinstance(self.last, str):
                beat = {**beat, self.last: int(k == len(beats) - 1)}
            self.source.send(pack(self.in_layout, **beat))

    def on_reset(self):
        """Called after the DUT was reset mid-stream: reset stateful golden models."""

    def stalls(self, idle, backpressure):
        self.source.idle, self.sink.backpressure = idle, backpressure

    # The protocol-stress interface (accelgen.verif.protocol), shared with
    # every other bench of a streaming unit.

    @property
    def accepted(self):
        """Input beats the DUT has taken since the test started."""
        return self.in_monitor.beats

    @property
    def queued(self):
        """Input beats waiting in the source."""
        return len(self.source.queue)

    @property
    def idle(self):
        """Every queued beat sent, every expected result seen."""
        return self.source.empty and not self.scoreboard.expected and not self.packet

    async def reset_now(self, cycles):
        """Drop the beats not yet sent, reset the DUT for ``cycles`` cycles and
        forget the results in flight (the golden models restart too)."""
        await FallingEdge(self.dut.clk)
        self.source.clear()
        await reset(self.dut, cycles=cycles)
        self.scoreboard.flush()
        self.packet = []
        self.on_reset()

    async def check_single_beats(self, beats, items):
        """Send every beat of ``beats`` as a packet of its own, expecting ``items``
        (one per beat, computed in bulk by the caller), and check them all. Faster
        than one golden call per packet for exhaustive sweeps."""
        expect, self.expect = self.expect, None
        try:
            for item in items:
                self.scoreboard.expect(item)
            for beat in beats:
                self.send_packet([beat])
            await self.drain(max_cycles=len(beats) * 3 + 200)
        finally:
            self.expect = expect

    async def drain(self, max_cycles):
        """Wait until every queued beat is sent and every expected result seen; check."""
        await wait_until(self.dut, lambda: self.idle, max_cycles, "all results")
        await RisingEdge(self.dut.clk)
        self.scoreboard.check()


async def check_under_stalls(tb, send_traffic, beats, cycles_per_beat=40):
    """``send_traffic(beats)`` random beats under each of :data:`STALL_MIXES`; every
    result checked. Returns the number of input beats the DUT accepted.
    ``cycles_per_beat`` bounds the wait (raise it for units with many output
    beats per input beat)."""
    for idle, backpressure in STALL_MIXES:
        tb.stalls(idle, backpressure)
        matched = tb.scoreboard.matched
        send_traffic(beats)
        await tb.drain(max_cycles=beats * cycles_per_beat + 1000)
        tb.dut._log.info("idle %.1f backpressure %.1f: %d beats, %d packets checked",
                         idle, backpressure, beats, tb.scoreboard.matched - matched)
    tb.dut._log.info("%d beats checked in all", tb.in_monitor.beats)
    return tb.in_monitor.beats


async def check_latency(tb, packet, latency):
    """Send one packet with no stalls: its ``n`` beats must take ``n`` cycles and the
    result appear ``latency`` cycles after the last beat is accepted."""
    dut, n = tb.dut, len(packet)
    tb.stalls(0.0, 0.0)
    tb.send_packet(packet)
    await wait_until(dut, lambda: tb.in_monitor.beats == 1, 100, "first beat")
    first = tb.in_monitor.cycles
    await wait_until(dut, lambda: tb.in_monitor.beats == n, 10 * n, "last beat")
    last = tb.in_monitor.cycles
    await wait_until(dut, lambda: tb.out_monitor.beats == 1, 100 + latency, "result")
    done = tb.out_monitor.cycles
    assert last - first == n - 1, f"{n} beats took {last - first + 1} cycles, not {n}"
    assert done - last == latency, \
        f"result {done - last} cycles after the last beat, manifest says {latency}"
    await tb.drain(100 + latency)


async def check_output_rate(tb, beats, out_beats, latency=1):
    """No stalls, for units whose every input beat is a packet with any number of
    output beats: ``beats`` sent back to back must give ``out_beats`` output beats
    back to back, the first ``latency`` cycles after the first input beat is taken
    (one output beat per cycle, and each packet's successor accepted in time)."""
    dut = tb.dut
    tb.stalls(0.0, 0.0)
    in0, out0 = tb.in_monitor.beats, tb.out_monitor.beats
    for beat in beats:
        tb.send_packet([beat])
    await wait_until(dut, lambda: tb.in_monitor.beats > in0, 100, "first beat")
    first = tb.in_monitor.cycles
    await wait_until(dut, lambda: tb.out_monitor.beats == out0 + out_beats,
                     4 * out_beats + 100, "every output beat")
    last = tb.out_monitor.cycles
    assert last - first == latency + out_beats - 1, \
        f"{len(beats)} packets, {out_beats} output beats took {last - first + 1} cycles " \
        f"from the first input, not {latency + out_beats}"
    await tb.drain(100)
    dut._log.info("%d packets: %d output beats in %d cycles", len(beats), out_beats,
                  last - first + 1)


async def check_reset_mid_stream(tb, send_traffic, resets=8, beats=400,
                                 cycles_per_beat=10):
    """Reset at random points of a stream: in-flight work is discarded and the packets
    sent afterwards are correct. ``send_traffic(beats)`` queues random packets;
    ``cycles_per_beat`` bounds the waits (raise it for units with many output
    beats per input beat)."""
    dut = tb.dut
    resets = scaled(resets)
    for _ in range(resets):
        send_traffic(beats)
        target = tb.source.sent + tb.rng.randint(1, beats * 3 // 4)
        await wait_until(dut, lambda: tb.source.sent >= target, beats * cycles_per_beat,
                         "some beats sent")
        await tb.reset_now(cycles=tb.rng.randint(1, 3))
    send_traffic(beats)
    await tb.drain(max_cycles=beats * 5 * cycles_per_beat)
    dut._log.info("%d resets; %d results discarded by them", resets, tb.scoreboard.flushed)
