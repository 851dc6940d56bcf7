# SPDX-License-Identifier: BSD-2-Clause
"""fusion_unit: parameter errors, golden model against exact integers, Amaranth
simulator; the Verilator regression is in tests/test_regression.py."""

import itertools

import numpy as np
import pytest

from accelgen.generators.fusion_unit import (Params, ALL_MODES, Precision,
                                             brick_role)
from accelgen.hw.bitfusion import GROUP_WIDTH, brick_product, brick_shifts
from accelgen.golden.fusion_unit import (PREC_CODE, fusion_unit, step, accumulate,
                                         pack_lanes, unpack_lanes, products_per_beat,
                                         dot_product, dot_product_beats)
from accelgen.num.numeric import int_range
from accelgen.verif.fusion_unit import random_beats, exhaustive_beats, simulate_stream

SIGNS = list(itertools.product((0, 1), (0, 1)))


@pytest.mark.parametrize("kwargs,error,message", [
    ({"acc_width": 17}, ValueError,
     r"^fusion_unit acc_width must be an integer from 18 to 48, not 17$"),
    ({"acc_width": 49}, ValueError,
     r"^fusion_unit acc_width must be an integer from 18 to 48, not 49$"),
    ({"pipeline": 6}, ValueError, r"^fusion_unit pipeline must be an integer from 0 to 5, not 6$"),
    ({"saturate": 1}, TypeError, r"^fusion_unit saturate must be a bool, not 1$"),
    ({"modes": ("8x8",)}, TypeError, r"^fusion_unit modes must be a string, not \('8x8',\)$"),
    ({"modes": "8x16"}, ValueError,
     r"^fusion_unit modes must be 'all' or a comma-separated list of AxW with A and W "
     r"from 2, 4, 8 \(e.g. '8x8,4x4'\), not '8x16'$"),
    ({"modes": ""}, ValueError, r"^fusion_unit modes must be 'all' or .* not ''$"),
])
def test_parameter_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        Params(**kwargs)


def test_modes_are_canonical():
    assert Params(modes="4x4, 8x8,4x4").modes == "8x8,4x4"
    assert Params(modes="4x4,8x8").mode_set == ((8, 8), (4, 4))
    every = ",".join(f"{a}x{w}" for a, w in reversed(ALL_MODES))
    assert Params(modes=every).modes == "all"
    assert Params(modes=every) == Params()


def test_derived_values_and_manifest():
    p = Params(pipeline=3, modes="8x8,2x2")
    assert (p.latency, p.throughput) == (4, 1)
    extra = p.manifest_extra()
    assert extra["products_per_beat"] == {"8x8": 1, "2x2": 16}
    assert extra["precision_codes"] == {"0": 2, "1": 4, "2": 8}
    assert [int(c.value) for c in Precision] == [PREC_CODE[2], PREC_CODE[4], PREC_CODE[8]]


@pytest.mark.parametrize("wa,ww", ALL_MODES)
def test_brick_roles_cover_every_digit_pair_once(wa, ww):
    """The generator's BitBrick assignment: every (product k, digit i, digit j) exactly
    once, both digits of the same product, shifted by 2(i + j), sign on top digits."""
    per, da, dw = products_per_beat(wa, ww), wa // 2, ww // 2
    roles = [brick_role(b, wa, ww) for b in range(16)]
    seen = set()
    for a_d, w_d, a_top, w_top, shift in roles:
        k, i = divmod(a_d, da)
        k_w, j = divmod(w_d, dw)
        assert k == k_w < per, "both digits must belong to the same product"
        assert shift == 2 * (i + j)
        assert (a_top, w_top) == (i == da - 1, j == dw - 1)
        seen.add((k, i, j))
    assert seen == {(k, i, j) for k in range(per) for i in range(da) for j in range(dw)}


@pytest.mark.parametrize("wa,ww", ALL_MODES)
def test_brick_shifts_split_by_group(wa, ww):
    """Hierarchical fusion: each brick's shift is a part its group of four shares
    plus a part inside the group, and a group's sum fits GROUP_WIDTH bits."""
    for b in range(16):
        group, local = brick_shifts(b, wa, ww)
        assert group + local == brick_role(b, wa, ww)[4]
        assert group == brick_shifts(b & ~3, wa, ww)[0] and local in (0, 2, 4)
    # Every value a brick can take (all digits, sign flags), the extremes per place.
    values = [x3 * y3 for x3 in range(-2, 4) for y3 in range(-2, 4)]
    lo = sum(min(values) << brick_shifts(b, wa, ww)[1] for b in range(4))
    hi = sum(max(values) << brick_shifts(b, wa, ww)[1] for b in range(4))
    assert -(1 << (GROUP_WIDTH - 1)) <= lo and hi < 1 << (GROUP_WIDTH - 1)


def test_lane_packing_round_trips():
    rng = np.random.default_rng(3)
    for width, signed in itertools.product((2, 4, 8), (False, True)):
        lo, hi = int_range(width, signed)
        values = rng.integers(lo, hi, (50, 32 // width), endpoint=True)
        assert (unpack_lanes(pack_lanes(values, width, signed), width, 32 // width,
                             signed) == values).all()
    assert pack_lanes([1, -1, 0, 1], 8, True) == 0x0100FF01
    with pytest.raises(ValueError, match=r"^signed 4-bit lanes must be in -8..7$"):
        pack_lanes([8], 4, True)
    with pytest.raises(ValueError, match=r"exceed 32 bits"):
        pack_lanes([0] * 5, 8, False)


@pytest.mark.parametrize("wa,ww", ALL_MODES)
@pytest.mark.parametrize("sa,sw", SIGNS)
def test_golden_step_is_the_exact_integer_dot_product(wa, ww, sa, sw):
    """The BitBrick decomposition equals sum(x * y) of the unpacked lanes: exhaustively
    over every operand pair in every lane, and for random full beats."""
    p, per = Params(), products_per_beat(wa, ww)
    a, w = exhaustive_beats(wa, ww, sa, sw)
    rng = np.random.default_rng(wa * 100 + ww * 10 + 2 * sa + sw)
    (lo_a, hi_a), (lo_w, hi_w) = int_range(wa, sa), int_range(ww, sw)
    a_random = rng.integers(lo_a, hi_a, (2000, per), endpoint=True)
    w_random = rng.integers(lo_w, hi_w, (2000, per), endpoint=True)
    a = np.concatenate([a, pack_lanes(a_random, wa, sa)])
    w = np.concatenate([w, pack_lanes(w_random, ww, sw)])
    got, error = step(p, a, w, PREC_CODE[wa], PREC_CODE[ww], sa, sw)
    want = (unpack_lanes(a, wa, per, sa) * unpack_lanes(w, ww, per, sw)).sum(axis=-1)
    assert not error.any()
    assert (got == want).all()


def test_golden_unsupported_modes():
    p = Params(modes="8x8,4x4")
    got, error = step(p, [0x55, 0x55, 0x55, 0x55], [0x33] * 4, [2, 1, 0, 3], [2, 1, 0, 2], 0, 0)
    assert error.tolist() == [False, False, True, True]
    assert got.tolist() == [0x55 * 0x33, 5 * 3 + 5 * 3, 0, 0]


def reference_packets(p, steps, errors, last):
    """Python integers, one beat at a time: docs/bitfusion.md's words, not the golden's code."""
    out, acc, over, err = [], 0, False, False
    lo, hi = -(1 << (p.acc_width - 1)), (1 << (p.acc_width - 1)) - 1
    for s, e, l in zip(steps, errors, last):
        total = acc + int(s)
        over |= not lo <= total <= hi
        err |= bool(e)
        if p.saturate:
            acc = min(max(total, lo), hi)
        else:
            acc = (total - lo) % (1 << p.acc_width) + lo
        if l:
            out.append((acc, over, err))
            acc, over, err = 0, False, False
    return out


@pytest.mark.parametrize("saturate", [False, True])
def test_golden_accumulator_matches_python_integers(saturate):
    p = Params(acc_width=18, saturate=saturate)
    rng = np.random.default_rng(5)
    steps = rng.integers(-40000, 65026, 20000)
    errors = rng.random(20000) < 0.01
    last = rng.random(20000) < 0.05
    last[-1] = True
    acc, over, err = accumulate(steps, errors, last, p.acc_width, p.saturate)
    assert list(zip(acc.tolist(), over.tolist(), err.tolist())) == \
        reference_packets(p, steps, errors, last)
    assert over.any() and not over.all()


@pytest.mark.parametrize("wa,ww", ALL_MODES)
def test_golden_dot_product_equals_numpy(wa, ww):
    rng = np.random.default_rng(wa * 10 + ww)
    for sa, sw in SIGNS:
        n = int(rng.integers(1, 200))
        x = rng.integers(*int_range(wa, sa), n, endpoint=True)
        y = rng.integers(*int_range(ww, sw), n, endpoint=True)
        assert dot_product(Params(), x, y, wa, ww, sa, sw) == (int(x @ y), False, False)
    a, w = dot_product_beats([1] * 3, [1] * 3, wa, ww, 0, 0)
    assert a.size == -(-3 // products_per_beat(wa, ww))


@pytest.mark.sim
@pytest.mark.parametrize("params", [Params(), Params(pipeline=0, modes="8x8,4x4"),
                                    Params(pipeline=2, acc_width=18),
                                    Params(pipeline=4, saturate=True, acc_width=18)],
                         ids=["default", "p0_two_modes", "p2_wrap18", "p4_sat18"])
def test_amaranth_simulator_under_stalls(params):
    seed = 77
    rng = np.random.default_rng(seed)
    beats = random_beats(rng, ALL_MODES, 300)  # includes modes the build may lack
    for beat, last in zip(beats, rng.random(len(beats)) < 0.25):
        beat["last"] = int(last)
    beats[-1]["last"] = 1
    for beat in beats[::17]:  # precision code 3 on either side
        beat["a_prec" if beat["w_signed"] else "w_prec"] = 3
    # The largest steps of either sign: past the 18-bit limit and back into range
    # (a clamped accumulator returns; overflow stays set for the packet).
    big = {"a": 255, "w": 255, "a_prec": 2, "w_prec": 2, "a_signed": 0, "w_signed": 0}
    neg = {"a": 0x80, "w": 255, "a_prec": 2, "w_prec": 2, "a_signed": 1, "w_signed": 0}
    beats += [{**big, "last": 0}] * 5 + [{**big, "last": 1}]
    beats += [{**big, "last": 0}] * 4 + [{**neg, "last": 0}] * 8 + [{**big, "last": 1}]
    beats += [{**neg, "last": 0}] * 6 + [{**big, "last": 0}] * 3 + [{**neg, "last": 1}]
    columns = {k: np.array([b[k] for b in beats]) for k in beats[0]}
    want = fusion_unit(params, *(columns[k] for k in (
        "a", "w", "a_prec", "w_prec", "a_signed", "w_signed", "last")))
    want = list(zip(want["acc"].tolist(), want["overflow"].tolist(),
                    want["mode_error"].tolist()))
    assert simulate_stream(params, beats, seed) == want, f"seed {seed}"
