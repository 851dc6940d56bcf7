# SPDX-License-Identifier: BSD-2-Clause
"""systolic_array: parameter errors, golden tiling against exact A @ B, the cycle
model, Amaranth simulator (results and cycle counts); the Verilator regression is in
tests/test_regression.py."""

import itertools

import numpy as np
import pytest

from accelgen.generators.systolic_array import Params, PE_TYPES
from accelgen.golden.int_mac import wrap
from accelgen.golden.systolic_array import (gemm, cycles, utilization, ws_schedule,
                                            os_schedule, ws_tile, os_tile, PE_PRODUCTS,
                                            FP_NAN, FP_POS_INF, FP_NEG_INF)
from accelgen.verif.systolic_array import amaranth_gemm, random_gemm


@pytest.mark.parametrize("kwargs,error,message", [
    ({"rows": 0}, ValueError, r"^systolic_array rows must be an integer from 1 to 32, not 0$"),
    ({"cols": 33}, ValueError, r"^systolic_array cols must be an integer from 1 to 32, not 33$"),
    ({"dataflow": "is"}, ValueError,
     r"^systolic_array dataflow must be one of 'ws', 'os', not 'is'$"),
    ({"dataflow": 1}, TypeError, r"^systolic_array dataflow must be a string, not 1$"),
    ({"a_width": 4, "acc_width": 11}, ValueError,
     r"^systolic_array acc_width must be an integer from a_width \+ w_width = 12 to 64, "
     r"not 11$"),
    ({"pe": "tpu"}, ValueError,
     r"^systolic_array pe must be one of 'int_mac', 'fusion_unit', 'ant_pe', 'olive_pe', "
     r"'fp_mac', not 'tpu'$"),
    ({"pe": "fp_mac", "a_fmt": "e3m4"}, ValueError,
     r"^systolic_array a_fmt must be one of 'e4m3', 'e5m2', not 'e3m4'$"),
    ({"w_fmt": "e5m2"}, ValueError,
     r"^systolic_array w_fmt applies to pe='fp_mac' only; leave it at 'e4m3' for "
     r"pe='int_mac'$"),
    ({"pe": "fp_mac", "a_signed": False}, ValueError,
     r"^systolic_array a_signed does not apply to pe='fp_mac' \(it takes FP8 codes in the "
     r"formats a_fmt and w_fmt\); leave it at True$"),
    ({"pe": "fp_mac", "a_fmt": "e5m2", "w_fmt": "e5m2"}, ValueError,
     r"^systolic_array pe='fp_mac' with a_fmt='e5m2' and w_fmt='e5m2' needs 65-bit "
     r"products, over acc_width's limit of 64; use 'e4m3' for one operand$"),
    ({"pe": "fp_mac", "acc_width": 36}, ValueError,
     r"^systolic_array acc_width must be an integer from the FP8 product's width = 37 to "
     r"64 for pe='fp_mac', not 36$"),
    ({"pe": "fusion_unit", "a_width": 4}, ValueError,
     r"^systolic_array a_width does not apply to pe='fusion_unit' \(it takes packed words "
     r"with a precision per beat\); leave it at 8$"),
    ({"pe": "ant_pe", "a_width": 3, "w_width": 4}, ValueError,
     r"^systolic_array a_width must be an integer from 4 to 8 for pe='ant_pe', not 3$"),
    ({"pe": "ant_pe", "a_width": 4, "w_width": 4, "acc_width": 15}, ValueError,
     r"^systolic_array acc_width must be an integer from 16 to 64 for pe='ant_pe', not 15$"),
    ({"pe": "olive_pe", "a_width": 6, "w_width": 6}, ValueError,
     r"^systolic_array a_width must be 4 or 8 for pe='olive_pe', not 6$"),
    ({"pe": "olive_pe", "a_width": 4}, ValueError,
     r"^systolic_array w_width must equal a_width = 4 for pe='olive_pe', not 8$"),
    ({"pe": "olive_pe", "a_width": 4, "w_width": 4, "w_signed": False}, ValueError,
     r"^systolic_array a_signed and w_signed must be True for pe='olive_pe' \(OliVe "
     r"elements are signed\)$"),
    ({"pe": "fusion_unit", "acc_width": 17}, ValueError,
     r"^systolic_array acc_width must be an integer from 18 to 64, not 17$"),
    ({"multiplier": "dsp"}, ValueError,
     r"^systolic_array multiplier must be one of 'auto', 'logic', not 'dsp'$"),
    ({"pe": "ant_pe", "a_width": 4, "w_width": 4, "acc_width": 16, "multiplier": "logic"},
     ValueError, r"^systolic_array multiplier applies to pe='int_mac' only; leave it at "
                 r"'auto' for pe='ant_pe'$"),
    ({"pipeline": 2}, ValueError,
     r"^systolic_array pipeline must be an integer from 0 to 1, not 2$"),
    ({"w_signed": None}, TypeError, r"^systolic_array w_signed must be a bool, not None$"),
])
def test_parameter_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        Params(**kwargs)


def test_every_pe_type_has_a_golden_product():
    assert set(PE_TYPES) == set(PE_PRODUCTS)


def test_derived_values():
    p = Params(rows=3, cols=5, pipeline=1, a_signed=False, w_signed=False)
    assert (p.latency, p.throughput, p.acc_signed) == (8, 1, False)
    assert p.manifest_extra()["dataflow"] == "ws"


# pipeline=0 where no product register is asked for (the default, pipeline=1, runs
# under Verilator: tests/test_regression.py).
CONFIGS = [Params(pipeline=0), Params(dataflow="os", pipeline=0),
           Params(rows=1, cols=1, dataflow="os", pipeline=0),
           Params(rows=1, cols=3, w_signed=False, pipeline=0),
           Params(rows=3, cols=2, a_width=4, w_width=4, acc_width=8, a_signed=False,
                  pipeline=0),
           Params(rows=2, cols=3, dataflow="os", a_width=4, w_width=3, acc_width=7,
                  w_signed=False, pipeline=1),
           Params(rows=2, cols=3, pe="fusion_unit", pipeline=0),
           Params(rows=3, cols=2, pe="fusion_unit", dataflow="os", pipeline=1, acc_width=20),
           Params(rows=3, cols=2, pe="ant_pe", a_width=4, w_width=4, a_signed=False,
                  acc_width=24, pipeline=0),
           Params(rows=2, cols=3, pe="ant_pe", dataflow="os", a_width=8, w_width=6,
                  pipeline=1, acc_width=64),
           Params(rows=2, cols=2, pe="olive_pe", a_width=4, w_width=4, acc_width=20,
                  pipeline=0),
           Params(rows=3, cols=2, pe="olive_pe", dataflow="os", a_width=8, w_width=8,
                  pipeline=1, acc_width=40),
           Params(rows=2, cols=2, pe="ant_pe", dataflow="os", a_width=8, w_width=8,
                  acc_width=63, pipeline=0),
           Params(rows=3, cols=2, pe="fp_mac", acc_width=40, pipeline=0),
           Params(rows=2, cols=3, pe="fp_mac", dataflow="os", a_fmt="e5m2", pipeline=1,
                  acc_width=56),
           Params(rows=3, cols=2, multiplier="logic"),
           Params(rows=2, cols=3, dataflow="os", a_width=7, w_width=5, w_signed=False,
                  acc_width=13, multiplier="logic"),
           Params(rows=2, cols=2, a_signed=False, acc_width=16, multiplier="logic",
                  pipeline=0)]
IDS = ["ws4x4", "os4x4", "os1x1", "ws1x3_unsigned_w", "ws3x2_narrow", "os2x3_narrow_p1",
       "ws2x3_fusion", "os3x2_fusion_p1", "ws3x2_ant4", "os2x3_ant8x6_p1", "ws2x2_olive4",
       "os3x2_olive8_p1", "os2x2_ant8_acc63", "ws3x2_fp8", "os2x3_fp8_e5m2_p1",
       "ws3x2_logic_p1", "os2x3_logic7x5u_acc13_p1", "ws2x2_logic_unsigned_a_acc16"]


@pytest.mark.parametrize("p", CONFIGS, ids=IDS)
def test_golden_gemm_is_a_at_b_wrapped(p):
    """Tiling, padding (and for the Fusion PE packing, every precision mode drawn at
    random) reproduce ``A @ B`` modulo 2**acc_width, against Python integers."""
    rng = np.random.default_rng(p.rows * 7 + p.cols)
    for m, k, n in itertools.product((1, 3, 9), (1, 4, 11), (1, 2, 7)):
        for _ in range(1 if p.pe == "int_mac" else 3):
            a, b, a_mode, w_mode, exact = random_gemm(p, rng, m, k, n)
            want = [[_wrap_int(p, int(v)) for v in row] for row in exact.tolist()]
            assert gemm(p, a, b, a_mode, w_mode).tolist() == want


def _wrap_int(p, value):
    """Python-integer reduction modulo 2**acc_width (docs/systolic.md's words)."""
    value %= 1 << p.acc_width
    if p.acc_signed and value >= 1 << (p.acc_width - 1):
        value -= 1 << p.acc_width
    return value


def test_golden_schedules_pad_partial_tiles():
    p = Params(rows=2, cols=3)
    a, b = np.arange(10).reshape(2, 5), np.arange(20).reshape(5, 4)
    tiles = ws_schedule(p, a, b)
    assert len(tiles) == 2 * 3 and tiles[-1][1].shape == (2, 3)
    assert tiles[2][1][1].tolist() == [0, 0, 0]  # K row 5 does not exist
    assert len(os_schedule(Params(rows=2, cols=3, dataflow="os"), a, b)) == 1 * 2


def test_cycle_model_worked_examples():
    """Hand-derived counts from the acceptance rules in the docstrings."""
    ws = Params(rows=2, cols=2, pipeline=0)  # latency 3, bank free 3 cycles after its last row
    # one tile: weights 0..1, activations 2..4 (M = 3), last row out at 4 + 3.
    assert cycles(ws, 3, 2, 2) == 8
    # two K tiles, M = 1: weights 0..1 and 2..3, rows at 2 and 4, out at 4 + 3.
    assert cycles(ws, 1, 4, 2) == 8
    # three tiles, M = 1: tile 2's weights wait until 2 + 3 = 5 (bank 0 busy).
    assert cycles(ws, 1, 6, 2) == 11
    os_ = Params(rows=2, cols=2, dataflow="os", pipeline=0)  # latency 3
    # one tile of K = 4: beats 0..3, rows at 3 + 3 and 3 + 4.
    assert cycles(os_, 2, 4, 2) == 8
    # two tiles of K = 1: the second last beat waits for 0 + 3 + 2 = 5.
    assert cycles(os_, 4, 1, 2) == 10
    assert utilization(ws, 3, 2, 2) == 12 / (4 * 8)
    # The product register (the default, pipeline=1) adds one cycle to the first
    # example's latency.
    assert cycles(Params(rows=2, cols=2), 3, 2, 2) == 9


def test_ws_steady_state_utilization_reaches_95_percent():
    p = Params(rows=8, cols=8)
    assert utilization(p, 512, 64, 64) >= 0.95


@pytest.mark.sim
@pytest.mark.parametrize("p", CONFIGS, ids=IDS)
@pytest.mark.parametrize("shape", ["long_k", "k1"])
def test_amaranth_simulator_under_stalls(p, shape):
    """A long reduction, and K = 1 (back-to-back tiles: bank and result reuse)."""
    seed = 5
    rng = np.random.default_rng(seed)
    m, k, n = {"long_k": (2 * p.rows + 1, 2 * p.rows + 3, p.cols + 1),
               "k1": (3 * p.rows, 1, 2 * p.cols + 1)}[shape]
    a, b, a_mode, w_mode, exact = random_gemm(p, rng, m, k, n)
    rows, _cycles = amaranth_gemm(p, a, b, a_mode, w_mode, idle=0.3, backpressure=0.3,
                                  seed=seed)
    if p.pe_type.error_field == "mode_error":
        assert not any(error for *_r, error in rows)
    out = np.zeros((a.shape[0], b.shape[1]), dtype=np.uint64)
    it = iter(rows)
    with np.errstate(over="ignore"):
        if p.dataflow == "ws":
            for n0, _w, acts in ws_schedule(p, a, b):
                for i in range(len(acts)):
                    data, last, *_ = next(it)
                    assert last == int(i == len(acts) - 1), "o.last not on a tile's last row"
                    out[i, n0:n0 + p.cols] += np.array(data).astype(
                        np.uint64)[:b.shape[1] - n0]
        else:
            for m0, n0, _a, _b in os_schedule(p, a, b):
                for r in range(p.rows):
                    data, last, *_ = next(it)
                    assert last == int(r == p.rows - 1), "o.last not on a tile's last row"
                    if m0 + r < a.shape[0]:
                        out[m0 + r, n0:n0 + p.cols] = np.array(data).astype(
                            np.uint64)[:b.shape[1] - n0]
    assert (wrap(out, p.acc_width, p.acc_signed) == gemm(p, a, b, a_mode, w_mode)).all(), \
        f"seed {seed}"
    assert (wrap(out, p.acc_width, p.acc_signed) ==
            wrap(exact.astype(np.uint64), p.acc_width, p.acc_signed)).all()


@pytest.mark.sim
@pytest.mark.parametrize("p", CONFIGS, ids=IDS)
def test_amaranth_cycles_match_the_model(p):
    """No idle, no backpressure: the simulated GEMM takes exactly ``cycles()``
    (including shapes where weight loads or result drains add bubbles)."""
    rng = np.random.default_rng(3)
    for m, k, n in [(1, 1, 1), (2, 2 * p.rows + 1, p.cols + 1), (p.rows + p.cols + 2, 3, 2)]:
        a, b, a_mode, w_mode, _exact = random_gemm(p, rng, m, k, n)
        _rows, measured = amaranth_gemm(p, a, b, a_mode, w_mode)
        assert measured == cycles(p, *a.shape, b.shape[1]), (m, k, n)


@pytest.mark.parametrize("rows,cols", [(1, 1), (2, 3), (4, 4), (8, 8)])
def test_ws_bubble_threshold(rows, cols):
    """Many tiles of M rows: M cycles per tile from M = 2 rows + cols - 2 on, and
    (2 rows + cols - 2 + M) / 2 on average below it (the docstring's statement)."""
    p = Params(rows=rows, cols=cols)
    for m in range(1, 2 * rows + cols + 2):
        per_tile = (cycles(p, m, rows * 40, cols) - cycles(p, m, rows * 20, cols)) / 20
        assert per_tile == max(m, (2 * rows + cols - 2 + m) / 2), m


FP_CONFIGS = [p for p in CONFIGS if p.pe == "fp_mac"]
FP_IDS = [i for p, i in zip(CONFIGS, IDS) if p.pe == "fp_mac"]


def _ml_dtypes_values(fmt, codes):
    """float64 values of FP8 codes through ml_dtypes (not accelgen.num.fp)."""
    ml_dtypes = pytest.importorskip("ml_dtypes")
    dtype = {"e4m3": ml_dtypes.float8_e4m3fn, "e5m2": ml_dtypes.float8_e5m2}[fmt]
    return np.asarray(codes, dtype=np.uint8).view(dtype).astype(np.float64)


@pytest.mark.parametrize("p", FP_CONFIGS, ids=FP_IDS)
def test_fp_pe_golden_against_ml_dtypes(p):
    """Every result is the exact sum of the finite products (Fractions of ml_dtypes'
    values) in units of 2**lsb_exp, wrapped; its flags are those of the float64
    products (NaN, +inf, -inf) ORed over K. Every code of both formats appears."""
    from fractions import Fraction
    seed = 11
    rng = np.random.default_rng(seed)
    k = 256
    finite = lambda shape: rng.integers(0, 0x78, shape) | (rng.integers(0, 2, shape) << 7)
    # Rows 1.. of A and column 0 of B hold every code once; row 0 of A and the other
    # columns of B hold finite codes only, so results (0, 1..) carry no flag.
    a = np.array([rng.permutation(256) for _ in range(p.rows)])
    a[0] = finite(k)
    b = finite((k, p.cols))
    b[:, 0] = rng.permutation(256)
    va, vb = _ml_dtypes_values(p.a_fmt, a), _ml_dtypes_values(p.w_fmt, b)
    values, flags = os_tile(p, a, b)
    flagged = 0
    with np.errstate(invalid="ignore"):
        products = va[:, :, None] * vb[None, :, :]
    for i in range(p.rows):
        for j in range(p.cols):
            prod = products[i, :, j]
            finite = np.isfinite(prod)
            total = sum((Fraction(float(x)) for x in prod[finite]), Fraction(0))
            units = total / Fraction(2) ** p.lsb_exp
            assert units.denominator == 1, (i, j)
            assert int(values[i, j]) == _wrap_int(p, int(units)), f"seed {seed} ({i}, {j})"
            want = (int(np.isnan(prod).any()) * FP_NAN + int((prod == np.inf).any()) * FP_POS_INF
                    + int((prod == -np.inf).any()) * FP_NEG_INF)
            assert int(flags[i, j]) == want, f"seed {seed} ({i}, {j})"
            flagged += want != 0
    assert 0 < flagged < p.rows * p.cols


@pytest.mark.sim
@pytest.mark.parametrize("p", FP_CONFIGS, ids=FP_IDS)
def test_fp_pe_flags_in_the_amaranth_simulator(p):
    """One tile with special codes: every result row's per-column flags as the golden
    model's, under stalls."""
    seed = 12
    rng = np.random.default_rng(seed)
    m = p.rows if p.dataflow == "os" else 5
    a, b, a_mode, w_mode, _exact = random_gemm(p, rng, m, p.rows, p.cols, corner=0.3)
    rows, _cycles = amaranth_gemm(p, a, b, idle=0.2, backpressure=0.2, seed=seed)
    if p.dataflow == "ws":
        values, flags = ws_tile(p, b, a)
    else:
        values, flags = os_tile(p, a, b)
    assert [r[0] for r in rows] == values.tolist(), f"seed {seed}"
    assert [list(r[2]) for r in rows] == flags.tolist(), f"seed {seed}"
    assert flags.any(), "the corner codes should flag some results"
