# SPDX-License-Identifier: BSD-2-Clause
"""cocotb testbench of ``olive_pe``: every pair word, encoder-made dot products
under stalls, overflow, timing, reset."""

import cocotb
import numpy as np

from accelgen.golden.olive_decoder import encode_pairs, normal_values, outlier_values
from accelgen.golden.olive_pe import olive_pe
from accelgen.verif.bench import configuration, scaled
from accelgen.verif.packets import (PacketBench, check_latency, check_reset_mid_stream,
                                     check_under_stalls)

__all__ = ["OlivePEBench", "encoded_words", "extreme_beats"]

TIMEOUT = {"timeout_time": scaled(100), "timeout_unit": "ms"}


def results(params, a, w, last):
    out = olive_pe(params, np.asarray(a), np.asarray(w), np.asarray(last))
    return list(zip(out["acc"].tolist(), out["overflow"].tolist()))


def expect_packet(params, beats):
    return results(params, *([b[k] for b in beats] for k in ("a", "w", "last")))


def observe(fields):
    return fields["acc"], bool(fields["overflow"])


def encoded_words(fmt, rng, pairs, outliers=0.05):
    """Pair words of Gaussian values (sigma = a third of the normal range) with a
    fraction ``outliers`` scaled far beyond it, through the golden encoder."""
    x = rng.normal(0, fmt.normal_max / 3, 2 * pairs)
    big = rng.random(x.size) < outliers
    x[big] *= rng.uniform(2, 2 * max(outlier_values(fmt)) / fmt.normal_max, big.sum())
    return encode_pairs(fmt, x, keep=str(rng.choice(["larger", "left"])))


class OlivePEBench(PacketBench):
    """:class:`PacketBench` with the OliVe PE's golden model and traffic."""

    def __init__(self, dut, **stalls):
        _, p = configuration()
        super().__init__(dut, in_layout=p.input_layout(), out_layout=p.output_layout(),
                         expect=expect_packet, observe=observe, **stalls)

    def random_packet(self, n, raw=0.2):
        """``n`` beats of encoder-made pairs; with probability ``raw`` a packet of
        arbitrary words (every word decodes to something)."""
        rng, fmt = self.np_rng, self.p.format
        if rng.random() < raw:
            a, w = rng.integers(0, 1 << (2 * fmt.bits), (2, n))
        else:
            a, w = encoded_words(fmt, rng, n), encoded_words(fmt, rng, n)
        return [{"a": int(x), "w": int(y)} for x, y in zip(a, w)]

    def send_random(self, beats, max_len=16):
        sent = 0
        while sent < beats:
            n = min(int(self.rng.randint(1, max_len)), beats - sent)
            self.send_packet(self.random_packet(n))
            sent += n



#: The bench the shared protocol stress (accelgen.verif.protocol) drives.
BENCH = OlivePEBench


@cocotb.test(**TIMEOUT)
async def every_pair_word(dut):
    """One beat per packet: every (a, w) pair-word combination at 4 bits (2**16
    beats); at 8 bits every a word against a permutation of every w word."""
    tb = OlivePEBench(dut)
    await tb.start()
    n = 1 << (2 * tb.p.bits)
    if tb.p.bits == 4:
        a, w = np.indices((n, n)).reshape(2, -1)
    else:
        a, w = np.arange(n), tb.np_rng.permutation(n)
    last = np.ones(a.size, dtype=np.int64)
    beats = [{"a": x, "w": y} for x, y in zip(a.tolist(), w.tolist())]
    await tb.check_single_beats(beats, results(tb.p, a, w, last))
    dut._log.info("%d single-beat packets checked", a.size)
    assert tb.scoreboard.matched == a.size


def extreme_beats(fmt):
    """``[(beat, step)]``: the largest outlier products (an outlier next to its
    victim on both sides) and the largest normal pairs (two products per beat, so
    the beat's sum can leave a range its products fit), both signs."""
    outliers, normals = outlier_values(fmt), normal_values(fmt)
    top, big = max(outliers), max(normals)
    ident = fmt.identifier << fmt.bits
    beats = []
    for sign in (1, -1):
        beats.append(({"a": outliers[top] | ident, "w": outliers[sign * top] | ident},
                      sign * top * top))
        pair = normals[big] | (normals[big] << fmt.bits)
        other = normals[sign * big] | (normals[sign * big] << fmt.bits)
        beats.append(({"a": pair, "w": other}, 2 * sign * big * big))
    return beats


@cocotb.test(**TIMEOUT)
async def overflow_corners(dut):
    """The largest outlier and normal products of both signs, single and repeated
    until the accumulator leaves its range (the flag, and the wrapped sum) where
    that takes at most 20,000 beats (times ``ACCELGEN_STRESS``); a beat that
    would need more is repeated 2,000 times, checking that the accumulator does
    not overflow early."""
    tb = OlivePEBench(dut)
    await tb.start()
    width = tb.p.acc_width
    for beat, step in extreme_beats(tb.p.format):
        tb.send_packet([beat])
        needed = (1 << (width - 1)) // abs(step) + 2
        repeats = needed if needed <= scaled(20000) else scaled(2000)
        tb.send_packet([beat] * repeats)
        dut._log.info("beat sum %+d: %s alone, x %d beats", step,
                      "out of range" if not -(1 << (width - 1)) <= step < 1 << (width - 1)
                      else "in range", repeats)
        await tb.drain(max_cycles=repeats * 3 + 100)


@cocotb.test(**TIMEOUT)
async def random_dot_products_under_stalls(dut):
    """Encoder-made and arbitrary pair streams under several stall mixes."""
    beats = scaled(2000)
    tb = OlivePEBench(dut)
    await tb.start()
    assert await check_under_stalls(tb, tb.send_random, beats) == 4 * beats


@cocotb.test(**TIMEOUT)
async def latency_and_throughput(dut):
    """No stalls: n beats in n cycles, result ``latency`` cycles after the last."""
    tb = OlivePEBench(dut)
    await tb.start()
    await check_latency(tb, tb.random_packet(50, raw=0), tb.p.latency)


@cocotb.test(**TIMEOUT)
async def reset_mid_stream(dut):
    """Reset at random points; the packets sent afterwards are correct."""
    tb = OlivePEBench(dut, idle=0.2, backpressure=0.2)
    await tb.start()
    await check_reset_mid_stream(tb, tb.send_random)
