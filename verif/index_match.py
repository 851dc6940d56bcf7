# SPDX-License-Identifier: BSD-2-Clause
"""cocotb testbench of ``index_match``: every valid-bit subset of small blocks,
random blocks at several densities (with duplicates when unsorted) under stalls,
output rate, mid-stream reset."""

import itertools
import random

import cocotb
import numpy as np

from accelgen.generators.index_match import IndexMatch
from accelgen.golden.index_match import index_match, matches, beats_per_block
from accelgen.verif.amaranth_sim import run_stream
from accelgen.verif.bench import configuration, scaled
from accelgen.verif.packets import (PacketBench, check_output_rate, check_reset_mid_stream,
                                     check_under_stalls)

__all__ = ["IndexMatchBench", "DENSITIES", "run_index_match"]

TIMEOUT = {"timeout_time": scaled(100), "timeout_unit": "ms"}
DENSITIES = (0.0, 0.1, 0.5, 0.9, 1.0)


def _bits(flags):
    return sum(int(f) << k for k, f in enumerate(flags))


def expect_block(params, beats):
    b = beats[0]
    n = params.length
    block = {"w_idx": b["w_idx"], "a_idx": b["a_idx"],
             "w_valid": [(b["w_valid"] >> k) & 1 for k in range(n)],
             "a_valid": [(b["a_valid"] >> k) & 1 for k in range(n)]}
    return [(w, a, _bits(v), last) for w, a, v, last in index_match(params, [block])]


def observe(fields):
    return tuple(fields["w_pos"]), tuple(fields["a_pos"]), fields["valid"], fields["last"]


def _as_input(block):
    """A golden-model block as the input beat's fields (valid flags as bit masks)."""
    return {"w_idx": [int(x) for x in block["w_idx"]], "a_idx": [int(x) for x in block["a_idx"]],
            "w_valid": sum(int(v) << k for k, v in enumerate(block["w_valid"])),
            "a_valid": sum(int(v) << k for k, v in enumerate(block["a_valid"]))}


def run_index_match(p, blocks, seed, idle=0.0, backpressure=0.0):
    """Blocks through the RTL in Amaranth's simulator, with a source idling and a
    sink stalling at the given rates (``seed`` seeds them): output beats as the
    golden model writes them."""
    return run_stream(IndexMatch(p), [_as_input(block) for block in blocks],
                      len(index_match(p, blocks)), max_cycles=50000,
                      read=lambda b: (tuple(b.w_pos), tuple(b.a_pos),
                                      tuple((b.valid >> s) & 1 for s in range(p.pairs)), b.last),
                      rng=random.Random(seed), idle=idle, backpressure=backpressure)


class IndexMatchBench(PacketBench):
    """:class:`PacketBench` with one block per input beat."""

    def __init__(self, dut, **stalls):
        _, p = configuration()
        super().__init__(dut, in_layout=p.input_layout(), out_layout=p.output_layout(),
                         expect=expect_block, observe=observe, last=None, **stalls)

    def indices(self, alphabet):
        """``length`` indices: unique and sorted when ``sorted``, else drawn from
        ``alphabet`` values (a small alphabet makes duplicates and many matches)."""
        p, rng = self.p, self.np_rng
        space = min(alphabet, 1 << p.index_width)
        if p.sorted:
            space = max(space, p.length)
            return np.sort(rng.choice(min(space, 1 << p.index_width), p.length,
                                      replace=False))
        return rng.integers(0, space, p.length)

    def block(self, density, alphabet=None):
        p, rng = self.p, self.np_rng
        alphabet = alphabet or int(rng.choice([2, p.length, 4 * p.length, 1 << 16]))
        return {"w_idx": self.indices(alphabet).tolist(),
                "a_idx": self.indices(alphabet).tolist(),
                "w_valid": _bits(rng.random(p.length) < density),
                "a_valid": _bits(rng.random(p.length) < density)}

    def send_random(self, count):
        for _ in range(count):
            self.send_packet([self.block(float(self.np_rng.choice(DENSITIES)))])



#: The bench the shared protocol stress (accelgen.verif.protocol) drives.
BENCH = IndexMatchBench


@cocotb.test(**TIMEOUT)
async def every_valid_subset(dut):
    """Every pair of valid-bit subsets of a block (all ``2**(2*length)`` when that
    is at most 4096, else 4096 random ones), over indices from a small alphabet."""
    tb = IndexMatchBench(dut)
    await tb.start()
    p = tb.p
    n = p.length
    if 2 * n <= 12:
        subsets = list(itertools.product(range(1 << n), repeat=2))
    else:
        subsets = [tuple(int(x) for x in tb.np_rng.integers(0, 1 << n, 2))
                   for _ in range(scaled(4096))]
    for w_valid, a_valid in subsets:
        block = tb.block(1.0, alphabet=n)
        block.update(w_valid=w_valid, a_valid=a_valid)
        tb.send_packet([block])
    await tb.drain(max_cycles=len(subsets) * (n * n + 2) + 100)
    dut._log.info("%d blocks checked", len(subsets))


@cocotb.test(**TIMEOUT)
async def random_densities_under_stalls(dut):
    """Blocks at densities 0, 10, 50, 90 and 100% under several stall mixes."""
    tb = IndexMatchBench(dut)
    await tb.start()
    p = tb.p
    count = scaled(max(20, 4800 // p.length))
    await check_under_stalls(tb, tb.send_random, count,
                             cycles_per_beat=20 * (p.length * p.length // p.pairs + 1))


@cocotb.test(**TIMEOUT)
async def output_rate(dut):
    """No stalls: a block of ``k`` matches takes ``max(1, ceil(k / pairs))`` cycles
    and the next block follows at once (the first beat ``latency`` cycles after
    the first block)."""
    tb = IndexMatchBench(dut)
    await tb.start()
    p = tb.p
    blocks = [tb.block(float(tb.np_rng.choice(DENSITIES))) for _ in range(scaled(100))]
    out_beats = 0
    for b in blocks:
        found = matches(p, b["w_idx"], [(b["w_valid"] >> k) & 1 for k in range(p.length)],
                        b["a_idx"], [(b["a_valid"] >> k) & 1 for k in range(p.length)])
        out_beats += beats_per_block(p, len(found))
    await check_output_rate(tb, blocks, out_beats, p.latency)


@cocotb.test(**TIMEOUT)
async def reset_mid_stream(dut):
    """Reset at random points; the blocks sent afterwards are correct."""
    tb = IndexMatchBench(dut, idle=0.2, backpressure=0.2)
    await tb.start()
    await check_reset_mid_stream(tb, tb.send_random, beats=60,
                                 cycles_per_beat=4 * tb.p.length ** 2 // tb.p.pairs + 10)
