# SPDX-License-Identifier: BSD-2-Clause
"""softmax: parameter errors, the golden model against a scalar reading of docs/nonlinear.md
(I-BERT's i-exp and IntSoftmax literally), its output contract, the Amaranth
simulator under stalls; the Verilator regression is in tests/test_regression.py."""

import math

import numpy as np
import pytest

from accelgen.generators.softmax import Params
from accelgen.golden.softmax import softmax, reference, exp_of_zero
from accelgen.num.fixed import codes
from accelgen.num.numeric import int_range
from accelgen.verif.softmax import corner_vectors, random_vectors, run_rtl


@pytest.mark.parametrize("kwargs,error,message", [
    ({"method": "taylor"}, ValueError,
     r"^softmax method must be one of 'lut', 'base2', 'ibert', not 'taylor'$"),
    ({"n": 1}, ValueError, r"^softmax n must be an integer from 2 to 1024, not 1$"),
    ({"n": 2048}, ValueError, r"^softmax n must be an integer from 2 to 1024, not 2048$"),
    ({"n": 10, "lanes": 4}, ValueError, r"^softmax n must be a multiple of lanes = 4, not 10$"),
    ({"in_bits": 17}, ValueError, r"^softmax in_bits must be an integer from 2 to 16, not 17$"),
    ({"out_frac": 0}, ValueError, r"^softmax out_frac must be an integer from 1 to 16, not 0$"),
    ({"exp_bits": 7}, ValueError, r"^softmax exp_bits must be an integer from 8 to 20, not 7$"),
    ({"lut_bits": 13}, ValueError, r"^softmax lut_bits must be an integer from 1 to 12, not 13$"),
    ({"n": "8"}, TypeError, r"^softmax n must be an integer, not '8'$"),
    ({"recip_steps": 5}, ValueError,
     r"^softmax recip_steps must be an integer from 1 to 4, not 5$"),
    ({"pipeline": -1}, ValueError, r"^softmax pipeline must be an integer from 0 to 4, not -1$"),
])
def test_parameter_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        Params(**kwargs)


def scalar_exp(p, d):
    """docs/nonlinear.md read one element at a time, with Python integers and floats."""
    s = 2.0 ** -p.in_frac
    e_bits = p.exp_bits
    if p.method == "ibert":
        q = -d
        x0 = math.floor(-0.6931 / s)
        q = max(q, 30 * x0)
        z = q // x0
        r = q - x0 * z
        b = math.floor(2.7073248645 / s)
        c = math.floor(2.7921147441 / s ** 2)
        exp = max((r * (r + b) + c) << (30 - z), 0)
        h = (c << 30).bit_length() - e_bits  # requantised to exp_bits, halves up
        return (exp + (1 << (h - 1))) >> h if h > 0 else exp << -h
    if p.method == "base2":
        t = d * round(math.log2(math.e) * 65536)
        u, v = divmod(t, 1 << (p.in_frac + 16))
        k = v >> (p.in_frac + 16 - p.lut_bits)
        return math.floor(2 ** e_bits * 2 ** (-(k + 0.5) / 2 ** p.lut_bits) + 0.5) >> u
    step = 0
    while ((1 << (p.lut_bits + step)) <= (e_bits + 1) * math.log(2) * 2 ** p.in_frac
           and (1 << (p.lut_bits + step)) < 1 << p.in_bits):
        step += 1
    k = d >> step
    if k >= 1 << p.lut_bits:
        return 0
    centre = k * 2 ** step + (2 ** step - 1) / 2
    return math.floor(2 ** e_bits * math.exp(-centre * s) + 0.5)


def scalar_softmax(p, vector):
    top = max(vector)
    e = [scalar_exp(p, top - int(q)) for q in vector]
    f = (1 << (p.exp_bits + 16)) // sum(e)
    shift = p.exp_bits + 16 - p.out_frac
    half = 0 if p.method == "ibert" else 1 << (shift - 1)
    return [min((v * f + half) >> shift, (1 << p.out_bits) - 1) for v in e]


def stimulus(p, rng, count):
    """The shared corner vectors, then ``count`` shared random ones."""
    return np.concatenate([corner_vectors(p, rng), random_vectors(p, rng, count)])


CASES = [Params(), Params(method="base2"), Params(method="ibert"),
         Params(method="ibert", in_bits=16, in_frac=10, n=16),
         Params(method="lut", in_bits=12, in_frac=8, lut_bits=6, n=8),
         Params(method="base2", lut_bits=3, out_bits=10, out_frac=9, exp_bits=10, n=10)]


@pytest.mark.parametrize("p", CASES, ids=lambda p: p.method)
def test_golden_matches_the_scalar_reading_of_spec(p):
    rng = np.random.default_rng(4)
    for vector in stimulus(p, rng, 60):
        assert softmax(p, vector).tolist() == scalar_softmax(p, vector.tolist())


def test_every_difference_has_its_exp():
    """The vectorized exp of every difference against the scalar reading."""
    from accelgen.golden.softmax import exp_codes
    for p in CASES:
        d = np.arange(1 << p.in_bits)
        assert exp_codes(p, d).tolist() == [scalar_exp(p, int(v)) for v in d], p
        assert exp_of_zero(p) >= 1 << (p.exp_bits - 1)


@pytest.mark.parametrize("p", CASES, ids=lambda p: p.method)
def test_outputs_stay_in_range_and_sum_to_at_most_one_plus_n_lsb(p):
    """docs/nonlinear.md's failure modes: a dominant class, all equal, maximal spread, long
    vectors; the outputs never exceed the range, their sum never exceeds
    ``2**out_frac + n/2`` LSBs, and nothing wraps (every output is within a few
    LSB of float64 unless the method is coarse)."""
    rng = np.random.default_rng(5)
    lo, hi = int_range(p.in_bits, True)
    x = stimulus(p, rng, 300)
    extra = np.full((3, p.n), lo)
    extra[0, 0] = hi
    extra[1] = hi
    extra[2, ::2] = hi
    x = np.concatenate([x, extra])
    y = softmax(p, x)
    assert y.min() >= 0 and y.max() <= (1 << p.out_bits) - 1
    assert (y.sum(-1) <= (1 << p.out_frac) + p.n / 2).all()
    one_hot = softmax(p, extra[:1])[0]
    assert one_hot[0] == min(1 << p.out_frac, (1 << p.out_bits) - 1)
    assert (one_hot[1:] == 0).all()


def test_default_is_within_one_lsb_of_float64():
    p = Params()
    x = stimulus(p, np.random.default_rng(6), 500)
    err = np.abs(softmax(p, x) - reference(p, x))
    assert err.max() <= 1.0, err.max()


def test_long_vectors_keep_their_sum():
    """n = 1024 of equal inputs: every output is 1/1024 rounded; the sum does not
    wrap or saturate (docs/nonlinear.md: an exp-sum accumulator that wraps for long vectors)."""
    for method in ("lut", "base2", "ibert"):
        p = Params(method=method, n=1024, out_bits=16, out_frac=16)
        y = softmax(p, np.zeros((1, 1024), dtype=np.int64))
        assert abs(int(y[0, 0]) - 64) <= 1 and len(set(y[0].tolist())) == 1


@pytest.mark.sim
@pytest.mark.parametrize("p", [Params(n=8), Params(n=8, method="base2", lanes=2),
                               Params(n=6, method="ibert", in_bits=16, in_frac=10, lanes=3),
                               Params(n=4, lanes=4, method="base2", lut_bits=2,
                                      recip_steps=4),
                               Params(n=8, recip_steps=3, exp_bits=8),
                               Params(n=15, lanes=3, method="base2", lut_bits=6,
                                      out_bits=10, out_frac=9),
                               Params(n=8, lanes=8, in_bits=10, in_frac=5, lut_bits=7),
                               Params(n=2, in_bits=2, in_frac=0, out_bits=2, out_frac=1),
                               Params(n=8, lanes=2, pipeline=3),
                               Params(n=6, method="ibert", in_bits=16, in_frac=10, lanes=3,
                                      pipeline=2),
                               Params(n=4, lanes=4, method="base2", lut_bits=2,
                                      recip_steps=4, pipeline=2)],
                         ids=["lut_n8", "base2_l2", "ibert_l3", "one_word_r4", "r3_e8", "n15_l3",
                              "one_word_l8", "n2_2bit", "p3_l2", "ibert_p2", "one_word_p2"])
def test_amaranth_simulator_under_stalls(p):
    seed = 81
    vectors = stimulus(p, np.random.default_rng(seed), 12)
    got = run_rtl(p, vectors, seed, idle=0.3, backpressure=0.3)
    assert (got == softmax(p, vectors)).all(), f"seed {seed}"


def test_cycle_model():
    """The reciprocal's cycles set the rate of short vectors; ``recip_steps``
    buys it back (a vector per ``words`` cycles: one beat, ``lanes`` elements,
    per cycle)."""
    p = Params(n=8, pipeline=2)
    assert (p.quotient_bits, p.recip_cycles, p.vector_cycles) == (17, 17, 18)
    fast = Params(n=8, recip_steps=3, pipeline=2)
    assert (fast.recip_cycles, fast.vector_cycles, fast.throughput) == (6, 8, 1)
    assert p.throughput == 0.4444 and Params(n=8).throughput == 0.381  # 8 / 21
    assert Params().vector_cycles == 64 and Params(n=128, lanes=4).throughput == 1
    # pipeline 3 and 4 add cuts to stage 1 and register the divisor: the divider
    # waits 2 and 3 cycles
    assert [Params(pipeline=k).latency for k in range(5)] == [84, 85, 86, 89, 91]
    assert [Params(pipeline=k).vector_cycles for k in range(5)] == [64] * 5
    assert [Params(n=8, pipeline=k).vector_cycles for k in range(5)] == [18, 18, 18, 20, 21]


@pytest.mark.sim
@pytest.mark.parametrize("p", [Params(n=2, in_bits=5, in_frac=2, recip_steps=4),
                               Params(n=2, in_bits=5, in_frac=1, method="ibert",
                                      recip_steps=4),
                               Params(n=3, in_bits=3, in_frac=0, method="base2",
                                      lut_bits=4, lanes=3, recip_steps=4)],
                         ids=["lut_n2", "ibert_n2", "base2_n3"])
def test_every_short_vector(p):
    """Exhaustive: every vector of ``n`` codes (1,024 / 1,024 / 512), through
    the RTL in the Amaranth simulator, against the golden model, which is
    checked here against the scalar reading of docs/nonlinear.md as well."""
    grids = np.meshgrid(*[codes(p.in_bits, True)] * p.n, indexing="ij")
    vectors = np.stack([g.ravel() for g in grids], axis=-1)
    want = softmax(p, vectors)
    assert want.tolist() == [scalar_softmax(p, v) for v in vectors.tolist()]
    assert (run_rtl(p, vectors, seed=0) == want).all()
