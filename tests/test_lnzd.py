# SPDX-License-Identifier: BSD-2-Clause
"""lnzd: parameter errors, golden order, Amaranth simulator at every density under
stalls; the Verilator regression is in tests/test_regression.py."""

import random

import numpy as np
import pytest

from accelgen.generators.lnzd import LNZD, Params
from accelgen.golden.lnzd import lnzd
from accelgen.num.numeric import int_range
from accelgen.verif.amaranth_sim import run_stream


@pytest.mark.parametrize("kwargs,error,message", [
    ({"n": 1}, ValueError, r"^lnzd n must be an integer from 2 to 256, not 1$"),
    ({"width": 33}, ValueError, r"^lnzd width must be an integer from 1 to 32, not 33$"),
    ({"fanin": 1}, ValueError, r"^lnzd fanin must be an integer from 2 to 8, not 1$"),
    ({"signed": "yes"}, TypeError, r"^lnzd signed must be a bool, not 'yes'$"),
])
def test_parameter_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        Params(**kwargs)


def test_golden_order_and_end_markers():
    p = Params(n=6)
    got = lnzd(p, [[0, 5, 0, 0, -3, 1], [0] * 6, [7, 0, 0, 0, 0, 0]])
    assert got == [(1, 5, 1, 0), (4, -3, 1, 0), (5, 1, 1, 1), (0, 0, 0, 1), (0, 7, 1, 1)]


def test_tree_levels():
    assert Params(n=16).tree_levels == 2 and Params(n=17).tree_levels == 3
    assert Params(n=64, fanin=2).tree_levels == 6 and Params(n=5, fanin=8).tree_levels == 1


@pytest.mark.sim
@pytest.mark.parametrize("params", [Params(), Params(n=5, fanin=2, signed=False, width=3),
                                    Params(n=17, fanin=3, width=1, signed=False),
                                    Params(n=2, fanin=8), Params(n=13, fanin=5, width=1)],
                         ids=["default", "n5_f2", "n17_f3_w1", "n2_f8", "n13_f5_w1_signed"])
def test_amaranth_simulator_under_stalls(params):
    seed = 51
    rng = np.random.default_rng(seed)
    lo, hi = int_range(params.width, params.signed)
    density = rng.choice([0.0, 0.1, 0.5, 0.9, 1.0], (120, 1))
    values = rng.integers(lo, hi, (120, params.n), endpoint=True)
    vectors = np.where(rng.random((120, params.n)) < density, values, 0)
    want = lnzd(params, vectors)
    got = run_stream(LNZD(params), [{"data": [int(x) for x in v]} for v in vectors],
                     len(want), max_cycles=30000,
                     read=lambda b: (b.index, b.value, b.nz, b.last),
                     rng=random.Random(seed), idle=0.3, backpressure=0.3)
    assert got == want, f"seed {seed}"
