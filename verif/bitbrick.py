# SPDX-License-Identifier: BSD-2-Clause
"""cocotb testbench of ``bitbrick``: all 64 inputs against the golden model."""

import itertools

import cocotb
import numpy as np
from cocotb.triggers import Timer

from accelgen.verif.bench import configuration

__all__ = ["exhaustive"]


@cocotb.test(timeout_time=1, timeout_unit="ms")
async def exhaustive(dut):
    """Every (x, y, sx, sy): p equals the golden BitBrick product."""
    unit, params = configuration()
    cases = np.array(list(itertools.product(range(4), range(4), range(2), range(2))))
    x, y, sx, sy = cases.T
    expected = unit.golden_fn(params, x, y, sx, sy)
    errors = 0
    for (xi, yi, sxi, syi), want in zip(cases, expected):
        dut.x.value, dut.y.value = int(xi), int(yi)
        dut.sx.value, dut.sy.value = int(sxi), int(syi)
        await Timer(1, unit="ns")
        got = dut.p.value.to_signed()
        if got != want:
            errors += 1
            dut._log.error("x=%d y=%d sx=%d sy=%d: p=%d, expected %d",
                           xi, yi, sxi, syi, got, want)
    assert errors == 0, f"{errors} of {len(cases)} products wrong"
    dut._log.info("all %d input combinations match the golden model", len(cases))
