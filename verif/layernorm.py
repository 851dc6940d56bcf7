# SPDX-License-Identifier: BSD-2-Clause
"""cocotb testbench of ``layernorm``: adversarial vectors (equal values, maximal
spread, one outlier, tiny and large variance, extreme gamma/beta), random
vectors under stalls, the steady-state rate and latency, mid-stream reset."""

import cocotb
import numpy as np

from accelgen.golden.layernorm import layernorm
from accelgen.num.numeric import int_range
from accelgen.verif.bench import scaled
from accelgen.verif.vectors import (VectorBench, check_random_vectors, check_rate_and_latency,
                                     check_vector_reset)

__all__ = ["LayerNormBench"]

TIMEOUT = {"timeout_time": scaled(200), "timeout_unit": "ms"}


def model(params, columns):
    return layernorm(params, columns["x"], columns.get("gamma"), columns.get("beta"))


class LayerNormBench(VectorBench):
    """:class:`VectorBench` with the LayerNorm golden model and input vectors."""

    def __init__(self, dut, **stalls):
        super().__init__(dut, model, **stalls)

    def affine(self, x, extreme=False):
        """``x`` with random gamma/beta codes when the unit is affine (extremes
        when ``extreme``)."""
        p, rng = self.p, self.np_rng
        vector = {"x": np.asarray(x, dtype=np.int64)}
        if p.affine:
            for name, bits in (("gamma", p.gamma_bits), ("beta", p.out_bits)):
                lo, hi = int_range(bits, True)
                vector[name] = (rng.choice([lo, hi], p.channels) if extreme
                                else rng.integers(lo, hi, p.channels, endpoint=True))
        return vector

    def random_vectors(self, count):
        """Gaussian activations of random mean and spread (``2**-3`` to ``2**3``
        times the input scale's unit), uniform codes, clipped to the input range."""
        p, rng = self.p, self.np_rng
        lo, hi = int_range(p.in_bits, True)
        out = []
        for _ in range(count):
            if rng.random() < 0.25:
                x = rng.integers(lo, hi, p.channels, endpoint=True)
            else:
                x = rng.normal(rng.uniform(lo, hi) / 4, 2.0 ** rng.uniform(-3, 3)
                               * 2 ** p.in_frac, p.channels)
            out.append(self.affine(np.clip(np.round(x), lo, hi)))
        return out

    def adversarial_vectors(self):
        p, rng = self.p, self.np_rng
        lo, hi = int_range(p.in_bits, True)
        n = np.arange(p.channels)
        xs = [np.full(p.channels, v) for v in (lo, 0, hi)]
        xs += [np.where(n == 0, hi, lo), np.where(n == p.channels - 1, lo, hi),
               np.where(n % 2 == 0, lo, hi), np.where(n == 0, 1, 0), np.where(n == 0, lo, 0),
               np.where(n < p.channels // 2, hi, hi - 1), rng.choice([lo, hi], p.channels)]
        out = [self.affine(x) for x in xs] + [self.affine(x, extreme=True) for x in xs]
        return out

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
