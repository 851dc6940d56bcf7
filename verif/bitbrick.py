# SPDX-License-Identifier: BSD-2-Clause
"""cocotb testbench of ``bitbrick``: all 64 inputs against the golden model."""

import itertools

import cocotb
import numpy as np

from accelgen.verif.bench import configuration, check_combinational

__all__ = ["exhaustive"]


@cocotb.test(timeout_time=1, timeout_unit="ms")
async def exhaustive(dut):
    """Every (x, y, sx, sy): p equals the golden BitBrick product."""
    unit, params = configuration()
    cases = np.array(list(itertools.product(range(4), range(4), range(2), range(2))))
    x, y, sx, sy = cases.T
    rows = await check_combinational(dut, {"x": x, "y": y, "sx": sx, "sy": sy},
                                     {"p": unit.golden_fn(params, x, y, sx, sy)},
                                     signed={"p"})
    assert rows == 64
