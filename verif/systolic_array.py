# SPDX-License-Identifier: BSD-2-Clause
"""cocotb testbench of ``systolic_array``: tiled GEMMs of many shapes under stalls,
accumulator wrap, cycle counts against the cycle model, mid-stream reset."""

import random
from collections import deque

import cocotb
import numpy as np
from amaranth.hdl import Shape
from cocotb.triggers import ClockCycles, FallingEdge

from accelgen.num.formats import AntFormat, KINDS, default_olive_format
from accelgen.golden.ant_decoder import values as format_values
from accelgen.golden.int_mac import wrap
from accelgen.num.fp import decode as fp_decode
from accelgen.num.fpformats import get_format
from accelgen.golden.olive_decoder import encode_pairs, outlier_values, pair_values
from accelgen.golden.systolic_array import (ws_schedule, os_schedule, ws_tile, os_tile,
                                            gemm, cycles, pack_gemm)
from accelgen.generators.systolic_array import SystolicArray
from accelgen.num.numeric import int_range
from accelgen.verif.amaranth_sim import simulate, stream_put, stream_get
from accelgen.verif.bench import configuration, rngs, start_clock, reset, wait_until, scaled
from accelgen.verif.fp_mac import largest_code
from accelgen.verif.payload import pack, unpack
from accelgen.verif.scoreboard import Scoreboard
from accelgen.verif.stream import StreamSource, StreamSink, StreamMonitor

__all__ = ["ArrayBench", "amaranth_gemm", "random_gemm", "extreme_gemms", "RANDOM_GEMMS"]

TIMEOUT = {"timeout_time": scaled(200), "timeout_unit": "ms"}
STALLS = [(0.0, 0.0), (0.3, 0.3), (0.0, 0.9), (0.9, 0.0), (0.5, 0.5)]


def _exact(values):
    """Python-integer matrix product entries modulo 2**64 (uint64)."""
    return np.array([[int(v) % (1 << 64) for v in row] for row in values.tolist()],
                    dtype=np.uint64).reshape(values.shape)


def _int_gemm(p, rng, m, k, n, corner):
    (wa, sa), (ww, sw) = (p.a_width, p.a_signed), (p.w_width, p.w_signed)
    a, b = _element_gemm(rng, m, k, n, corner, wa, sa, ww, sw)
    return a, b, None, None, a @ b


def _element_gemm(rng, m, k, n, corner, wa, sa, ww, sw):
    a = rng.integers(*int_range(wa, sa), (m, k), endpoint=True)
    b = rng.integers(*int_range(ww, sw), (k, n), endpoint=True)
    for x, width, signed in ((a, wa, sa), (b, ww, sw)):
        pick = rng.random(x.shape) < corner
        x[pick] = rng.choice(int_range(width, signed), pick.sum())
    return a, b


def _fusion_gemm(p, rng, m, k, n, corner):
    wa, ww = (int(x) for x in rng.choice([2, 4, 8], 2))
    sa, sw = (int(x) for x in rng.integers(0, 2, 2))
    a, b = _element_gemm(rng, m, k, n, corner, wa, sa, ww, sw)
    a_words, b_words, a_mode, w_mode = pack_gemm(a, b, wa, ww, sa, sw)
    return a_words, b_words, a_mode, w_mode, a @ b


def _ant_values(p, type_code, width, signed):
    return np.array(format_values(AntFormat(KINDS[type_code], width, signed)), dtype=object)


def _ant_extreme_codes(values):
    """Codes of the largest positive and the most negative value."""
    return [int(np.argmax(values)), int(np.argmin(values))]


def _ant_gemm(p, rng, m, k, n, corner):
    """Random codes in one random type per tensor (ANT's per-tensor choice)."""
    ta, tw = (int(t) for t in rng.integers(0, 4, 2))
    va = _ant_values(p, ta, p.a_width, p.a_signed)
    vw = _ant_values(p, tw, p.w_width, p.w_signed)
    a = rng.integers(0, va.size, (m, k))
    b = rng.integers(0, vw.size, (k, n))
    for x, values in ((a, va), (b, vw)):
        pick = rng.random(x.shape) < corner
        x[pick] = rng.choice(_ant_extreme_codes(values), pick.sum())
    return a, b, {"type": ta}, {"type": tw}, _exact(va[a] @ vw[b])


def _olive_words(fmt, x):
    """Pair words of the rows of ``x`` (``rows x 2K``): ``rows x K``."""
    return encode_pairs(fmt, x.ravel()).reshape(x.shape[0], -1)


def _olive_gemm(p, rng, m, k, n, corner):
    """Gaussian elements with outliers (a fraction ``corner``) through OliVe's
    encoder; K counts pairs."""
    fmt = default_olive_format(p.a_width)
    top = max(outlier_values(fmt))
    x, y = rng.normal(0, fmt.normal_max / 3, (2, max(m, n), 2 * k))
    for v in (x, y):
        pick = rng.random(v.shape) < corner
        v[pick] = rng.uniform(-top, top, pick.sum())
    a = _olive_words(fmt, x[:m])
    b = _olive_words(fmt, y[:n]).T
    va = pair_values(fmt, a).reshape(m, 2 * k)
    vb = pair_values(fmt, b).transpose(0, 2, 1).reshape(2 * k, n)
    return a, b, None, None, _exact(va @ vb)


def _fp_codes(fmt):
    """``(finite codes, special codes, {label: extreme code})`` of an FP8 format."""
    codes = np.arange(256)
    mant, exp, nan, inf = fp_decode(fmt, codes)
    finite = codes[~(nan | inf)]
    top = largest_code(get_format(fmt))
    extremes = {"max": top, "-max": top | 0x80, "min subnormal": 1, "-min subnormal": 0x81,
                "-0": 0x80, "NaN": int(codes[nan][0])}
    if inf.any():
        extremes.update({"inf": int(codes[inf & (mant > 0)][0]),
                         "-inf": int(codes[inf & (mant < 0)][0])})
    return finite, codes[nan | inf], extremes


def _fp_exact(p, a, b):
    """The exact sums of the finite products in units of ``2**lsb_exp``, modulo
    2**64 (Python integers from the decoded codes)."""
    ma, ea, na, ia = (x.tolist() for x in fp_decode(p.a_fmt, a))
    mb, eb, nb, ib = (x.tolist() for x in fp_decode(p.w_fmt, b))
    m, k = a.shape
    out = np.zeros((m, b.shape[1]), dtype=np.uint64)
    for i in range(m):
        for j in range(b.shape[1]):
            total = sum(ma[i][t] * mb[t][j] << (ea[i][t] + eb[t][j] - p.lsb_exp)
                        for t in range(k) if not (na[i][t] or nb[t][j] or ia[i][t]
                                                   or ib[t][j]))
            out[i, j] = total % (1 << 64)
    return out


def _fp_gemm(p, rng, m, k, n, corner):
    """Finite codes, each replaced by a special or extreme code with probability
    ``corner``."""
    out = []
    for fmt, shape in ((p.a_fmt, (m, k)), (p.w_fmt, (k, n))):
        finite, _specials, extremes = _fp_codes(fmt)
        x = rng.choice(finite, shape)
        pick = rng.random(shape) < corner
        x[pick] = rng.choice(list(extremes.values()), pick.sum())
        out.append(x.astype(np.int64))
    a, b = out
    return a, b, None, None, _fp_exact(p, a, b)


# Random GEMM operands per PE type: (params, rng, M, K, N, corner) ->
# (a, b, a_mode, w_mode, exact A @ B of the element values).
RANDOM_GEMMS = {"int_mac": _int_gemm, "fusion_unit": _fusion_gemm, "ant_pe": _ant_gemm,
                "olive_pe": _olive_gemm, "fp_mac": _fp_gemm}


def random_gemm(p, rng, m, k, n, corner=0.1):
    """See :meth:`ArrayBench.random_gemm`; element operands at their extremes with
    probability ``corner``."""
    return RANDOM_GEMMS[p.pe](p, rng, m, k, n, corner)


def extreme_gemms(p, m, k, n):
    """``[(label, a, b, a_mode, w_mode, exact)]``: GEMMs whose every element is an
    extreme value of the PE's operands, of every sign combination."""
    out = []
    if p.pe in ("int_mac", "fusion_unit"):
        formats = ([(8, 1, 8, 1), (8, 0, 8, 0), (8, 1, 2, 0), (2, 1, 2, 1)]
                   if p.pe == "fusion_unit" else
                   [(p.a_width, p.a_signed, p.w_width, p.w_signed)])
        for wa, sa, ww, sw in formats:
            for x in int_range(wa, sa):
                for y in int_range(ww, sw):
                    a, b = np.full((m, k), x), np.full((k, n), y)
                    if p.pe == "fusion_unit":
                        operands = pack_gemm(a, b, wa, ww, sa, sw)
                    else:
                        operands = (a, b, None, None)
                    out.append((f"{wa}x{ww}-bit {x} * {y}", *operands, a @ b))
    elif p.pe == "ant_pe":
        for t in range(4):
            va = _ant_values(p, t, p.a_width, p.a_signed)
            vw = _ant_values(p, t, p.w_width, p.w_signed)
            for x in _ant_extreme_codes(va):
                for y in _ant_extreme_codes(vw):
                    a, b = np.full((m, k), x), np.full((k, n), y)
                    out.append((f"{KINDS[t]} {va[x]} * {vw[y]}", a, b, {"type": t},
                                {"type": t}, _exact(va[a] @ vw[b])))
    elif p.pe == "fp_mac":
        xa, xw = _fp_codes(p.a_fmt)[2], _fp_codes(p.w_fmt)[2]
        pairs = [(x, y) for x in ("max", "-max", "min subnormal") for y in ("max", "-max")]
        pairs += [("min subnormal", "-min subnormal"), ("-0", "max"), ("NaN", "max")]
        pairs += [(x, y) for x, y in (("inf", "-max"), ("-inf", "-0"), ("max", "inf"))
                  if x in xa and y in xw]
        for x, y in pairs:
            a, b = np.full((m, k), xa[x]), np.full((k, n), xw[y])
            out.append((f"{p.a_fmt} {x} * {p.w_fmt} {y}", a, b, None, None,
                        _fp_exact(p, a, b)))
    else:
        fmt = default_olive_format(p.a_width)
        table = outlier_values(fmt)
        top = max(table)
        for sa in (1, -1):
            for sw in (1, -1):
                a = np.full((m, k), table[sa * top] | (fmt.identifier << fmt.bits))
                b = np.full((k, n), table[sw * top] | (fmt.identifier << fmt.bits))
                out.append((f"outliers {sa * top} * {sw * top}", a, b, None, None,
                            np.full((m, n), (sa * sw * top * top * k) % (1 << 64),
                                    dtype=np.uint64)))
    return out


def error_item(p, error):
    """The error part of a result-row item: ``()`` for PEs that cannot fail,
    ``(bool,)`` for a flag per row, ``(tuple of flag codes per column,)`` for
    flags per result (``fp_mac``: :data:`FP_NAN` | :data:`FP_POS_INF` |
    :data:`FP_NEG_INF`)."""
    if not p.pe_type.error_field:
        return ()
    if p.pe_type.error_per_column:
        return (tuple(int(v) for v in error),)
    return (bool(error),)


class TileModel:
    """Follows the beats the DUT accepts and predicts its result rows: items
    ``(row, last)``, plus ``mode_error`` for PEs that flag errors."""

    def __init__(self, params):
        self.p = params
        self.fields = tuple(params.pe_type.mode_fields)
        self.reset()

    def reset(self):
        self.weight_rows = []        # WS: beats of the tile being loaded
        self.tiles = deque()         # WS: loaded weight tiles, oldest first
        self.a_beats, self.w_beats = deque(), deque()  # OS: beats waiting for a partner
        self.pairs = []                                # OS: the tile's beats so far

    def _mode(self, beats):
        return {f: np.array([beat[f] for beat in beats]) for f in self.fields}

    def _item(self, row, last, error):
        return (row, int(last)) + error_item(self.p, error)

    def weight(self, beat):
        if self.p.dataflow == "ws":
            self.weight_rows.append(beat)
            if len(self.weight_rows) == self.p.rows:
                self.tiles.append((np.array([b["data"] for b in self.weight_rows]),
                                   self._mode(self.weight_rows)))
                self.weight_rows = []
            return []
        self.w_beats.append(beat)
        return self._pair()

    def activation(self, beat):
        if self.p.dataflow == "ws":
            if not self.tiles:
                raise AssertionError("an activation beat was accepted before its weight "
                                     "tile was complete")
            weights, w_mode = self.tiles[0]
            values, errors = ws_tile(self.p, weights, np.array([beat["data"]]),
                                     self._mode([beat]), w_mode)
            if beat["last"]:
                self.tiles.popleft()
            return [self._item(values[0].tolist(), beat["last"], errors[0])]
        self.a_beats.append(beat)
        return self._pair()

    def _pair(self):
        out = []
        while self.a_beats and self.w_beats:
            a_beat, w_beat = self.a_beats.popleft(), self.w_beats.popleft()
            self.pairs.append((a_beat, w_beat))
            if a_beat["last"]:
                a_beats, w_beats = zip(*self.pairs)
                values, errors = os_tile(self.p, np.array([b["data"] for b in a_beats]).T,
                                         np.array([b["data"] for b in w_beats]),
                                         self._mode(a_beats), self._mode(w_beats))
                out += [self._item(row.tolist(), r == self.p.rows - 1, errors[r])
                        for r, row in enumerate(values)]
                self.pairs = []
        return out


def assemble(p, results, m, k, n):
    """The driver's other half: sum the output rows of a GEMM into ``M x N``
    (``results``: the output rows of ``send_gemm``, in order)."""
    out = np.zeros((m, n), dtype=np.uint64)
    rows = iter(results)
    with np.errstate(over="ignore"):
        if p.dataflow == "ws":
            for n0, _w, acts in ws_schedule(p, np.zeros((m, k)), np.zeros((k, n))):
                for i in range(len(acts)):
                    data = next(rows)[0]
                    out[i, n0:n0 + p.cols] += np.array(data, dtype=np.int64).astype(
                        np.uint64)[:n - n0]
        else:
            for m0, n0, _a, _b in os_schedule(p, np.zeros((m, k)), np.zeros((k, n))):
                for r in range(p.rows):
                    data = next(rows)[0]
                    if m0 + r < m:
                        out[m0 + r, n0:n0 + p.cols] = np.array(
                            data, dtype=np.int64).astype(np.uint64)[:n - n0]
    return wrap(out, p.acc_width, p.acc_signed)


class ArrayBench:
    """Sources on ``a`` and ``w``, sink on ``o``, monitors on all three."""

    def __init__(self, dut, *, idle=0.0, backpressure=0.0, salt=0):
        self.dut = dut
        self.unit, self.p = configuration()
        self.rng, self.np_rng = rngs(dut, salt)
        self.model = TileModel(self.p)
        self.scoreboard = Scoreboard(dut._log)
        kw = {"rng": self.rng, "reset": dut.rst}
        self.a_source = StreamSource(dut, "a", dut.clk, idle=idle, **kw)
        self.w_source = StreamSource(dut, "w", dut.clk, idle=idle, **kw)
        self.sink = StreamSink(dut, "o", dut.clk, backpressure=backpressure, **kw)
        self.monitors = [
            StreamMonitor(dut, "w", dut.clk, self._weight, reset=dut.rst, check_rules=False),
            StreamMonitor(dut, "a", dut.clk, self._activation, reset=dut.rst,
                          check_rules=False),
            StreamMonitor(dut, "o", dut.clk, self._output, reset=dut.rst)]
        self.results = []
        self.first_in = None  # monitor cycle of the first accepted input beat

    def _mark(self, monitor):
        """Record the first accepted input beat's cycle (monitors count in step, but
        each only after its own sample in the cycle: use the calling monitor's)."""
        if self.first_in is None:
            self.first_in = monitor.cycles

    def _expect(self, items):
        for item in items:
            self.scoreboard.expect(item)

    def _weight(self, bits):
        self._mark(self.monitors[0])
        self._expect(self.model.weight(unpack(self.p.w_layout(), bits)))

    def _activation(self, bits):
        self._mark(self.monitors[1])
        self._expect(self.model.activation(unpack(self.p.a_layout(), bits)))

    def _output(self, bits):
        beat = unpack(self.p.o_layout(), bits)
        item = (beat["data"], beat["last"])
        if self.p.pe_type.error_field:
            item += error_item(self.p, beat[self.p.pe_type.error_field])
        self.results.append(item)
        self.scoreboard.observe(item)

    async def start(self):
        self.dut.rst.value = 0
        start_clock(self.dut)
        await reset(self.dut)
        for part in (self.a_source, self.w_source, self.sink, *self.monitors):
            cocotb.start_soon(part.run())

    def stalls(self, idle, backpressure):
        self.a_source.idle = self.w_source.idle = idle
        self.sink.backpressure = backpressure

    def random_gemm(self, m, k, n, corner=0.1):
        """A random GEMM as ``(a, b, a_mode, w_mode, exact)``: the operands the array
        takes (packed words for ``pe="fusion_unit"``, at a random precision and
        signedness) and the exact element product ``A @ B``."""
        return random_gemm(self.p, self.np_rng, m, k, n, corner)

    def send_gemm(self, a, b, a_mode=None, w_mode=None):
        """The tiling driver: queue every tile's beats; returns the output row count."""
        p, rows = self.p, 0
        a_mode, w_mode = a_mode or {}, w_mode or {}
        if p.dataflow == "ws":
            for _n0, weights, acts in ws_schedule(p, a, b):
                for row in weights:
                    self.w_source.send(pack(p.w_layout(), data=row.tolist(), **w_mode))
                for i, row in enumerate(acts):
                    self.a_source.send(pack(p.a_layout(), data=row.tolist(),
                                            last=int(i == len(acts) - 1), **a_mode))
                rows += len(acts)
        else:
            for _m0, _n0, a_tile, b_tile in os_schedule(p, a, b):
                k = a_tile.shape[1]
                for j in range(k):
                    self.a_source.send(pack(p.a_layout(), data=a_tile[:, j].tolist(),
                                            last=int(j == k - 1), **a_mode))
                    self.w_source.send(pack(p.w_layout(), data=b_tile[j].tolist(),
                                            **w_mode))
                rows += p.rows
        return rows

    def assemble(self, results, m, k, n):
        """The driver's other half: :func:`assemble` on this bench's configuration."""
        return assemble(self.p, results, m, k, n)

    def send_mixed_modes(self, tiles):
        """Random operand bits with random mode fields (any code, so for the Fusion
        PE some invalid: precision 3) on every activation beat and weight row (WS)
        or beat (OS); checked against the model, row by row, mode_error included."""
        p, rng = self.p, self.np_rng

        def modes():
            return {name: int(rng.integers(1 << Shape.cast(shape).width))
                    for name, shape in p.pe_type.mode_fields.items()}

        def words(count, shape):
            return rng.integers(0, 1 << shape.width, count).tolist()

        for _ in range(tiles):
            beats = int(rng.integers(1, 6))
            if p.dataflow == "ws":
                for _r in range(p.rows):
                    self.w_source.send(pack(p.w_layout(), data=words(p.cols, p.w_shape()),
                                            **modes()))
            for j in range(beats):
                self.a_source.send(pack(p.a_layout(), data=words(p.rows, p.a_shape()),
                                        last=int(j == beats - 1), **modes()))
                if p.dataflow == "os":
                    self.w_source.send(pack(p.w_layout(), data=words(p.cols, p.w_shape()),
                                            **modes()))

    @property
    def idle(self):
        return self.a_source.empty and self.w_source.empty and not self.scoreboard.expected

    # The protocol-stress interface (accelgen.verif.protocol).

    @property
    def accepted(self):
        """Input beats (weights and activations) the DUT has taken."""
        return self.monitors[0].beats + self.monitors[1].beats

    @property
    def queued(self):
        return len(self.a_source.queue) + len(self.w_source.queue)

    def send_random(self, beats):
        """Random GEMMs of shapes around the tile size until about ``beats`` input
        beats are queued; results are checked row by row against the model."""
        p, queued = self.p, self.queued
        target = queued + beats
        while self.queued < target:
            m, k, n = (int(self.rng.randint(1, 2 * p.rows + 1)),
                       int(self.rng.randint(1, 2 * p.rows + 2)),
                       int(self.rng.randint(1, 2 * p.cols + 1)))
            a, b, a_mode, w_mode, _exact = self.random_gemm(m, k, n)
            self.send_gemm(a, b, a_mode, w_mode)

    async def reset_now(self, cycles):
        """Drop the beats not yet sent, reset the DUT and forget results in flight."""
        await FallingEdge(self.dut.clk)
        self.a_source.clear()
        self.w_source.clear()
        await reset(self.dut, cycles=cycles)
        self.scoreboard.flush()
        self.model.reset()

    async def drain(self, max_cycles):
        await wait_until(self.dut, lambda: self.idle, max_cycles, "all results")
        self.scoreboard.check()



#: The bench the shared protocol stress (accelgen.verif.protocol) drives.
BENCH = ArrayBench


def amaranth_gemm(p, a, b, a_mode=None, w_mode=None, *, idle=0.0, backpressure=0.0, seed=0,
                  max_cycles=10**6):
    """Drive one tiled GEMM through Amaranth's simulator (the same tiling as the
    cocotb driver); return ``(result rows, clock cycles)``."""
    dut = SystolicArray(p)
    stalls = random.Random(seed)
    a_mode, w_mode = a_mode or {}, w_mode or {}
    a_beats, w_beats, expected_rows = [], [], 0
    if p.dataflow == "ws":
        for _n0, weights, acts in ws_schedule(p, a, b):
            w_beats += [{"data": row.tolist(), **w_mode} for row in weights]
            a_beats += [{"data": row.tolist(), "last": int(i == len(acts) - 1), **a_mode}
                        for i, row in enumerate(acts)]
            expected_rows += len(acts)
    else:
        for _m0, _n0, a_tile, b_tile in os_schedule(p, a, b):
            k = a_tile.shape[1]
            a_beats += [{"data": a_tile[:, j].tolist(), "last": int(j == k - 1), **a_mode}
                        for j in range(k)]
            w_beats += [{"data": b_tile[j].tolist(), **w_mode} for j in range(k)]
            expected_rows += p.rows
    rows = []

    async def source_a(ctx):
        for beat in a_beats:
            await stream_put(ctx, dut.a, beat, rng=stalls, idle=idle)

    async def source_w(ctx):
        for beat in w_beats:
            await stream_put(ctx, dut.w, beat, rng=stalls, idle=idle)

    async def sink(ctx):
        for _ in range(expected_rows):
            beat = await stream_get(ctx, dut.o, rng=stalls, backpressure=backpressure)
            row = ([int(v) for v in beat.data], int(beat.last))
            if p.pe_type.error_field:
                value = getattr(beat, p.pe_type.error_field)
                if p.pe_type.error_per_column:
                    value = [int(v.as_value().value) for v in value]
                row += error_item(p, value)
            rows.append(row)

    cycles_run = simulate(dut, source_a, source_w, sink, max_cycles=max_cycles)
    return rows, cycles_run


def shapes(p):
    """GEMM shapes around the tile sizes: 1s, exact multiples, and remainders."""
    r, c = p.rows, p.cols
    return [(1, 1, 1), (r, r, c), (2 * r + 1, r + 1, c + 1), (3, 2 * r + 3, 2 * c + 1),
            (r + c + 2, 1, 1), (1, 3 * r + 2, 1)]


async def run_gemm(tb, a, b, a_mode, w_mode, exact, max_cycles):
    """Send one GEMM, wait for it, and check it against the golden and ``A @ B``."""
    start = len(tb.results)
    tb.send_gemm(a, b, a_mode, w_mode)
    await tb.drain(max_cycles=max_cycles)
    got = tb.assemble(tb.results[start:], *a.shape, b.shape[1])
    assert (got == gemm(tb.p, a, b, a_mode, w_mode)).all(), "result differs from the golden"
    assert (got == wrap(exact, tb.p.acc_width, tb.p.acc_signed)).all(), "result differs from A @ B"


@cocotb.test(**TIMEOUT)
async def gemm_shapes_under_stalls(dut):
    """Tiled GEMMs of shapes around the tile size, each under a different stall mix;
    every row against the model and every product against ``A @ B`` (wrapped)."""
    tb = ArrayBench(dut)
    await tb.start()
    for n, (m, k, nn) in enumerate(shapes(tb.p) * 2):
        tb.stalls(*STALLS[n % len(STALLS)])
        gemm_ = tb.random_gemm(m, k, nn)
        await run_gemm(tb, *gemm_, (m + k + nn + tb.p.rows * tb.p.cols) * 400 + 1000)
    if tb.p.pe_type.error_field == "mode_error":
        # Precision code 3 on the activations: every row flagged, sums of 0.
        a, b, a_mode, w_mode, _exact = tb.random_gemm(3, 2 * tb.p.rows + 1, tb.p.cols)
        start = len(tb.results)
        tb.send_gemm(a, b, {**a_mode, "prec": 3}, w_mode)
        await tb.drain(max_cycles=20000)
        assert tb.results[start:] and all(error for *_r, error in tb.results[start:])
        assert not any(any(row) for row, *_rest in tb.results[start:])
    if tb.p.pe_type.mode_fields:
        # Modes (valid or not) changing on every beat and weight row, then a clean
        # GEMM: flags clear between tiles and nothing stale is left behind.
        start = len(tb.results)
        tb.send_mixed_modes(40)
        await tb.drain(max_cycles=40000)
        if tb.p.pe_type.error_field:
            flagged = sum(error for *_r, error in tb.results[start:])
            dut._log.info("mixed modes: %d result rows, %d flagged",
                          len(tb.results) - start, flagged)
            assert 0 < flagged < len(tb.results) - start
        await run_gemm(tb, *tb.random_gemm(tb.p.rows + 1, tb.p.rows, tb.p.cols), 20000)
    dut._log.info("%d GEMMs, %d result rows checked", 2 * len(shapes(tb.p)),
                  tb.scoreboard.matched)


@cocotb.test(**TIMEOUT)
async def accumulator_wrap_corners(dut):
    """Operands at their extremes and long reductions, so sums leave the accumulator
    range where the widths allow, in both directions."""
    tb = ArrayBench(dut, idle=0.1, backpressure=0.1)
    await tb.start()
    p = tb.p
    k = 4 * p.rows + 3
    for label, a, b, a_mode, w_mode, exact in extreme_gemms(p, p.rows + 1, k, p.cols + 1):
        await run_gemm(tb, a, b, a_mode, w_mode, exact, 20000)
        dut._log.info("every element %s, K = %d, accumulator %d bits", label, k,
                      p.acc_width)


@cocotb.test(**TIMEOUT)
async def cycles_match_the_model(dut):
    """With no idle and no backpressure, each GEMM takes exactly ``cycles()``."""
    tb = ArrayBench(dut)
    await tb.start()
    r, c = tb.p.rows, tb.p.cols
    for m, k, n in [(1, 1, 1), (r + c + 3, 3 * r, 2 * c), (2, 2 * r + 1, c + 1),
                    (4 * r, r, 3 * c), (r, 5 * r, c)]:
        a, b, a_mode, w_mode, _exact = tb.random_gemm(m, k, n)
        tb.first_in = None
        start_rows = tb.monitors[2].beats
        rows = tb.send_gemm(a, b, a_mode, w_mode)
        await wait_until(dut, lambda: tb.monitors[2].beats == start_rows + rows, 100000,
                         "GEMM results")
        measured = tb.monitors[2].cycles - tb.first_in + 1
        model = cycles(tb.p, *a.shape, b.shape[1])
        dut._log.info("%dx%d @ %dx%d (array operands): %d cycles measured, %d modelled",
                      *a.shape, *b.shape, measured, model)
        assert measured == model, f"{a.shape} @ {b.shape}: {measured} cycles, model {model}"
        await tb.drain(100)
        await ClockCycles(dut.clk, r + c + 4)  # the array empties before the next one


@cocotb.test(**TIMEOUT)
async def reset_mid_stream(dut):
    """Reset at random points of a GEMM: the banks empty, results in flight are
    dropped, and the next GEMM is exact."""
    tb = ArrayBench(dut, idle=0.2, backpressure=0.2)
    await tb.start()
    p = tb.p
    for _ in range(scaled(6)):
        a, b, a_mode, w_mode, _exact = tb.random_gemm(2 * p.rows + 1, 2 * p.rows + 1,
                                                      p.cols + 1)
        tb.send_gemm(a, b, a_mode, w_mode)
        await ClockCycles(dut.clk, tb.rng.randint(1, 6 * p.rows * p.cols + 20))
        await tb.reset_now(cycles=tb.rng.randint(1, 3))
        await run_gemm(tb, *tb.random_gemm(p.rows + 2, p.rows + 3, p.cols + 2), 50000)
    dut._log.info("%d resets; %d result rows discarded", scaled(6), tb.scoreboard.flushed)
