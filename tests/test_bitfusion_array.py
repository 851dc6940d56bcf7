# SPDX-License-Identifier: BSD-2-Clause
"""bitfusion_array: parameter errors, golden tiling against exact A @ B, Amaranth
simulator; the Verilator regression is in tests/test_regression.py."""

import itertools
import random

import numpy as np
import pytest

from accelgen.generators.bitfusion_array import BitFusionArray, Params
from accelgen.generators.fusion_unit import ALL_MODES
from accelgen.golden.bitfusion_array import (ArrayModel, bitfusion_array, gemm_beats,
                                             gemm_result)
from accelgen.golden.fusion_unit import products_per_beat
from accelgen.verif.amaranth_sim import run_stream
from accelgen.num.numeric import int_range


@pytest.mark.parametrize("kwargs,error,message", [
    ({"rows": 0}, ValueError, r"^bitfusion_array rows must be an integer from 1 to 16, not 0$"),
    ({"cols": 17}, ValueError, r"^bitfusion_array cols must be an integer from 1 to 16, not 17$"),
    ({"rows": 5, "acc_width": 20}, ValueError,
     r"^bitfusion_array acc_width must be an integer from 18 \+ ceil\(log2\(rows\)\) = 21 "
     r"to 48, not 20$"),
    ({"acc_width": 49}, ValueError, r"^bitfusion_array acc_width must be an integer from "
                                    r"18 \+ ceil\(log2\(rows\)\) = 20 to 48, not 49$"),
    ({"rows": 2.0}, TypeError, r"^bitfusion_array rows must be an integer, not 2.0$"),
    ({"modes": "9x9"}, ValueError, r"^bitfusion_array modes must be 'all' or a "
                                   r"comma-separated list of AxW"),
    ({"modes": None}, TypeError, r"^bitfusion_array modes must be a string, not None$"),
    ({"pipeline": 7}, ValueError, r"^bitfusion_array pipeline must be an integer from 0 to 6, "
                                  r"not 7$"),
])
def test_parameter_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        Params(**kwargs)


def test_derived_values():
    p = Params(rows=3, cols=5, modes="2x2,8x8", pipeline=2)
    assert (p.latency, p.lanes, p.min_acc_width, p.modes) == (9, 5, 20, "8x8,2x2")
    assert Params(rows=3, cols=5, pipeline=0).latency == 7
    assert p.manifest_extra()["products_per_column"] == {"8x8": 3, "2x2": 48}
    assert Params(rows=1, acc_width=18).min_acc_width == 18


def random_operands(rng, m, k, n, wa, ww, sa, sw):
    a = rng.integers(*int_range(wa, sa), (m, k), endpoint=True)
    b = rng.integers(*int_range(ww, sw), (k, n), endpoint=True)
    return a, b


@pytest.mark.parametrize("params", [Params(), Params(rows=1, cols=1, acc_width=18),
                                    Params(rows=3, cols=2)], ids=["4x4", "1x1", "3x2"])
@pytest.mark.parametrize("wa,ww", ALL_MODES)
def test_golden_gemm_is_exact(params, wa, ww):
    """Tiling, packing and the BitBrick model together give exactly ``A @ B``,
    including K and N that are not multiples of the tile and the extreme values."""
    rng = np.random.default_rng(wa * 10 + ww + params.rows)
    for sa, sw in itertools.product((0, 1), (0, 1)):
        depth = params.rows * products_per_beat(wa, ww)
        for m, k, n in [(1, 1, 1), (3, depth, params.cols), (5, 2 * depth + 3, params.cols + 1)]:
            a, b = random_operands(rng, m, k, n, wa, ww, sa, sw)
            a[0, :] = int_range(wa, sa)[0]
            b[:, 0] = int_range(ww, sw)[0]
            results = bitfusion_array(params, gemm_beats(params, a, b, wa, ww, sa, sw))
            assert not any(error for _acc, error in results)
            assert (gemm_result(params, results, m, k, n, wa, ww) == a @ b).all()


def test_golden_streaming_model_matches_bulk():
    """Beat by beat (the testbench's model) and in bulk give the same rows."""
    p = Params(rows=3, cols=2, modes="8x8,4x4,2x2")
    rng = np.random.default_rng(9)
    beats = []
    for wa, ww in [(8, 8), (4, 4), (2, 2), (4, 8)]:  # 4x8 is not built: mode_error
        a, b = random_operands(rng, 4, 30, 3, wa, ww, 1, 0)
        beats += gemm_beats(p, a, b, wa, ww, 1, 0)
    bulk = bitfusion_array(p, beats)
    model = ArrayModel(p)
    single = [r for r in map(model.beat, beats) if r is not None]
    assert [(list(acc), err) for acc, err in bulk] == single
    # The 4x8 GEMM's rows: 4 rows x 5 K tiles (K = 30, 6 per pass) x 2 column tiles.
    assert [err for _acc, err in bulk].count(True) == 4 * 5 * 2


def test_golden_reset_state_and_row_order():
    p = Params(rows=2, cols=2, acc_width=20)
    model = ArrayModel(p)
    unsigned_w2 = {"weights": 0, "prec": 0, "signed": 0}
    assert model.beat({**unsigned_w2, "data": [0xFFFFFFFF] * 2}) == ([0, 0], False)
    model.beat({"data": [1, 2], "weights": 1, "prec": 2, "signed": 0})   # row 0
    model.beat({"data": [3, 4], "weights": 1, "prec": 2, "signed": 0})   # row 1
    assert model.beat({"data": [10, 100], "weights": 0, "prec": 2, "signed": 0}) == \
        ([10 * 1 + 100 * 3, 10 * 2 + 100 * 4], False)
    model.beat({"data": [5, 6], "weights": 1, "prec": 2, "signed": 0})   # row 0 again
    assert model.beat({"data": [1, 0], "weights": 0, "prec": 2, "signed": 0})[0] == [5, 6]
    with pytest.raises(ValueError, match="inner dimensions"):
        gemm_beats(p, np.zeros((2, 3)), np.zeros((4, 2)), 8, 8, 0, 0)


@pytest.mark.sim
@pytest.mark.parametrize("params", [
    Params(rows=2, cols=3, modes="8x8,4x4,2x4", pipeline=0),
    Params(rows=3, cols=2, modes="8x8,2x2", pipeline=1),
    Params(rows=2, cols=2, modes="4x4,8x2", pipeline=2),
    Params(rows=2, cols=3, modes="8x8,2x4,2x2", pipeline=3),
    Params(rows=3, cols=2, modes="4x8,4x2", pipeline=4),
    Params(rows=1, cols=1, acc_width=18, pipeline=6)],
    ids=["2x3-p0", "3x2-p1", "2x2-p2", "2x3-p3", "3x2-p4", "1x1-p6"])
def test_amaranth_simulator_under_stalls(params):
    seed = 11
    rng = np.random.default_rng(seed)
    beats = []
    for wa, ww in params.mode_set:
        a, b = random_operands(rng, 3, 2 * params.rows * products_per_beat(wa, ww) + 1,
                               params.cols + 1, wa, ww, 1, 1)
        beats += gemm_beats(params, a, b, wa, ww, 1, 1)
    want = bitfusion_array(params, beats)
    got = run_stream(BitFusionArray(params), beats, len(want),
                     max_cycles=len(beats) * 20 + 200,
                     read=lambda out: ([int(v) for v in out.acc], bool(out.mode_error)),
                     rng=random.Random(seed), idle=0.3, backpressure=0.3)
    assert got == [(list(acc), err) for acc, err in want], f"seed {seed}"
