# SPDX-License-Identifier: BSD-2-Clause
"""cocotb testbench of ``olive_decoder``: every pair word against the golden model."""

import cocotb
import numpy as np

from accelgen.verif.bench import configuration, check_combinational

__all__ = ["every_pair"]


@cocotb.test(timeout_time=1, timeout_unit="sec")
async def every_pair(dut):
    """All ``2**(2*bits)`` pair words: both elements' ``exp`` and ``mant``."""
    unit, params = configuration()
    words = np.arange(1 << (2 * params.bits))
    exp, mant = unit.golden_fn(params, words)
    rows = await check_combinational(
        dut, {"code": words},
        {"exp0": exp[:, 0], "mant0": mant[:, 0], "exp1": exp[:, 1], "mant1": mant[:, 1]},
        signed={"mant0", "mant1"})
    assert rows == 1 << (2 * params.bits)
