# SPDX-License-Identifier: BSD-2-Clause
"""requant: parameter errors, the scale helper's error bound, the golden model against
gemmlowp's two functions read as scalar Python integers and against exact fractions,
the float meaning against onnxruntime, the Amaranth simulator (every mode, per tensor
and per channel, under stalls); the Verilator regression is in tests/test_regression.py."""

import fractions
import itertools
import math

import numpy as np
import pytest

from accelgen.consts.requant import quantize_multiplier, dyadic_scale, MODES
from accelgen.generators.requant import Params, Requant
from accelgen.golden.requant import (requant, round_shift, rounding_divide_by_pot,
                                     saturating_rounding_doubling_high_mul)
from accelgen.verif.requant import corner_columns, expected, random_columns, run_rtl

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


@pytest.mark.parametrize("kwargs,error,message", [
    ({"mode": "round"}, ValueError,
     r"^requant mode must be one of 'gemmlowp', 'even', 'floor', 'pot', 'apot', "
     r"not 'round'$"),
    ({"mode": 3}, TypeError, r"^requant mode must be a string, not 3$"),
    ({"lanes": 0}, ValueError, r"^requant lanes must be an integer from 1 to 16, not 0$"),
    ({"in_bits": 33}, ValueError, r"^requant in_bits must be an integer from 2 to 32, not 33$"),
    ({"out_bits": 17}, ValueError,
     r"^requant out_bits must be an integer from 2 to 16, not 17$"),
    ({"out_signed": 1}, TypeError, r"^requant out_signed must be a bool, not 1$"),
    ({"mult_bits": 1}, ValueError,
     r"^requant mult_bits must be an integer from 2 to 32, not 1$"),
    ({"per_channel": "yes"}, TypeError, r"^requant per_channel must be a bool, not 'yes'$"),
    ({"multiplier": 1 << 31}, ValueError,
     r"^requant multiplier must be an integer from -2147483648 to 2147483647 for "
     r"mult_bits=32, not 2147483648$"),
    ({"mult_bits": 16}, ValueError,
     r"^requant multiplier must be an integer from -32768 to 32767 for mult_bits=16, "
     r"not 1431655765$"),
    ({"multiplier": 1.5}, TypeError, r"^requant multiplier must be an integer, not 1.5$"),
    ({"per_channel": True, "multiplier": "M"}, TypeError,
     r"^requant multiplier must be an integer, not 'M'$"),
    ({"shift": 32}, ValueError,
     r"^requant shift must be an integer from -32 to 31 for in_bits=32, not 32$"),
    ({"in_bits": 8, "shift": -9}, ValueError,
     r"^requant shift must be an integer from -8 to 7 for in_bits=8, not -9$"),
    ({"mode": "apot", "shift2": -33}, ValueError,
     r"^requant shift2 must be an integer from -32 to 31 for in_bits=32, not -33$"),
    ({"in_bits": 8, "shift": 3, "in_offset": 128}, ValueError,
     r"^requant in_offset must be an integer from -128 to 127 for in_bits=8, not 128$"),
    ({"zero_point": 128}, ValueError,
     r"^requant zero_point must be an integer from -128 to 127 for out_bits=8, "
     r"out_signed=True, not 128$"),
    ({"out_signed": False, "zero_point": -1}, ValueError,
     r"^requant zero_point must be an integer from 0 to 255 for out_bits=8, "
     r"out_signed=False, not -1$"),
    ({"pipeline": 6}, ValueError,
     r"^requant pipeline must be an integer from 0 to 5, not 6$"),
    ({"mode": "even", "pipeline": -1}, ValueError,
     r"^requant pipeline must be an integer from 0 to 5, not -1$"),
])
def test_parameter_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        Params(**kwargs)


def test_unused_scale_parameters_are_not_range_checked():
    """Per channel the scale parameters are unused; pot and apot use no multiplier,
    only apot uses shift2."""
    Params(per_channel=True, in_bits=8, mult_bits=4)  # default multiplier and shift
    Params(mode="pot", mult_bits=4, shift=3)
    Params(shift2=99)


def test_component_takes_only_its_params():
    with pytest.raises(TypeError, match=r"^requant params must be a requant Params "
                                        r"instance, not \{'mode': 'even'\}$"):
        Requant({"mode": "even"})


def test_derived_values():
    p = Params()
    assert (p.shift_bits, p.shift_range, p.out_range, p.latency) == (6, (-32, 31),
                                                                      (-128, 127), 6)
    assert Params(in_bits=8, shift=3).shift_range == (-8, 7)
    assert Params(out_signed=False, out_bits=4).out_range == (0, 15)
    assert list(Params().input_layout().members) == ["x", "last"]
    assert list(Params(per_channel=True).input_layout().members) == ["x", "m", "shift", "last"]
    assert list(Params(per_channel=True, mode="apot").input_layout().members) == \
        ["x", "shift", "shift2", "last"]
    assert list(Params(per_channel=True, mode="pot").input_layout().members) == \
        ["x", "shift", "last"]
    assert Params(pipeline=0).latency == 1


def test_manifest_publishes_the_scale():
    extra = Params().manifest_extra()
    assert extra["scale"]["multiplier"] == 1431655765 and extra["scale"]["shift"] == 16
    assert extra["scale"]["float"] == 1431655765 / 2 ** 31 / 2 ** 16
    assert (extra["out_range"], extra["mult_bits"], extra["shift_range"]) == \
        ([-128, 127], 32, [-32, 31])
    assert "per channel" in Params(per_channel=True).manifest_extra()["scale"]
    assert Params(mode="apot", shift=3, shift2=5).manifest_extra()["scale"]["value"] == \
        "2**-3 + 2**-5"


# --- the scale helper ------------------------------------------------------------------

def _tflite_quantize_multiplier(scale):
    """TFLite's QuantizeMultiplier read in floats: frexp, round the mantissa to 31
    bits (halves away from zero), renormalize; its shift is a left shift."""
    q, e = math.frexp(scale)
    q_fixed = int(math.copysign(math.floor(abs(q) * 2 ** 31 + 0.5), q))
    if abs(q_fixed) == 1 << 31:
        q_fixed //= 2
        e += 1
    return q_fixed, e


def test_quantize_multiplier_error_bound():
    rng = np.random.default_rng(7)
    scales = np.exp2(rng.uniform(-40, 10, 600)) * rng.choice([-1, 1], 600)
    for mult_bits in (32, 16, 8, 2):
        for scale in scales.tolist():
            m, s = quantize_multiplier(scale, mult_bits)
            assert 1 << (mult_bits - 2) <= abs(m) < 1 << (mult_bits - 1)
            err = abs(dyadic_scale(m, s, mult_bits) - fractions.Fraction(scale))
            assert err <= fractions.Fraction(2) ** -(mult_bits + s)
            assert err <= abs(fractions.Fraction(scale)) * fractions.Fraction(2) ** -(mult_bits - 1)
            if mult_bits == 32:
                assert (m, -s) == _tflite_quantize_multiplier(scale)


def test_quantize_multiplier_exact_cases():
    assert quantize_multiplier(0.0) == (0, 0)
    assert quantize_multiplier(1.0) == (1 << 30, -1)
    assert quantize_multiplier(2.0 ** -20) == (1 << 30, 19)
    assert quantize_multiplier(-0.75, 8) == (-96, 0)
    # a mantissa that rounds up to 2**(mult_bits-1) is renormalized
    assert quantize_multiplier(1 - 2.0 ** -40) == (1 << 30, -1)
    assert quantize_multiplier(fractions.Fraction(1, 3), 8) == (85, 1)
    for k in range(-30, 30):
        m, s = quantize_multiplier(2.0 ** k, 16)
        assert dyadic_scale(m, s, 16) == fractions.Fraction(2) ** k


@pytest.mark.parametrize("args,error,message", [
    (("0.5",), TypeError, r"^quantize_multiplier scale must be a real number, not '0.5'$"),
    ((True,), TypeError, r"^quantize_multiplier scale must be a real number, not True$"),
    ((float("inf"),), ValueError, r"^quantize_multiplier scale must be finite, not inf$"),
    ((0.5, 1), ValueError, r"^quantize_multiplier mult_bits must be an integer from 2 to 64, "
                           r"not 1$"),
    ((0.5, 8.0), TypeError, r"^quantize_multiplier mult_bits must be an integer, not 8.0$"),
])
def test_quantize_multiplier_errors(args, error, message):
    with pytest.raises(error, match=message):
        quantize_multiplier(*args)


# --- gemmlowp, read as scalar Python integers -------------------------------------------

def _srdhm(a, b):
    """gemmlowp's SaturatingRoundingDoublingHighMul on int32, line by line: the
    overflow case, the sign-dependent nudge and C++'s division truncating toward zero."""
    overflow = a == b == INT32_MIN
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    num = ab + nudge
    quotient = abs(num) // (1 << 31)
    high = quotient if num >= 0 else -quotient
    return INT32_MAX if overflow else high


def _rdbpot(x, exponent):
    """gemmlowp's RoundingDivideByPOT on int32: mask, remainder, threshold."""
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


def _mbqm(x, multiplier, shift):
    """TFLite's MultiplyByQuantizedMultiplier; its ``shift`` > 0 shifts left."""
    left, right = max(shift, 0), max(-shift, 0)
    return _rdbpot(_srdhm(x * (1 << left), multiplier), right)


def test_srdhm_against_gemmlowp():
    rng = np.random.default_rng(3)
    a = rng.integers(INT32_MIN, INT32_MAX, 20000, endpoint=True)
    b = rng.integers(INT32_MIN, INT32_MAX, 20000, endpoint=True)
    specials = [(INT32_MIN, INT32_MIN), (INT32_MIN, INT32_MAX), (INT32_MAX, INT32_MIN),
                (INT32_MAX, INT32_MAX), (-1, 1 << 30), (1, 1 << 30), (-3, 1 << 30),
                (3, 1 << 30), (-1, -(1 << 30)), (INT32_MIN, 1), (INT32_MIN, -1), (0, INT32_MIN),
                (-5, 3 << 29), (5, -(3 << 29))]
    a = np.concatenate([a, [s[0] for s in specials]])
    b = np.concatenate([b, [s[1] for s in specials]])
    got = saturating_rounding_doubling_high_mul(a, b).tolist()
    assert got == [_srdhm(int(x), int(y)) for x, y in zip(a, b)]
    assert got[-len(specials)] == INT32_MAX
    # negative ties go up (toward zero), positive ties away from zero
    assert _srdhm(-1, 1 << 30) == 0 and _srdhm(1, 1 << 30) == 1
    assert _srdhm(-3, 1 << 30) == -1 and _srdhm(3, 1 << 30) == 2


def test_rdbpot_against_gemmlowp():
    rng = np.random.default_rng(4)
    x16 = np.arange(-(1 << 15), 1 << 15)
    for exponent in (0, 1, 2, 7, 15, 16):
        assert rounding_divide_by_pot(x16, exponent).tolist() == \
            [_rdbpot(int(v), exponent) for v in x16]
    x = np.concatenate([rng.integers(INT32_MIN, INT32_MAX, 5000, endpoint=True),
                        [INT32_MIN, INT32_MAX, -1, 0, 1, -(1 << 30), 1 << 30]])
    for exponent in (0, 1, 30, 31):
        assert rounding_divide_by_pot(x, exponent).tolist() == \
            [_rdbpot(int(v), exponent) for v in x]


@pytest.mark.parametrize("multiplier,shift", [
    (1431655765, 16), (INT32_MAX, 31), (-1234567890, 12), (1 << 30, -3), (INT32_MIN, 0),
    (1, -31)])
def test_golden_gemmlowp_exhaustive_16_bit(multiplier, shift):
    """Every 16-bit x through the 32-bit unit (zero point 5, 16-bit outputs), and
    the 32-bit extremes, against TFLite's composition read in scalar integers."""
    p = Params(multiplier=multiplier, shift=shift, out_bits=16, zero_point=5)
    x = np.concatenate([np.arange(-(1 << 15), 1 << 15), [INT32_MIN, INT32_MAX]])
    want = []
    for v in x.tolist():
        shifted = v * (1 << max(-shift, 0))
        if INT32_MIN <= shifted <= INT32_MAX:
            q = _mbqm(v, multiplier, -shift)
        else:  # TFLite: undefined (int32 overflow); the unit saturates the shifted x
            q = _rdbpot(_srdhm(INT32_MAX if v > 0 else INT32_MIN, multiplier), max(shift, 0))
        want.append(min(max(q + 5, -(1 << 15)), (1 << 15) - 1))
    assert requant(p, x).tolist() == want


def test_golden_gemmlowp_random_32_bit():
    """Seeded random 32-bit x, multipliers and shifts (per channel), in_offset added."""
    rng = np.random.default_rng(5)
    p = Params(per_channel=True, out_bits=16, in_offset=-7)
    n = 20000
    x = rng.integers(INT32_MIN, INT32_MAX, n, endpoint=True)
    x[: n // 2] >>= rng.integers(0, 31, n // 2)  # smaller magnitudes too
    m = rng.integers(INT32_MIN, INT32_MAX, n, endpoint=True)
    s = rng.integers(-32, 31, n, endpoint=True)
    x[:4], m[:4], s[:4] = INT32_MIN + 7, INT32_MIN, [0, 31, 1, -1]  # x' = m = INT32_MIN
    want = []
    for v, mm, ss in zip(x.tolist(), m.tolist(), s.tolist()):
        v = max(v - 7, INT32_MIN)
        left = max(-ss, 0)
        v = min(max(v * (1 << left), INT32_MIN), INT32_MAX)
        want.append(min(max(_rdbpot(_srdhm(v, mm), max(ss, 0)), -(1 << 15)), (1 << 15) - 1))
    assert requant(p, x, m=m, shift=s).tolist() == want
    assert want[:4] == [32767, 1, 32767, 32767]


# --- even, floor, pot, apot, read as exact fractions ------------------------------------

def _fraction_reference(p, x, m, s, s2):
    """``saturate(round(x' * scale) + zero_point)`` with exact fractions."""
    lo_x, hi_x = -(1 << (p.in_bits - 1)), (1 << (p.in_bits - 1)) - 1
    xs = min(max(x + p.in_offset, lo_x), hi_x)
    two = fractions.Fraction(2)
    if p.mode in ("even", "floor"):
        v = fractions.Fraction(xs * m, 1 << (p.mult_bits - 1)) * two ** -s
    elif p.mode == "pot":
        v = xs * two ** -s
    else:
        v = xs * (two ** -s + two ** -s2)
    q = math.floor(v) if p.mode == "floor" else round(v)  # round(): halves to even
    lo, hi = p.out_range
    return min(max(q + p.zero_point, lo), hi)


def _check_against_fractions(p, x, m, s, s2):
    got = requant(p, x, m=m if p.dyadic else None, shift=s,
                  shift2=s2 if p.mode == "apot" else None).tolist()
    want = [_fraction_reference(p, *map(int, row)) for row in zip(x, m, s, s2)]
    assert got == want


@pytest.mark.parametrize("mode", ["even", "floor", "pot", "apot"])
def test_golden_exhaustive_against_fractions(mode):
    """Every (x, M, shift[, shift2]) of a 6-bit input and 4-bit multiplier (shift2
    on a subset), with an input offset and a zero point."""
    p = Params(mode=mode, per_channel=True, in_bits=6, mult_bits=4, out_bits=4,
               in_offset=3, zero_point=-1)
    lo, hi = p.shift_range
    rows = list(itertools.product(range(-32, 32), range(-8, 8), range(lo, hi + 1),
                                  (lo, -1, 0, 2, hi) if mode == "apot" else (0,)))
    if mode in ("pot", "apot"):
        rows = [r for r in rows if r[1] == 0]
    _check_against_fractions(p, *np.array(rows).T)


@pytest.mark.parametrize("mode", ["even", "floor", "pot", "apot"])
def test_golden_random_32_bit_against_fractions(mode):
    rng = np.random.default_rng(11)
    p = Params(mode=mode, per_channel=True, out_bits=16, out_signed=False, zero_point=300,
               in_offset=1 << 20)
    n = 3000
    x = rng.integers(INT32_MIN, INT32_MAX, n, endpoint=True) >> rng.integers(0, 31, n)
    m = rng.integers(INT32_MIN, INT32_MAX, n, endpoint=True)
    s, s2 = rng.integers(-32, 31, (2, n), endpoint=True)
    x[:3], m[:3] = [INT32_MAX, INT32_MIN, INT32_MIN], INT32_MIN
    _check_against_fractions(p, x, m, s, s2)


def test_round_shift_rules_on_ties():
    v = np.array([-7, -6, -5, -3, -1, 1, 3, 5, 6, 7])
    assert round_shift(v, 1, "even").tolist() == [-4, -3, -2, -2, 0, 0, 2, 2, 3, 4]
    assert round_shift(v, 1, "floor").tolist() == [-4, -3, -3, -2, -1, 0, 1, 2, 3, 3]
    assert round_shift(v, 1, "up").tolist() == [-3, -3, -2, -1, 0, 1, 2, 3, 3, 4]
    assert round_shift(v, 1, "away").tolist() == [-4, -3, -3, -2, -1, 1, 2, 3, 3, 4]
    assert round_shift(v, -2, "even").tolist() == (v * 4).tolist()
    with pytest.raises(ValueError, match=r"^rule must be one of floor, even, up, away, "
                                         r"not 'half'$"):
        round_shift(v, 1, "half")


def test_golden_input_errors():
    p = Params(in_bits=8, shift=2)
    with pytest.raises(ValueError, match=r"^x values must be in -128..127$"):
        requant(p, [128])
    with pytest.raises(ValueError, match=r"^requant per tensor takes its scale from params"):
        requant(p, [1], shift=[1])
    q = Params(per_channel=True, in_bits=8)
    with pytest.raises(ValueError, match=r"^requant per channel \(gemmlowp\) needs m$"):
        requant(q, [1], shift=[0])
    with pytest.raises(ValueError, match=r"^shift values must be in -8..7$"):
        requant(q, [1], m=[1], shift=[8])
    with pytest.raises(ValueError, match=r"^m values must be in -2147483648..2147483647$"):
        requant(q, [1], m=[1 << 31], shift=[0])
    with pytest.raises(TypeError, match=r"^requant values must be integers, not float64$"):
        requant(p, [0.5])


# --- the float meaning, against onnxruntime -------------------------------------------

def _onnx_quantize(x, scale, zero_point, unsigned, multiply_by=None):
    """onnxruntime: ``QuantizeLinear(x * multiply_by, y_scale)`` (int8/uint8 zero
    point; round half to even, saturate), float32 throughout."""
    # Test dependencies (pyproject's dev extra): a missing one fails, never skips.
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper
    zp_type = TensorProto.UINT8 if unsigned else TensorProto.INT8
    nodes, inits, src = [], [], "x"
    if multiply_by is not None:
        inits.append(helper.make_tensor("k", TensorProto.FLOAT, [], [multiply_by]))
        nodes.append(helper.make_node("Mul", ["x", "k"], ["xk"]))
        src = "xk"
    inits += [helper.make_tensor("s", TensorProto.FLOAT, [], [scale]),
              helper.make_tensor("z", zp_type, [], [zero_point])]
    nodes.append(helper.make_node("QuantizeLinear", [src, "s", "z"], ["y"]))
    graph = helper.make_graph(nodes, "requant_check",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None])],
                              [helper.make_tensor_value_info("y", zp_type, [None])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    session = ort.InferenceSession(model.SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    return session.run(None, {"x": np.asarray(x, dtype=np.float32)})[0].astype(np.int64)


@pytest.mark.parametrize("shift,zero_point,unsigned", [
    (0, 0, False), (3, -7, False), (9, 10, False), (-2, 0, False), (4, 128, True),
    (12, 3, True)])
def test_pot_matches_onnx_quantize_linear(shift, zero_point, unsigned):
    """pot: ``x / 2**shift``, halves to even, saturated: QuantizeLinear with
    ``y_scale = 2**shift`` on every 16-bit x (exact in float32)."""
    p = Params(mode="pot", in_bits=24, shift=shift, out_signed=not unsigned,
               zero_point=zero_point)
    x = np.arange(-(1 << 15), 1 << 15)
    want = _onnx_quantize(x, 2.0 ** shift, zero_point, unsigned)
    assert requant(p, x).tolist() == want.tolist()


@pytest.mark.parametrize("multiplier,shift,zero_point", [
    (1 << 30, 4, 0), (3 << 28, 2, -3), (0x5A5 << 20, 10, 17), (-(7 << 27), 3, 1)])
def test_even_matches_onnx_mul_and_quantize_linear(multiplier, shift, zero_point):
    """even: one rounding of ``x * M * 2**-(31 + shift)``: ONNX ``Mul`` by the
    scale then ``QuantizeLinear`` with ``y_scale = 1``, for multipliers of at
    most 12 significant bits and 12-bit x (every product exact in float32)."""
    p = Params(mode="even", multiplier=multiplier, shift=shift, zero_point=zero_point)
    x = np.arange(-(1 << 11), 1 << 11)
    scale = float(dyadic_scale(multiplier, shift))
    want = _onnx_quantize(x, 1.0, zero_point, False, multiply_by=scale)
    assert requant(p, x).tolist() == want.tolist()


# --- the RTL in Amaranth's simulator ---------------------------------------------------

SIM_CONFIGS = {
    "default": {},
    "p0_offset_zp": {"pipeline": 0, "in_offset": -12345, "zero_point": 9},
    "p3": {"pipeline": 3},
    "p4_lanes2_left": {"pipeline": 4, "lanes": 2, "shift": -3},
    "p5_min_times_min": {"pipeline": 5, "multiplier": INT32_MIN, "shift": -2},
    "min_times_min": {"multiplier": INT32_MIN, "shift": 31, "out_bits": 16},
    "even_unsigned": {"mode": "even", "out_signed": False, "zero_point": 200, "pipeline": 1},
    "floor_left": {"mode": "floor", "shift": -5, "mult_bits": 16, "multiplier": -20000},
    "floor_p4": {"mode": "floor", "shift": 3, "pipeline": 4},
    "even_p5": {"mode": "even", "shift": 7, "lanes": 2},
    "pot": {"mode": "pot", "in_bits": 16, "shift": 5, "pipeline": 2},
    "apot": {"mode": "apot", "shift": 20, "shift2": -2, "out_bits": 16},
    "narrow": {"in_bits": 10, "mult_bits": 6, "multiplier": -32, "shift": 2, "out_bits": 5},
    "pc_gemmlowp_p5": {"per_channel": True, "lanes": 2, "pipeline": 5},
    "pc_even": {"per_channel": True, "mode": "even", "pipeline": 0},
    "pc_floor": {"per_channel": True, "mode": "floor", "in_bits": 20, "mult_bits": 12},
    "pc_pot": {"per_channel": True, "mode": "pot", "out_signed": False, "zero_point": 3},
    "pc_apot": {"per_channel": True, "mode": "apot", "pipeline": 4},
    "pc_even_p3": {"per_channel": True, "mode": "even", "pipeline": 3},
    "pc_small": {"per_channel": True, "in_bits": 10, "mult_bits": 6, "out_bits": 5,
                 "pipeline": 1, "in_offset": 3, "zero_point": -2, "lanes": 2},
}


@pytest.mark.sim
@pytest.mark.parametrize("kwargs", SIM_CONFIGS.values(), ids=SIM_CONFIGS.keys())
def test_amaranth_simulator_under_stalls(kwargs):
    """Every corner combination and random beats under stalls: outputs and
    ``last`` equal the golden model."""
    p = Params(**kwargs)
    seed = 2024
    corners = corner_columns(p)
    got = run_rtl(p, corners, seed)
    assert got == expected(p, corners), "corners"
    cols = random_columns(p, np.random.default_rng(seed), 150)
    got = run_rtl(p, cols, seed, idle=0.3, backpressure=0.3)
    assert got == expected(p, cols), f"seed {seed}"


@pytest.mark.sim
@pytest.mark.parametrize("mode", MODES)
def test_amaranth_simulator_every_code(mode):
    """Every 8-bit input, per tensor, 4-bit outputs: ties and both saturations."""
    p = Params(mode=mode, in_bits=8, mult_bits=5, multiplier=11, shift=1, shift2=3,
               out_bits=4, lanes=4, pipeline=0)
    x = np.arange(-128, 128).reshape(-1, 4)
    cols = {"x": x, "last": np.zeros(len(x), dtype=np.int64)}
    got = run_rtl(p, cols, seed=0)
    assert got == expected(p, cols)
    y = np.array([row for row, _ in got])
    assert y.min() == -8 and y.max() == 7


def test_output_saturates_at_both_bounds():
    """Overflow: the extremes of x clamp to the output range, for every mode."""
    for mode in MODES:
        p = Params(mode=mode, out_signed=False, out_bits=4, zero_point=8, shift=0, shift2=0)
        assert requant(p, [INT32_MIN, INT32_MAX]).tolist() == [0, 15]
