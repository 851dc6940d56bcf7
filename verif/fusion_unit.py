# SPDX-License-Identifier: BSD-2-Clause
"""cocotb testbench of ``fusion_unit``: exhaustive products per mode, random dot
products under stalls, overflow/saturation corners, mode errors, timing, reset."""

import random

import cocotb
import numpy as np

from accelgen.generators.fusion_unit import FusionUnit
from accelgen.golden.fusion_unit import (PREC_CODE, fusion_unit, pack_lanes,
                                         products_per_beat)
from accelgen.num.numeric import int_range
from accelgen.verif.amaranth_sim import run_stream
from accelgen.verif.bench import configuration, reset, scaled, start_clock
from accelgen.verif.payload import pack, unpack
from accelgen.verif.stream import back_to_back
from accelgen.verif.packets import (PacketBench, check_latency, check_reset_mid_stream,
                                     check_under_stalls)

__all__ = ["FusionBench", "random_beats", "exhaustive_beats", "simulate_stream"]

TIMEOUT = {"timeout_time": scaled(100), "timeout_unit": "ms"}
FIELDS = ("a", "w", "a_prec", "w_prec", "a_signed", "w_signed")


def random_beats(rng, modes, count, corner=0.125):
    """``count`` random beats (field dictionaries), each in a random mode of ``modes``
    with random signedness; one lane in eight takes an extreme value."""
    beats = []
    for _ in range(count):
        wa, ww = modes[rng.integers(len(modes))]
        sa, sw = (int(s) for s in rng.integers(0, 2, 2))
        per = products_per_beat(wa, ww)
        lanes = []
        for width, signed in ((wa, sa), (ww, sw)):
            lo, hi = int_range(width, signed)
            values = rng.integers(lo, hi, per, endpoint=True)
            pick = rng.random(per) < corner
            values[pick] = rng.choice([lo, hi], pick.sum())
            lanes.append(int(pack_lanes(values, width, signed)))
        beats.append({"a": lanes[0], "w": lanes[1], "a_prec": PREC_CODE[wa],
                      "w_prec": PREC_CODE[ww], "a_signed": sa, "w_signed": sw})
    return beats


def expect_packet(params, beats):
    columns = {k: np.array([beat[k] for beat in beats]) for k in (*FIELDS, "last")}
    result = fusion_unit(params, *(columns[k] for k in (*FIELDS, "last")))
    return list(zip(*(result[k].tolist() for k in ("acc", "overflow", "mode_error"))))


def observe(fields):
    return fields["acc"], bool(fields["overflow"]), bool(fields["mode_error"])


def simulate_stream(params, beats, seed, idle=0.3, backpressure=0.3):
    """Drive ``beats`` (field dictionaries with ``last``) through the RTL in
    Amaranth's simulator, with a source idling and a sink stalling at the given
    rates (``seed`` seeds them); a list of ``(acc, overflow, mode_error)``."""
    layout = params.input_layout()
    # raw bits: precision code 3 has no enum member
    return run_stream(FusionUnit(params), [pack(layout, **beat) for beat in beats],
                      sum(b["last"] for b in beats), max_cycles=len(beats) * 6 + 100,
                      read=lambda out: (out.acc, bool(out.overflow), bool(out.mode_error)),
                      rng=random.Random(seed), idle=idle, backpressure=backpressure)


class FusionBench(PacketBench):
    """:class:`PacketBench` with the Fusion Unit's golden model and traffic."""

    def __init__(self, dut, **stalls):
        _, p = configuration()
        super().__init__(dut, in_layout=p.input_layout(), out_layout=p.output_layout(),
                         expect=expect_packet, observe=observe, **stalls)

    def send_random(self, beats, max_len=16, mixed=0.1):
        """Random packets of 1..``max_len`` beats; one mode per packet, except that a
        fraction ``mixed`` of packets change mode from beat to beat."""
        modes = self.p.mode_set
        sent = 0
        while sent < beats:
            n = min(int(self.rng.randint(1, max_len)), beats - sent)
            if self.rng.random() < mixed:
                packet = random_beats(self.np_rng, modes, n)
            else:
                mode = modes[self.rng.randrange(len(modes))]
                packet = random_beats(self.np_rng, [mode], n)
                for beat in packet[1:]:  # one signedness per packet, as a layer would use
                    beat.update(a_signed=packet[0]["a_signed"], w_signed=packet[0]["w_signed"])
            self.send_packet(packet)
            sent += n



#: The bench the shared protocol stress (accelgen.verif.protocol) drives.
BENCH = FusionBench


def exhaustive_beats(wa, ww, sa, sw):
    """Beats in which every lane meets every ``(a, w)`` operand pair once: beat ``t``
    gives lane ``k`` the pair number ``(t + k * stride) mod 2**(wa+ww)``."""
    pairs = 1 << (wa + ww)
    per = products_per_beat(wa, ww)
    t = (np.arange(pairs)[:, None] + np.arange(per) * (pairs // per + 1)) % pairs
    lo_a, _ = int_range(wa, sa)
    lo_w, _ = int_range(ww, sw)
    a = pack_lanes((t >> ww) + lo_a, wa, sa)
    w = pack_lanes((t & ((1 << ww) - 1)) + lo_w, ww, sw)
    return a, w


@cocotb.test(**TIMEOUT)
async def exhaustive_products(dut):
    """Every operand pair in every lane, for every built mode and signedness, one
    beat per packet (each result is one step), back to back with ``o.ready``
    high, against the golden model. The products depend on neither saturation
    nor which other modes are built: the configuration with every mode and
    wrap-around takes every beat of the sweep, the others every 8th (every beat
    at ``ACCELGEN_STRESS=8``)."""
    _, p = configuration()
    dut.rst.value = 0
    dut.i__valid.value = 0
    start_clock(dut)
    await reset(dut)
    sampled = p.saturate or p.modes != "all"
    stride = max(1, 8 // scaled(1)) if sampled else 1
    layout, out_layout = p.input_layout(), p.output_layout()
    total = 0
    for wa, ww in p.mode_set:
        for sa in (0, 1):
            for sw in (0, 1):
                a, w = exhaustive_beats(wa, ww, sa, sw)
                a, w = a[::stride], w[::stride]
                ones = np.ones(a.size, dtype=np.int64)
                result = fusion_unit(p, a, w, PREC_CODE[wa] * ones, PREC_CODE[ww] * ones,
                                     sa * ones, sw * ones, ones)
                want = [(acc, bool(ov), bool(me)) for acc, ov, me in zip(
                    result["acc"].tolist(), result["overflow"].tolist(),
                    result["mode_error"].tolist())]
                words = [pack(layout, a=x, w=y, a_prec=PREC_CODE[wa], w_prec=PREC_CODE[ww],
                              a_signed=sa, w_signed=sw, last=1)
                         for x, y in zip(a.tolist(), w.tolist())]
                got = [observe(unpack(out_layout, bits))
                       for bits in await back_to_back(dut, words, p.latency)]
                assert len(got) == a.size, f"{len(got)} results for {a.size} beats"
                bad = [k for k, (g, e) in enumerate(zip(got, want)) if g != e]
                for k in bad[:10]:
                    dut._log.error("mode %dx%d signed %d/%d a=%#x w=%#x: got %s, expected %s",
                                   wa, ww, sa, sw, a[k], w[k], got[k], want[k])
                assert not bad, f"{len(bad)} of {a.size} steps differ in mode {wa}x{ww}"
                total += a.size
        dut._log.info("mode %dx%d: every %s operand pair in each of %d lanes, 4 "
                      "signedness combinations", wa, ww,
                      "" if stride == 1 else f"{stride}th", products_per_beat(wa, ww))
    dut._log.info("%d exhaustive beats checked", total)


@cocotb.test(**TIMEOUT)
async def random_dot_products_under_stalls(dut):
    """Random packets of every built mode under several idle/backpressure mixes."""
    beats = scaled(2000)
    tb = FusionBench(dut)
    await tb.start()
    assert await check_under_stalls(tb, tb.send_random, beats) == 4 * beats


def extreme_beat(params, sign):
    """The built beat with the largest step of the given sign: ``(beat, step)``."""
    best = None
    for wa, ww in params.mode_set:
        per = products_per_beat(wa, ww)
        for sa in (0, 1):
            for sw in (0, 1):
                for x in int_range(wa, sa):
                    for y in int_range(ww, sw):
                        value = per * x * y
                        if value * sign > 0 and (best is None or value * sign > best[1] * sign):
                            beat = {"a": int(pack_lanes([x] * per, wa, sa)),
                                    "w": int(pack_lanes([y] * per, ww, sw)),
                                    "a_prec": PREC_CODE[wa], "w_prec": PREC_CODE[ww],
                                    "a_signed": sa, "w_signed": sw}
                            best = (beat, value)
    return best


@cocotb.test(**TIMEOUT)
async def overflow_and_saturation(dut):
    """Packets of the largest positive and negative steps, long enough to leave the
    accumulator range where the simulation can reach it (wrap or clamp, and the flag;
    at most 40,000 beats, times ``ACCELGEN_STRESS``: the default 32-bit accumulator
    leaves its range upwards). Where it cannot (wide accumulators), 2,000-beat
    packets check that the accumulator does not overflow early."""
    tb = FusionBench(dut)
    await tb.start()
    width = tb.p.acc_width
    cap = scaled(40000)

    def length(needed):
        return needed if needed <= cap else scaled(2000)

    for sign in (1, -1):
        beat, value = extreme_beat(tb.p, sign)
        needed = (1 << (width - 1)) // abs(value) + 2
        repeats = length(needed)
        tb.send_packet([beat] * repeats)
        tb.send_packet([beat] * 3)
        dut._log.info("%d steps of %+d: accumulator %s", repeats, value,
                      "leaves its range" if repeats >= needed else
                      f"stays in range (needs {needed} beats at acc_width {width})")
        await tb.drain(max_cycles=repeats * 3 + 100)
    # Both signs in one packet: out of range one way, then back (a clamped
    # accumulator returns into range; the overflow flag stays set for the packet).
    (up, up_value), (down, down_value) = extreme_beat(tb.p, 1), extreme_beat(tb.p, -1)
    n_up = length((1 << (width - 1)) // up_value + 2)
    n_down = length(n_up * up_value // -down_value + 2)
    tb.send_packet([up] * n_up + [down] * n_down + [up] * 3)
    await tb.drain(max_cycles=(n_up + n_down) * 3 + 100)


@cocotb.test(**TIMEOUT)
async def unsupported_modes_flag_errors(dut):
    """Precision code 3 and pairs not built add nothing and set ``mode_error`` on the
    packet's result, without disturbing neighbouring packets."""
    tb = FusionBench(dut)
    await tb.start()
    built = set(tb.p.mode_set)
    codes = [(a, w) for a in range(4) for w in range(4)]
    bad = [(a, w) for a, w in codes if a == 3 or w == 3 or
           (2 << a, 2 << w) not in built]
    rng = tb.np_rng
    for a_prec, w_prec in bad:
        good = random_beats(rng, tb.p.mode_set, 2)
        wrong = {"a": int(rng.integers(1 << 32)), "w": int(rng.integers(1 << 32)),
                 "a_prec": a_prec, "w_prec": w_prec, "a_signed": 1, "w_signed": 0}
        tb.send_packet([good[0], wrong, good[1]])
        tb.send_packet([wrong])
        tb.send_packet(random_beats(rng, tb.p.mode_set, 3))
    await tb.drain(max_cycles=2000)
    dut._log.info("%d unsupported precision pairs checked", len(bad))


@cocotb.test(**TIMEOUT)
async def latency_and_throughput(dut):
    """No stalls: n beats in n cycles, result ``latency`` cycles after the last."""
    tb = FusionBench(dut)
    await tb.start()
    await check_latency(tb, random_beats(tb.np_rng, tb.p.mode_set, 50), tb.p.latency)


@cocotb.test(**TIMEOUT)
async def reset_mid_stream(dut):
    """Reset at random points; the packets sent afterwards are correct."""
    tb = FusionBench(dut, idle=0.2, backpressure=0.2)
    await tb.start()
    await check_reset_mid_stream(tb, tb.send_random)
