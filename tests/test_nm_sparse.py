# SPDX-License-Identifier: BSD-2-Clause
"""nm_sparse: parameter errors, golden compression and metadata against docs/sparse.md and
Python integers, Amaranth simulator under stalls, a 2:4 GEMM equal to the dense
product; the Verilator regression is in tests/test_regression.py."""

import numpy as np
import pytest

from accelgen.generators.nm_sparse import Params
from accelgen.golden.nm_sparse import (compress, decompress, prune, pack_meta, unpack_meta,
                                       valid_meta, nm_sparse)
from accelgen.verif.nm_sparse import random_stream, run_rtl
from accelgen.verif.testing import HEAVY_REASON, STRESS, configurations


@pytest.mark.parametrize("kwargs,error,message", [
    ({"m": 6}, ValueError, r"^nm_sparse m must be 2, 4, 8 or 16, not 6$"),
    ({"m": 32}, ValueError, r"^nm_sparse m must be an integer from 2 to 16, not 32$"),
    ({"n": 4}, ValueError, r"^nm_sparse n must be an integer from 1 to 3 for m=4, not 4$"),
    ({"groups": 0}, ValueError, r"^nm_sparse groups must be an integer from 1 to 16, not 0$"),
    ({"acc_width": 15}, ValueError,
     r"^nm_sparse acc_width must be an integer from a_width \+ w_width = 16 to 64, not 15$"),
    ({"pipeline": 4}, ValueError, r"^nm_sparse pipeline must be an integer from 0 to 3, not 4$"),
])
def test_parameter_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        Params(**kwargs)


def test_two_four_metadata_is_nvidias_nibble():
    """docs/sparse.md: idx0 = meta & 3, idx1 = meta >> 2; the valid nibbles."""
    nibbles = np.arange(16)
    positions = unpack_meta(nibbles, 2, 4).reshape(16, 2)
    assert (positions[:, 0] == nibbles & 3).all() and (positions[:, 1] == nibbles >> 2).all()
    valid = nibbles[valid_meta(positions.reshape(16, 2), 2).ravel()]
    assert valid.tolist() == [0b0100, 0b1000, 0b1001, 0b1100, 0b1101, 0b1110]
    assert (pack_meta(positions, 2, 4).ravel() == nibbles).all()


def test_compress_keeps_the_largest_magnitudes():
    w = np.array([[3, -7, 0, 7, 1, 1, 1, 1]])
    values, positions = compress(w, 2, 4)
    assert values.tolist() == [[-7, 7, 1, 1]] and positions.tolist() == [[1, 3, 0, 1]]
    assert decompress(values, positions, 2, 4).tolist() == [[0, -7, 0, 7, 1, 1, 0, 0]]
    rng = np.random.default_rng(2)
    dense = rng.integers(-50, 50, (30, 32))
    pruned = prune(dense, 2, 4)
    assert ((pruned != 0).reshape(30, 8, 4).sum(-1) <= 2).all()
    assert (prune(pruned, 2, 4) == pruned).all()
    kept = np.abs(pruned).reshape(30, 8, 4).sum(-1)
    assert (kept == np.sort(np.abs(dense).reshape(30, 8, 4), -1)[..., 2:].sum(-1)).all()


def reference(p, a, w, meta, last):
    """Python integers, one group at a time."""
    out, acc, err = [], 0, False
    for x, y, z, l in zip(a, w, meta, last):
        for g in range(p.groups):
            pos = [int(v) for v in z[g * p.n:(g + 1) * p.n]]
            if all(u < v for u, v in zip(pos, pos[1:])):
                acc += sum(int(y[g * p.n + k]) * int(x[g * p.m + pos[k]]) for k in range(p.n))
            else:
                err = True
        if l:
            v = acc % (1 << p.acc_width)
            if p.acc_signed and v >= 1 << (p.acc_width - 1):
                v -= 1 << p.acc_width
            out.append((v, err))
            acc, err = 0, False
    return out


@pytest.mark.parametrize("params", configurations("nm_sparse"))
def test_golden_matches_python_integers(params):
    rng = np.random.default_rng(3)
    stream = random_stream(params, rng, 2000)
    acc, error = nm_sparse(params, *stream)
    assert list(zip(acc.tolist(), error.tolist())) == reference(params, *stream)


@pytest.mark.sim
@pytest.mark.parametrize("params", [Params(), Params(n=1, m=2, groups=3, pipeline=0),
                                    Params(n=3, m=8, groups=2, a_signed=False, acc_width=20,
                                           pipeline=2),
                                    Params(groups=8, a_width=5, w_width=3, acc_width=8,
                                           pipeline=1),
                                    pytest.param(Params(n=15, m=16, groups=16, a_width=2,
                                                        w_width=2, acc_width=6, pipeline=0),
                                                 marks=pytest.mark.skipif(
                                                     STRESS < 2, reason=HEAVY_REASON))],
                         ids=["default", "1of2_p0", "3of8_p2", "g8_acc8", "15of16_g16"])
def test_amaranth_simulator_under_stalls(params):
    seed = 71
    stream = random_stream(params, np.random.default_rng(seed), 400)
    acc, error = nm_sparse(params, *stream)
    got = run_rtl(params, *stream, seed, idle=0.3, backpressure=0.3)
    assert got == list(zip(acc.tolist(), error.tolist())), f"seed {seed}"


@pytest.mark.sim
def test_two_four_gemm_equals_the_dense_product():
    """Prune W 2:4 along K, compress each output column, stream each row of A
    against it (``groups * 4`` activations per beat): ``nm_sparse`` gives
    ``A @ prune(W)`` with half the multipliers."""
    p = Params(groups=2)
    rng = np.random.default_rng(12)
    m, k, n = 4, 24, 3
    a = rng.integers(-128, 128, (m, k))
    w = prune(rng.integers(-128, 128, (k, n)).T, 2, 4).T  # 2:4 along K
    values, positions = compress(w.T, 2, 4)  # (n, k/2) per output column
    per_beat = p.groups * p.m
    beats_a, beats_w, beats_meta, last = [], [], [], []
    for r in range(m):
        for c in range(n):
            for b in range(k // per_beat):
                beats_a.append(a[r, b * per_beat:(b + 1) * per_beat])
                kept = slice(b * p.groups * p.n, (b + 1) * p.groups * p.n)
                beats_w.append(values[c, kept])
                beats_meta.append(positions[c, kept])
                last.append(b == k // per_beat - 1)
    got = run_rtl(p, beats_a, beats_w, beats_meta, last, seed=12)
    assert [acc for acc, _e in got] == (a @ w).ravel().tolist()
    assert not any(e for _a, e in got)
    assert p.multipliers * 2 == p.groups * p.m
