# SPDX-License-Identifier: BSD-2-Clause
"""fp_mac: parameter errors, the golden model against exact integers, accelgen.num.fp.encode
and ml_dtypes, the FP32 adder and the unit in Amaranth's simulator; the Verilator
regression is in tests/test_regression.py."""

import random
from fractions import Fraction

import ml_dtypes
import numpy as np
import pytest
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from accelgen.generators.fp_mac import FpMAC, Params
from accelgen.golden.fp_mac import fp_mac, products_fp32, FP32_NAN
from accelgen.hw.fparith import fp32_add
from accelgen.num.fp import decode, encode, to_float
from accelgen.verif.amaranth_sim import run_stream, sweep_combinational
from accelgen.verif.fp_mac import output_fields, random_stream, special_codes, largest_code

ML_DTYPES = {"e4m3": ml_dtypes.float8_e4m3fn, "e5m2": ml_dtypes.float8_e5m2,
             "bf16": ml_dtypes.bfloat16, "fp16": np.float16}


@pytest.mark.parametrize("kwargs,error,message", [
    ({"a_fmt": "e2m1"}, ValueError,
     r"^fp_mac a_fmt must be one of 'e4m3', 'e5m2', 'bf16', 'fp16', not 'e2m1'$"),
    ({"b_fmt": 8}, TypeError, r"^fp_mac b_fmt must be a string, not 8$"),
    ({"acc": "fp16"}, ValueError, r"^fp_mac acc must be one of 'fp32', 'exact', not 'fp16'$"),
    ({"a_fmt": "bf16"}, ValueError,
     r"^fp_mac a_fmt 'bf16' needs acc='fp32' \(acc='exact' takes 'e4m3' or 'e5m2'\)$"),
    ({"b_fmt": "fp16"}, ValueError,
     r"^fp_mac b_fmt 'fp16' needs acc='fp32' \(acc='exact' takes 'e4m3' or 'e5m2'\)$"),
    ({"guard": 33}, ValueError, r"^fp_mac guard must be an integer from 0 to 32, not 33$"),
    ({"guard": True}, TypeError, r"^fp_mac guard must be an integer, not True$"),
    ({"acc": "fp32", "pipeline": 4}, ValueError,
     r"^fp_mac pipeline must be an integer from 0 to 3 for acc='fp32', not 4$"),
    ({"out": "exact", "pipeline": 7}, ValueError,
     r"^fp_mac pipeline must be an integer from 0 to 3 for out='exact', not 7$"),
    ({"pipeline": -1}, ValueError, r"^fp_mac pipeline must be an integer from 0 to 9 for "
                                   r"acc='exact', out='fp32', not -1$"),
    ({"out": "fp16"}, ValueError, r"^fp_mac out must be one of 'fp32', 'exact', not 'fp16'$"),
    ({"out": "exact", "acc": "fp32", "pipeline": 2}, ValueError,
     r"^fp_mac out 'exact' needs acc='exact', not 'fp32' \(the FP32 accumulator's result "
     r"is an FP32 code: out='fp32'\)$"),
    ({"pipeline": 10}, ValueError, r"^fp_mac pipeline must be an integer from 0 to 9 for "
                                   r"acc='exact', out='fp32', not 10$"),
])
def test_parameter_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        Params(**kwargs)


#: The FP32 accumulator (rounded at every beat) at its usual depth.
FP32_ACC = {"acc": "fp32", "pipeline": 2}


def test_derived_values():
    p = Params(out="exact", pipeline=2)
    # 448 * 448 = 200704 = 0b110001000000000000 at LSB 2**-18: 36 magnitude bits.
    assert (p.lsb_exp, p.product_bits, p.acc_width) == (-18, 37, 53)
    q = Params(a_fmt="e5m2", b_fmt="e5m2", guard=0)
    assert (q.lsb_exp, q.product_bits, q.acc_width) == (-32, 65, 65)
    f = Params(**FP32_ACC)
    assert (f.latency, f.cuts, f.acc_width) == (3, ("product", "align"), 32)
    assert Params(acc="fp32", pipeline=3).cuts == ("product", "align", "decode")
    assert Params().cuts == (
        "product", "align", "result", "magnitude", "normalize", "round", "decode", "count",
        "shift")
    assert Params().latency == 10 and Params(pipeline=6).latency == 7
    assert Params(out="exact", pipeline=1).cuts == ("product",)
    assert Params(pipeline=0).cuts == ()
    assert Params().manifest_extra()["lsb_exp"] == -18


# --- the golden model against independent readings --------------------------------------

def test_operand_decoding_matches_ml_dtypes():
    """The golden's operand values are ml_dtypes' for every code of each format."""
    for name, dtype in ML_DTYPES.items():
        width = 8 if name in ("e4m3", "e5m2") else 16
        codes = np.arange(1 << width)
        raw = codes.astype(np.uint8 if width == 8 else np.uint16)
        with np.errstate(invalid="ignore"):  # NaN codes cast to float64 NaN
            theirs = raw.view(dtype).astype(np.float64)
        ours = to_float(name, codes)
        assert np.array_equal(np.isnan(ours), np.isnan(theirs)), name
        keep = ~np.isnan(ours)
        assert np.array_equal(ours[keep], theirs[keep]), name
        assert np.array_equal(np.signbit(ours[keep]), np.signbit(theirs[keep])), name


def _special(fmt_name, code):
    mant, exp, nan, inf = decode(fmt_name, [code])
    return int(mant[0]), int(exp[0]), bool(nan[0]), bool(inf[0])


def _fp32_exact(code):
    """``(mant, exp)`` of a finite FP32 code (Python ints)."""
    mant, exp, _nan, _inf = decode("fp32", [code])
    return int(mant[0]), int(exp[0])


def reference_fp32(p, a, b, last):
    """docs/fp_mac.md's words, scalar Python on exact integers: each product rounded
    once to FP32 (accelgen.num.fp.encode), each sum of two FP32 values computed
    exactly and rounded once, NaN and infinity by IEEE's rules, from +0."""
    out, acc = [], 0
    for x, y, end in zip(a, b, last):
        ma, ea, na, ia = _special(p.a_fmt, int(x))
        mb, eb, nb, ib = _special(p.b_fmt, int(y))
        negative = (ma < 0) != (mb < 0)
        if na or nb or (ia and mb == 0) or (ib and ma == 0):
            prod = FP32_NAN
        elif ia or ib:
            prod = 0xFF800000 if negative else 0x7F800000
        else:
            prod = int(encode("fp32", ma * mb, ea + eb))
        kinds = []
        for c in (acc, prod):
            e = (c >> 23) & 0xFF
            kinds.append("nan" if e == 0xFF and c & 0x7FFFFF else
                         "inf" if e == 0xFF else "finite")
        if "nan" in kinds or (kinds == ["inf", "inf"] and acc != prod):
            acc = FP32_NAN
        elif kinds[0] == "inf":
            pass
        elif kinds[1] == "inf":
            acc = prod
        else:
            (m1, e1), (m2, e2) = _fp32_exact(acc), _fp32_exact(prod)
            lo = min(e1, e2)
            acc = int(encode("fp32", (m1 << (e1 - lo)) + (m2 << (e2 - lo)), lo))
        if end:
            out.append(acc)
            acc = 0
    return out


def reference_exact(p, a, b, last):
    """The exact accumulator in Python integers: the sum of the finite products at
    LSB 2**lsb_exp, wrapped to acc_width bits with a sticky flag, and the flags."""
    out, acc, flags = [], 0, dict.fromkeys(("overflow", "nan", "pos_inf", "neg_inf"), 0)
    w = p.acc_width
    for x, y, end in zip(a, b, last):
        ma, ea, na, ia = _special(p.a_fmt, int(x))
        mb, eb, nb, ib = _special(p.b_fmt, int(y))
        if na or nb or (ia and mb == 0) or (ib and ma == 0):
            flags["nan"] = 1
        elif ia or ib:
            flags["pos_inf" if (ma < 0) == (mb < 0) else "neg_inf"] = 1
        else:
            acc += ma * mb * 2 ** (ea + eb - p.lsb_exp)
            if not -(1 << (w - 1)) <= acc < 1 << (w - 1):
                flags["overflow"] = 1
                acc = (acc + (1 << (w - 1))) % (1 << w) - (1 << (w - 1))
        if end:
            out.append((acc, flags["overflow"], flags["nan"], flags["pos_inf"],
                        flags["neg_inf"]))
            acc, flags = 0, dict.fromkeys(flags, 0)
    return out


def _golden_items(p, a, b, last):
    out = fp_mac(p, a, b, last)
    return [tuple(int(v) for v in row) for row in zip(*(out[k].tolist()
                                                        for k in output_fields(p)))]


@pytest.mark.parametrize("kwargs", [{}, {"a_fmt": "e5m2", "b_fmt": "e5m2"},
                                    {"a_fmt": "bf16", "b_fmt": "bf16"},
                                    {"a_fmt": "fp16", "b_fmt": "e4m3"}],
                         ids=["e4m3", "e5m2", "bf16", "fp16_e4m3"])
def test_golden_fp32_matches_exact_rounding(kwargs):
    p = Params(**FP32_ACC, **kwargs)
    seed = 11
    rng = np.random.default_rng(seed)
    a, b, last = random_stream(p, rng, 500, end=0.1)
    assert [(v,) for v in reference_fp32(p, a, b, last)] == _golden_items(p, a, b, last), \
        f"seed {seed}"


def _stream_ending_in_largest(p, seed):
    """600 random beats (special codes often, packets of ~20), then a packet of
    the largest products: it overflows the exact accumulator when ``guard`` < 8."""
    a, b, last = random_stream(p, np.random.default_rng(seed), 600, end=0.05)
    n = (1 << p.guard) + 2 if p.guard < 8 else 8
    a = np.concatenate([a, [largest_code(p.a_format)] * n])
    b = np.concatenate([b, [largest_code(p.b_format)] * n])
    return a, b, np.concatenate([last, [0] * (n - 1) + [1]])


@pytest.mark.parametrize("kwargs", [{"out": "exact"}, {"out": "exact", "guard": 2},
                                    {"a_fmt": "e5m2", "b_fmt": "e5m2", "out": "exact"}],
                         ids=["e4m3", "e4m3_g2", "e5m2"])
def test_golden_exact_matches_python_integers(kwargs):
    p = Params(pipeline=0, **kwargs)
    seed = 12
    a, b, last = _stream_ending_in_largest(p, seed)
    want = reference_exact(p, a, b, last)
    assert want == _golden_items(p, a, b, last), f"seed {seed}"
    assert want[-1][1] == (p.guard < 8)  # the overflow flag is reached where expected


def _nearest_fp32(x):
    """The FP32 code nearest to the Fraction ``x`` (ties to the even code), from
    float32 neighbours compared as Fractions; ``+0`` for zero (finite range only)."""
    if x == 0:
        return 0
    guess = np.float32(float(x))
    candidates = [guess, np.nextafter(guess, np.float32(np.inf)),
                  np.nextafter(guess, np.float32(-np.inf))]
    best = min(candidates, key=lambda c: (abs(Fraction(float(c)) - x),
                                          int(np.array(c).view(np.uint32)) & 1))
    return int(np.array(best, dtype=np.float32).view(np.uint32))


@pytest.mark.parametrize("kwargs", [{}, {"a_fmt": "e5m2", "b_fmt": "e4m3", "guard": 2}],
                         ids=["e4m3", "e5m2_e4m3_g2"])
def test_golden_rounded_exact_sum(kwargs):
    """``out='fp32'``: the exact sum (Python integers) rounded once to FP32, checked
    against float32 neighbours as Fractions; NaN, infinities and overflow as the
    exact accumulator's flags say."""
    p = Params(**kwargs)
    seed = 13
    a, b, last = _stream_ending_in_largest(p, seed)
    want = []
    for acc, overflow, nan, pinf, ninf in reference_exact(p, a, b, last):
        if nan or (pinf and ninf):
            code = 0x7FC00000
        elif pinf or ninf:
            code = 0xFF800000 if ninf else 0x7F800000
        else:
            code = _nearest_fp32(Fraction(acc) * Fraction(2) ** p.lsb_exp)
        want.append((code, overflow))
    got = _golden_items(p, a, b, last)
    assert got == want, f"seed {seed}"
    assert got[-1][1] == (p.guard < 8) and any(c == 0x7FC00000 for c, _ in got)


def test_golden_fp32_rules():
    """NaN, infinities, signed zeros and rounding at every beat, by hand."""
    p = Params(a_fmt="e5m2", b_fmt="e5m2", **FP32_ACC)
    one, inf, nan, zero = 0x3C, 0x7C, 0x7D, 0x00
    neg = 0x80
    cases = [
        ([inf], [zero], FP32_NAN),                  # inf * 0
        ([inf, inf | neg], [one, one], FP32_NAN),   # +inf + -inf
        ([nan], [one], FP32_NAN),
        ([inf, one], [one | neg, one], 0xFF800000),  # -inf + 1
        ([zero | neg], [one], 0x00000000),          # +0 + -0 = +0
        ([one, one | neg], [one, one], 0x00000000),  # 1 - 1 = +0
    ]
    for a, b, want in cases:
        got = fp_mac(p, a, b, [0] * (len(a) - 1) + [1])["acc"].tolist()
        assert got == [want], (a, b)
    # 2**24 + 1 + 1 in FP32: each +1 is a tie that rounds to even (no change).
    q = Params(a_fmt="bf16", b_fmt="bf16", **FP32_ACC)
    big = 0x4B80  # bf16 2**24
    got = fp_mac(q, [big, 0x3F80, 0x3F80], [0x3F80] * 3, [0, 0, 1])["acc"].tolist()
    assert got == [0x4B800000]


def test_golden_products_against_encode():
    """Every E4M3 x E5M2 product's float32 is encode(fp32) of the exact integer product."""
    a, b = (g.ravel() for g in np.meshgrid(np.arange(256), np.arange(256)))
    p = Params(a_fmt="e4m3", b_fmt="e5m2", **FP32_ACC)
    ma, ea, na, ia = decode("e4m3", a)
    mb, eb, nb, ib = decode("e5m2", b)
    got = products_fp32(p, a, b).view(np.uint32).astype(np.int64)
    finite = ~(na | nb | ia | ib)
    want = encode("fp32", ma * mb, ea + eb)
    # A zero product keeps the sign of the product (IEEE), which encode's +0 does not.
    negative_zero = (ma * mb == 0) & (((a >> 7) ^ (b >> 7)) == 1)
    want = np.where(negative_zero, 1 << 31, want)
    assert np.array_equal(got[finite], want[finite])
    assert np.isnan(products_fp32(p, a, b)[na | nb]).all()


def test_golden_edge_cases():
    p = Params()
    assert fp_mac(p, [1, 2], [3, 4], [0, 0])["acc"].tolist() == []
    assert fp_mac(p, [], [], [])["acc"].tolist() == []
    with pytest.raises(ValueError, match=r"^codes of e4m3 must be in 0..255$"):
        fp_mac(p, [256], [1], [1])
    with pytest.raises(ValueError, match=r"same length"):
        fp_mac(p, [1, 2], [1], [1])


# --- the RTL in Amaranth's simulator ----------------------------------------------------

class _Adder(wiring.Component):
    x: In(32)
    y: In(32)
    code: Out(32)

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.code.eq(fp32_add(m, self.x, self.y))
        return m


def _numpy_add(x, y):
    s = (np.asarray(x, np.uint32).view(np.float32) + np.asarray(y, np.uint32).view(np.float32))
    return np.where(np.isnan(s), FP32_NAN, s.view(np.uint32).astype(np.int64))


@pytest.mark.sim
def test_fp32_adder_matches_numpy():
    """fp32_add against NumPy float32 addition: cancellation (x and -x nudged by a
    few units in the last place), exact ties (x and half its last place, both
    signs) and sums just above a tie, subnormals, carries, overflow, specials."""
    seed = 2026
    rng = np.random.default_rng(seed)
    print(f"seed {seed}")
    n = 48
    x = rng.integers(0, 1 << 32, n, dtype=np.int64)
    x[: n // 2] &= ~(0xFF << 23)            # half of them subnormal-range or small exponents
    x[: n // 2] |= rng.integers(0, 4, n // 2) << 23
    near = x ^ (1 << 31)                    # -x, nudged
    near = (near + rng.integers(-3, 4, n)) & 0xFFFFFFFF
    shifted = (x + (rng.integers(-30, 30, n) << 23)) & 0xFFFFFFFF  # exponents a few apart
    specials = np.array([0, 1 << 31, 0x7F800000, 0xFF800000, 0x7FC00000, 0x7F7FFFFF,
                         0x80800000, 0x007FFFFF, 0x80000001, 0x4B800001])
    sx, sy = (g.ravel() for g in np.meshgrid(specials, specials))
    # Exact ties: x plus or minus half a unit in its last place (2**(e - 24)).
    tie_x = rng.integers(0, 1 << 32, 24, dtype=np.int64) & ~(0xFF << 23) \
        | (rng.integers(26, 250, 24) << 23)
    tie_y = ((((tie_x >> 23) & 0xFF) - 24) << 23) | (rng.integers(0, 2, 24) << 31)
    # ... and just above a tie (only the sticky bit tells it from one).
    sx = np.concatenate([sx, tie_x, tie_x, [0x4B800000, 0x4B800001]])
    sy = np.concatenate([sy, tie_y, tie_y | 1, [0x3F800000, 0x3F800000]])
    xs = np.concatenate([x, x, rng.integers(0, 1 << 32, n // 2), sx])
    ys = np.concatenate([near, shifted, rng.integers(0, 1 << 32, n // 2), sy])
    with np.errstate(invalid="ignore", over="ignore"):
        want = _numpy_add(xs, ys).tolist()
    got = [c for c, in sweep_combinational(_Adder(), [{"x": int(a), "y": int(b)}
                                                      for a, b in zip(xs, ys)], ("code",))]
    bad = [(hex(a), hex(b), hex(g), hex(w)) for a, b, g, w in zip(xs, ys, got, want) if g != w]
    assert not bad, f"seed {seed}: {len(bad)} differ: {bad[:5]}"


@pytest.mark.sim
@pytest.mark.parametrize("kwargs,beats", [
    ({}, 80),
    (FP32_ACC, 60),
    ({"a_fmt": "e5m2", "b_fmt": "e4m3", "acc": "fp32", "pipeline": 3}, 24),
    ({"a_fmt": "fp16", "b_fmt": "fp16", "acc": "fp32", "pipeline": 0}, 30),
    ({"a_fmt": "e5m2", "b_fmt": "e5m2", "out": "exact", "guard": 1, "pipeline": 1}, 120),
    ({"out": "exact", "pipeline": 3}, 120),
    ({"pipeline": 0}, 80),
    ({"a_fmt": "e5m2", "b_fmt": "e4m3", "guard": 1, "pipeline": 3}, 60),
    ({"pipeline": 7}, 40),
    ({"pipeline": 8}, 40),
], ids=["default", "fp32_acc", "e5m2_e4m3_fp32_acc_p3", "fp16_p0", "e5m2_exact_g1_p1",
        "exact_p3", "rounded_p0", "e5m2_e4m3_rounded_g1_p3", "rounded_p7", "rounded_p8"])
def test_amaranth_simulator_under_stalls(kwargs, beats):
    p = Params(**kwargs)
    seed = 2024
    rng = np.random.default_rng(seed)
    a, b, last = random_stream(p, rng, beats)
    last[-1] = True
    want = _golden_items(p, a, b, last)
    fields = output_fields(p)
    got = run_stream(FpMAC(p), [{"a": int(x), "b": int(y), "last": int(l)}
                                for x, y, l in zip(a, b, last)],
                     len(want), max_cycles=beats * 10 + 200, rng=random.Random(seed),
                     idle=0.3, backpressure=0.3,
                     read=lambda payload: tuple(int(payload[k]) for k in fields))
    assert got == want, f"seed {seed}"
    assert len(set(special_codes(p.a_format)) & set(a.tolist())) >= 2
