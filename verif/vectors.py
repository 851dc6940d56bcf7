# SPDX-License-Identifier: BSD-2-Clause
"""Shared cocotb bench of the vector units (``softmax``, ``layernorm``): a vector
of ``words`` beats in, ``words`` beats out (``last`` on the final one), checked
beat by beat against the golden model, plus the steady-state rate check."""

import numpy as np

from accelgen.verif.bench import configuration, wait_until, scaled
from accelgen.verif.packets import (PacketBench, check_latency, check_reset_mid_stream,
                                     check_under_stalls)

__all__ = ["VectorBench", "check_vector_rate", "check_random_vectors",
           "check_rate_and_latency", "check_vector_reset"]


class VectorBench(PacketBench):
    """:class:`PacketBench` whose packets are vectors of ``p.words`` beats.

    ``model(params, columns)`` maps a dictionary of ``(vectors, n)`` arrays (one
    per input field, e.g. ``x``, ``gamma``, ``beta``) to the ``(vectors, n)``
    output codes. Vectors are given as such dictionaries of length-``n`` arrays.
    """

    def __init__(self, dut, model, **stalls):
        _, p = configuration()
        self.model = model
        super().__init__(dut, in_layout=p.input_layout(), out_layout=p.output_layout(),
                         expect=self._expect, observe=self._observe, last=p.words, **stalls)
        self.fields = tuple(p.input_layout().members)

    def _observe(self, fields):
        return tuple(fields["y"]), bool(fields["last"])

    def items(self, outputs):
        """Expected output beats of ``(vectors, n)`` output codes."""
        p = self.p
        out = []
        for row in np.asarray(outputs).reshape(-1, p.words, p.lanes).tolist():
            out += [(tuple(beat), j == p.words - 1) for j, beat in enumerate(row)]
        return out

    def _expect(self, params, beats):
        columns = {k: np.array([sum((b[k] for b in beats), [])]) for k in self.fields}
        return self.items(self.model(params, columns))

    def beats(self, vector):
        """The input beats of one vector (a dictionary of length-``n`` arrays)."""
        lanes = self.p.lanes
        return [{k: [int(v) for v in vector[k][j * lanes:(j + 1) * lanes]]
                 for k in self.fields} for j in range(self.p.words)]

    def send_vectors(self, vectors):
        for vector in vectors:
            self.send_packet(self.beats(vector))


async def check_vector_rate(tb, vectors, period):
    """No stalls: vectors sent back to back must leave one every ``period``
    cycles once the pipeline is full (the gaps between the first beats of the
    last half of the vectors), each vector's beats back to back."""
    dut, words = tb.dut, tb.p.words
    tb.stalls(0.0, 0.0)
    out0 = tb.out_monitor.beats
    starts, seen = [], [out0]

    def record():
        beats = tb.out_monitor.beats
        if beats != seen[-1]:
            seen.append(beats)
            if (beats - out0 - 1) % words == 0:
                starts.append(tb.out_monitor.cycles)
        return beats == out0 + len(vectors) * words

    tb.send_vectors(vectors)
    await wait_until(dut, record, len(vectors) * (period + words) * 4 + 500, "every vector")
    gaps = np.diff(starts).tolist()
    dut._log.info("%d vectors back to back: gaps between first beats %s", len(vectors), gaps)
    steady = gaps[len(gaps) // 2:]
    assert steady and all(g == period for g in steady), \
        f"steady-state vector gaps {steady}, manifest says {period}"
    await tb.drain(200)


async def check_random_vectors(tb, beats=1200):
    """``scaled(beats)`` beats of the bench's random vectors under every stall mix."""
    beats = scaled(beats)
    accepted = await check_under_stalls(tb, tb.send_random, beats,
                                        cycles_per_beat=40 + 3 * tb.p.vector_cycles)
    assert accepted >= 4 * (beats - tb.p.words)


async def check_rate_and_latency(tb):
    """One vector into an idle unit: ``words`` beats in ``words`` cycles, the first
    result ``latency`` cycles after the last; then 12 vectors back to back leave
    one every ``vector_cycles`` cycles."""
    await check_latency(tb, tb.beats(tb.random_vectors(1)[0]), tb.p.latency)
    await check_vector_rate(tb, tb.random_vectors(12), tb.p.vector_cycles)


async def check_vector_reset(tb):
    """Resets at random points; the vectors sent afterwards are correct."""
    await check_reset_mid_stream(tb, tb.send_random, beats=max(400, 6 * tb.p.words),
                                 cycles_per_beat=10 + tb.p.vector_cycles // tb.p.words * 4)
