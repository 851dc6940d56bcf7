# SPDX-License-Identifier: BSD-2-Clause
"""cocotb testbench of ``layernorm``: adversarial vectors (equal values, maximal
spread, one outlier, tiny and large variance, extreme gamma/beta), random
vectors under stalls, the steady-state rate and latency, mid-stream reset."""

import random

import cocotb
import numpy as np

from accelgen.generators.layernorm import LayerNorm
from accelgen.golden.layernorm import layernorm
from accelgen.num.numeric import int_range
from accelgen.verif.amaranth_sim import run_vectors
from accelgen.verif.bench import scaled
from accelgen.verif.vectors import (VectorBench, check_random_vectors, check_rate_and_latency,
                                     check_vector_reset)

__all__ = ["LayerNormBench", "random_vectors", "random_affine", "corner_vectors", "run_rtl"]

TIMEOUT = {"timeout_time": scaled(200), "timeout_unit": "ms"}


def model(params, columns):
    return layernorm(params, columns["x"], columns.get("gamma"), columns.get("beta"))


def random_vectors(params, rng, count):
    """``count`` random activation vectors, an int64 array ``(count, channels)``:
    one in four uniform codes, the rest Gaussian of random mean (uniform over a
    quarter of the input range) and spread (``2**-3`` to ``2**3`` times the input
    scale's unit), rounded and clipped to the input range. ``rng`` is a NumPy
    ``Generator``."""
    lo, hi = int_range(params.in_bits, True)
    out = np.empty((count, params.channels), dtype=np.int64)
    for row in range(count):
        if rng.random() < 0.25:
            x = rng.integers(lo, hi, params.channels, endpoint=True)
        else:
            x = rng.normal(rng.uniform(lo, hi) / 4, 2.0 ** rng.uniform(-3, 3)
                           * 2 ** params.in_frac, params.channels)
        out[row] = np.clip(np.round(x), lo, hi)
    return out


def random_affine(params, rng, shape, extreme=False):
    """``(gamma, beta)`` int64 arrays of ``shape``: codes uniform over ``gamma_bits``
    and ``out_bits`` (signed), or only their two ends when ``extreme``. Drawn
    whether or not the unit is affine."""
    out = []
    for bits in (params.gamma_bits, params.out_bits):
        lo, hi = int_range(bits, True)
        out.append(np.asarray(rng.choice([lo, hi], shape) if extreme
                              else rng.integers(lo, hi, shape, endpoint=True), dtype=np.int64))
    return tuple(out)


def corner_vectors(params, rng):
    """The adversarial activation vectors, an int64 array: all equal (bottom, zero,
    top code), one outlier at either end, alternating ends (the largest variance),
    a lone 1 or bottom code among zeros (the smallest variances), two halves one
    code apart, and random ends (drawn from ``rng``)."""
    c = params.channels
    lo, hi = int_range(params.in_bits, True)
    n = np.arange(c)
    xs = [np.full(c, v) for v in (lo, 0, hi)]
    xs += [np.where(n == 0, hi, lo), np.where(n == c - 1, lo, hi),
           np.where(n % 2 == 0, lo, hi), np.where(n == 0, 1, 0), np.where(n == 0, lo, 0),
           np.where(n < c // 2, hi, hi - 1), rng.choice([lo, hi], c)]
    return np.array(xs, dtype=np.int64)


def run_rtl(params, x, gamma, beta, seed, idle=0.0, backpressure=0.0):
    """LayerNorm of the rows of ``x`` (with ``gamma`` and ``beta`` when the unit is
    affine) through the RTL in Amaranth's simulator, with a source idling and a
    sink stalling at the given rates (``seed`` seeds them); an int64 array."""
    columns = {"x": x, "gamma": gamma, "beta": beta} if params.affine else {"x": x}
    return np.array(run_vectors(LayerNorm(params), params, columns, rng=random.Random(seed),
                                idle=idle, backpressure=backpressure))


class LayerNormBench(VectorBench):
    """:class:`VectorBench` with the LayerNorm golden model and input vectors."""

    def __init__(self, dut, **stalls):
        super().__init__(dut, model, **stalls)

    def affine(self, xs, extreme=False):
        """The vectors ``xs`` (rows) as the bench sends them, with :func:`random_affine`
        gamma/beta codes when the unit is affine (extremes when ``extreme``)."""
        xs = np.asarray(xs, dtype=np.int64)
        if not self.p.affine:
            return [{"x": x} for x in xs]
        gamma, beta = random_affine(self.p, self.np_rng, xs.shape, extreme)
        return [{"x": x, "gamma": g, "beta": b} for x, g, b in zip(xs, gamma, beta)]

    def random_vectors(self, count):
        """:func:`random_vectors` (with :meth:`affine`) from the bench's seeded generator."""
        return self.affine(random_vectors(self.p, self.np_rng, count))

    def adversarial_vectors(self):
        """:func:`corner_vectors`, with random then extreme gamma/beta codes."""
        xs = corner_vectors(self.p, self.np_rng)
        return self.affine(xs) + self.affine(xs, extreme=True)

    def send_random(self, beats):
        self.send_vectors(self.random_vectors(max(1, beats // self.p.words)))



#: The bench the shared protocol stress (accelgen.verif.protocol) drives.
BENCH = LayerNormBench


@cocotb.test(**TIMEOUT)
async def corners(dut):
    """Equal values, maximal spread, one outlier, the smallest and largest
    variance, extreme gamma and beta; no stalls."""
    tb = LayerNormBench(dut)
    await tb.start()
    vectors = tb.adversarial_vectors()
    tb.send_vectors(vectors)
    await tb.drain(max_cycles=len(vectors) * tb.p.vector_cycles * 2 + 1000)


@cocotb.test(**TIMEOUT)
async def random_vectors_under_stalls(dut):
    """Random vectors of several distributions under several stall mixes."""
    tb = LayerNormBench(dut)
    await tb.start()
    await check_random_vectors(tb)


@cocotb.test(**TIMEOUT)
async def rate_and_latency(dut):
    """Latency of one vector; the steady-state cycles per vector (``check_rate_and_latency``)."""
    tb = LayerNormBench(dut)
    await tb.start()
    await check_rate_and_latency(tb)


@cocotb.test(**TIMEOUT)
async def reset_mid_stream(dut):
    """Reset at random points; the vectors sent afterwards are correct."""
    tb = LayerNormBench(dut, idle=0.2, backpressure=0.2)
    await tb.start()
    await check_vector_reset(tb)
