# SPDX-License-Identifier: BSD-2-Clause
"""Testbench basics shared by every unit: configuration, seeds, clock, reset, waits.

``dut`` is addressed by the unit's own port names (``clk``, active-high ``rst``,
``i__valid``, ...) everywhere in ``verif/``. When the simulated toplevel is a
wrapper with other names (``accelgen.verif.runner.run_cocotb(..., ports="axis")``),
cocotb hands the tests an :class:`accelgen.verif.ports.MappedDut` that presents
the wrapper under those names, so nothing here or in the unit testbenches changes.
"""

import json
import os
import random

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, RisingEdge, Timer

from accelgen.registry import get_unit

__all__ = ["configuration", "rngs", "start_clock", "reset", "wait_until", "scaled",
           "check_combinational"]

CLOCK_PERIOD_NS = 10


def configuration():
    """``(unit, params)`` of the configuration under test, from the runner's environment."""
    unit = get_unit(os.environ["ACCELGEN_UNIT"])
    return unit, unit.params_cls(**json.loads(os.environ["ACCELGEN_PARAMS"]))


def rngs(dut, salt=0):
    """``(random.Random, numpy Generator)`` seeded from ``cocotb.RANDOM_SEED`` (logged).

    Re-run a failure with ``ACCELGEN_SEED=<seed>`` (pytest) or
    ``COCOTB_RANDOM_SEED=<seed>``.
    """
    seed = cocotb.RANDOM_SEED + salt
    dut._log.info("random seed of this run: %s (rerun with ACCELGEN_SEED=%s); test seed %d",
                  os.environ.get("COCOTB_RANDOM_SEED", "?"),
                  os.environ.get("COCOTB_RANDOM_SEED", "?"), seed)
    return random.Random(seed), np.random.default_rng(seed)


def scaled(count):
    """``count`` times ``ACCELGEN_STRESS`` (default 1): heavier runs on demand."""
    return max(1, int(count * float(os.environ.get("ACCELGEN_STRESS", "1"))))


def start_clock(dut):
    return cocotb.start_soon(Clock(dut.clk, CLOCK_PERIOD_NS, unit="ns").start())


async def reset(dut, cycles=2):
    """Hold ``rst`` high for ``cycles`` clock cycles (changed on falling edges)."""
    await FallingEdge(dut.clk)
    dut.rst.value = 1
    for _ in range(cycles):
        await RisingEdge(dut.clk)
    await FallingEdge(dut.clk)
    dut.rst.value = 0


async def wait_until(dut, condition, max_cycles, what):
    """Wait on rising edges until ``condition()``; fail after ``max_cycles`` cycles."""
    for _ in range(max_cycles):
        if condition():
            return
        await RisingEdge(dut.clk)
    if not condition():
        raise AssertionError(f"timed out after {max_cycles} cycles waiting for {what}")


async def check_combinational(dut, inputs, expected, signed=()):
    """Drive each row of ``inputs`` (``{port: array}``) on a combinational DUT and
    compare the ports of ``expected`` (``{port: array}``, the golden model's);
    ports named in ``signed`` are read as two's complement. Fails listing the
    first mismatches; returns the number of rows checked."""
    names, rows = list(inputs), len(next(iter(inputs.values())))
    errors = 0
    for k in range(rows):
        for name in names:
            getattr(dut, name).value = int(inputs[name][k])
        await Timer(1, unit="ns")
        for port, want in expected.items():
            value = getattr(dut, port).value
            got = value.to_signed() if port in signed else int(value)
            if got != int(want[k]):
                errors += 1
                if errors <= 20:
                    dut._log.error("%s: %s = %d, expected %d",
                                   ", ".join(f"{n}={int(inputs[n][k])}" for n in names),
                                   port, got, int(want[k]))
    assert errors == 0, f"{errors} wrong outputs in {rows} input combinations"
    dut._log.info("%d input combinations match the golden model", rows)
    return rows
