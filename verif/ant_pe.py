# SPDX-License-Identifier: BSD-2-Clause
"""cocotb testbench of ``ant_pe``: every product (exhaustive or every code against
random partners), random dot products under stalls, overflow, type errors,
timing, reset."""

import cocotb
import numpy as np

from accelgen.num.formats import TYPE_CODE, AntFormat
from accelgen.golden.ant_decoder import values as format_values
from accelgen.golden.ant_pe import ant_pe
from accelgen.verif.bench import configuration, scaled
from accelgen.verif.packets import (PacketBench, check_latency, check_reset_mid_stream,
                                     check_under_stalls)

__all__ = ["AntPEBench", "random_packet", "random_stream", "corner_stream"]

TIMEOUT = {"timeout_time": scaled(100), "timeout_unit": "ms"}
FIELDS = ("a", "w", "a_type", "w_type")


def results(params, columns):
    """Golden ``(acc, overflow, type_error)`` items of beats given as columns."""
    out = ant_pe(params, *(np.asarray(columns[k]) for k in (*FIELDS, "last")))
    return list(zip(*(out[k].tolist() for k in ("acc", "overflow", "type_error"))))


def expect_packet(params, beats):
    return results(params, {k: [b[k] for b in beats] for k in (*FIELDS, "last")})


def observe(fields):
    return fields["acc"], bool(fields["overflow"]), bool(fields["type_error"])


def random_packet(params, rng, count, wrong=0.05, mixed=0.05):
    """``count`` beats (dicts of ``a``, ``w``, ``a_type``, ``w_type``): one type per
    tensor (packet) as ANT uses them, from the built types; with probability
    ``wrong`` any type code (maybe unbuilt), and with ``mixed`` a new type on every
    beat; codes uniform, one beat in eight at the largest magnitude codes. ``rng``
    is a NumPy ``Generator``."""
    kinds = params.kinds

    def pick():
        if rng.random() < wrong:
            return int(rng.integers(4))
        return TYPE_CODE[kinds[rng.integers(len(kinds))]]

    a_type, w_type = pick(), pick()
    per_beat = rng.random() < mixed
    top = (1 << params.bits) - 1
    beats = []
    for _ in range(count):
        if per_beat:
            a_type, w_type = pick(), pick()
        a, w = (int(x) for x in rng.integers(0, top, 2, endpoint=True))
        if rng.random() < 0.125:  # the largest magnitude codes, often
            a, w = (int(rng.choice([top, top >> 1, 1 << (params.bits - 1)]))
                    for _ in range(2))
        beats.append({"a": a, "w": w, "a_type": a_type, "w_type": w_type})
    return beats


def random_stream(params, rng, count, wrong=0.05, mixed=0.5, end=0.15):
    """``(a, w, a_type, w_type, last)`` int64 arrays of ``count`` beats: packets of
    :func:`random_packet` (here half of them with per-beat types), lengths
    geometric with mean ``1 / end``, the last one cut at ``count``."""
    beats, last = [], []
    while len(beats) < count:
        n = min(int(rng.geometric(end)), count - len(beats))
        beats += random_packet(params, rng, n, wrong, mixed)
        last += [0] * (n - 1) + [1]
    columns = [np.array([b[k] for b in beats], dtype=np.int64) for k in FIELDS]
    return (*columns, np.array(last, dtype=np.int64))


def corner_stream(params):
    """``(a, w, a_type, w_type, last)`` arrays: single-beat packets of every built
    type pair's largest-magnitude code against code 0 (a zero under the largest
    shift: no overflow) and against the other's largest code, then a long packet of
    the largest in-range product, so the running sum leaves the range."""
    p = params
    beats = []
    best = (0, None)
    for ta in p.kinds:
        for tw in p.kinds:
            va = format_values(AntFormat(ta, p.bits, p.a_signed, p.float_exp))
            vw = format_values(AntFormat(tw, p.bits, p.w_signed, p.float_exp))
            ca = max(range(len(va)), key=lambda c: abs(va[c]))
            cw = max(range(len(vw)), key=lambda c: abs(vw[c]))
            beats += [(ca, 0, TYPE_CODE[ta], TYPE_CODE[tw], 1),
                      (ca, cw, TYPE_CODE[ta], TYPE_CODE[tw], 1)]
            for x in range(len(va)):
                value = va[x] * vw[cw]
                if best[0] < abs(value) < 1 << (p.acc_width - 1):
                    best = (abs(value), (x, cw, TYPE_CODE[ta], TYPE_CODE[tw]))
    repeats = (1 << (p.acc_width - 1)) // best[0] + 2
    beats += [(*best[1], 0)] * (repeats - 1) + [(*best[1], 1)]
    return [np.array(column, dtype=np.int64) for column in zip(*beats)]


class AntPEBench(PacketBench):
    """:class:`PacketBench` with the ANT PE's golden model and traffic."""

    def __init__(self, dut, **stalls):
        _, p = configuration()
        super().__init__(dut, in_layout=p.input_layout(), out_layout=p.output_layout(),
                         expect=expect_packet, observe=observe, **stalls)

    def random_packet(self, n, wrong=0.05, mixed=0.05):
        """:func:`random_packet` from the bench's seeded generator."""
        return random_packet(self.p, self.np_rng, n, wrong, mixed)

    def send_random(self, beats, max_len=16):
        sent = 0
        while sent < beats:
            n = min(int(self.rng.randint(1, max_len)), beats - sent)
            self.send_packet(self.random_packet(n))
            sent += n



#: The bench the shared protocol stress (accelgen.verif.protocol) drives.
BENCH = AntPEBench


def product_beats(p, rng):
    """Single-product beats: every ``(a, w, a_type, w_type)`` when that is at most
    2**12 beats (4-bit codes), else every code of each operand in each type code
    against 8 random partners in random types."""
    n = 1 << p.bits
    if n * n * 16 <= 1 << 12:
        grid = np.indices((n, n, 4, 4)).reshape(4, -1)
        return {k: grid[i] for i, k in enumerate(FIELDS)}
    own = np.repeat(np.indices((n, 4)).reshape(2, -1), 8, axis=1)
    other_code = rng.integers(0, n, own.shape[1])
    other_type = rng.integers(0, 4, own.shape[1])
    return {"a": np.concatenate([own[0], other_code]),
            "w": np.concatenate([other_code, own[0]]),
            "a_type": np.concatenate([own[1], other_type]),
            "w_type": np.concatenate([other_type, own[1]])}


@cocotb.test(**TIMEOUT)
async def every_product(dut):
    """One product per packet over the whole input space of a beat (4-bit codes) or
    every code of each operand in every type code (8-bit), against the golden."""
    tb = AntPEBench(dut)
    await tb.start()
    columns = product_beats(tb.p, tb.np_rng)
    count = len(columns["a"])
    columns["last"] = np.ones(count, dtype=np.int64)
    beats = [dict(zip(FIELDS, row)) for row in zip(*(columns[k].tolist() for k in FIELDS))]
    await tb.check_single_beats(beats, results(tb.p, columns))
    dut._log.info("%d single-product packets checked", count)
    assert tb.scoreboard.matched == count


def extreme_codes(params, signed, sign):
    """``(type code, code, |value|)`` of the built type whose code has the largest
    value of the given sign."""
    best = None
    for kind in params.kinds:
        fmt = AntFormat(kind, params.bits, signed, params.float_exp)
        for code, value in enumerate(format_values(fmt)):
            if value * sign > 0 and (best is None or abs(value) > best[2]):
                best = (TYPE_CODE[kind], code, abs(value))
    return best


@cocotb.test(**TIMEOUT)
async def overflow_corners(dut):
    """Extreme products: single beats with the largest values of both signs, and
    long packets that leave the accumulator range (the flag, and the wrapped sum)
    where that takes at most 20,000 beats (times ``ACCELGEN_STRESS``), else
    2,000-beat packets that must stay in range; then :func:`corner_stream`."""
    tb = AntPEBench(dut)
    await tb.start()
    p = tb.p
    for a_sign in (1, -1):
        for w_sign in (1, -1):
            a = extreme_codes(p, p.a_signed, a_sign)
            w = extreme_codes(p, p.w_signed, w_sign)
            if a is None or w is None:
                continue
            beat = {"a": a[1], "w": w[1], "a_type": a[0], "w_type": w[0]}
            tb.send_packet([beat])
            magnitude = a[2] * w[2]
            needed = (1 << (p.acc_width - 1)) // magnitude + 2
            # at most 20,000 beats to leave the range; else 2,000 that must not
            repeats = needed if needed <= scaled(20000) else scaled(2000)
            tb.send_packet([beat] * repeats)
            dut._log.info("product %+d x %d beats: %s", a_sign * w_sign * magnitude,
                          repeats, "overflows" if magnitude * repeats >= 1 << (p.acc_width - 1)
                          else "stays in range")
            await tb.drain(max_cycles=repeats * 3 + 100)
    # corner_stream: zeros under the largest shift, the largest codes, and a long
    # packet of the largest in-range product leaving the range.
    columns = corner_stream(p)
    beats = [dict(zip(FIELDS, map(int, row))) for row in zip(*columns[:4])]
    start = 0
    for k, end in enumerate(columns[4]):
        if end:
            tb.send_packet(beats[start:k + 1])
            start = k + 1
    await tb.drain(max_cycles=len(beats) * 3 + 100)


@cocotb.test(**TIMEOUT)
async def random_dot_products_under_stalls(dut):
    """Random packets (per-tensor types, sometimes unbuilt or per-beat types) under
    several idle/backpressure mixes."""
    beats = scaled(2000)
    tb = AntPEBench(dut)
    await tb.start()
    assert await check_under_stalls(tb, tb.send_random, beats) == 4 * beats


@cocotb.test(**TIMEOUT)
async def latency_and_throughput(dut):
    """No stalls: n beats in n cycles, result ``latency`` cycles after the last."""
    tb = AntPEBench(dut)
    await tb.start()
    await check_latency(tb, tb.random_packet(50), tb.p.latency)


@cocotb.test(**TIMEOUT)
async def reset_mid_stream(dut):
    """Reset at random points; the packets sent afterwards are correct."""
    tb = AntPEBench(dut, idle=0.2, backpressure=0.2)
    await tb.start()
    await check_reset_mid_stream(tb, tb.send_random)
