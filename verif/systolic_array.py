# SPDX-License-Identifier: BSD-2-Clause
"""cocotb testbench of ``systolic_array``: tiled GEMMs of many shapes under stalls,
accumulator wrap, cycle counts against the cycle model, mid-stream reset."""

from collections import deque

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles, FallingEdge

from accelgen.golden.int_mac import wrap
from accelgen.golden.systolic_array import (ws_schedule, os_schedule, ws_tile, os_tile,
                                            gemm, cycles)
from accelgen.verif.bench import configuration, rngs, start_clock, reset, wait_until, scaled
from accelgen.verif.payload import pack, unpack
from accelgen.verif.scoreboard import Scoreboard
from accelgen.verif.stream import StreamSource, StreamSink, StreamMonitor

__all__ = ["ArrayBench", "operand_range"]

TIMEOUT = {"timeout_time": scaled(200), "timeout_unit": "ms"}
STALLS = [(0.0, 0.0), (0.3, 0.3), (0.0, 0.9), (0.9, 0.0), (0.5, 0.5)]


def operand_range(width, signed):
    return (-(1 << (width - 1)), (1 << (width - 1)) - 1) if signed else (0, (1 << width) - 1)


class TileModel:
    """Follows the beats the DUT accepts and predicts its result rows."""

    def __init__(self, params):
        self.p = params
        self.reset()

    def reset(self):
        self.weight_rows = []        # WS: rows of the tile being loaded
        self.tiles = deque()         # WS: loaded weight tiles, oldest first
        self.a_beats, self.w_beats = deque(), deque()  # OS: beats waiting for a partner
        self.columns, self.rows_ = [], []              # OS: the tile's beats so far

    def weight(self, row):
        if self.p.dataflow == "ws":
            self.weight_rows.append(row)
            if len(self.weight_rows) == self.p.rows:
                self.tiles.append(np.array(self.weight_rows))
                self.weight_rows = []
            return []
        self.w_beats.append(row)
        return self._pair()

    def activation(self, beat):
        if self.p.dataflow == "ws":
            (row,) = ws_tile(self.p, self.tiles[0], np.array([beat["data"]]))
            if beat["last"]:
                self.tiles.popleft()
            return [(row.tolist(), beat["last"])]
        self.a_beats.append(beat)
        return self._pair()

    def _pair(self):
        out = []
        while self.a_beats and self.w_beats:
            beat = self.a_beats.popleft()
            self.columns.append(beat["data"])
            self.rows_.append(self.w_beats.popleft())
            if beat["last"]:
                result = os_tile(self.p, np.array(self.columns).T, np.array(self.rows_))
                out += [(row.tolist(), int(r == self.p.rows - 1))
                        for r, row in enumerate(result)]
                self.columns, self.rows_ = [], []
        return out


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
        a = self.np_rng.integers(*operand_range(self.p.a_width, self.p.a_signed), (m, k),
                                 endpoint=True)
        b = self.np_rng.integers(*operand_range(self.p.w_width, self.p.w_signed), (k, n),
                                 endpoint=True)
        for x, width, signed in ((a, self.p.a_width, self.p.a_signed),
                                 (b, self.p.w_width, self.p.w_signed)):
            pick = self.np_rng.random(x.shape) < corner
            x[pick] = self.np_rng.choice(operand_range(width, signed), pick.sum())
        return a, b

    def send_gemm(self, a, b):
        """The tiling driver: queue every tile's beats; returns the output row count."""
        p, rows = self.p, 0
        if p.dataflow == "ws":
            for _n0, weights, acts in ws_schedule(p, a, b):
                for row in weights:
                    self.w_source.send(pack(p.w_layout(), data=row.tolist()))
                for i, row in enumerate(acts):
                    self.a_source.send(pack(p.a_layout(), data=row.tolist(),
                                            last=int(i == len(acts) - 1)))
                rows += len(acts)
        else:
            for _m0, _n0, a_tile, b_tile in os_schedule(p, a, b):
                k = a_tile.shape[1]
                for j in range(k):
                    self.a_source.send(pack(p.a_layout(), data=a_tile[:, j].tolist(),
                                            last=int(j == k - 1)))
                    self.w_source.send(pack(p.w_layout(), data=b_tile[j].tolist()))
                rows += p.rows
        return rows

    def assemble(self, results, m, k, n):
        """The driver's other half: sum the output rows of a GEMM into ``M x N``."""
        p = self.p
        out = np.zeros((m, n), dtype=np.uint64)
        rows = iter(results)
        with np.errstate(over="ignore"):
            if p.dataflow == "ws":
                for n0, _w, acts in ws_schedule(p, np.zeros((m, k)), np.zeros((k, n))):
                    for i in range(len(acts)):
                        data, _last = next(rows)
                        out[i, n0:n0 + p.cols] += np.array(data, dtype=np.int64).astype(
                            np.uint64)[:n - n0]
            else:
                for m0, n0, _a, _b in os_schedule(p, np.zeros((m, k)), np.zeros((k, n))):
                    for r in range(p.rows):
                        data, _last = next(rows)
                        if m0 + r < m:
                            out[m0 + r, n0:n0 + p.cols] = np.array(
                                data, dtype=np.int64).astype(np.uint64)[:n - n0]
        return gemm_wrap(p, out)

    @property
    def idle(self):
        return self.a_source.empty and self.w_source.empty and not self.scoreboard.expected

    async def drain(self, max_cycles):
        await wait_until(self.dut, lambda: self.idle, max_cycles, "all results")
        self.scoreboard.check()


def gemm_wrap(params, values):
    return wrap(values, params.acc_width, params.acc_signed)


def shapes(p):
    """GEMM shapes around the tile sizes: 1s, exact multiples, and remainders."""
    r, c = p.rows, p.cols
    return [(1, 1, 1), (r, r, c), (2 * r + 1, r + 1, c + 1), (3, 2 * r + 3, 2 * c + 1),
            (r + c + 2, 1, 1), (1, 3 * r + 2, 1)]


@cocotb.test(**TIMEOUT)
async def gemm_shapes_under_stalls(dut):
    """Tiled GEMMs of shapes around the tile size, each under a different stall mix;
    every row against the model and every product against ``A @ B`` (wrapped)."""
    tb = ArrayBench(dut)
    await tb.start()
    for n, (m, k, nn) in enumerate(shapes(tb.p) * 2):
        tb.stalls(*STALLS[n % len(STALLS)])
        a, b = tb.random_gemm(m, k, nn)
        start = len(tb.results)
        tb.send_gemm(a, b)
        await tb.drain(max_cycles=(m + k + nn + tb.p.rows * tb.p.cols) * 400 + 1000)
        got = tb.assemble(tb.results[start:], m, k, nn)
        want = gemm(tb.p, a, b)
        assert (got == want).all(), f"{m}x{k} @ {k}x{nn}: result differs from A @ B"
    dut._log.info("%d GEMMs, %d result rows checked", 2 * len(shapes(tb.p)),
                  tb.scoreboard.matched)


@cocotb.test(**TIMEOUT)
async def accumulator_wrap_corners(dut):
    """Operands at their extremes and long reductions, so sums leave the accumulator
    range where the widths allow, in both directions."""
    tb = ArrayBench(dut, idle=0.1, backpressure=0.1)
    await tb.start()
    p = tb.p
    lo_a, hi_a = operand_range(p.a_width, p.a_signed)
    lo_w, hi_w = operand_range(p.w_width, p.w_signed)
    k = 4 * p.rows + 3
    for x, y in ((lo_a, lo_w), (lo_a, hi_w), (hi_a, hi_w), (hi_a, lo_w)):
        a = np.full((p.rows + 1, k), x)
        b = np.full((k, p.cols + 1), y)
        start = len(tb.results)
        tb.send_gemm(a, b)
        await tb.drain(max_cycles=20000)
        assert (tb.assemble(tb.results[start:], *a.shape, b.shape[1]) == gemm(p, a, b)).all()
    bound = p.rows if p.dataflow == "ws" else k
    dut._log.info("extreme operands: a tile sums %d products of up to %d into %d bits",
                  bound, max(abs(lo_a * lo_w), abs(hi_a * hi_w), abs(lo_a * hi_w)),
                  p.acc_width)


@cocotb.test(**TIMEOUT)
async def cycles_match_the_model(dut):
    """With no idle and no backpressure, each GEMM takes exactly ``cycles()``."""
    tb = ArrayBench(dut)
    await tb.start()
    r, c = tb.p.rows, tb.p.cols
    for m, k, n in [(1, 1, 1), (r + c + 3, 3 * r, 2 * c), (2, 2 * r + 1, c + 1),
                    (4 * r, r, 3 * c), (r, 5 * r, c)]:
        a, b = tb.random_gemm(m, k, n)
        tb.first_in = None
        start_rows = tb.monitors[2].beats
        rows = tb.send_gemm(a, b)
        await wait_until(dut, lambda: tb.monitors[2].beats == start_rows + rows, 100000,
                         "GEMM results")
        measured = tb.monitors[2].cycles - tb.first_in + 1
        model = cycles(tb.p, m, k, n)
        dut._log.info("%dx%d @ %dx%d: %d cycles measured, %d modelled", m, k, k, n,
                      measured, model)
        assert measured == model, f"{m}x{k}@{k}x{n}: {measured} cycles, model says {model}"
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
        a, b = tb.random_gemm(2 * p.rows + 1, 2 * p.rows + 1, p.cols + 1)
        tb.send_gemm(a, b)
        await ClockCycles(dut.clk, tb.rng.randint(1, 6 * p.rows * p.cols + 20))
        await FallingEdge(dut.clk)
        tb.a_source.clear()
        tb.w_source.clear()
        await reset(dut, cycles=tb.rng.randint(1, 3))
        tb.scoreboard.flush()
        tb.model.reset()
        a, b = tb.random_gemm(p.rows + 2, p.rows + 3, p.cols + 2)
        start = len(tb.results)
        tb.send_gemm(a, b)
        await tb.drain(max_cycles=50000)
        assert (tb.assemble(tb.results[start:], *a.shape, b.shape[1]) == gemm(p, a, b)).all()
    dut._log.info("%d resets; %d result rows discarded", scaled(6), tb.scoreboard.flushed)
