# SPDX-License-Identifier: BSD-2-Clause
"""cocotb testbench of ``nm_sparse``: every metadata code of a group (invalid ones
flagged), compressed random weights under stalls, extremes, timing, reset."""

import itertools
import random

import cocotb
import numpy as np

from accelgen.generators.nm_sparse import NMSparse
from accelgen.golden.nm_sparse import nm_sparse, compress
from accelgen.num.numeric import int_range
from accelgen.verif.amaranth_sim import run_stream
from accelgen.verif.bench import configuration, scaled
from accelgen.verif.packets import (PacketBench, check_latency, check_reset_mid_stream,
                                     check_under_stalls)

__all__ = ["NMSparseBench", "random_beats", "random_stream", "run_rtl"]

TIMEOUT = {"timeout_time": scaled(100), "timeout_unit": "ms"}
FIELDS = ("a", "w", "meta", "last")


def results(params, columns):
    acc, error = nm_sparse(params, *(np.asarray(columns[k]) for k in FIELDS))
    return list(zip(acc.tolist(), error.tolist()))


def expect_packet(params, beats):
    return results(params, {k: [b[k] for b in beats] for k in FIELDS})


def observe(fields):
    return fields["acc"], bool(fields["meta_error"])


def random_beats(params, rng, count, invalid=0.03):
    """``(a, w, meta)`` int64 arrays of ``count`` beats: random dense activations, and
    random dense weights (one in ten at an extreme code) pruned N:M by the golden
    compressor; a fraction ``invalid`` of the groups get random metadata (any
    positions, in any order: mostly invalid). ``rng`` is a NumPy ``Generator``."""
    p = params
    a = rng.integers(*int_range(p.a_width, p.a_signed), (count, p.groups * p.m),
                     endpoint=True)
    dense = rng.integers(*int_range(p.w_width, p.w_signed), (count, p.groups * p.m),
                         endpoint=True)
    corner = rng.random(dense.shape) < 0.1
    dense[corner] = rng.choice(int_range(p.w_width, p.w_signed), corner.sum())
    w, meta = compress(dense, p.n, p.m)
    bad = np.repeat(rng.random((count, p.groups)) < invalid, p.n, axis=1)
    meta = np.where(bad, rng.integers(0, p.m, meta.shape), meta)
    return a.astype(np.int64), np.asarray(w, dtype=np.int64), meta.astype(np.int64)


def random_stream(params, rng, count, invalid=0.25, end=0.2):
    """``(a, w, meta, last)`` of ``count`` :func:`random_beats`, ``last`` set on each
    beat with probability ``end`` and on the final one."""
    a, w, meta = random_beats(params, rng, count, invalid)
    last = rng.random(count) < end
    last[-1] = True
    return a, w, meta, last


def run_rtl(params, a, w, meta, last, seed, idle=0.0, backpressure=0.0):
    """The beats (rows of ``a``, ``w``, ``meta`` and ``last``) through the RTL in
    Amaranth's simulator, with a source idling and a sink stalling at the given
    rates (``seed`` seeds them); a list of ``(acc, meta_error)``."""
    beats = [{"a": [int(v) for v in x], "w": [int(v) for v in y],
              "meta": [int(v) for v in z], "last": int(l)} for x, y, z, l in zip(a, w, meta, last)]
    return run_stream(NMSparse(params), beats, int(np.sum(last)), max_cycles=20000,
                      read=lambda b: (b.acc, bool(b.meta_error)),
                      rng=random.Random(seed), idle=idle, backpressure=backpressure)


class NMSparseBench(PacketBench):
    """:class:`PacketBench` with the N:M golden model and compressed weights."""

    def __init__(self, dut, **stalls):
        _, p = configuration()
        super().__init__(dut, in_layout=p.input_layout(), out_layout=p.output_layout(),
                         expect=expect_packet, observe=observe, **stalls)

    def random_beats(self, count, invalid=0.03):
        """:func:`random_beats` from the bench's seeded generator, as beats."""
        a, w, meta = random_beats(self.p, self.np_rng, count, invalid)
        return [{"a": x.tolist(), "w": y.tolist(), "meta": z.tolist()}
                for x, y, z in zip(a, w, meta)]

    def send_random(self, beats, max_len=12):
        sent = 0
        while sent < beats:
            n = min(int(self.rng.randint(1, max_len)), beats - sent)
            self.send_packet(self.random_beats(n))
            sent += n



#: The bench the shared protocol stress (accelgen.verif.protocol) drives.
BENCH = NMSparseBench


@cocotb.test(**TIMEOUT)
async def every_metadata_code(dut):
    """Every combination of positions for one group (``m**n`` codes, at most 4096;
    the strictly increasing ones valid, the rest flagged), in every group slot,
    with random operands; single-beat packets."""
    tb = NMSparseBench(dut)
    await tb.start()
    p = tb.p
    codes = list(itertools.product(range(p.m), repeat=p.n))
    if len(codes) > 4096:
        codes = [tuple(int(x) for x in tb.np_rng.integers(0, p.m, p.n))
                 for _ in range(4096)]
    beats = []
    for g in range(p.groups):
        for code in codes:
            beat = tb.random_beats(1, invalid=0)[0]
            beat["meta"][g * p.n:(g + 1) * p.n] = list(code)
            beats.append(beat)
    columns = {k: [b[k] for b in beats] for k in ("a", "w", "meta")}
    columns["last"] = [1] * len(beats)
    items = results(p, columns)
    await tb.check_single_beats(beats, items)
    flagged = sum(error for _acc, error in items)
    dut._log.info("%d metadata codes x %d group slots: %d flagged", len(codes), p.groups,
                  flagged)
    assert 0 < flagged < len(items) or p.n == 1


@cocotb.test(**TIMEOUT)
async def random_dot_products_under_stalls(dut):
    """Compressed random weights (some groups with random metadata) under several
    stall mixes."""
    beats = scaled(1500)
    tb = NMSparseBench(dut)
    await tb.start()
    assert await check_under_stalls(tb, tb.send_random, beats) == 4 * beats


@cocotb.test(**TIMEOUT)
async def extremes_and_wrap(dut):
    """All operands at their extremes, in long packets that wrap the accumulator."""
    tb = NMSparseBench(dut)
    await tb.start()
    p = tb.p
    meta = [k for _g in range(p.groups) for k in range(p.n)]
    for x in int_range(p.a_width, p.a_signed):
        for y in int_range(p.w_width, p.w_signed):
            beat = {"a": [x] * (p.groups * p.m), "w": [y] * (p.groups * p.n), "meta": meta}
            step = abs(x * y) * p.groups * p.n
            repeats = min((1 << p.acc_width) // max(1, step) + 2, scaled(3000))
            tb.send_packet([beat])
            tb.send_packet([beat] * repeats)
            await tb.drain(max_cycles=repeats * 3 + 100)


@cocotb.test(**TIMEOUT)
async def latency_and_throughput(dut):
    """No stalls: n beats in n cycles, result ``latency`` cycles after the last."""
    tb = NMSparseBench(dut)
    await tb.start()
    await check_latency(tb, tb.random_beats(40), tb.p.latency)


@cocotb.test(**TIMEOUT)
async def reset_mid_stream(dut):
    """Reset at random points; the packets sent afterwards are correct."""
    tb = NMSparseBench(dut, idle=0.2, backpressure=0.2)
    await tb.start()
    await check_reset_mid_stream(tb, tb.send_random)
