# SPDX-License-Identifier: BSD-2-Clause
"""cocotb testbench of ``int_mac``: random packets under stalls, corners, timing, reset."""

import cocotb
import numpy as np

from accelgen.golden.int_mac import int_mac
from accelgen.num.numeric import int_range
from accelgen.verif.bench import configuration, scaled
from accelgen.verif.packets import (PacketBench, check_latency, check_reset_mid_stream,
                                     check_under_stalls)

__all__ = ["IntMACBench", "random_operands", "random_stream"]

# Every test also has a simulated-time limit, so a hang fails instead of stalling.
TIMEOUT = {"timeout_time": scaled(50), "timeout_unit": "ms"}


def expect_packet(params, beats):
    a, b, last = (np.array([beat[k] for beat in beats]) for k in ("a", "b", "last"))
    return [int(v) for v in int_mac(params, a, b, last)]


def random_operands(params, rng, count, corner=0.125):
    """``count`` random operand pairs ``(a, b)`` (int64 arrays), uniform over each
    operand's range; a fraction ``corner`` of the beats takes extreme values (the
    minimum or maximum of each operand), to reach the corners often. ``rng`` is a
    NumPy ``Generator``."""
    lo_a, hi_a = int_range(params.a_width, params.a_signed)
    lo_b, hi_b = int_range(params.b_width, params.b_signed)
    a = rng.integers(lo_a, hi_a, count, endpoint=True)
    b = rng.integers(lo_b, hi_b, count, endpoint=True)
    chosen = rng.random(count) < corner
    a[chosen] = rng.choice([lo_a, hi_a], chosen.sum())
    b[chosen] = rng.choice([lo_b, hi_b], chosen.sum())
    return a, b


def random_stream(params, rng, count, end=0.2, corner=0.125):
    """``(a, b, last)`` of ``count`` beats: :func:`random_operands`, and ``last`` set
    on each beat with probability ``end`` (the final beat may leave a packet open)."""
    a, b = random_operands(params, rng, count, corner)
    return a, b, rng.random(count) < end


class IntMACBench(PacketBench):
    """:class:`PacketBench` with ``int_mac``'s golden model and random operands."""

    def __init__(self, dut, **stalls):
        _, p = configuration()
        super().__init__(dut, in_layout=p.input_layout(), out_layout=p.acc_shape(),
                         expect=expect_packet, **stalls)

    def random_operands(self, count):
        """:func:`random_operands` with the bench's seeded generator."""
        return random_operands(self.p, self.np_rng, count)

    def send_operands(self, a, b):
        self.send_packet([{"a": int(x), "b": int(y)} for x, y in zip(a, b)])

    def send_random(self, beats, max_len=16):
        a, b = self.random_operands(beats)
        k = 0
        while k < beats:
            n = min(int(self.rng.randint(1, max_len)), beats - k)
            self.send_operands(a[k:k + n], b[k:k + n])
            k += n



#: The bench the shared protocol stress (accelgen.verif.protocol) drives.
BENCH = IntMACBench


@cocotb.test(**TIMEOUT)
async def random_packets_under_stalls(dut):
    """>= 10^4 random beats in packets of 1..16 under several idle/backpressure mixes."""
    beats = scaled(3000)
    tb = IntMACBench(dut)
    await tb.start()
    assert await check_under_stalls(tb, tb.send_random, beats) == 4 * beats


@cocotb.test(**TIMEOUT)
async def corners_and_wrap(dut):
    """Extreme operands, single-beat packets, and long packets that wrap the accumulator."""
    tb = IntMACBench(dut)
    await tb.start()
    p = tb.p
    lo_a, hi_a = int_range(p.a_width, p.a_signed)
    lo_b, hi_b = int_range(p.b_width, p.b_signed)
    for x in (lo_a, hi_a, 0, 1 if hi_a else 0):
        for y in (lo_b, hi_b, 0, 1 if hi_b else 0):
            tb.send_operands([x], [y])
    # The largest product magnitude, repeated until the sum leaves the accumulator range.
    x, y = max(((x, y) for x in (lo_a, hi_a) for y in (lo_b, hi_b)), key=lambda t: abs(t[0] * t[1]))
    repeats = min(4096, (1 << p.acc_width) // max(1, abs(x * y)) + 3)
    tb.send_operands([x] * repeats, [y] * repeats)
    wraps = repeats * abs(x * y) >= 1 << (p.acc_width - p.acc_signed)
    dut._log.info("long packet of %d x (%d * %d): accumulator %s", repeats, x, y,
                  "wraps" if wraps else "does not wrap at this acc_width")
    tb.send_operands([lo_a] * 64, [hi_b] * 64)
    await tb.drain(max_cycles=20000)


@cocotb.test(**TIMEOUT)
async def latency_and_throughput(dut):
    """With no stalls, n beats take n cycles and the result appears ``latency`` cycles
    after the last beat is accepted (the manifest's figures)."""
    tb = IntMACBench(dut)
    await tb.start()
    a, b = tb.random_operands(50)
    await check_latency(tb, [{"a": int(x), "b": int(y)} for x, y in zip(a, b)], tb.p.latency)


@cocotb.test(**TIMEOUT)
async def reset_mid_stream(dut):
    """Reset at random points of a stream: in-flight work is discarded and the
    packets sent afterwards are correct."""
    tb = IntMACBench(dut, idle=0.2, backpressure=0.2)
    await tb.start()
    await check_reset_mid_stream(tb, tb.send_random)
