# SPDX-License-Identifier: BSD-2-Clause
"""cocotb testbench of ``fp_mac``: every product, random packets with special values under stalls, extremes, timing, reset."""

import cocotb
import numpy as np

from accelgen.golden.fp_mac import fp_mac
from accelgen.verif.bench import configuration, reset, rngs, scaled, start_clock
from accelgen.verif.payload import pack, unpack
from accelgen.verif.stream import back_to_back
from accelgen.verif.packets import (PacketBench, check_latency, check_reset_mid_stream,
                                     check_under_stalls)

__all__ = ["FpMACBench", "output_fields", "results", "special_codes", "largest_code",
           "random_codes", "random_stream", "product_beats"]

TIMEOUT = {"timeout_time": scaled(100), "timeout_unit": "ms"}


def output_fields(params):
    """The output fields, in the order of the compared tuples."""
    return tuple(params.output_layout().members)


def results(params, a, b, last):
    """Golden items (tuples of ints in :func:`FIELDS` order) of beats given as columns."""
    out = fp_mac(params, np.asarray(a), np.asarray(b), np.asarray(last))
    return list(zip(*([int(v) for v in out[k].tolist()] for k in output_fields(params))))


def special_codes(fmt):
    """The codes worth hitting often: ±0, the smallest subnormal, the largest
    subnormal, the smallest normal, one, the largest finite value, and the NaN
    and infinity codes (where the format has them), with both signs."""
    m, e = fmt.man_bits, fmt.exp_bits
    top = (1 << e) - 1
    body = [0, 1, (1 << m) - 1, 1 << m, fmt.bias << m]
    if fmt.specials == "ieee":
        body += [((top - 1) << m) | ((1 << m) - 1), top << m, (top << m) | 1]
    elif fmt.specials == "fn":
        body += [(top << m) | ((1 << m) - 2), (top << m) | ((1 << m) - 1)]
    sign = 1 << (fmt.width - 1)
    return sorted(set(body) | {c | sign for c in body})


def largest_code(fmt):
    """The code of the largest finite positive value of ``fmt``."""
    m, top = fmt.man_bits, (1 << fmt.exp_bits) - 1
    if fmt.specials == "ieee":
        return ((top - 1) << m) | ((1 << m) - 1)
    return (top << m) | ((1 << m) - (2 if fmt.specials == "fn" else 1))


def random_codes(fmt, rng, count, special=0.15, near=0.3):
    """``count`` codes of ``fmt``: uniform, a fraction ``special`` from
    :func:`special_codes`, and a fraction ``near`` with exponents close to one
    (sums of such products cancel and round at every beat)."""
    codes = rng.integers(0, 1 << fmt.width, count)
    pick = rng.random(count)
    specials = np.array(special_codes(fmt))
    codes = np.where(pick < special, rng.choice(specials, count), codes)
    mid = (fmt.bias + rng.integers(-3, 4, count)) << fmt.man_bits
    close = mid | rng.integers(0, 1 << fmt.man_bits, count) \
        | (rng.integers(0, 2, count) << (fmt.width - 1))
    return np.where((pick >= special) & (pick < special + near), close, codes)


def random_stream(params, rng, count, end=0.2):
    """``(a, b, last)`` of ``count`` beats of :func:`random_codes`, ``last`` set with
    probability ``end`` (the final beat may leave a packet open)."""
    return (random_codes(params.a_format, rng, count), random_codes(params.b_format, rng, count),
            rng.random(count) < end)


def product_beats(params, rng, partners=16):
    """``(a, b)`` of single-product packets: every code pair when both formats are
    FP8 (65,536 pairs); else every code of each 8-bit operand (4,096 random
    codes of a 16-bit one) against ``partners`` random codes of the other
    (:func:`random_codes`), plus every pair of special codes."""
    fa, fb = params.a_format, params.b_format
    if fa.width == fb.width == 8:
        grid = np.indices((1 << fa.width, 1 << fb.width)).reshape(2, -1)
        return grid[0], grid[1]
    own_a = np.repeat(np.arange(1 << fa.width), partners) if fa.width <= 8 else \
        rng.integers(0, 1 << fa.width, 4096)
    own_b = np.repeat(np.arange(1 << fb.width), partners) if fb.width <= 8 else \
        rng.integers(0, 1 << fb.width, 4096)
    sa, sb = np.meshgrid(special_codes(fa), special_codes(fb))
    a = np.concatenate([own_a, random_codes(fa, rng, own_b.size), sa.ravel()])
    b = np.concatenate([random_codes(fb, rng, own_a.size), own_b, sb.ravel()])
    return a, b


class FpMACBench(PacketBench):
    """:class:`PacketBench` with ``fp_mac``'s golden model and traffic."""

    def __init__(self, dut, **stalls):
        _, p = configuration()
        fields = output_fields(p)
        super().__init__(dut, in_layout=p.input_layout(), out_layout=p.output_layout(),
                         expect=lambda params, beats: results(
                             params, *([beat[k] for beat in beats] for k in ("a", "b", "last"))),
                         observe=lambda out: tuple(int(out[k]) for k in fields), **stalls)

    def send_codes(self, a, b):
        self.send_packet([{"a": int(x), "b": int(y)} for x, y in zip(a, b)])

    def send_random(self, beats, max_len=16):
        a, b, _last = random_stream(self.p, self.np_rng, beats)
        k = 0
        while k < beats:
            n = min(int(self.rng.randint(1, max_len)), beats - k)
            self.send_codes(a[k:k + n], b[k:k + n])
            k += n


#: The bench the shared protocol stress (accelgen.verif.protocol) drives.
BENCH = FpMACBench


@cocotb.test(**TIMEOUT)
async def every_product(dut):
    """One product per packet, back to back: every code pair of two FP8 formats
    (65,536), or for a 16-bit operand random codes against every code of the
    other and every pair of special codes, against the golden model."""
    _, p = configuration()
    _, rng = rngs(dut)
    dut.rst.value = 0
    dut.i__valid.value = 0
    start_clock(dut)
    await reset(dut)
    a, b = product_beats(p, rng)
    layout = p.input_layout()
    words = [pack(layout, a=int(x), b=int(y), last=1) for x, y in zip(a, b)]
    got = await back_to_back(dut, words, p.latency)
    fields, out_layout = output_fields(p), p.output_layout()
    got = [tuple(int(v[k]) for k in fields) for v in (unpack(out_layout, w) for w in got)]
    want = results(p, a, b, np.ones(a.size, dtype=np.int64))
    bad = [(int(x), int(y), g, w) for x, y, g, w in zip(a, b, got, want) if g != w]
    for x, y, g, w in bad[:10]:
        dut._log.error("a=%#x b=%#x: got %s, expected %s", x, y, g, w)
    assert len(got) == a.size, f"{len(got)} results for {a.size} packets"
    assert not bad, f"{len(bad)} of {a.size} products differ"
    dut._log.info("%d single-product packets checked", a.size)


@cocotb.test(**TIMEOUT)
async def random_packets_under_stalls(dut):
    """Random packets of 1..16 beats (special codes and cancelling sums often)
    under several idle/backpressure mixes."""
    beats = scaled(600)
    tb = FpMACBench(dut)
    await tb.start()
    assert await check_under_stalls(tb, tb.send_random, beats) == 4 * beats


@cocotb.test(**TIMEOUT)
async def extremes(dut):
    """The largest products of both signs repeated: FP32 sums rounding at every
    beat (and reaching infinity for BF16/FP16), or the exact accumulator leaving
    its range (``overflow``) when that takes at most 1,000 beats; ``x, -x``
    packets that cancel to ``+0``; the smallest subnormals summed."""
    tb = FpMACBench(dut)
    await tb.start()
    p = tb.p
    fa, fb = p.a_format, p.b_format
    xa, xb = largest_code(fa), largest_code(fb)
    sign_a, sign_b = 1 << (fa.width - 1), 1 << (fb.width - 1)
    repeats = (1 << p.guard) + 2 if p.acc == "exact" else 200
    repeats = repeats if repeats <= scaled(1000) else scaled(200)
    for sa in (0, sign_a):
        for sb in (0, sign_b):
            tb.send_codes([xa | sa] * repeats, [xb | sb] * repeats)
    tb.send_codes([xa, xa | sign_a, 1], [xb, xb, 1])          # cancels, then a tiny product
    tb.send_codes([1, 1 | sign_a], [1, 1])                    # exact cancellation: +0
    tb.send_codes([1] * 64, [1] * 64)                         # subnormal products summed
    dut._log.info("packets of %d largest products (codes %#x, %#x)", repeats, xa, xb)
    await tb.drain(max_cycles=repeats * 16 + 2000)


@cocotb.test(**TIMEOUT)
async def latency_and_throughput(dut):
    """With no stalls, n beats take n cycles and the result appears ``latency``
    cycles after the last beat is accepted (the manifest's figures)."""
    tb = FpMACBench(dut)
    await tb.start()
    a, b, _last = random_stream(tb.p, tb.np_rng, 50)
    await check_latency(tb, [{"a": int(x), "b": int(y)} for x, y in zip(a, b)], tb.p.latency)


@cocotb.test(**TIMEOUT)
async def reset_mid_stream(dut):
    """Reset at random points of a stream: in-flight work is discarded and the
    packets sent afterwards are correct."""
    tb = FpMACBench(dut, idle=0.2, backpressure=0.2)
    await tb.start()
    await check_reset_mid_stream(tb, tb.send_random)
