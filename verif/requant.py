# SPDX-License-Identifier: BSD-2-Clause
"""cocotb testbench of ``requant``: random values and scales (log-uniform magnitudes,
extremes) under stalls, every corner combination, ``last`` passed through, timing, reset."""

import itertools
import random

import cocotb
import numpy as np

from accelgen.generators.requant import Requant
from accelgen.golden.requant import requant
from accelgen.verif.amaranth_sim import run_stream
from accelgen.verif.bench import configuration, scaled
from accelgen.verif.packets import (PacketBench, check_latency, check_output_rate,
                                     check_reset_mid_stream, check_under_stalls)

__all__ = ["RequantBench", "random_columns", "corner_columns", "expected", "run_rtl",
           "to_beats"]

TIMEOUT = {"timeout_time": scaled(100), "timeout_unit": "ms"}


def _range(bits):
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def random_columns(params, rng, count, extreme=0.1):
    """Columns of ``count`` random beats: ``x`` (count, lanes) with log-uniform
    magnitudes (every bit length equally likely, so every scale sees values
    inside and outside its output range), a fraction ``extreme`` at the minimum
    or maximum; per channel ``m`` (uniform, one in ten extreme or zero) and the
    shifts (uniform over their range); ``last`` (count,) random. ``rng`` is a
    NumPy ``Generator``. Int64 arrays in a dict."""
    p = params
    shape = (count, p.lanes)
    lo, hi = _range(p.in_bits)
    bits = rng.integers(0, p.in_bits, shape)
    x = rng.integers(0, 1 << 62, shape) >> (62 - bits)
    x = np.where(rng.random(shape) < 0.5, -x - 1, x)
    pick = rng.random(shape) < extreme
    x[pick] = rng.choice([lo, hi], int(pick.sum()))
    cols = {"x": x.astype(np.int64)}
    slo, shi = p.shift_range
    if "m" in p.stream_fields():
        mlo, mhi = _range(p.mult_bits)
        mult = rng.integers(mlo, mhi, shape, endpoint=True)
        pick = rng.random(shape) < 0.1
        mult[pick] = rng.choice([mlo, mhi, 0, 1, -1], int(pick.sum()))
        cols["m"] = mult
    for name in ("shift", "shift2"):
        if name in p.stream_fields():
            cols[name] = rng.integers(slo, shi, shape, endpoint=True)
    cols["last"] = (rng.random(count) < 0.3).astype(np.int64)
    return cols


def corner_columns(params):
    """Every combination of corner values, one combination a beat (all lanes
    alike): ``x`` in {min, -1, 0, 1, max} and, per channel, ``m`` in {min, -1,
    0, 1, max} and each shift in {min, -1, 0, 1, max}."""
    p = params
    lo, hi = _range(p.in_bits)
    slo, shi = p.shift_range
    mlo, mhi = _range(p.mult_bits)
    values = {"x": (lo, -1, 0, 1, hi), "m": (mlo, -1, 0, 1, mhi),
              "shift": (slo, -1, 0, 1, shi), "shift2": (slo, -1, 0, 1, shi)}
    names = ["x", *p.stream_fields()]
    rows = list(itertools.product(*(values[n] for n in names)))
    cols = {n: np.repeat(np.array([r[j] for r in rows], dtype=np.int64)[:, None], p.lanes, 1)
            for j, n in enumerate(names)}
    cols["last"] = np.arange(len(rows), dtype=np.int64) % 2
    return cols


def expected(params, cols):
    """``[(y tuple, last)]`` of the beats in ``cols``, from the golden model."""
    scale = {k: cols[k] for k in params.stream_fields()}
    y = requant(params, cols["x"], **scale)
    return [(tuple(row), int(last)) for row, last in zip(y.tolist(), cols["last"])]


def to_beats(params, cols):
    """The beats of ``cols`` as payload dictionaries."""
    names = ["x", *params.stream_fields()]
    return [{**{n: [int(v) for v in cols[n][b]] for n in names}, "last": int(cols["last"][b])}
            for b in range(len(cols["x"]))]


def run_rtl(params, cols, seed, idle=0.0, backpressure=0.0):
    """The beats of ``cols`` through the RTL in Amaranth's simulator, with a
    source idling and a sink stalling at the given rates (``seed`` seeds them);
    ``[(y tuple, last)]``."""
    beats = to_beats(params, cols)
    return run_stream(Requant(params), beats, len(beats), max_cycles=len(beats) * 20 + 100,
                      read=lambda b: (tuple(int(v) for v in b.y), int(b.last)),
                      rng=random.Random(seed), idle=idle, backpressure=backpressure)


class RequantBench(PacketBench):
    """:class:`PacketBench` with every beat a packet of its own (``last`` is data
    here, passed through), expected through the golden model."""

    def __init__(self, dut, **stalls):
        _, p = configuration()

        def expect(params, beats):
            (beat,) = beats
            cols = {k: np.array([beat[k]], dtype=np.int64) for k in ("x", *p.stream_fields())}
            cols["last"] = np.array([beat["last"]])
            return expected(params, cols)

        super().__init__(dut, in_layout=p.input_layout(), out_layout=p.output_layout(),
                         expect=expect, observe=lambda f: (tuple(f["y"]), int(f["last"])),
                         last=None, **stalls)

    def random_beats(self, count):
        """:func:`random_columns` from the bench's seeded generator, as beats."""
        return to_beats(self.p, random_columns(self.p, self.np_rng, count))

    def send_random(self, beats):
        for beat in self.random_beats(beats):
            self.send_packet([beat])



#: The bench the shared protocol stress (accelgen.verif.protocol) drives.
BENCH = RequantBench


@cocotb.test(**TIMEOUT)
async def corner_combinations(dut):
    """Every combination of extreme, zero and unit values of ``x`` and of the
    per-channel scale fields, ``last`` alternating; no stalls."""
    tb = RequantBench(dut)
    await tb.start()
    cols = corner_columns(tb.p)
    await tb.check_single_beats(to_beats(tb.p, cols), expected(tb.p, cols))
    dut._log.info("%d corner beats match the golden model", len(cols["x"]))


@cocotb.test(**TIMEOUT)
async def random_values_under_stalls(dut):
    """Random values (and per-channel scales) under every stall mix."""
    beats = scaled(300)
    tb = RequantBench(dut)
    await tb.start()
    assert await check_under_stalls(tb, tb.send_random, beats) == 4 * beats


@cocotb.test(**TIMEOUT)
async def latency_and_throughput(dut):
    """No stalls: a beat's result ``latency`` cycles after it is taken; 64 beats
    back to back give 64 results back to back."""
    tb = RequantBench(dut)
    await tb.start()
    await check_latency(tb, tb.random_beats(1), tb.p.latency)
    await check_output_rate(tb, tb.random_beats(64), 64, tb.p.latency)


@cocotb.test(**TIMEOUT)
async def reset_mid_stream(dut):
    """Reset at random points; the beats sent afterwards are correct."""
    tb = RequantBench(dut, idle=0.2, backpressure=0.2)
    await tb.start()
    await check_reset_mid_stream(tb, tb.send_random, beats=200)
