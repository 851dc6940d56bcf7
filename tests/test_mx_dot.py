# SPDX-License-Identifier: BSD-2-Clause
"""mx_dot: parameter errors, the derived widths, the golden model against an
independent reading (ml_dtypes' decoding, exact fractions, a scalar round to
FP32) for every format pair, and the Amaranth simulator against the golden
model under stalls; the Verilator regression is in tests/test_regression.py."""

import itertools
import math
from fractions import Fraction

import ml_dtypes
import numpy as np
import pytest

from accelgen.generators import mx_dot as generator
from accelgen.generators.mx_dot import Params
from accelgen.golden import mx_dot as golden
from accelgen.golden.mx_dot import mx_dot, block_terms
from accelgen.num.fpformats import ELEMENT_FORMATS
from accelgen.verif.mx_dot import random_blocks, special_blocks, run_rtl, expected
from accelgen.verif.testing import HEAVY_REASON, STRESS

PAIRS = list(itertools.product(ELEMENT_FORMATS, repeat=2))

# The independent reading of the codes: ml_dtypes' types (one code per byte),
# MXINT8 as int8 / 64.
ML_TYPES = {"e4m3": ml_dtypes.float8_e4m3fn, "e5m2": ml_dtypes.float8_e5m2,
            "e3m2": ml_dtypes.float6_e3m2fn, "e2m3": ml_dtypes.float6_e2m3fn,
            "e2m1": ml_dtypes.float4_e2m1fn, "e8m0": ml_dtypes.float8_e8m0fnu}


def values(name, codes):
    """float64 values of ``codes`` of format ``name`` (exact), read by ml_dtypes."""
    codes = np.asarray(codes, dtype=np.int64)
    if name == "int8":
        return codes.astype(np.uint8).view(np.int8).astype(np.float64) / 64
    return codes.astype(np.uint8).view(ML_TYPES[name]).astype(np.float64)


def round_fp32(x):
    """The FP32 code nearest to the Fraction ``x``, ties to even (subnormals;
    beyond the largest finite value: inf; zero: +0), written out bit by bit."""
    if x == 0:
        return 0
    sign = 1 << 31 if x < 0 else 0
    x = abs(x)
    lead = x.numerator.bit_length() - x.denominator.bit_length()
    if Fraction(2) ** lead > x:
        lead -= 1  # now 2**lead <= x < 2**(lead + 1)
    quantum = max(lead, -126) - 23
    scaled = x / Fraction(2) ** quantum
    n = math.floor(scaled)
    rest = scaled - n
    if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and n % 2):
        n += 1
    if n == 1 << 24:
        n, quantum = n >> 1, quantum + 1
    if n >= 1 << 23:  # normal
        biased = quantum + 23 + 127
        if biased >= 255:
            return sign | 0x7F800000
        return sign | biased << 23 | (n - (1 << 23))
    return sign | n  # subnormal (or zero)


def reference(p, cols):
    """Per block: ``("nan",)``, ``("inf", sign)`` or ``("value", Fraction)``, from
    ml_dtypes' values, IEEE float products and exact Fraction sums."""
    out = []
    va, vb = values(p.a_fmt, cols["a"]), values(p.b_fmt, cols["b"])
    xa, xb = values("e8m0", cols["scale_a"]), values("e8m0", cols["scale_b"])
    for x, y, sa, sb in zip(va, vb, xa, xb):
        with np.errstate(invalid="ignore"):
            products = x * y  # exact or special: the elements are narrow
            special = float(np.sum(products))  # IEEE: inf - inf and NaN give NaN
        if math.isnan(sa) or math.isnan(sb) or math.isnan(special):
            out.append(("nan",))
        elif math.isinf(special):
            out.append(("inf", -1 if special < 0 else 1))
        else:
            total = sum((Fraction(float(v)) for v in products), Fraction(0))
            out.append(("value", total * Fraction(float(sa)) * Fraction(float(sb))))
    return out


def check_against_reference(p, cols):
    """Fail on the first block where the golden model disagrees with :func:`reference`."""
    got = mx_dot(p, cols["a"], cols["b"], cols["scale_a"], cols["scale_b"])
    for k, want in enumerate(reference(p, cols)):
        if p.out == "exact":
            s, e = int(got["sum"][k]), int(got["exp"][k])
            nan, inf = bool(got["nan"][k]), bool(got["inf"][k])
            have = (("nan",) if nan and s == 0 else ("inf", s) if inf and not nan
                    else ("value", Fraction(s) * Fraction(2) ** e) if not (nan or inf)
                    else ("bad", s, nan, inf))
            assert have == want, f"block {k}: {have} != {want}"
        else:
            c = int(got["c"][k])
            code = (0x7FC00000 if want[0] == "nan" else
                    (0xFF800000 if want[1] < 0 else 0x7F800000) if want[0] == "inf"
                    else round_fp32(want[1]))
            assert c == code, f"block {k}: 0x{c:08X} != 0x{code:08X} ({want})"
    return len(got["c" if p.out == "fp32" else "sum"])


@pytest.mark.parametrize("kwargs,error,message", [
    ({"a_fmt": "fp16"}, ValueError,
     r"^mx_dot a_fmt must be one of 'e4m3', 'e5m2', 'e3m2', 'e2m3', 'e2m1', 'int8', "
     r"not 'fp16'$"),
    ({"b_fmt": 8}, TypeError, r"^mx_dot b_fmt must be a string, not 8$"),
    ({"block": 0}, ValueError, r"^mx_dot block must be an integer from 1 to 1024, not 0$"),
    ({"block": 2048}, ValueError,
     r"^mx_dot block must be an integer from 1 to 1024, not 2048$"),
    ({"lanes": 33}, ValueError, r"^mx_dot lanes must be an integer from 1 to 32, not 33$"),
    ({"block": 30}, ValueError, r"^mx_dot lanes = 8 must divide block = 30$"),
    ({"out": "bf16"}, ValueError, r"^mx_dot out must be one of 'exact', 'fp32', not 'bf16'$"),
    ({"pipeline": 6}, ValueError,
     r"^mx_dot pipeline must be an integer from 0 to 5 for out='exact', not 6$"),
    ({"out": "fp32", "pipeline": 11}, ValueError,
     r"^mx_dot pipeline must be an integer from 0 to 10 for out='fp32', not 11$"),
    ({"pipeline": -1}, ValueError,
     r"^mx_dot pipeline must be an integer from 0 to 5 for out='exact', not -1$"),
    ({"pipeline": True}, TypeError, r"^mx_dot pipeline must be an integer, not True$"),
])
def test_parameter_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        Params(**kwargs)


def test_golden_and_generator_share_the_special_codes():
    assert (golden.FP32_NAN, golden.FP32_INF) == (generator.FP32_NAN, generator.FP32_INF)
    assert np.isnan(values("e8m0", [golden.SCALE_NAN])[0])


@pytest.mark.parametrize("a_fmt,b_fmt", PAIRS)
def test_widths_hold_the_largest_products_exactly(a_fmt, b_fmt):
    """Every pair of finite codes: the largest aligned product is ``max_product``
    (so ``product_width`` is tight), and a block of it fits ``sum_width``; the
    exponent range is that of every pair of scale codes."""
    p = Params(a_fmt=a_fmt, b_fmt=b_fmt)
    ca = np.arange(1 << p.a_format.width)
    cb = np.arange(1 << p.b_format.width)
    a, b = np.meshgrid(ca, cb, indexing="ij")
    terms, *_ = block_terms(Params(a_fmt=a_fmt, b_fmt=b_fmt, block=1, lanes=1),
                            a.reshape(-1, 1), b.reshape(-1, 1))
    biggest = max(abs(int(t)) for t in terms.ravel())
    assert biggest == p.max_product
    assert p.block * biggest < 1 << (p.sum_width - 1)
    assert p.block * biggest >= 1 << (p.sum_width - 2)
    lo, hi = p.exp_range
    assert -(1 << (p.exp_width - 1)) <= lo and hi < 1 << (p.exp_width - 1)
    assert (lo, hi) == (0 + 0 - 254 + p.lsb_exp, 255 + 255 - 254 + p.lsb_exp)


@pytest.mark.parametrize("out", ["exact", "fp32"])
@pytest.mark.parametrize("a_fmt,b_fmt", PAIRS)
def test_golden_matches_the_independent_reading(a_fmt, b_fmt, out):
    """Seeded random blocks and the special blocks of every format pair."""
    seed = 1000 + PAIRS.index((a_fmt, b_fmt))
    print(f"seed {seed}")
    p = Params(a_fmt=a_fmt, b_fmt=b_fmt, out=out)
    rng = np.random.default_rng(seed)
    for cols in (random_blocks(p, rng, 24), special_blocks(p, rng)):
        check_against_reference(p, cols)


def test_special_results_are_reached():
    """The special blocks give NaN, both infinities, FP32 overflow, subnormals,
    underflow to zero and exact cancellation (e5m2 x e4m3), so the comparisons
    above cover them."""
    p = Params(a_fmt="e5m2", b_fmt="e4m3", out="fp32")
    cols = special_blocks(p, np.random.default_rng(5))
    c = mx_dot(p, cols["a"], cols["b"], cols["scale_a"], cols["scale_b"])["c"]
    exponent = (c >> 23) & 0xFF
    assert {0x7FC00000, 0x7F800000, 0xFF800000} <= set(c.tolist())
    assert ((exponent == 0) & (c & 0x7FFFFF != 0)).any()  # subnormals
    assert (c == 0).sum() >= 2  # zero from underflow and from cancellation
    exact = mx_dot(Params(a_fmt="e5m2", b_fmt="e4m3"), cols["a"], cols["b"],
                   cols["scale_a"], cols["scale_b"])
    cancelled = exact["sum"][-3:]
    assert cancelled.tolist() == [0, 0, 0]
    assert (exact["sum"] != 0).sum() > len(cols["a"]) // 2


def test_golden_sum_is_exact_beyond_int64():
    """e5m2 x e5m2 blocks of the largest values: a sum past 2**63, in Python ints."""
    p = Params(a_fmt="e5m2", b_fmt="e5m2")
    big = 0x7B  # 57344, the largest finite e5m2
    out = mx_dot(p, np.full((1, 32), big), np.full((1, 32), big), [127], [127])
    assert p.sum_width > 64
    assert int(out["sum"][0]) * 2 ** int(out["exp"][0]) == 32 * 57344 ** 2


def test_scales_are_read_on_the_first_beat_only():
    """The RTL ignores the scale fields of a block's later beats (random junk there)."""
    p = Params(block=8, lanes=2, pipeline=1)
    seed = 9
    cols = random_blocks(p, np.random.default_rng(seed), 6, nan_scale=0.0)
    assert run_rtl(p, cols, seed, junk_scales=True) == expected(p, cols), f"seed {seed}"


# The Amaranth tier takes what the Verilator regression runs by default (the
# default and small presets, sweep1; tests/test_regression.py) does not: fp32
# of a wide sum (56 bits: E4M3 x E5M2, with its infinities and ties) with no cut,
# fp32 with three cuts (the scale/round cut without the multiplier cut),
# fp32 with every cut (the rounder's own and the adder tree's middle included),
# one lane, five lanes with the tree's middle cut (an odd term moving up), and
# sweep0 (E5M2 infinities, two cuts, three lanes), whose Verilator run waits
# for ACCELGEN_STRESS=2 as the rest do.
_HEAVY = pytest.mark.skipif(STRESS < 2, reason=HEAVY_REASON)
SIM_CONFIGS = [
    Params(a_fmt="e4m3", b_fmt="e5m2", block=8, lanes=8, out="fp32", pipeline=0),
    Params(a_fmt="e4m3", b_fmt="e2m1", block=3, lanes=1, out="fp32", pipeline=3),
    Params(a_fmt="e5m2", b_fmt="int8", block=12, lanes=3, pipeline=2),
    Params(a_fmt="e5m2", b_fmt="e4m3", block=4, lanes=2, out="fp32", pipeline=10),
    Params(a_fmt="e5m2", b_fmt="e4m3", block=10, lanes=5, pipeline=5),
    pytest.param(Params(pipeline=4), marks=_HEAVY),
    pytest.param(Params(a_fmt="e2m1", b_fmt="e2m1", block=4, lanes=2, pipeline=0),
                 marks=_HEAVY),
    pytest.param(Params(a_fmt="e5m2", b_fmt="e2m1", block=16, lanes=8, pipeline=1),
                 marks=_HEAVY),
    pytest.param(Params(a_fmt="e3m2", b_fmt="e2m3", block=16, lanes=4, out="fp32",
                        pipeline=5), marks=_HEAVY),
    pytest.param(Params(a_fmt="e5m2", b_fmt="e5m2", out="fp32", pipeline=3), marks=_HEAVY),
    pytest.param(Params(a_fmt="int8", b_fmt="e4m3", block=8, lanes=8, out="fp32",
                        pipeline=1), marks=_HEAVY),
]


def test_cuts_follow_the_documented_order():
    """``pipeline`` adds the cuts of CUTS in order; the exact form skips scale/round."""
    assert Params(pipeline=4).cuts == ("products", "adder tree", "multiplier", "decode")
    assert Params(out="fp32", pipeline=3).cuts == ("products", "adder tree", "scale/round")
    assert Params(pipeline=0).latency == 1 and Params(out="fp32", pipeline=5).latency == 6
    assert Params(out="fp32", pipeline=8).cuts[-3:] == ("magnitude", "normalize", "round")
    assert Params(out="fp32", pipeline=8).latency == 9
    assert Params().cuts == ("products", "adder tree", "multiplier", "decode", "tree middle")
    assert Params(out="fp32", pipeline=10).cuts[-2:] == ("tree middle", "count")
    assert [Params(lanes=k, block=k).tree_levels for k in (1, 2, 3, 8, 9)] == [0, 1, 2, 3, 4]


def _sim_id(p):
    return f"{p.a_fmt}_{p.b_fmt}_k{p.block}_l{p.lanes}_{p.out}_p{p.pipeline}"


@pytest.mark.sim
@pytest.mark.parametrize("params", SIM_CONFIGS, ids=lambda p: _sim_id(p))
def test_amaranth_simulator_under_stalls(params):
    """Random and special blocks through the RTL, source idling and sink stalling."""
    seed = 77
    print(f"seed {seed}")
    rng = np.random.default_rng(seed)
    for cols in (random_blocks(params, rng, 8), special_blocks(params, rng)):
        got = run_rtl(params, cols, seed, idle=0.3, backpressure=0.3)
        assert got == expected(params, cols), f"seed {seed}"
