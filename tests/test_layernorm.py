# SPDX-License-Identifier: BSD-2-Clause
"""layernorm: parameter errors, docs/nonlinear.md's Newton square root against math.isqrt, the
golden model against a scalar reading with Python integers, accuracy against
float64, the Amaranth simulator under stalls; the Verilator regression is in
tests/test_regression.py."""

import math
import random

import numpy as np
import pytest

from accelgen.generators.layernorm import Params
from accelgen.golden.layernorm import layernorm, reference, isqrt_newton, rsqrt_table
from accelgen.num.fixed import codes
from accelgen.num.numeric import int_range
from accelgen.verif.layernorm import (corner_vectors, random_affine, run_rtl,
                                      random_vectors as shared_random_vectors)


@pytest.mark.parametrize("kwargs,error,message", [
    ({"method": "newton"}, ValueError,
     r"^layernorm method must be one of 'isqrt', 'rsqrt', not 'newton'$"),
    ({"channels": 1}, ValueError,
     r"^layernorm channels must be an integer from 2 to 1024, not 1$"),
    ({"channels": 10, "lanes": 4}, ValueError,
     r"^layernorm channels must be a multiple of lanes = 4, not 10$"),
    ({"out_frac": 13}, ValueError,
     r"^layernorm out_frac must be an integer from 0 to 12, not 13$"),
    ({"lut_bits": 3}, ValueError, r"^layernorm lut_bits must be an integer from 4 to 12, not 3$"),
    ({"affine": 1}, TypeError, r"^layernorm affine must be a bool, not 1$"),
    ({"method": "rsqrt", "channels": 2, "in_bits": 2}, ValueError,
     r"^layernorm lut_bits must be an integer from 4 to 6 for method='rsqrt', in_bits=2, "
     r"channels=2, not 8$"),
    ({"stats_steps": 0}, ValueError,
     r"^layernorm stats_steps must be an integer from 1 to 4, not 0$"),
    ({"pipeline": 5}, ValueError, r"^layernorm pipeline must be an integer from 0 to 4, not 5$"),
])
def test_parameter_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        Params(**kwargs)


def test_newton_square_root_is_exact():
    """docs/nonlinear.md's iteration equals math.isqrt: every n below 2**16, then random
    n up to 2**100 and the squares and their neighbours."""
    n = np.arange(1 << 16).astype(object)
    assert [int(v) for v in isqrt_newton(n)] == [math.isqrt(v) for v in range(1 << 16)]
    rng = random.Random(3)
    big = [rng.getrandbits(rng.randint(17, 100)) for _ in range(3000)]
    big += [k * k + d for k in (2 ** 20, 2 ** 31 - 1, 3 ** 30) for d in (-1, 0, 1)]
    got = isqrt_newton(np.array(big, dtype=object))
    assert [int(v) for v in got] == [math.isqrt(v) for v in big]


def scalar_layernorm(p, x, gamma=None, beta=None):
    """One vector with Python integers, following the golden docstring."""
    c = p.channels
    s1, s2 = sum(x), sum(v * v for v in x)
    v = c * s2 - s1 * s1
    k, g = p.recip_shift, p.guard_bits
    if v == 0:
        f = 0
    elif p.method == "isqrt":
        f = (1 << k) // math.isqrt(v << (2 * g))
    else:
        w = p.variance_bits + p.variance_bits % 2
        s = (w - v.bit_length()) // 2 * 2
        entry = math.floor(2 ** (w // 2 + 16) / math.sqrt(
            ((v << s) >> (w - p.lut_bits)) * 2 ** (w - p.lut_bits)
            + 2 ** (w - p.lut_bits - 1)) + 0.5)
        e = w // 2 + 16 - (k - g) - s // 2
        f = entry >> e if e >= 0 else entry << -e
    shift = k - g - p.out_frac
    lo, hi = int_range(p.out_bits, True)
    out = []
    for j, q in enumerate(x):
        y = (c * q - s1) * f
        if p.affine:
            y = ((y * gamma[j] + (1 << (shift + p.gamma_frac - 1)))
                 >> (shift + p.gamma_frac)) + beta[j]
        else:
            y = (y + (1 << (shift - 1))) >> shift
        out.append(min(max(y, lo), hi))
    return out


def random_vectors(p, rng, count):
    """The shared corner vectors and ``count`` shared random ones, with random
    gamma and beta codes."""
    x = np.concatenate([corner_vectors(p, rng), shared_random_vectors(p, rng, count)])
    return (x, *random_affine(p, rng, x.shape))


CASES = [Params(), Params(method="rsqrt"), Params(affine=True, channels=12),
         Params(method="rsqrt", affine=True, channels=16, lut_bits=5),
         Params(in_bits=16, in_frac=10, channels=256, out_bits=16, out_frac=12),
         Params(in_bits=3, in_frac=0, channels=2, out_bits=4, out_frac=1)]


@pytest.mark.parametrize("p", CASES, ids=lambda p: f"{p.method}_c{p.channels}")
def test_golden_matches_python_integers(p):
    x, gamma, beta = random_vectors(p, np.random.default_rng(7), 40)
    got = layernorm(p, x, gamma, beta)
    for k in range(len(x)):
        want = scalar_layernorm(p, x[k].tolist(), gamma[k].tolist(), beta[k].tolist())
        assert got[k].tolist() == want, k


def test_rsqrt_table_covers_its_range():
    """The table's used entries (top three quarters) are 17-bit values."""
    for p in (Params(method="rsqrt"), Params(method="rsqrt", lut_bits=12, channels=1024)):
        used = rsqrt_table(p)[1 << (p.lut_bits - 2):]
        assert used.min() > 1 << 16 and used.max() <= 1 << 17


@pytest.mark.parametrize("p,bound", [(Params(), 0.52), (Params(method="rsqrt"), 0.75),
                                     (Params(affine=True), 0.52),
                                     (Params(in_bits=16, in_frac=10, channels=1024,
                                             out_bits=16, out_frac=12), 0.52)],
                         ids=["isqrt", "rsqrt", "affine", "wide"])
def test_accuracy_against_float64(p, bound):
    """Max |error| in output LSBs on random, tiny-, large-variance and extreme
    vectors (measured over seeds of the shared stimulus: isqrt 0.505-0.514, rsqrt
    0.57-0.63 at 8 table bits)."""
    x, gamma, beta = random_vectors(p, np.random.default_rng(8), 200)
    err = np.abs(layernorm(p, x, gamma, beta) - reference(p, x, gamma, beta))
    assert err.max() <= bound, err.max()


def test_equal_values_give_beta():
    p = Params(affine=True)
    x = np.full((1, p.channels), 5)
    beta = np.arange(p.channels)[None, :] - 30
    assert layernorm(p, x, np.full_like(x, 64), beta).tolist() == beta.tolist()


@pytest.mark.sim
@pytest.mark.parametrize("p", [Params(channels=8), Params(channels=8, method="rsqrt", lanes=2),
                               Params(channels=6, lanes=3, affine=True, stats_steps=3),
                               Params(channels=16, stats_steps=4, in_bits=16, in_frac=8),
                               Params(channels=16, lanes=4, in_bits=12, in_frac=6,
                                      affine=True, gamma_bits=10, gamma_frac=8,
                                      out_bits=10, out_frac=6, stats_steps=4),
                               Params(channels=8, out_bits=16, out_frac=0, affine=True,
                                      gamma_frac=15),
                               Params(channels=4, lanes=4, method="rsqrt", affine=True,
                                      lut_bits=4),
                               Params(channels=2, in_bits=2, in_frac=0, out_bits=3,
                                      out_frac=0),
                               Params(channels=6, lanes=3, affine=True, stats_steps=3,
                                      pipeline=3),
                               Params(channels=6, lanes=3, affine=True, stats_steps=3,
                                      pipeline=2),
                               Params(channels=4, lanes=4, method="rsqrt", affine=True,
                                      lut_bits=4, pipeline=2),
                               # a factor of 38 bits: three slices
                               Params(channels=16, lanes=4, in_bits=16, in_frac=10,
                                      out_bits=16, out_frac=12, method="rsqrt")],
                         ids=["isqrt_c8", "rsqrt_l2", "affine_l3_s3", "s4_16bit", "affine_l4_s4",
                              "wide_beta", "one_word", "c2_2bit", "affine_p3", "affine_p2",
                              "one_word_p2", "wide_rsqrt"])
def test_amaranth_simulator_under_stalls(p):
    seed = 91
    x, gamma, beta = random_vectors(p, np.random.default_rng(seed), 10)
    got = run_rtl(p, x, gamma, beta, seed, idle=0.3, backpressure=0.3)
    assert (got == layernorm(p, x, gamma, beta)).all(), f"seed {seed}"


@pytest.mark.sim
@pytest.mark.parametrize("p", [Params(channels=2, in_bits=5, in_frac=2, stats_steps=4),
                               Params(channels=3, in_bits=4, in_frac=0, lanes=3,
                                      method="rsqrt", lut_bits=5),
                               Params(channels=3, in_bits=3, in_frac=0, lanes=3,
                                      affine=True, gamma_bits=3, stats_steps=2)],
                         ids=["isqrt_c2", "rsqrt_c3", "affine_c3"])
def test_every_short_vector(p):
    """Exhaustive: every vector of ``channels`` codes (1,024 / 4,096 / 512), through the RTL
    in the Amaranth simulator, against the golden model, which is checked here
    against the scalar Python-integer reading as well."""
    grids = np.meshgrid(*[codes(p.in_bits, True)] * p.channels, indexing="ij")
    x = np.stack([g.ravel() for g in grids], axis=-1)
    gamma, beta = random_affine(p, np.random.default_rng(0), x.shape)
    want = layernorm(p, x, gamma, beta)
    assert want.tolist() == [scalar_layernorm(p, *(a.tolist() for a in row))
                             for row in zip(x, gamma, beta)]
    assert (run_rtl(p, x, gamma, beta, seed=0) == want).all()
