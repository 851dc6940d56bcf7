# SPDX-License-Identifier: BSD-2-Clause
"""cocotb self-tests of the shared harness: the stream monitor must catch
handshake violations, and pass a well-behaved stream with nothing lost.

The DUT (built by ``tests/test_harness.py``) offers a counting stream on ``o``;
its ``mode`` input makes it behave (0), drop ``valid`` while waiting for
``ready`` (1), or change the payload while waiting (2).
"""

import cocotb
from cocotb.triggers import with_timeout

from accelgen.verif.bench import rngs, start_clock, reset
from accelgen.verif.stream import StreamSink, StreamMonitor

__all__ = []


async def _setup(dut, mode):
    dut.mode.value = mode
    dut.rst.value = 0
    start_clock(dut)
    await reset(dut)
    rng, _ = rngs(dut)
    beats = []
    sink = StreamSink(dut, "o", dut.clk, rng=rng, backpressure=0.5, reset=dut.rst)
    monitor = StreamMonitor(dut, "o", dut.clk, beats.append, reset=dut.rst)
    cocotb.start_soon(sink.run())
    return monitor, beats


@cocotb.test(timeout_time=1, timeout_unit="ms")
async def monitor_passes_a_good_stream(dut):
    monitor, beats = await _setup(dut, 0)
    task = cocotb.start_soon(monitor.run())
    while len(beats) < 500:
        await with_timeout(cocotb.triggers.RisingEdge(dut.clk), 1, "us")
    task.cancel()
    assert beats == [(k + 1) & 0xFF for k in range(len(beats))], "beats lost or repeated"


async def _expect_violation(dut, mode, words):
    monitor, _ = await _setup(dut, mode)
    try:
        await with_timeout(monitor.run(), 100, "us")
    except AssertionError as e:
        assert words in str(e), e
    else:
        raise AssertionError(f"the monitor did not report {words!r}")


@cocotb.test(timeout_time=1, timeout_unit="ms")
async def monitor_catches_dropped_valid(dut):
    await _expect_violation(dut, 1, "valid dropped")


@cocotb.test(timeout_time=1, timeout_unit="ms")
async def monitor_catches_changed_payload(dut):
    await _expect_violation(dut, 2, "payload changed")
