# SPDX-License-Identifier: BSD-2-Clause
"""cocotb testbench of ``fp_decoder``: every code (FP32: every exponent's edges and
seeded random codes) against the golden model."""

import cocotb
import numpy as np

from accelgen.verif.bench import configuration, check_combinational, rngs

__all__ = ["codes_under_test", "every_code", "EXHAUSTIVE_BITS"]

#: Formats up to this code width are walked code by code; wider ones (FP32) are sampled.
EXHAUSTIVE_BITS = 16


def codes_under_test(fmt, rng, random=1024):
    """The codes of ``fmt`` a check walks, sorted and distinct: every code when
    ``fmt.width <= EXHAUSTIVE_BITS``; otherwise, for each exponent field value,
    the mantissas 0, 1, 2, the top bit alone, all ones and all ones but one, of
    both signs, plus ``random`` codes drawn from ``rng``."""
    if fmt.width <= EXHAUSTIVE_BITS:
        return np.arange(1 << fmt.width, dtype=np.int64)
    top = (1 << fmt.man_bits) - 1
    mants = (0, 1, 2, 1 << (fmt.man_bits - 1), top - 1, top)
    edges = np.array([(e << fmt.man_bits) | f for e in range(1 << fmt.exp_bits) for f in mants],
                     dtype=np.int64)
    drawn = rng.integers(0, 1 << fmt.width, random, dtype=np.int64)
    return np.unique(np.concatenate([edges, edges | (1 << (fmt.width - 1)), drawn]))


@cocotb.test(timeout_time=2000, timeout_unit="ms")
async def every_code(dut):
    """Every code (FP32: :func:`codes_under_test`'s sample): ``mant``, ``exp``,
    ``nan`` and ``inf`` equal the golden decoder's."""
    unit, params = configuration()
    _, rng = rngs(dut)
    codes = codes_under_test(params.format, rng)
    mant, exp, nan, inf = unit.golden_fn(params, codes)
    rows = await check_combinational(dut, {"code": codes},
                                     {"mant": mant, "exp": exp, "nan": nan, "inf": inf},
                                     signed={"mant", "exp"})
    assert rows == len(codes)
    assert rows == 1 << params.format.width or params.format.width > EXHAUSTIVE_BITS
