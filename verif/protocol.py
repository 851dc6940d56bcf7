# SPDX-License-Identifier: BSD-2-Clause
"""Protocol stress of any streaming unit: long random traffic under every stall
mix, with resets at random points, checked beat by beat against the golden model.

Every streaming unit's testbench module names its bench class ``BENCH``; the
bench drives the unit's inputs with :class:`~accelgen.verif.stream.StreamSource`,
takes its outputs with :class:`~accelgen.verif.stream.StreamSink` and watches the
outputs with :class:`~accelgen.verif.stream.StreamMonitor`, which fails the test
at once when an output breaks the AXI-Stream rules (``valid`` dropped, or the
payload changed, before the beat transferred). Results are compared in order,
so a beat lost, duplicated or reordered fails the scoreboard. The bench offers::

    tb.start()             clock, reset, drivers and monitors
    tb.stalls(idle, bp)    the source's idle and the sink's backpressure probability
    tb.send_random(n)      queue random traffic of about n input beats
    tb.accepted            input beats the DUT took
    tb.queued              input beats still queued
    tb.idle                nothing queued, no result outstanding
    tb.reset_now(cycles)   drop queued beats, reset, forget results in flight
    tb.scoreboard          the in-order comparison

Each of :data:`PROTOCOL_MIXES` takes an equal share of
``ACCELGEN_PROTOCOL_BEATS`` (default :data:`DEFAULT_BEATS`) input beats, and one
reset falls at a random point of each share; the traffic after it must be exact.
Progress is checked instead of a fixed cycle bound: the test fails when neither
an input nor an output beat moves for :data:`STALL_LIMIT` cycles.
"""

import importlib
import os

import cocotb
from cocotb.triggers import ClockCycles, RisingEdge

from accelgen.verif.bench import configuration

__all__ = ["PROTOCOL_MIXES", "DEFAULT_BEATS", "protocol_beats", "protocol_stress"]

#: ``(idle, backpressure)`` probabilities: none, each side nearly stopped, both
#: busy, both nearly stopped, and an uneven mix.
PROTOCOL_MIXES = ((0.0, 0.0), (0.0, 0.9), (0.9, 0.0), (0.5, 0.5), (0.9, 0.9), (0.2, 0.7))

#: Input beats per unit in the default run; a full run sets
#: ``ACCELGEN_PROTOCOL_BEATS=100000``.
DEFAULT_BEATS = 1200

#: Cycles without any transfer after which the DUT is taken to be stuck.
STALL_LIMIT = 20000

CHUNK = 600  # beats queued at a time, so the golden models work in batches
POLL = 32  # cycles between looks at the bench while waiting


def protocol_beats():
    """Input beats per unit: ``ACCELGEN_PROTOCOL_BEATS`` or :data:`DEFAULT_BEATS`."""
    text = os.environ.get("ACCELGEN_PROTOCOL_BEATS", str(DEFAULT_BEATS))
    try:
        beats = int(text)
    except ValueError:
        raise ValueError(f"ACCELGEN_PROTOCOL_BEATS must be a positive integer, "
                         f"not {text!r}") from None
    if beats < len(PROTOCOL_MIXES):
        raise ValueError(f"ACCELGEN_PROTOCOL_BEATS must be at least {len(PROTOCOL_MIXES)}, "
                         f"not {beats}")
    return beats


async def _settle(tb, what):
    """Wait until ``tb.idle``, failing when nothing moves for :data:`STALL_LIMIT`
    cycles; then check the scoreboard."""
    still, mark = 0, None
    while not tb.idle:
        await ClockCycles(tb.dut.clk, POLL)
        now = (tb.accepted, tb.scoreboard.matched)
        still = still + POLL if now == mark else 0
        mark = now
        if still >= STALL_LIMIT:
            raise AssertionError(f"{what}: no beat moved for {STALL_LIMIT} cycles "
                                 f"({tb.queued} input beats queued, "
                                 f"{len(tb.scoreboard.expected)} results outstanding)")
    tb.scoreboard.check()


async def _reset_at(tb, beat):
    """Reset once the DUT has taken input beat ``beat`` (or when the traffic ran dry)."""
    while tb.accepted < beat and tb.queued:
        await RisingEdge(tb.dut.clk)
    await tb.reset_now(cycles=tb.rng.randint(1, 3))


@cocotb.test(timeout_time=max(50, protocol_beats() // 20), timeout_unit="ms")
async def protocol_stress(dut):
    """:data:`PROTOCOL_MIXES` x (``protocol_beats() / 6`` input beats + one random reset)."""
    unit, _params = configuration()
    tb = importlib.import_module(unit.testbench).BENCH(dut)
    await tb.start()
    share = -(-protocol_beats() // len(PROTOCOL_MIXES))
    resets = 0
    for idle, backpressure in PROTOCOL_MIXES:
        tb.stalls(idle, backpressure)
        start, matched = tb.accepted, tb.scoreboard.matched
        reset_beat, reset_done = start + tb.rng.randint(1, max(1, share // 2)), False
        while tb.accepted - start < share:
            tb.send_random(min(CHUNK, share - (tb.accepted - start)))
            if not reset_done and tb.accepted < reset_beat <= tb.accepted + tb.queued:
                await _reset_at(tb, reset_beat)
                resets, reset_done = resets + 1, True
            await _settle(tb, f"idle {idle} backpressure {backpressure}")
        dut._log.info("idle %.1f backpressure %.1f: %d input beats, %d results checked",
                      idle, backpressure, tb.accepted - start, tb.scoreboard.matched - matched)
    dut._log.info("protocol stress of %s: %d input beats accepted, %d results checked, "
                  "%d resets discarding %d results", unit.name, tb.accepted,
                  tb.scoreboard.matched, resets, tb.scoreboard.flushed)
    assert resets == len(PROTOCOL_MIXES), f"only {resets} resets happened"
    assert tb.accepted >= share * len(PROTOCOL_MIXES)
