# SPDX-License-Identifier: BSD-2-Clause
"""cocotb testbench of ``mx_dot``: random MX blocks (finite elements, scales near
and far from 127, NaN scales) and the special blocks (NaN and infinite elements,
``inf * 0``, extreme scales, cancellation) under stalls, timing, reset."""

import random

import cocotb
import numpy as np

from accelgen.generators.mx_dot import MXDot
from accelgen.golden.mx_dot import mx_dot
from accelgen.num.fp import decode
from accelgen.verif.amaranth_sim import run_stream
from accelgen.verif.bench import configuration, scaled
from accelgen.verif.packets import (PacketBench, check_latency, check_reset_mid_stream,
                                     check_under_stalls)

__all__ = ["MXDotBench", "finite_codes", "special_codes", "negate", "tie_blocks",
           "random_blocks", "special_blocks", "expected", "to_beats", "run_rtl"]

TIMEOUT = {"timeout_time": scaled(200), "timeout_unit": "ms"}
FIELDS = ("a", "b", "scale_a", "scale_b")


def finite_codes(fmt):
    """Every finite code of ``fmt`` (a format), as an int64 array."""
    codes = np.arange(1 << fmt.width, dtype=np.int64)
    _, _, nan, inf = decode(fmt, codes)
    return codes[~(nan | inf)]


def special_codes(fmt):
    """``(nan codes, +inf codes, -inf codes, zero codes)`` of ``fmt``, int64 arrays."""
    codes = np.arange(1 << fmt.width, dtype=np.int64)
    mant, _, nan, inf = decode(fmt, codes)
    return codes[nan], codes[inf & (mant > 0)], codes[inf & (mant < 0)], \
        codes[~nan & ~inf & (mant == 0)]


def negate(fmt, code):
    """The code of ``-value(code)`` in ``fmt``: the sign bit flipped (MXINT8: the
    two's complement negation, for codes other than -128)."""
    if fmt.kind == "int":
        return (-(code - ((code >> 7) << 8))) & 0xFF
    return code ^ (1 << (fmt.width - 1))


def _power_codes(fmt):
    """``{k: (code, negative code)}`` of the finite codes whose value is
    ``2**k`` units of ``2**exp_min`` (one code per ``k``)."""
    codes = finite_codes(fmt)
    mant, exp, _, _ = decode(fmt, codes)
    units = mant << (exp - fmt.exp_min)
    out = {}
    for code, u in zip(codes.tolist(), units.tolist()):
        if u > 0 and u & (u - 1) == 0 and u.bit_length() - 1 not in out:
            out[u.bit_length() - 1] = (code, negate(fmt, code))
    return out


def tie_blocks(params):
    """Blocks whose FP32 rounding meets a tie or a near tie: the largest product
    ``P`` (``L`` bits in units of ``2**lsb_exp``, ``ulp = 2**(L - 24)``) plus half
    an ulp (a tie: to even, down), plus an ulp and half an ulp (a tie: up), plus
    half an ulp and a quarter (up), plus half an ulp less a quarter (down); and
    each negated. Products of powers of two; none when the sums need no
    rounding (``L <= 24``) or ``block < 4``. A list of ``(a, b)`` code arrays."""
    p = params
    fa, fb = p.a_format, p.b_format
    fin_a, fin_b = finite_codes(fa), finite_codes(fb)
    ua = decode(fa, fin_a)[0] << (decode(fa, fin_a)[1] - fa.exp_min)
    ub = decode(fb, fin_b)[0] << (decode(fb, fin_b)[1] - fb.exp_min)
    big_a, big_b = int(fin_a[np.argmax(ua)]), int(fin_b[np.argmax(ub)])
    top = int(ua.max()) * int(ub.max())
    ulp = top.bit_length() - 24
    pa, pb = _power_codes(fa), _power_codes(fb)

    def pair(k, negative=False):
        """Codes ``(a, b)`` with product ``±2**k`` units, or ``None``."""
        for ka, (ca, na) in pa.items():
            if k - ka in pb:
                return (na if negative else ca), pb[k - ka][0]
        return None

    if ulp < 2 or p.block < 4:
        return []
    half, quarter, one = pair(ulp - 1), pair(ulp - 2), pair(ulp)
    less = pair(ulp - 2, negative=True)
    if None in (half, quarter, one, less):
        return []
    zero_a, zero_b = special_codes(fa)[3][0], special_codes(fb)[3][0]
    blocks = []
    for extra in ([half], [one, half], [half, quarter], [half, less]):
        for sign in (False, True):
            terms = [(big_a, big_b), *extra]
            a = [t[0] for t in terms] + [zero_a] * (p.block - len(terms))
            b = [t[1] for t in terms] + [zero_b] * (p.block - len(terms))
            a, b = np.array(a, dtype=np.int64), np.array(b, dtype=np.int64)
            if sign:  # every product negated through the sign of b
                b = np.array([negate(fb, c) for c in b.tolist()], dtype=np.int64)
            blocks.append((a, b))
    return blocks


def random_scales(rng, count, nan=0.03):
    """E8M0 codes: half near 127 (within 12), a quarter uniform over 0 .. 254, the
    rest at the ends (0, 1, 253, 254); a fraction ``nan`` are 0xFF."""
    kind = rng.random(count)
    near = 127 + rng.integers(-12, 13, count)
    anywhere = rng.integers(0, 255, count)
    ends = rng.choice([0, 1, 253, 254], count)
    s = np.where(kind < 0.5, near, np.where(kind < 0.75, anywhere, ends))
    return np.where(rng.random(count) < nan, 0xFF, s).astype(np.int64)


def random_blocks(params, rng, count, special=0.1, nan_scale=0.03):
    """``count`` random block pairs as a dict of ``a``, ``b`` (``(count, block)``)
    and ``scale_a``, ``scale_b`` (``(count,)``), int64 codes. Elements are uniform
    over the finite codes; in a fraction ``special`` of the blocks a few
    elements are replaced by a random special code of the format (NaN, ±inf
    where it has them) or a zero, and in one block in ten ``b`` is every element
    alike (long runs of equal products). ``rng`` is a NumPy ``Generator``."""
    p = params
    cols = {}
    for name, fmt in (("a", p.a_format), ("b", p.b_format)):
        codes = rng.choice(finite_codes(fmt), (count, p.block))
        pool = np.concatenate(special_codes(fmt))
        hit = (rng.random((count, 1)) < special) & (rng.random((count, p.block)) < 0.1)
        codes[hit] = rng.choice(pool, int(hit.sum()))
        cols[name] = codes
    alike = rng.random(count) < 0.1
    cols["b"][alike] = cols["b"][alike][:, :1]
    cols["scale_a"] = random_scales(rng, count, nan_scale)
    cols["scale_b"] = random_scales(rng, count, nan_scale)
    return cols


def special_blocks(params, rng):
    """The special blocks, a dict like :func:`random_blocks`: a NaN element,
    ``inf * 0`` and ``0 * inf``, one infinity of each sign, infinities of both
    signs (formats that have them); NaN scales; the largest elements at the
    largest scales (FP32 overflow), the smallest at the smallest (underflow to a
    subnormal or zero) and between; cancellation to an exact zero (the second
    half of ``a`` negating the first); every element zero; every element the
    largest negative; the FP32 ties and near ties of :func:`tie_blocks`. Random
    finite elements elsewhere."""
    p = params
    fa, fb = p.a_format, p.b_format
    fin_a, fin_b = finite_codes(fa), finite_codes(fb)
    nonzero_a = fin_a[decode(fa, fin_a)[0] != 0]
    nonzero_b = fin_b[decode(fb, fin_b)[0] != 0]
    blocks = []

    def block(a=None, b=None, sa=127, sb=127):
        a = rng.choice(nonzero_a, p.block) if a is None else np.asarray(a, dtype=np.int64)
        b = rng.choice(nonzero_b, p.block) if b is None else np.asarray(b, dtype=np.int64)
        blocks.append((a, b, sa, sb))

    for name, fmt in (("a", fa), ("b", fb)):
        nan, pinf, ninf, zero = special_codes(fmt)
        other = "b" if name == "a" else "a"
        k = int(rng.integers(p.block))
        if len(nan):
            x = rng.choice(nonzero_a if name == "a" else nonzero_b, p.block)
            x[k] = nan[0]
            block(**{name: x})
        if len(pinf):
            for inf in (pinf[0], ninf[0]):
                x = rng.choice(nonzero_a if name == "a" else nonzero_b, p.block)
                x[k] = inf
                block(**{name: x})                      # one infinity
                y = rng.choice(nonzero_b if name == "a" else nonzero_a, p.block)
                y[k] = special_codes(p.b_format if name == "a" else p.a_format)[3][0]
                block(**{name: x, other: y})            # inf * 0
            x = rng.choice(nonzero_a if name == "a" else nonzero_b, p.block)
            x[0], x[-1] = pinf[0], ninf[0]
            if p.block > 1:
                block(**{name: x})                      # +inf and -inf
    block(sa=0xFF)
    block(sb=0xFF)
    block(sa=0xFF, sb=0xFF)
    ma = decode(fa, fin_a)[0] << (decode(fa, fin_a)[1] - fa.exp_min)
    mb = decode(fb, fin_b)[0] << (decode(fb, fin_b)[1] - fb.exp_min)
    big_a, big_b = fin_a[np.argmax(ma)], fin_b[np.argmax(mb)]
    low_a, low_b = fin_a[np.argmin(ma)], fin_b[np.argmin(mb)]
    tiny_a = fin_a[np.argmin(np.where(ma > 0, ma, np.inf))]
    tiny_b = fin_b[np.argmin(np.where(mb > 0, mb, np.inf))]
    for sa, sb in ((254, 254), (254, 200), (200, 200), (127, 254), (0, 0), (0, 127),
                   (40, 40), (20, 10), (1, 0)):
        block(np.full(p.block, big_a), np.full(p.block, big_b), sa, sb)
        block(np.full(p.block, tiny_a), np.full(p.block, tiny_b), sa, sb)
    block(np.full(p.block, low_a), np.full(p.block, big_b), 254, 254)  # the most negative
    block(np.full(p.block, low_a), np.full(p.block, low_b))
    zero_a, zero_b = special_codes(fa)[3][0], special_codes(fb)[3][0]
    block(np.full(p.block, zero_a), np.full(p.block, zero_b))
    block(np.full(p.block, zero_a), None, 0xFE, 0xFE)
    for a, b in tie_blocks(p):
        block(a, b)
    half = p.block // 2
    if half:
        a = rng.choice(nonzero_a, p.block)
        mant = decode(fa, a)[0]  # -128 (MXINT8) has no negation: replaced by 0
        a = np.where(mant[:half] == -128, 0, a[:half])
        neg = np.array([negate(fa, c) for c in a.tolist()], dtype=np.int64)
        b = rng.choice(nonzero_b, half)
        full_a = np.concatenate([a, neg, [special_codes(fa)[3][0]] * (p.block % 2)])
        full_b = np.concatenate([b, b, [special_codes(fb)[3][0]] * (p.block % 2)])
        for sa, sb in ((127, 127), (254, 254), (0, 0)):
            block(full_a, full_b, sa, sb)
    return {"a": np.array([x[0] for x in blocks], dtype=np.int64),
            "b": np.array([x[1] for x in blocks], dtype=np.int64),
            "scale_a": np.array([x[2] for x in blocks], dtype=np.int64),
            "scale_b": np.array([x[3] for x in blocks], dtype=np.int64)}


def expected(params, cols):
    """The golden model's results of the blocks in ``cols``, one tuple per block:
    ``(sum, exp, nan, inf)`` (exact) or ``(c,)`` (fp32), Python ints and bools."""
    out = mx_dot(params, cols["a"], cols["b"], cols["scale_a"], cols["scale_b"])
    names = list(params.output_layout().members)
    columns = [[int(v) if not isinstance(v, (bool, np.bool_)) else bool(v) for v in out[n]]
               for n in names]
    return [tuple(row) for row in zip(*columns)]


def observe(fields):
    """An output beat's fields as :func:`expected` gives them."""
    return tuple(bool(v) if k in ("nan", "inf") else int(v) for k, v in fields.items())


def to_beats(params, cols):
    """The input beats of the blocks in ``cols``: ``words`` per block, the scales
    on every beat (the unit reads them on the first)."""
    p, beats = params, []
    for x, y, sa, sb in zip(cols["a"], cols["b"], cols["scale_a"], cols["scale_b"]):
        for j in range(p.words):
            part = slice(j * p.lanes, (j + 1) * p.lanes)
            beats.append({"a": [int(v) for v in x[part]], "b": [int(v) for v in y[part]],
                          "scale_a": int(sa), "scale_b": int(sb)})
    return beats


def run_rtl(params, cols, seed, idle=0.0, backpressure=0.0, junk_scales=True):
    """The blocks of ``cols`` through the RTL in Amaranth's simulator, with a
    source idling and a sink stalling at the given rates (``seed`` seeds them and,
    with ``junk_scales``, the random scale codes put on every beat but a block's
    first, which the unit must ignore); :func:`expected`'s tuples."""
    rng = random.Random(seed)
    beats = to_beats(params, cols)
    if junk_scales:
        for k, beat in enumerate(beats):
            if k % params.words:
                beat["scale_a"], beat["scale_b"] = rng.randrange(256), rng.randrange(256)
    names = list(params.output_layout().members)

    def read(b):
        return tuple(bool(getattr(b, n)) if n in ("nan", "inf") else int(getattr(b, n))
                     for n in names)
    return run_stream(MXDot(params), beats, len(cols["a"]),
                      max_cycles=len(beats) * 20 + 200, read=read, rng=rng, idle=idle,
                      backpressure=backpressure)


class MXDotBench(PacketBench):
    """:class:`PacketBench` whose packets are blocks of ``words`` beats, expected
    through the golden model; the scales of a block's later beats are junk."""

    def __init__(self, dut, **stalls):
        _, p = configuration()

        def expect(params, beats):
            cols = {"a": np.array([sum((b["a"] for b in beats), [])]),
                    "b": np.array([sum((b["b"] for b in beats), [])]),
                    "scale_a": np.array([beats[0]["scale_a"]]),
                    "scale_b": np.array([beats[0]["scale_b"]])}
            return expected(params, cols)

        super().__init__(dut, in_layout=p.input_layout(), out_layout=p.output_layout(),
                         expect=expect, observe=observe, last=p.words, **stalls)

    def send_blocks(self, cols):
        for k, beat in enumerate(to_beats(self.p, cols)):
            if k % self.p.words:
                beat["scale_a"], beat["scale_b"] = self.rng.randrange(256), \
                    self.rng.randrange(256)
            self.send_packet([beat])

    def send_random(self, beats):
        """Random blocks, about ``beats`` input beats."""
        count = max(1, -(-beats // self.p.words))
        self.send_blocks(random_blocks(self.p, self.np_rng, count))


#: The bench the shared protocol stress (accelgen.verif.protocol) drives.
BENCH = MXDotBench


@cocotb.test(**TIMEOUT)
async def special_blocks_under_stalls(dut):
    """NaN and infinite elements, ``inf * 0``, NaN scales, extreme scales,
    cancellation, all zeros; no stalls, then both sides stalling."""
    tb = MXDotBench(dut)
    await tb.start()
    cols = special_blocks(tb.p, tb.np_rng)
    for idle, backpressure in ((0.0, 0.0), (0.3, 0.3)):
        tb.stalls(idle, backpressure)
        tb.send_blocks(cols)
        await tb.drain(max_cycles=len(cols["a"]) * tb.p.words * 10 + 200)
    dut._log.info("%d special blocks checked twice", len(cols["a"]))


@cocotb.test(**TIMEOUT)
async def random_blocks_under_stalls(dut):
    """Random blocks (some with special elements or NaN scales) under every stall mix."""
    beats = scaled(400)
    tb = MXDotBench(dut)
    await tb.start()
    assert await check_under_stalls(tb, tb.send_random, beats) >= 4 * beats


@cocotb.test(**TIMEOUT)
async def latency_and_throughput(dut):
    """No stalls: a block's ``words`` beats in ``words`` cycles, its result
    ``latency`` cycles after the last."""
    tb = MXDotBench(dut)
    await tb.start()
    cols = random_blocks(tb.p, tb.np_rng, 1, special=0.0, nan_scale=0.0)
    packet = to_beats(tb.p, cols)
    await check_latency(tb, packet, tb.p.latency)


@cocotb.test(**TIMEOUT)
async def reset_mid_stream(dut):
    """Reset at random points (also inside a block); the blocks sent afterwards
    are correct."""
    tb = MXDotBench(dut, idle=0.2, backpressure=0.2)
    await tb.start()
    await check_reset_mid_stream(tb, tb.send_random, beats=160)
