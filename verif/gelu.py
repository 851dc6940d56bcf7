# SPDX-License-Identifier: BSD-2-Clause
"""cocotb testbench of ``gelu``: every input code, random codes (extremes and
range boundaries included) under stalls, latency and throughput, reset."""

import random

import cocotb
import numpy as np

from accelgen.num.fixed import codes
from accelgen.generators.gelu import GELU
from accelgen.golden.gelu import gelu, ibert_constants
from accelgen.verif.amaranth_sim import run_stream
from accelgen.verif.bench import configuration, scaled
from accelgen.verif.packets import (PacketBench, check_latency, check_output_rate,
                                     check_reset_mid_stream, check_under_stalls)

__all__ = ["GELUBench", "run_rtl"]

TIMEOUT = {"timeout_time": scaled(100), "timeout_unit": "ms"}


def golden_table(params):
    """The golden model's output for every input code, indexed by ``q + 2**(in_bits-1)``
    (one bulk call; the benches look beats up in it)."""
    return gelu(params, codes(params.in_bits, True))


def special_codes(params):
    """The extremes, zero and the codes around each method's breakpoints."""
    lo, hi = -(1 << (params.in_bits - 1)), (1 << (params.in_bits - 1)) - 1
    points = [lo, hi, 0]
    if params.method == "pwl":
        points += [-params.pwl_half_range_codes, params.pwl_half_range_codes]
    elif params.method == "ibert":
        clip = -ibert_constants(params)["b_int"]
        points += [-clip, clip]
    return sorted({v for p in points for v in (p - 1, p, p + 1) if lo <= v <= hi})


def run_rtl(params, x, seed, idle=0.0, backpressure=0.0):
    """Stream the codes ``x`` (``lanes`` a beat, padded with zeros) through the RTL
    in Amaranth's simulator, with a source idling and a sink stalling at the given
    rates (``seed`` seeds them); returns the outputs of the codes (int64)."""
    p = params
    beats = np.concatenate([x, np.zeros(-len(x) % p.lanes, np.int64)]).reshape(-1, p.lanes)
    got = run_stream(GELU(p), [{"x": [int(v) for v in b]} for b in beats], len(beats),
                     max_cycles=len(beats) * 20 + 100, read=lambda b: [int(v) for v in b.y],
                     rng=random.Random(seed), idle=idle, backpressure=backpressure)
    return np.array([y for row in got for y in row][:len(x)], dtype=np.int64)


class GELUBench(PacketBench):
    """:class:`PacketBench` with every beat a packet of its own, expected through
    the golden model."""

    def __init__(self, dut, **stalls):
        _, p = configuration()
        table = golden_table(p)
        offset = 1 << (p.in_bits - 1)

        def expect(_params, beats):
            (beat,) = beats
            return [tuple(int(table[x + offset]) for x in beat["x"])]

        super().__init__(dut, in_layout=p.input_layout(), out_layout=p.output_layout(),
                         expect=expect, observe=lambda fields: tuple(fields["y"]),
                         last=None, **stalls)
        self.table, self.offset = table, offset
        self.special = np.array(special_codes(p), dtype=np.int64)

    def random_beats(self, count, special=0.1):
        """Beats of random codes; a fraction ``special`` of the elements are
        extremes or breakpoint neighbours."""
        p, rng = self.p, self.np_rng
        x = rng.integers(-self.offset, self.offset, (count, p.lanes))
        pick = rng.random(x.shape) < special
        x[pick] = rng.choice(self.special, int(pick.sum()))
        return [{"x": row.tolist()} for row in x]

    def send_random(self, beats):
        for beat in self.random_beats(beats):
            self.send_packet([beat])



#: The bench the shared protocol stress (accelgen.verif.protocol) drives.
BENCH = GELUBench


@cocotb.test(**TIMEOUT)
async def every_input_code(dut):
    """Every input code (``2**in_bits``), ``lanes`` consecutive codes a beat, in
    shuffled order so each lane sees codes of every range; no stalls."""
    tb = GELUBench(dut)
    await tb.start()
    p = tb.p
    x = codes(p.in_bits, True)
    pad = -len(x) % p.lanes
    x = np.concatenate([tb.np_rng.permutation(x), tb.np_rng.choice(x, pad)])
    beats = x.reshape(-1, p.lanes)
    items = [tuple(v) for v in tb.table[beats + tb.offset].tolist()]
    await tb.check_single_beats([{"x": b.tolist()} for b in beats], items)
    dut._log.info("%d input codes in %d beats match the golden model", 1 << p.in_bits,
                  len(beats))


@cocotb.test(**TIMEOUT)
async def random_codes_under_stalls(dut):
    """Random codes, one in ten an extreme or a breakpoint neighbour, under
    every stall mix."""
    beats = scaled(1500)
    tb = GELUBench(dut)
    await tb.start()
    assert await check_under_stalls(tb, tb.send_random, beats) == 4 * beats


@cocotb.test(**TIMEOUT)
async def latency_and_throughput(dut):
    """No stalls: a beat's result ``latency`` cycles after it is taken; 64 beats
    back to back give 64 results back to back."""
    tb = GELUBench(dut)
    await tb.start()
    await check_latency(tb, tb.random_beats(1), tb.p.latency)
    await check_output_rate(tb, tb.random_beats(64), 64, tb.p.latency)


@cocotb.test(**TIMEOUT)
async def reset_mid_stream(dut):
    """Reset at random points; the beats sent afterwards are correct."""
    tb = GELUBench(dut, idle=0.2, backpressure=0.2)
    await tb.start()
    await check_reset_mid_stream(tb, tb.send_random)
