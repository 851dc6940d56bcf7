# SPDX-License-Identifier: BSD-2-Clause
"""cocotb testbench of ``lnzd``: every non-zero pattern of short vectors, random
densities under stalls, output rate, mid-stream reset."""

import itertools

import cocotb
import numpy as np

from accelgen.golden.lnzd import lnzd
from accelgen.num.numeric import int_range
from accelgen.verif.bench import configuration, scaled
from accelgen.verif.packets import (PacketBench, check_output_rate, check_reset_mid_stream,
                                     check_under_stalls)

__all__ = ["LNZDBench", "DENSITIES"]

TIMEOUT = {"timeout_time": scaled(100), "timeout_unit": "ms"}
DENSITIES = (0.0, 0.1, 0.5, 0.9, 1.0)


def expect_vector(params, beats):
    return lnzd(params, [beats[0]["data"]])


def observe(fields):
    return fields["index"], fields["value"], fields["nz"], fields["last"]


class LNZDBench(PacketBench):
    """:class:`PacketBench` with one vector per input beat."""

    def __init__(self, dut, **stalls):
        _, p = configuration()
        super().__init__(dut, in_layout=p.input_layout(), out_layout=p.output_layout(),
                         expect=expect_vector, observe=observe, last=None, **stalls)

    def vectors(self, count, density=None):
        """Random vectors, each at a density drawn from :data:`DENSITIES` (or the
        one given); non-zero entries are random non-zero values, extremes often."""
        p, rng = self.p, self.np_rng
        lo, hi = int_range(p.width, p.signed)
        out = []
        for _ in range(count):
            d = density if density is not None else rng.choice(DENSITIES)
            values = rng.integers(lo, hi, p.n, endpoint=True)
            corner = rng.random(p.n) < 0.2
            values[corner] = rng.choice([lo, hi], corner.sum())
            values[values == 0] = hi or lo or lo  # a non-zero value (-1 for 1-bit signed)
            values[rng.random(p.n) >= d] = 0
            out.append(values)
        return out

    def send_random(self, count):
        for vector in self.vectors(count):
            self.send_packet([{"data": vector.tolist()}])



#: The bench the shared protocol stress (accelgen.verif.protocol) drives.
BENCH = LNZDBench


@cocotb.test(**TIMEOUT)
async def every_pattern(dut):
    """Every set of non-zero positions when ``n <= 10`` (random non-zero values),
    else 1024 random patterns at each density."""
    tb = LNZDBench(dut)
    await tb.start()
    p = tb.p
    lo, hi = int_range(p.width, p.signed)
    if p.n <= 10:
        patterns = np.array(list(itertools.product((0, 1), repeat=p.n)), dtype=bool)
        values = tb.np_rng.integers(lo, hi, patterns.shape, endpoint=True)
        values[values == 0] = hi or lo
        vectors = np.where(patterns, values, 0)
    else:
        vectors = np.array([v for d in DENSITIES for v in tb.vectors(scaled(200), d)])
    for v in vectors:
        tb.send_packet([{"data": v.tolist()}])
    await tb.drain(max_cycles=len(vectors) * (p.n + 2) * 2 + 100)
    dut._log.info("%d vectors checked", len(vectors))


@cocotb.test(**TIMEOUT)
async def random_densities_under_stalls(dut):
    """Vectors at densities 0, 10, 50, 90 and 100% under several stall mixes."""
    tb = LNZDBench(dut)
    await tb.start()
    count = scaled(max(20, 4800 // tb.p.n))
    await check_under_stalls(tb, tb.send_random, count, cycles_per_beat=20 * tb.p.n)


@cocotb.test(**TIMEOUT)
async def output_rate(dut):
    """No stalls: one non-zero per cycle, an all-zero vector one cycle, the next
    vector taken in its predecessor's last cycle (latency 1)."""
    tb = LNZDBench(dut)
    await tb.start()
    vectors = tb.vectors(scaled(100))
    out_beats = sum(max(1, int(np.count_nonzero(v))) for v in vectors)
    await check_output_rate(tb, [{"data": v.tolist()} for v in vectors], out_beats,
                            tb.p.latency)


@cocotb.test(**TIMEOUT)
async def reset_mid_stream(dut):
    """Reset at random points; the vectors sent afterwards are correct."""
    tb = LNZDBench(dut, idle=0.2, backpressure=0.2)
    await tb.start()
    await check_reset_mid_stream(tb, tb.send_random, beats=60,
                                 cycles_per_beat=4 * tb.p.n + 10)
