# SPDX-License-Identifier: BSD-2-Clause
"""olive_pe: parameter errors, golden model against Python integers and against the
encoder's dot products, Amaranth simulator under stalls; the Verilator regression is
in tests/test_regression.py."""

import random

import numpy as np
import pytest

from accelgen.generators.olive_pe import OlivePE, Params
from accelgen.golden.olive_decoder import pair_values, encode_pairs, quantize
from accelgen.golden.olive_pe import olive_pe
from accelgen.verif.amaranth_sim import run_stream
from accelgen.verif.olive_pe import extreme_beats
from accelgen.verif.testing import configurations, reference_packets


@pytest.mark.parametrize("kwargs,error,message", [
    ({"acc_width": 15}, ValueError,
     r"^olive_pe acc_width must be an integer from 16 to 48, not 15$"),
    ({"pipeline": -1}, ValueError, r"^olive_pe pipeline must be an integer from 0 to 4, not -1$"),
    ({"bits": 5}, ValueError, r"^olive_pe bits must be 4 or 8, not 5$"),
    ({"normal": "float"}, ValueError,
     r"^olive_pe normal must be one of 'int', 'flint', not 'float'$"),
])
def test_parameter_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        Params(**kwargs)


def reference(p, a, w, last):
    """Per packet ``(acc, overflow)`` from Python-integer element values."""
    fmt = p.format
    va, vw = pair_values(fmt, a), pair_values(fmt, w)
    beats = [[int(x0) * int(y0), int(x1) * int(y1)] for (x0, x1), (y0, y1) in zip(va, vw)]
    return reference_packets(beats, last, p.acc_width)


@pytest.mark.parametrize("params", configurations("olive_pe"))
def test_golden_matches_python_integers(params):
    rng = np.random.default_rng(4)
    n = 4000
    a, w = rng.integers(0, 1 << (2 * params.bits), (2, n))
    last = rng.random(n) < 0.2
    last[-1] = True
    got = olive_pe(params, a, w, last)
    assert list(zip(got["acc"].tolist(), got["overflow"].tolist())) == \
        reference(params, a, w, last)


def test_a_packet_is_the_dot_product_of_the_quantized_vectors():
    p = Params()
    fmt = p.format
    rng = np.random.default_rng(9)
    x, y = rng.normal(0, 3, 64), rng.normal(0, 3, 64)
    x[[3, 40]], y[[7, 8]] = [30, -50], [90, -13]
    last = np.zeros(32, dtype=bool)
    last[-1] = True
    got = olive_pe(p, encode_pairs(fmt, x), encode_pairs(fmt, y), last)
    assert got["acc"].tolist() == [int(quantize(fmt, x) @ quantize(fmt, y))]
    assert got["overflow"].tolist() == [False]


def test_golden_overflow():
    p = Params(acc_width=16)
    top = 0x87  # element 0 = +96 outlier, element 1 its victim
    got = olive_pe(p, [top] * 4, [top] * 4, [0, 0, 0, 1])
    exact = 4 * 96 * 96
    assert got["overflow"].tolist() == [True]
    assert got["acc"].tolist() == [(exact + (1 << 15)) % (1 << 16) - (1 << 15)]


def test_golden_beat_sum_overflow():
    """Two normal products that each fit but whose sum does not (flint8: 4096**2 = 2**24,
    twice is 2**25 > 2**25 - 1 at acc_width 26): flagged, although the running sum
    of the wrapped beat is back in range."""
    p = Params(bits=8, normal="flint", exp_bits=4, man_bits=3, bias=9, acc_width=26)
    (beat, step), = [(b, s) for b, s in extreme_beats(p.format) if s == 2 * 4096 ** 2]
    got = olive_pe(p, [beat["a"]], [beat["w"]], [1])
    assert got["acc"].tolist() == [-(1 << 25)] and got["overflow"].tolist() == [True]
    assert reference(p, [beat["a"]], [beat["w"]], [1]) == [(-(1 << 25), True)]


@pytest.mark.sim
@pytest.mark.parametrize("params", [Params(), Params(pipeline=0, acc_width=16),
                                    Params(pipeline=1, acc_width=16), Params(pipeline=3),
                                    Params(bits=8, exp_bits=4, man_bits=3, bias=4,
                                           normal="flint", pipeline=2, acc_width=24),
                                    Params(bits=8, exp_bits=4, man_bits=3, bias=9,
                                           normal="flint", acc_width=26)],
                         ids=["default", "p0_acc16", "p1_acc16", "p3", "n8_flint_p2",
                              "n8_flint_acc26"])
def test_amaranth_simulator_under_stalls(params):
    seed = 43
    rng = np.random.default_rng(seed)
    n = 500
    a, w = rng.integers(0, 1 << (2 * params.bits), (2, n))
    for k, (beat, _step) in enumerate(extreme_beats(params.format)):  # single-beat packets
        a[k], w[k] = beat["a"], beat["w"]
    last = rng.random(n) < 0.2
    last[:4] = True
    last[-1] = True
    # Then a packet of the largest in-range beat, long enough to leave the range
    # (where that takes at most 1000 beats: p0_acc16).
    fitting = [(b, s) for b, s in extreme_beats(params.format)
               if abs(s) < 1 << (params.acc_width - 1)]
    repeats = 0
    if fitting:
        beat, step = max(fitting, key=lambda t: abs(t[1]))
        repeats = (1 << (params.acc_width - 1)) // abs(step) + 2
    if 0 < repeats <= 1000:
        a = np.concatenate([a, [beat["a"]] * repeats])
        w = np.concatenate([w, [beat["w"]] * repeats])
        last = np.concatenate([last, [False] * (repeats - 1) + [True]])
    result = olive_pe(params, a, w, last)
    want = list(zip(result["acc"].tolist(), result["overflow"].tolist()))
    got = run_stream(OlivePE(params), [{"a": int(x), "w": int(y), "last": int(l)}
                                       for x, y, l in zip(a, w, last)],
                     len(want), max_cycles=20000, read=lambda v: (v.acc, bool(v.overflow)),
                     rng=random.Random(seed), idle=0.3, backpressure=0.3)
    assert got == want, f"seed {seed}"
    long_packet = 0 < repeats <= 1000
    assert long_packet == (params.acc_width == 16), "only p0_acc16 gets the long packet"
    assert want[-1][1] == long_packet, "the long packet (only) leaves the range"
