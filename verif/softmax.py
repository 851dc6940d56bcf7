# SPDX-License-Identifier: BSD-2-Clause
"""cocotb testbench of ``softmax``: every difference the exp stage can see,
adversarial vectors, random vectors under stalls, the steady-state rate and
latency, mid-stream reset."""

import random

import cocotb
import numpy as np

from accelgen.generators.softmax import Softmax
from accelgen.golden.softmax import softmax
from accelgen.num.numeric import int_range
from accelgen.verif.amaranth_sim import run_vectors
from accelgen.verif.bench import scaled
from accelgen.verif.vectors import (VectorBench, check_random_vectors, check_rate_and_latency,
                                     check_vector_reset)

__all__ = ["SoftmaxBench", "random_vectors", "corner_vectors", "run_rtl"]

TIMEOUT = {"timeout_time": scaled(200), "timeout_unit": "ms"}


def model(params, columns):
    return softmax(params, columns["x"])


def random_vectors(params, rng, count):
    """``count`` random input vectors, an int64 array ``(count, n)``: each is, with
    equal odds, Gaussian logits (mean uniform over half the input range), uniform
    codes or Laplace logits, of a random spread of 0.25 to 8 in real units, rounded
    and clipped to the input range. ``rng`` is a NumPy ``Generator``."""
    lo, hi = int_range(params.in_bits, True)
    out = np.empty((count, params.n), dtype=np.int64)
    for row in range(count):
        kind = rng.integers(3)
        spread = 2.0 ** rng.uniform(-2, 3) * 2 ** params.in_frac
        if kind == 0:
            x = rng.normal(rng.uniform(lo, hi) / 2, spread, params.n)
        elif kind == 1:
            x = rng.integers(lo, hi, params.n, endpoint=True)
        else:
            x = rng.laplace(0, spread, params.n)
        out[row] = np.clip(np.round(x), lo, hi)
    return out


def corner_vectors(params, rng):
    """The adversarial vectors, an int64 array: all equal (at the bottom code, -1,
    0, 1 and the top code), one dominant class (the top code among bottom codes)
    and a near tie (the top code among ``top - 1``) at each position, alternating
    ends, and random ends (drawn from ``rng``)."""
    n = params.n
    lo, hi = int_range(params.in_bits, True)
    vectors = [np.full(n, v) for v in (lo, -1, 0, 1, hi)]
    for k in range(n):
        one_hot = np.full(n, lo)
        one_hot[k] = hi
        vectors.append(one_hot)
        near = np.full(n, hi - 1)
        near[k] = hi
        vectors.append(near)
    vectors.append(np.where(np.arange(n) % 2 == 0, lo, hi))
    vectors.append(rng.choice([lo, hi], n))
    return np.array(vectors, dtype=np.int64)


def run_rtl(params, vectors, seed, idle=0.0, backpressure=0.0):
    """Softmax of the rows of ``vectors`` through the RTL in Amaranth's simulator,
    with a source idling and a sink stalling at the given rates (``seed`` seeds
    them); an int64 array of the outputs."""
    return np.array(run_vectors(Softmax(params), params, {"x": vectors},
                                rng=random.Random(seed), idle=idle,
                                backpressure=backpressure))


class SoftmaxBench(VectorBench):
    """:class:`VectorBench` with the Softmax golden model and input vectors."""

    def __init__(self, dut, **stalls):
        super().__init__(dut, model, **stalls)

    def random_vectors(self, count):
        """:func:`random_vectors` with the bench's seeded generator."""
        return [{"x": x} for x in random_vectors(self.p, self.np_rng, count)]

    def adversarial_vectors(self):
        """:func:`corner_vectors` with the bench's seeded generator."""
        return [{"x": x} for x in corner_vectors(self.p, self.np_rng)]

    def every_difference(self):
        """Vectors holding the maximum code and, between them, every difference
        ``0 .. 2**in_bits - 1`` below it: every input of the exp stage."""
        p = self.p
        lo, hi = int_range(p.in_bits, True)
        diffs = np.arange(hi - lo + 1)
        per = p.n - 1
        diffs = np.concatenate([diffs, np.zeros(-len(diffs) % per, dtype=np.int64)])
        out = []
        for chunk in diffs.reshape(-1, per):
            out.append({"x": np.concatenate(([hi], hi - chunk)).astype(np.int64)})
        return out

    def send_random(self, beats):
        self.send_vectors(self.random_vectors(max(1, beats // self.p.words)))



#: The bench the shared protocol stress (accelgen.verif.protocol) drives.
BENCH = SoftmaxBench


@cocotb.test(**TIMEOUT)
async def every_difference_and_corners(dut):
    """Every difference the exp stage can see (so every table entry and shift),
    then the adversarial vectors, without stalls."""
    tb = SoftmaxBench(dut)
    await tb.start()
    vectors = tb.every_difference() + tb.adversarial_vectors()
    tb.send_vectors(vectors)
    await tb.drain(max_cycles=len(vectors) * tb.p.vector_cycles * 2 + 1000)
    dut._log.info("%d vectors checked", len(vectors))


@cocotb.test(**TIMEOUT)
async def random_vectors_under_stalls(dut):
    """Random vectors of several distributions under several stall mixes."""
    tb = SoftmaxBench(dut)
    await tb.start()
    await check_random_vectors(tb)


@cocotb.test(**TIMEOUT)
async def rate_and_latency(dut):
    """Latency of one vector; the steady-state cycles per vector (``check_rate_and_latency``)."""
    tb = SoftmaxBench(dut)
    await tb.start()
    await check_rate_and_latency(tb)


@cocotb.test(**TIMEOUT)
async def reset_mid_stream(dut):
    """Reset at random points; the vectors sent afterwards are correct."""
    tb = SoftmaxBench(dut, idle=0.2, backpressure=0.2)
    await tb.start()
    await check_vector_reset(tb)
