# SPDX-License-Identifier: BSD-2-Clause
"""ant_pe: parameter errors, golden model against Python integers, Amaranth
simulator under stalls; the Verilator regression is in tests/test_regression.py."""

import random

import numpy as np
import pytest

from accelgen.num.formats import AntFormat, TYPE_CODE, KINDS
from accelgen.generators.ant_pe import AntPE, Params
from accelgen.golden.ant_decoder import values as format_values
from accelgen.golden.ant_pe import ant_pe, shifted_product
from accelgen.verif.amaranth_sim import run_stream
from accelgen.verif.ant_pe import corner_stream, random_stream
from accelgen.verif.testing import configurations, reference_packets


@pytest.mark.parametrize("kwargs,error,message", [
    ({"bits": 3}, ValueError, r"^ant_pe bits must be an integer from 4 to 8, not 3$"),
    ({"types": "int,posit"}, ValueError,
     r"^ant_pe types must be a comma-separated list of int, pot, float, flint, "
     r"not 'int,posit'$"),
    ({"types": ""}, ValueError, r"^ant_pe types must be a comma-separated list"),
    ({"types": ["int"]}, TypeError, r"^ant_pe types must be a string, not \['int'\]$"),
    ({"float_exp": 4}, ValueError,
     r"^ant_pe float_exp must be an integer from 1 to 3 for 4-bit signed floats "
     r"\(3 magnitude bits\), not 4$"),
    ({"types": "int,pot", "float_exp": 2}, ValueError,
     r"^ant_pe float_exp applies only when types include float; leave it at 3, not 2$"),
    ({"acc_width": 49}, ValueError, r"^ant_pe acc_width must be an integer from 16 to 48, "
                                    r"not 49$"),
    ({"pipeline": 4}, ValueError, r"^ant_pe pipeline must be an integer from 0 to 3, not 4$"),
    ({"a_signed": "no"}, TypeError, r"^ant_pe a_signed must be a bool, not 'no'$"),
])
def test_parameter_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        Params(**kwargs)


def test_types_are_canonical():
    assert Params(types="flint, int,flint").types == "int,flint"
    assert Params(types="flint,float,pot,int") == Params()
    assert Params(types="pot").kinds == ("pot",)


def test_shifted_product_limits():
    # width 8: -128..127; shifts of 8 or more leave nothing of a non-zero value.
    value, out = shifted_product([1, 1, -1, 1, 3, -3, 0, 5], [6, 7, 7, 8, 5, 5, 60, 200], 8)
    assert value.tolist() == [64, -128, -128, 0, 96, -96, 0, 0]
    assert out.tolist() == [False, True, False, True, False, False, False, True]


def reference(p, a, w, a_type, w_type, last):
    """Per packet ``(acc, overflow, type_error)`` with Python integers."""
    tables = {(kind, signed): format_values(AntFormat(kind, p.bits, signed, p.float_exp))
              for kind in p.kinds for signed in (p.a_signed, p.w_signed)}
    kind_of = {TYPE_CODE[k]: k for k in p.kinds}
    beats, errors = [], []
    for x, y, tx, ty in zip(a, w, a_type, w_type):
        if tx in kind_of and ty in kind_of:
            beats.append([tables[kind_of[tx], p.a_signed][x] * tables[kind_of[ty], p.w_signed][y]])
            errors.append(False)
        else:
            beats.append([0])
            errors.append(True)
    packets = reference_packets(beats, last, p.acc_width)
    flags, k, error = [], 0, False
    for e, end in zip(errors, last):
        error |= e
        if end:
            flags.append(error)
            error = False
    return [(acc, overflow, flag) for (acc, overflow), flag in zip(packets, flags)]


@pytest.mark.parametrize("params", configurations("ant_pe"))
def test_golden_matches_python_integers(params):
    rng = np.random.default_rng(2)
    stream = random_stream(params, rng, 4000)
    got = ant_pe(params, *stream)
    got = list(zip(got["acc"].tolist(), got["overflow"].tolist(), got["type_error"].tolist()))
    want = reference(params, *(list(map(int, s)) for s in stream))
    assert got == want
    # Unbuilt type codes exist (and are drawn) only when some type is left out.
    assert any(e for *_r, e in want) == (len(params.kinds) < len(KINDS))


def test_golden_overflow_and_wrap():
    p = Params(types="pot", a_signed=False, w_signed=False, acc_width=16)
    # pot codes 8 and 8: 128 * 128 = 2**14 fits; code 9 * 8: 2**15 does not.
    got = ant_pe(p, [8, 9, 8, 8, 8], [8, 8, 8, 8, 8], 1, 1, [1, 1, 0, 0, 1])
    assert got["acc"].tolist() == [1 << 14, -(1 << 15), -(1 << 14)]
    assert got["overflow"].tolist() == [False, True, True]
    assert ant_pe(p, [1], [1], 0, 1, [1])["type_error"].tolist() == [True]


@pytest.mark.sim
@pytest.mark.parametrize("params", [Params(), Params(pipeline=0, bits=8, acc_width=16),
                                    Params(pipeline=2, types="flint,int", a_signed=True,
                                           acc_width=16)],
                         ids=["default", "p0_n8_acc16", "p2_flint_int"])
def test_amaranth_simulator_under_stalls(params):
    seed = 41
    rng = np.random.default_rng(seed)
    a, w, a_type, w_type, last = (np.concatenate(pair) for pair in zip(
        corner_stream(params), random_stream(params, rng, 500)))
    result = ant_pe(params, a, w, a_type, w_type, last)
    want = list(zip(result["acc"].tolist(), result["overflow"].tolist(),
                    result["type_error"].tolist()))
    beats = [dict(zip(("a", "w", "a_type", "w_type", "last"), map(int, beat)))
             for beat in zip(a, w, a_type, w_type, last)]
    got = run_stream(AntPE(params), beats, len(want), max_cycles=20000,
                     read=lambda v: (v.acc, bool(v.overflow), bool(v.type_error)),
                     rng=random.Random(seed), idle=0.3, backpressure=0.3)
    assert got == want, f"seed {seed}"
    assert any(overflow for _acc, overflow, _err in want)
