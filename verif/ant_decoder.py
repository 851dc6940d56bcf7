# SPDX-License-Identifier: BSD-2-Clause
"""cocotb testbench of ``ant_decoder``: every code against the golden model."""

import cocotb
import numpy as np

from accelgen.verif.bench import configuration, check_combinational

__all__ = ["every_code"]


@cocotb.test(timeout_time=100, timeout_unit="ms")
async def every_code(dut):
    """All ``2**bits`` codes: ``exp`` and ``mant`` equal the golden decoder's."""
    unit, params = configuration()
    codes = np.arange(1 << params.bits)
    exp, mant = unit.golden_fn(params, codes)
    rows = await check_combinational(dut, {"code": codes}, {"exp": exp, "mant": mant},
                                     signed={"mant"})
    assert rows == 1 << params.bits
