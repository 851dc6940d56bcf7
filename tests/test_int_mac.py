# SPDX-License-Identifier: BSD-2-Clause
"""int_mac: parameter errors, golden model, Amaranth simulator; the Verilator
regression is in tests/test_regression.py."""

import random

import numpy as np
import pytest

from accelgen.generators.int_mac import IntMAC, Params
from accelgen.golden.int_mac import int_mac, wrap
from accelgen.verif.amaranth_sim import run_stream
from accelgen.verif.int_mac import random_stream
from accelgen.verif.testing import configurations


@pytest.mark.parametrize("kwargs,error,message", [
    ({"acc_width": 0}, ValueError,
     r"^int_mac acc_width must be an integer from a_width \+ b_width = 16 to 64, not 0$"),
    ({"a_width": 4, "acc_width": 11}, ValueError,
     r"^int_mac acc_width must be an integer from a_width \+ b_width = 12 to 64, not 11$"),
    ({"acc_width": 65}, ValueError,
     r"^int_mac acc_width must be an integer from a_width \+ b_width = 16 to 64, not 65$"),
    ({"a_width": 0}, ValueError, r"^int_mac a_width must be an integer from 1 to 32, not 0$"),
    ({"b_width": 33}, ValueError, r"^int_mac b_width must be an integer from 1 to 32, not 33$"),
    ({"a_width": 8.0}, TypeError, r"^int_mac a_width must be an integer, not 8.0$"),
    ({"a_signed": "yes"}, TypeError, r"^int_mac a_signed must be a bool, not 'yes'$"),
    ({"pipeline": 5}, ValueError, r"^int_mac pipeline must be an integer from 0 to 4, not 5$"),
    ({"pipeline": -1}, ValueError, r"^int_mac pipeline must be an integer from 0 to 4, not -1$"),
])
def test_parameter_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        Params(**kwargs)


def test_component_takes_only_its_params():
    from accelgen.generators.bitbrick import Params as BitBrickParams
    with pytest.raises(TypeError, match=r"^int_mac params must be a int_mac Params instance, "
                                        r"not Params\(\)$"):
        IntMAC(BitBrickParams())


def test_derived_values():
    p = Params(a_signed=False, b_signed=False, pipeline=3)
    assert (p.acc_signed, p.latency, p.throughput) == (False, 4, 1)
    assert Params(a_signed=False).acc_signed


def reference(p, a, b, last):
    """Python integers, one beat at a time: docs/systolic.md's words, not the golden's code."""
    out, acc = [], 0
    for x, y, l in zip(a, b, last):
        acc += int(x) * int(y)
        if l:
            v = acc % (1 << p.acc_width)
            if p.acc_signed and v >= 1 << (p.acc_width - 1):
                v -= 1 << p.acc_width
            out.append(v)
            acc = 0
    return out


@pytest.mark.parametrize("params", configurations("int_mac"))
def test_golden_matches_python_integers(params):
    rng = np.random.default_rng(1)
    a, b, last = random_stream(params, rng, 5000)
    assert int_mac(params, a, b, last).tolist() == reference(params, a, b, last)


def test_golden_wraps_at_the_accumulator_width():
    p = Params(a_width=4, b_width=4, acc_width=8)
    assert int_mac(p, [-8] * 3, [-8] * 3, [0, 0, 1]).tolist() == [192 - 256]
    p = Params(a_width=32, b_width=32, acc_width=64, a_signed=False, b_signed=False)
    big = (1 << 32) - 1
    assert int_mac(p, [big] * 3, [big] * 3, [0, 0, 1]).tolist() == [(3 * big * big) % (1 << 64)]
    p = Params(a_width=32, b_width=32, acc_width=64)
    small = -(1 << 31)
    assert int_mac(p, [small] * 5, [small] * 5, [0, 0, 0, 0, 1]).tolist() == \
        reference(p, [small] * 5, [small] * 5, [0, 0, 0, 0, 1])


def test_golden_edge_cases():
    p = Params()
    assert int_mac(p, [1, 2], [3, 4], [0, 0]).tolist() == []  # unfinished packet
    assert int_mac(p, [], [], []).tolist() == []
    with pytest.raises(ValueError, match=r"^a values must be in -128..127$"):
        int_mac(p, [128], [1], [1])
    with pytest.raises(ValueError, match=r"same length"):
        int_mac(p, [1, 2], [1], [1])
    assert wrap([255, 256], 8, True).tolist() == [-1, 0]
    top = np.array([(1 << 62) + 5, (1 << 63) + 7], dtype=np.uint64)
    assert wrap(top, 63, True).tolist() == [(1 << 62) + 5 - (1 << 63), 7]
    assert wrap(top, 64, True).tolist() == [(1 << 62) + 5, 7 - (1 << 63)]


@pytest.mark.sim
@pytest.mark.parametrize("params", [Params(), Params(pipeline=0, a_signed=False),
                                    Params(a_width=3, b_width=2, acc_width=7, pipeline=4)],
                         ids=["default", "p0_unsigned_a", "narrow_p4"])
def test_amaranth_simulator_under_stalls(params):
    seed = 2024
    rng = np.random.default_rng(seed)
    a, b, last = random_stream(params, rng, 400)
    last[-1] = True
    want = int_mac(params, a, b, last).tolist()
    got = run_stream(IntMAC(params), [{"a": int(x), "b": int(y), "last": int(l)}
                                      for x, y, l in zip(a, b, last)],
                     len(want), max_cycles=5000, rng=random.Random(seed), idle=0.3,
                     backpressure=0.3)
    assert got == want, f"seed {seed}"
