# SPDX-License-Identifier: BSD-2-Clause
"""cocotb testbench of ``bitfusion_array``: tiled random GEMMs at every precision
mode under stalls, mode errors, timing of results and weight loads, reset."""

import cocotb
import numpy as np

from accelgen.golden.bitfusion_array import ArrayModel, gemm_beats, gemm_result
from accelgen.golden.fusion_unit import PREC_CODE, products_per_beat
from accelgen.num.numeric import int_range
from accelgen.verif.bench import configuration, scaled
from accelgen.verif.packets import PacketBench, check_reset_mid_stream

__all__ = ["ArrayBench"]

TIMEOUT = {"timeout_time": scaled(100), "timeout_unit": "ms"}
STALLS = [(0.0, 0.0), (0.3, 0.3), (0.0, 0.9), (0.9, 0.0)]


class ArrayBench(PacketBench):
    """Every beat stands alone; a stateful :class:`ArrayModel` follows the weight
    beats the DUT accepts and predicts each activation beat's result row."""

    def __init__(self, dut, **stalls):
        _, p = configuration()
        self.model = ArrayModel(p)
        super().__init__(dut, in_layout=p.input_layout(), out_layout=p.output_layout(),
                         expect=self._expect, observe=self._observe, last=None, **stalls)
        self.results = []  # every observed result, for assembling GEMMs
        self.in_cycles, self.out_cycles = [], []  # monitor cycle of every beat

    def _expect(self, params, beats):
        (beat,) = beats
        self.in_cycles.append(self.in_monitor.cycles)
        result = self.model.beat(beat)
        return [] if result is None else [result]

    def _observe(self, fields):
        item = (fields["acc"], bool(fields["mode_error"]))
        self.results.append(item)
        self.out_cycles.append(self.out_monitor.cycles)
        return item

    def on_reset(self):
        self.model.reset()

    def random_gemm(self, wa, ww, sa, sw, max_m=8):
        """A random ``A (M x K)``, ``B (K x N)`` with K and N not multiples of the tile."""
        p, rng = self.p, self.np_rng
        depth = p.rows * products_per_beat(wa, ww)
        m = int(rng.integers(1, max_m + 1))
        k = int(rng.integers(1, 2 * depth + 4))
        n = int(rng.integers(1, 2 * p.cols + 2))
        a = rng.integers(*int_range(wa, sa), (m, k), endpoint=True)
        b = rng.integers(*int_range(ww, sw), (k, n), endpoint=True)
        a[rng.random(a.shape) < 0.1] = int_range(wa, sa)[0]
        b[rng.random(b.shape) < 0.1] = int_range(ww, sw)[0]
        return a, b

    def send_random(self, beats):
        """Random GEMMs of random built modes until about ``beats`` beats are queued."""
        queued = 0
        while queued < beats:
            wa, ww = self.p.mode_set[self.rng.randrange(len(self.p.mode_set))]
            sa, sw = self.rng.randint(0, 1), self.rng.randint(0, 1)
            a, b = self.random_gemm(wa, ww, sa, sw)
            batch = gemm_beats(self.p, a, b, wa, ww, sa, sw)
            self.send_packet(batch)
            queued += len(batch)



#: The bench the shared protocol stress (accelgen.verif.protocol) drives.
BENCH = ArrayBench


@cocotb.test(**TIMEOUT)
async def gemm_every_mode_under_stalls(dut):
    """Tiled random GEMMs in every built mode and signedness, under stall mixes; each
    result row against the model and each assembled product against ``A @ B``."""
    tb = ArrayBench(dut)
    await tb.start()
    count = 0
    for n, (wa, ww) in enumerate(tb.p.mode_set):
        for sa in (0, 1):
            for sw in (0, 1):
                tb.stalls(*STALLS[(n + 2 * sa + sw) % len(STALLS)])
                a, b = tb.random_gemm(wa, ww, sa, sw)
                beats = gemm_beats(tb.p, a, b, wa, ww, sa, sw)
                start = len(tb.results)
                tb.send_packet(beats)
                await tb.drain(max_cycles=len(beats) * 60 + 200)
                got = gemm_result(tb.p, tb.results[start:], a.shape[0], a.shape[1],
                                  b.shape[1], wa, ww)
                assert (got == a @ b).all(), \
                    f"{wa}x{ww} signed {sa}/{sw}: A @ B differs\n{got}\n{a @ b}"
                count += 1
        dut._log.info("mode %dx%d: 4 GEMMs, K per pass %d", wa, ww,
                      tb.p.rows * products_per_beat(wa, ww))
    dut._log.info("%d GEMMs, %d result rows checked", count, tb.scoreboard.matched)


@cocotb.test(**TIMEOUT)
async def random_traffic_under_stalls(dut):
    """Long mixed traffic (weights and activations of all modes) per stall mix."""
    tb = ArrayBench(dut)
    await tb.start()
    for idle, backpressure in STALLS:
        tb.stalls(idle, backpressure)
        tb.send_random(scaled(800))
        await tb.drain(max_cycles=scaled(800) * 60 + 1000)
    dut._log.info("%d beats, %d result rows checked", tb.in_monitor.beats,
                  tb.scoreboard.matched)


@cocotb.test(**TIMEOUT)
async def unsupported_modes_flag_errors(dut):
    """Rows whose precision pair is not built add 0 and flag ``mode_error``."""
    tb = ArrayBench(dut)
    await tb.start()
    p, rng = tb.p, tb.np_rng
    lanes = max(p.rows, p.cols)
    word = lambda: rng.integers(0, 1 << 32, lanes).tolist()
    built = PREC_CODE[p.mode_set[0][1]]
    for w_prec in range(4):
        for r in range(p.rows):  # even rows take w_prec, odd rows a built precision
            prec = w_prec if r % 2 == 0 else built
            tb.send_packet([{"data": word(), "weights": 1, "prec": prec, "signed": r & 1}])
        for a_prec in range(4):
            tb.send_packet([{"data": word(), "weights": 0, "prec": a_prec, "signed": 1}])
    await tb.drain(max_cycles=2000)
    flagged = sum(error for _acc, error in tb.results)
    dut._log.info("%d of %d result rows flagged mode_error", flagged, len(tb.results))
    assert flagged >= 4, "w_prec = 3 must flag every row computed with it"


@cocotb.test(**TIMEOUT)
async def latency_throughput_and_weight_load(dut):
    """No stalls: M activation beats take M cycles, the first result comes
    ``latency = rows + cols - 1 + pipeline`` cycles after its beat, and a weight
    beat waits until no activation is left to meet a unit (``rows + cols - 1``
    cycles after the last one, whatever ``pipeline``)."""
    tb = ArrayBench(dut)
    await tb.start()
    p = tb.p
    wa, ww = p.mode_set[0]
    a, b = tb.random_gemm(wa, ww, 1, 1, max_m=1)
    a = np.repeat(a[:1], 20, axis=0)
    beats = gemm_beats(p, a, b[:, :1], wa, ww, 1, 1)[:p.rows + 20]  # one tile
    tb.send_packet(beats + beats[:1])  # then one more weight beat
    await tb.drain(400)
    acts = tb.in_cycles[p.rows:p.rows + 20]
    t_weight = tb.in_cycles[-1]
    assert acts[-1] - acts[0] == 19, f"20 activation beats took {acts[-1] - acts[0] + 1} cycles"
    assert tb.out_cycles[0] - acts[0] == p.latency, \
        f"result after {tb.out_cycles[0] - acts[0]} cycles, not {p.latency}"
    assert tb.out_cycles[-1] - tb.out_cycles[0] == 19, "results not one per cycle"
    assert t_weight - acts[-1] == max(1, p.rows + p.cols - 1), \
        f"weight beat accepted {t_weight - acts[-1]} cycles after the last activation"



@cocotb.test(**TIMEOUT)
async def reset_mid_stream(dut):
    """Reset at random points; weights return to 0 and later GEMMs are correct."""
    tb = ArrayBench(dut, idle=0.2, backpressure=0.2)
    await tb.start()
    lanes = max(tb.p.rows, tb.p.cols)

    def traffic(beats):
        # Activations first: right after a reset they meet the cleared weights.
        for prec in range(3):
            data = tb.np_rng.integers(0, 1 << 32, lanes).tolist()
            tb.send_packet([{"data": data, "weights": 0, "prec": prec, "signed": 1}])
        tb.send_random(beats)

    await check_reset_mid_stream(tb, traffic, beats=200)
