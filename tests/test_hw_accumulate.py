# SPDX-License-Identifier: BSD-2-Clause
"""accelgen.hw.accumulate: ``overflow_accumulator`` with one, two and three
values a beat equals the golden accumulator
(:func:`accelgen.golden.ant_pe.accumulate`) on narrow accumulators, where
random beats and packets built to reach them hit every overflow condition:
a product flagged, a beat's own sum out of range while the running sum
stays in it, the running sum leaving the range, and sums landing exactly on
the bounds (no flag)."""

import random

import numpy as np
import pytest
from amaranth.hdl import Module, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from accelgen.golden.ant_pe import accumulate
from accelgen.hw.accumulate import overflow_accumulator
from accelgen.hw.stream import pipeline_handshake
from accelgen.verif.amaranth_sim import run_stream

__all__ = []


class _Accumulator(wiring.Component):
    def __init__(self, count, width):
        self.count, self.width = count, width
        fields = {f"v{k}": signed(width) for k in range(count)}
        fields.update({f"o{k}": 1 for k in range(count)})
        super().__init__({
            "i": In(stream.Signature(data.StructLayout({**fields, "last": 1}))),
            "o": Out(stream.Signature(data.StructLayout({"acc": signed(width),
                                                         "overflow": 1}))),
        })

    def elaborate(self, platform):
        m = Module()
        advance = pipeline_handshake(m, self.i, self.o)
        p = self.i.payload
        overflow_accumulator(m, self.o, values=[p[f"v{k}"] for k in range(self.count)],
                             outs=[p[f"o{k}"] for k in range(self.count)],
                             valid=self.i.valid, last=p.last, advance=advance,
                             width=self.width)
        return m


def _packets(rng, count, width):
    """``(values, outs, last)``: random packets, then packets that reach each
    condition of the flag."""
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    beats = []

    def packet(rows):
        for j, row in enumerate(rows):
            beats.append((row, [False] * count, j == len(rows) - 1))

    for _ in range(200):  # random, values anywhere in the range
        length = rng.randint(1, 6)
        for j in range(length):
            row = [rng.randint(lo, hi) for _ in range(count)]
            beats.append((row, [rng.random() < 0.05 for _ in range(count)], j == length - 1))
    zeros = [0] * (count - 1)
    packet([[lo] + zeros, [hi] * count])      # the beat's sum out, the running sum in
    packet([[hi] + zeros, [lo] * count])
    packet([[hi] + zeros, [1] + zeros])       # the running sum just past a bound
    packet([[lo] + zeros, [-1] + zeros])
    packet([[hi - 1] + zeros, [1] + zeros])   # exactly on the bounds: no flag
    packet([[lo + 1] + zeros, [-1] + zeros])
    packet([[hi] * count])                    # one beat, its own sum at the extremes
    packet([[lo] * count])
    values = np.array([row for row, _, _ in beats])
    outs = np.array([flags for _, flags, _ in beats])
    last = np.array([end for _, _, end in beats])
    return values, outs, last


@pytest.mark.sim
@pytest.mark.parametrize("count", [1, 2, 3])
@pytest.mark.parametrize("width", [5, 8])
def test_overflow_accumulator_matches_the_golden_model(count, width):
    seed = 100 * count + width
    rng = random.Random(seed)
    values, outs, last = _packets(rng, count, width)
    acc, overflow, _error = accumulate(values, outs, np.zeros(len(last), bool), last, width)
    want = list(zip(acc.tolist(), overflow.tolist()))
    beats = [{**{f"v{k}": int(row[k]) for k in range(count)},
              **{f"o{k}": int(flags[k]) for k in range(count)}, "last": int(end)}
             for row, flags, end in zip(values, outs, last)]
    got = run_stream(_Accumulator(count, width), beats, len(want), max_cycles=20000,
                     read=lambda v: (v.acc, bool(v.overflow)), rng=rng,
                     idle=0.2, backpressure=0.2)
    assert got == want, f"seed {seed}: first difference at packet " \
        f"{next(k for k, (g, w) in enumerate(zip(got, want)) if g != w)}"
    # The stimulus reaches both sides of the flag.
    assert 0 < np.count_nonzero(overflow) < len(want)
