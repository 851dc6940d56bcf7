# SPDX-License-Identifier: BSD-2-Clause
"""Overflow semantics at the extremes, through the RTL in Amaranth's simulator.

Every unit's component docstring has an ``Overflow:`` paragraph
(``tests/test_registry.py`` requires it). This file drives the extremes that
paragraph talks about through the RTL and compares the result with the golden
model *and* with the documented rule read independently (Python integers
reduced modulo ``2**acc_width``, the flag from the exact running sums, the
clamp bound): the operands' minimum and maximum codes in every combination,
packets just long enough to leave an accumulator's range (and packets that
land exactly on its bounds, where a flag must stay low), and vectors whose sums,
variances and outputs reach their extremes. Configurations are small so the
simulator is fast; the stimulus always asserts that it reaches the extreme it
is meant to (a wrap that did not happen would prove nothing).

Where a check already exists it is referenced, not repeated: "cocotb" names a
test of ``verif/<unit>.py``, run under Verilator on every preset and CI sweep
configuration but ``large`` (``tests/test_regression.py``).

===============  ===============================  =========================================
unit             at the extremes (docstring)      checked by
===============  ===============================  =========================================
bitbrick         cannot overflow: -6..9 fits      test_bitbrick.py: test_amaranth_simulator_
                 ``signed(6)``                    exhaustive (all 64 inputs), test_golden_
                                                  matches_the_spec_on_all_64_inputs (range)
int_mac          wraps modulo ``2**acc_width``,   test_int_mac_wraps; cocotb
                 no flag                          ``corners_and_wrap``
fusion_unit      ``overflow`` flag, then wraps    test_fusion_unit_step_extremes, test_
                 or (``saturate``) clamps; a      fusion_unit_flag_at_the_bounds; test_
                 step never overflows             fusion_unit.py: test_amaranth_simulator_
                                                  under_stalls[p2_wrap18, p4_sat18]; cocotb
                                                  ``overflow_and_saturation``
bitfusion_array  cannot overflow: ``acc_width     test_bitfusion_array_extremes_are_exact
                 >= 18 + ceil(log2 rows)``
ant_decoder      cannot overflow: widths hold     test_ant_decoder.py: test_amaranth_
                 every code                       simulator_every_format (every code up to
                                                  8 bits); test_ant_decoder_widest_codes
                                                  (16 bits)
ant_pe           ``overflow`` flag (product,      test_ant_pe_extreme_products, test_ant_pe_
                 beat or running sum out of       flag_at_the_bounds; test_ant_pe.py: test_
                 range), wraps                    amaranth_simulator_under_stalls; cocotb
                                                  ``overflow_corners``
olive_decoder    cannot overflow: widths hold     test_olive_decoder.py: test_amaranth_
                 every code                       simulator_every_word (every 4-bit word);
                                                  test_olive_decoder_extreme_words (8-bit)
olive_pe         ``overflow`` flag as ant_pe      test_olive_pe.py: test_amaranth_simulator_
                 (two products per beat), wraps   under_stalls (``extreme_beats``, a beat
                                                  sum out of range, a packet leaving the
                                                  range), test_golden_beat_sum_overflow;
                                                  cocotb ``overflow_corners``
index_match      cannot overflow: equality        test_index_match_extreme_blocks
                 only, one pending bit per pair
lnzd             cannot overflow: values pass     test_lnzd_extreme_vectors
                 through, ``index`` holds n - 1
nm_sparse        wraps modulo ``2**acc_width``,   test_nm_sparse_wraps; cocotb
                 no flag                          ``extremes_and_wrap``
gelu             saturates to signed              test_gelu_saturates_at_both_bounds; test_
                 ``out_bits``; no wrap inside     gelu.py: test_amaranth_simulator_every_
                                                  code (narrow outputs)
softmax          saturates at ``2**out_bits -     test_softmax_extreme_vectors; test_
                 1``; no wrap inside              softmax.py: test_every_short_vector
layernorm        saturates to signed              test_layernorm_extreme_vectors; test_
                 ``out_bits``; no wrap inside     layernorm.py: test_every_short_vector
systolic_array   wraps modulo ``2**acc_width``,   test_systolic_array_wraps (every PE
                 no flag, every PE type           type); cocotb
                                                  ``accumulator_wrap_corners``
requant          saturates to ``out_bits``        test_requant.py: test_output_saturates_
                 (signed or unsigned); the        at_both_bounds, test_srdhm_against_
                 input add, left shift and        gemmlowp (``INT32_MIN**2``), test_
                 high multiply saturate           amaranth_simulator_every_code; cocotb
                                                  ``corner_combinations``
fp_decoder       cannot overflow: widths hold     test_fp_decoder.py: test_amaranth_
                 every code                       simulator_every_format, test_icarus_every_
                                                  format_against_ml_dtypes
fp_mac           ``fp32``: ``±inf`` (IEEE);       test_fp_mac.py: test_golden_fp32_rules,
                 ``exact``: wraps with a sticky   test_golden_edge_cases, test_fp32_adder_
                 ``overflow`` flag                matches_numpy; cocotb ``extremes``
mx_dot           cannot overflow (exact);         test_mx_dot.py: test_widths_hold_the_
                 ``fp32``: ``±inf`` or a signed   largest_products_exactly, test_special_
                 zero                             results_are_reached; cocotb ``special_
                                                  blocks_under_stalls``
===============  ===============================  =========================================

Unprefixed names are tests of this file.
"""

import itertools

import numpy as np
import pytest

from accelgen.num.fixed import codes
from accelgen.num.formats import AntFormat, TYPE_CODE
from accelgen.golden.ant_decoder import decode as ant_decode
from accelgen.golden.ant_pe import ant_pe
from accelgen.golden.bitfusion_array import bitfusion_array, gemm_beats
from accelgen.golden.fusion_unit import (PREC_CODE, fusion_unit as fusion_model, pack_lanes,
                                          products_per_beat)
from accelgen.golden.gelu import gelu, gelu_real
from accelgen.golden.index_match import index_match
from accelgen.golden.int_mac import int_mac, wrap
from accelgen.golden.layernorm import layernorm
from accelgen.golden.lnzd import lnzd
from accelgen.golden.nm_sparse import nm_sparse
from accelgen.golden.olive_decoder import decode_pairs
from accelgen.golden.softmax import softmax
from accelgen.golden.systolic_array import gemm
from accelgen.generators import (ant_decoder, ant_pe as ant_pe_gen, bitfusion_array as bfa_gen,
                                 fusion_unit as fusion_gen, gelu as gelu_gen,
                                 index_match as im_gen, int_mac as int_mac_gen,
                                 layernorm as ln_gen, lnzd as lnzd_gen, nm_sparse as nm_gen,
                                 olive_decoder, softmax as softmax_gen, systolic_array as sa_gen)
from accelgen.num.numeric import int_range
from accelgen.verif.amaranth_sim import run_stream, sweep_combinational
from accelgen.verif.fusion_unit import simulate_stream as fusion_stream
from accelgen.verif.gelu import run_rtl as gelu_rtl
from accelgen.verif.index_match import run_index_match
from accelgen.verif.layernorm import run_rtl as layernorm_rtl
from accelgen.verif.nm_sparse import run_rtl as nm_sparse_rtl
from accelgen.verif.softmax import run_rtl as softmax_rtl
from accelgen.verif.systolic_array import amaranth_gemm, assemble, extreme_gemms
from accelgen.verif.testing import STRESS, reference_packets

pytestmark = pytest.mark.sim


def signed_reading(value, width, signed=True):
    """``value`` modulo ``2**width``, read as two's complement when ``signed``."""
    value %= 1 << width
    return value - (1 << width) if signed and value >> (width - 1) else value


def run_packets(dut, beats, results, read):
    """Offer ``beats`` on ``dut.i`` back to back; return ``read(payload)`` of
    ``results`` output beats."""
    return run_stream(dut, beats, results, max_cycles=20 * len(beats) + 200, read=read)


# --- int_mac: wraps modulo 2**acc_width, no flag --------------------------------------

@pytest.mark.parametrize("p", [
    int_mac_gen.Params(a_width=4, b_width=4, acc_width=8, pipeline=0),
    int_mac_gen.Params(a_width=4, b_width=4, acc_width=8, a_signed=False, b_signed=False),
    int_mac_gen.Params(a_width=4, b_width=3, acc_width=7, a_signed=False, pipeline=2),
    int_mac_gen.Params(a_width=32, b_width=32, acc_width=64, pipeline=1),
], ids=["s4_acc8_p0", "u4_acc8", "u4xs3_acc7_p2", "s32_acc64"])
def test_int_mac_wraps(p):
    """Every pair of extreme operands alone, then each pair repeated until the sum
    has passed ``2**acc_width`` (so it wraps at least once, upwards or downwards)."""
    a_ext, b_ext = int_range(p.a_width, p.a_signed), int_range(p.b_width, p.b_signed)
    packets = [[(x, y)] for x in a_ext for y in b_ext]
    for x, y in itertools.product(a_ext, b_ext):
        if x * y:
            packets.append([(x, y)] * ((1 << p.acc_width) // abs(x * y) + 2))
    a, b, last = (np.array(column) for column in zip(*(
        (x, y, k == len(packet) - 1) for packet in packets for k, (x, y) in enumerate(packet))))
    exact = [sum(x * y for x, y in packet) for packet in packets]
    lo, hi = int_range(p.acc_width, p.acc_signed)
    assert any(not lo <= v <= hi for v in exact), "the stimulus leaves the range"
    want = int_mac(p, a, b, last).tolist()
    assert want == [signed_reading(v, p.acc_width, p.acc_signed) for v in exact]
    beats = [{"a": int(x), "b": int(y), "last": int(l)} for x, y, l in zip(a, b, last)]
    assert run_packets(int_mac_gen.IntMAC(p), beats, len(want), int) == want


# --- fusion_unit: wrap or clamp, overflow flag ----------------------------------------

FUSION = [fusion_gen.Params(acc_width=18),
          fusion_gen.Params(acc_width=18, saturate=True, pipeline=3)]


@pytest.mark.parametrize("p", FUSION, ids=["wrap18", "sat18_p3"])
def test_fusion_unit_step_extremes(p):
    """Every mode, signedness and pair of extreme elements, all lanes alike, one
    beat per packet: the step is exactly ``P * x * y`` and never sets ``overflow``
    (``|step| <= 65025 < 2**17``, so a step fits the narrowest accumulator)."""
    beats, exact = [], []
    for (wa, ww), sa, sw in itertools.product(p.mode_set, (0, 1), (0, 1)):
        per = products_per_beat(wa, ww)
        for x, y in itertools.product(int_range(wa, sa), int_range(ww, sw)):
            beats.append({"a": int(pack_lanes([x] * per, wa, sa)),
                          "w": int(pack_lanes([y] * per, ww, sw)),
                          "a_prec": PREC_CODE[wa], "w_prec": PREC_CODE[ww],
                          "a_signed": sa, "w_signed": sw, "last": 1})
            exact.append(per * x * y)
    assert max(exact) == 65025 and min(exact) == -32640
    got = fusion_stream(p, beats, seed=0, idle=0.0, backpressure=0.0)
    assert got == [(v, False, False) for v in exact]


def _fusion_beat(x, y, sa, sw):
    """An 8x8 beat of one product ``x * y``."""
    return {"a": x & 0xFF, "w": y & 0xFF, "a_prec": PREC_CODE[8], "w_prec": PREC_CODE[8],
            "a_signed": sa, "w_signed": sw}


@pytest.mark.parametrize("p", FUSION, ids=["wrap18", "sat18_p3"])
def test_fusion_unit_flag_at_the_bounds(p):
    """Packets summing exactly to the accumulator's bounds (no flag, exact) and one
    step past them (flag; wrapped to the other bound, or clamped)."""
    lo, hi = int_range(p.acc_width, True)
    up = [(255, 255, 0, 0)] * 2 + [(255, 4, 0, 0), (1, 1, 0, 0)]            # 2**17 - 1
    down = [(-128, 255, 1, 0)] * 4 + [(-128, 4, 1, 0)]                      # -2**17
    packets = [up, up + [(1, 1, 0, 0)], down, down + [(-1, 1, 1, 0)],
               up + [(1, 1, 0, 0)] + [(-1, 1, 1, 0)] * 3]   # out and back: flag stays
    beats, want = [], []
    for packet in packets:
        beats += [{**_fusion_beat(*b), "last": int(k == len(packet) - 1)}
                  for k, b in enumerate(packet)]
        acc, flag = 0, False
        for x, y, _sa, _sw in packet:
            total = acc + x * y
            flag |= not lo <= total <= hi
            acc = min(max(total, lo), hi) if p.saturate else signed_reading(total, p.acc_width)
        want.append((acc, flag, False))
    assert [w[:2] for w in want[:4]] == [(hi, False), (lo if not p.saturate else hi, True),
                                         (lo, False), (hi if not p.saturate else lo, True)]
    golden = fusion_model(p, *(np.array([b[k] for b in beats]) for k in (
        "a", "w", "a_prec", "w_prec", "a_signed", "w_signed", "last")))
    assert list(zip(*(golden[k].tolist() for k in ("acc", "overflow", "mode_error")))) == want
    assert fusion_stream(p, beats, seed=0, idle=0.0, backpressure=0.0) == want


# --- bitfusion_array: cannot overflow at the narrowest acc_width ----------------------

def test_bitfusion_array_extremes_are_exact():
    """At ``acc_width = 18 + ceil(log2 rows)``, every mode, signedness and pair of
    extreme elements filling a whole column (``rows * P`` products): exact in the
    golden model; through the RTL (Amaranth's simulator) the square modes and one
    mixed one by default, every mode with ACCELGEN_STRESS=2. (One Fusion Unit's
    step at 18 bits: test_fusion_unit_step_extremes.)"""
    p = bfa_gen.Params(rows=2, cols=1, acc_width=19)
    assert p.acc_width == p.min_acc_width
    everything = _extreme_column_beats(p, p.mode_set)
    want = bitfusion_array(p, everything[0])
    assert [(list(acc), err) for acc, err in want] == everything[1]
    modes = p.mode_set if STRESS >= 2 else [m for m in p.mode_set
                                            if m in ((8, 8), (4, 4), (2, 2), (8, 2))]
    assert len(modes) == (len(p.mode_set) if STRESS >= 2 else 4)
    beats, exact = _extreme_column_beats(p, modes)
    dut = bfa_gen.BitFusionArray(p)
    got = run_packets(dut, beats, len(exact),
                      lambda out: ([int(v) for v in out.acc], bool(out.mode_error)))
    assert got == exact


def _extreme_column_beats(p, modes):
    """Beats and exact results of one-row GEMMs whose column is full of one pair of
    extreme elements, for every mode of ``modes`` and signedness."""
    beats, exact = [], []
    for (wa, ww), sa, sw in itertools.product(modes, (0, 1), (0, 1)):
        k = p.rows * products_per_beat(wa, ww)
        for x, y in itertools.product(int_range(wa, sa), int_range(ww, sw)):
            beats += gemm_beats(p, np.full((1, k), x), np.full((k, p.cols), y), wa, ww, sa, sw)
            exact.append(([k * x * y] * p.cols, False))
    return beats, exact


# --- ant_decoder / olive_decoder: widths hold every code -----------------------------

def _decode_comb(dut, words, ports):
    return sweep_combinational(dut, [{"code": word} for word in words], ports)


def _extreme_indices(*arrays):
    """Indices of the minimum and maximum of each array."""
    return sorted({int(f(a)) for a in arrays for f in (np.argmin, np.argmax)})


@pytest.mark.parametrize("kwargs", [dict(fmt="int", bits=16), dict(fmt="int", bits=16,
                                                                   signed=True),
                                    dict(fmt="flint", bits=16),
                                    dict(fmt="flint", bits=16, signed=True)],
                         ids=["int16", "int16_s", "flint16", "flint16_s"])
def test_ant_decoder_widest_codes(kwargs):
    """16-bit codes (wider than the exhaustive test's 8): the codes of the largest
    and smallest value, exponent and mantissa, and the bit patterns at the ends."""
    p = ant_decoder.Params(**kwargs)
    fmt = AntFormat(p.fmt, p.bits, p.signed, p.exp_bits)
    every = np.arange(1 << p.bits)
    exp, mant = ant_decode(fmt, every)
    value = np.array([int(m) << int(e) for e, m in zip(exp, mant)], dtype=object)
    top = 1 << (p.bits - 1)
    picked = sorted(set(_extreme_indices(exp, mant, value))
                    | {0, 1, top - 1, top, top + 1, 2 * top - 1, top >> 1})
    got = _decode_comb(ant_decoder.AntDecoder(p), picked, ("exp", "mant"))
    assert got == [(int(exp[c]), int(mant[c])) for c in picked]
    assert max(abs(int(m)) for m in mant) == fmt.mant_max and max(exp) == fmt.exp_max


@pytest.mark.parametrize("kwargs", [dict(bits=8, exp_bits=4, man_bits=3, bias=4),
                                    dict(bits=8, exp_bits=2, man_bits=5, bias=2),
                                    dict(bits=8, normal="flint", exp_bits=4, man_bits=3,
                                         bias=9)],
                         ids=["8int_e4m3_b4", "8int_e2m5_b2", "8flint_e4m3_b9"])
def test_olive_decoder_extreme_words(kwargs):
    """8-bit pairs (the exhaustive Amaranth test samples every 7th word): the words
    of the largest and smallest element values, exponents and mantissas."""
    p = olive_decoder.Params(**kwargs)
    words = np.arange(1 << (2 * p.bits))
    exp, mant = decode_pairs(p.format, words)
    value = np.vectorize(lambda e, m: int(m) << int(e), otypes=[object])(exp, mant)
    picked = _extreme_indices(*(a[:, k] for a in (exp, mant, value) for k in (0, 1)))
    got = _decode_comb(olive_decoder.OliveDecoder(p), picked,
                       ("exp0", "mant0", "exp1", "mant1"))
    assert got == [(int(exp[w, 0]), int(mant[w, 0]), int(exp[w, 1]), int(mant[w, 1]))
                   for w in picked]


# --- ant_pe: wraps, overflow flag -----------------------------------------------------

def _ant_extremes(p, signed):
    """``(type code, code, value)`` of each built type's largest and most negative value."""
    out = []
    for kind in p.kinds:
        exp, mant = ant_decode(AntFormat(kind, p.bits, signed, p.float_exp),
                               np.arange(1 << p.bits))
        values = [int(m) << int(e) for e, m in zip(exp, mant)]
        for code in sorted({values.index(max(values)), values.index(min(values))}):
            out.append((TYPE_CODE[kind], code, values[code]))
    return out


def _ant_pe_check(p, packets):
    """``packets`` of ``(a_type, a, w_type, w, exact product)``: RTL, golden and the
    Python-integer reading of the accumulator contract agree."""
    beats = [(a, w, ta, tw, int(k == len(packet) - 1), v)
             for packet in packets for k, (ta, a, tw, w, v) in enumerate(packet)]
    a, w, a_type, w_type, last, values = zip(*beats)
    result = ant_pe(p, np.array(a), np.array(w), np.array(a_type), np.array(w_type),
                    np.array(last))
    want = list(zip(result["acc"].tolist(), result["overflow"].tolist(),
                    result["type_error"].tolist()))
    assert [r[:2] for r in want] == reference_packets([[v] for v in values], last,
                                                      p.acc_width)
    dut = ant_pe_gen.AntPE(p)
    got = run_packets(dut, [dict(a=x, w=y, a_type=s, w_type=t, last=l)
                            for x, y, s, t, l, _v in beats], len(want),
                      lambda o: (int(o.acc), bool(o.overflow), bool(o.type_error)))
    assert got == want
    return want


@pytest.mark.parametrize("p", [ant_pe_gen.Params(bits=8, a_signed=True, acc_width=16,
                                                 pipeline=0),
                               ant_pe_gen.Params(acc_width=16, w_signed=False, pipeline=2)],
                         ids=["n8_signed_acc16_p0", "n4_unsigned_acc16_p2"])
def test_ant_pe_extreme_products(p):
    """Every built type pair, the largest and most negative code of each, alone:
    products past the range (shifts wider than the accumulator among them) set
    ``overflow`` and leave their value modulo ``2**acc_width``."""
    packets = [[(ta, a, tw, w, va * vw)] for (ta, a, va), (tw, w, vw) in itertools.product(
        _ant_extremes(p, p.a_signed), _ant_extremes(p, p.w_signed))]
    want = _ant_pe_check(p, packets)
    assert any(flag for _acc, flag, _e in want) and not all(flag for _acc, flag, _e in want)


def test_ant_pe_flag_at_the_bounds():
    """int8 x int8 at acc 16: running sums landing exactly on ``2**15 - 1`` and
    ``-2**15`` (no flag) and one past them (flag, wrapped)."""
    p = ant_pe_gen.Params(bits=8, a_signed=True, acc_width=16)
    i = TYPE_CODE["int"]

    def beat(x, y):
        return (i, x & 0xFF, i, y & 0xFF, x * y)

    up = [beat(-128, -128), beat(127, 127), beat(127, 2)]        # 32767
    down = [beat(-128, 127)] * 2 + [beat(-128, 2)]               # -32768
    want = _ant_pe_check(p, [up, up + [beat(1, 1)], down, down + [beat(-1, 1)]])
    assert want == [(32767, False, False), (-32768, True, False),
                    (-32768, False, False), (32767, True, False)]


# --- index_match, lnzd: no arithmetic on the data ------------------------------------

@pytest.mark.parametrize("p", [im_gen.Params(length=8, index_width=5, pairs=3),
                               im_gen.Params(length=8, index_width=3, pairs=2, sorted=True)],
                         ids=["l8_iw5_p3", "l8_iw3_sorted"])
def test_index_match_extreme_blocks(p):
    """The densest block (every index the top code, all valid: ``length**2`` matches,
    ``length`` when sorted), index 0, and top codes differing in one bit only."""
    n, top = p.length, (1 << p.index_width) - 1
    ones = [1] * n
    unique = list(range(top - n + 1, top + 1))
    full = unique if p.sorted else [top] * n
    blocks = [dict(w_idx=full, a_idx=full, w_valid=ones, a_valid=ones),
              dict(w_idx=unique if p.sorted else [0] * n, a_idx=unique[::-1] if p.sorted
                   else [0] * n, w_valid=ones, a_valid=ones),
              dict(w_idx=[top] * n, a_idx=[top - 1] * n, w_valid=ones, a_valid=ones),
              dict(w_idx=[top] * n, a_idx=[top >> 1] * n, w_valid=ones, a_valid=ones),
              dict(w_idx=full, a_idx=full, w_valid=ones, a_valid=[0] * n)]
    want = index_match(p, blocks)
    first = next(k for k, beat in enumerate(want) if beat[3]) + 1   # the densest block
    assert sum(sum(beat[2]) for beat in want[:first]) == (n if p.sorted else n * n)
    assert run_index_match(p, blocks, seed=0) == want


@pytest.mark.parametrize("p", [lnzd_gen.Params(n=9, width=32, fanin=3),
                               lnzd_gen.Params(n=9, width=32, fanin=2, signed=False),
                               lnzd_gen.Params(n=64, width=16)],
                         ids=["n9_s32_f3", "n9_u32_f2", "n64_s16"])
def test_lnzd_extreme_vectors(p):
    """Every entry at the minimum or maximum code, alternating, and only the last
    index set (to the top code, or to the bottom non-zero one): values come out
    unchanged and the index reaches ``n - 1``."""
    lo, hi = int_range(p.width, p.signed)
    k = np.arange(p.n)
    bottom = lo if p.signed else 1
    vectors = np.array([np.full(p.n, lo), np.full(p.n, hi), np.where(k % 2, lo, hi),
                        np.where(k == p.n - 1, hi, 0), np.where(k == p.n - 1, bottom, 0)])
    want = lnzd(p, vectors)
    assert (p.n - 1, hi, 1, 1) in want
    got = run_packets(lnzd_gen.LNZD(p), [{"data": [int(v) for v in x]} for x in vectors],
                      len(want), lambda b: (int(b.index), int(b.value), int(b.nz), int(b.last)))
    assert got == want


# --- nm_sparse: wraps modulo 2**acc_width, no flag -----------------------------------

@pytest.mark.parametrize("p", [
    nm_gen.Params(groups=2, a_width=4, w_width=4, acc_width=8, pipeline=0),
    nm_gen.Params(groups=2, a_width=4, w_width=4, acc_width=8, a_signed=False,
                  w_signed=False),
    nm_gen.Params(n=3, m=8, groups=1, a_width=3, w_width=4, acc_width=7, a_signed=False,
                  pipeline=2),
    nm_gen.Params(n=3, m=4, groups=2, a_width=32, w_width=32, acc_width=64),
], ids=["s4_acc8_p0", "u4_acc8", "3of8_u3xs4_acc7_p2", "s32_acc64"])
def test_nm_sparse_wraps(p):
    """Every pair of extreme operands in every kept position (the top positions
    selected), alone and repeated past ``2**acc_width``; at 32 bits one beat of
    six ``2**62`` products already wraps."""
    meta = [p.m - p.n + k for _g in range(p.groups) for k in range(p.n)]
    packets = []
    for x, y in itertools.product(int_range(p.a_width, p.a_signed),
                                  int_range(p.w_width, p.w_signed)):
        step = x * y * p.groups * p.n
        packets.append(((x, y), 1, step))
        if step:
            repeats = (1 << p.acc_width) // abs(step) + 2
            packets.append(((x, y), repeats, step * repeats))
    a, w, m, last = [], [], [], []
    for (x, y), repeats, _exact in packets:
        a += [[x] * (p.groups * p.m)] * repeats
        w += [[y] * (p.groups * p.n)] * repeats
        m += [meta] * repeats
        last += [0] * (repeats - 1) + [1]
    lo, hi = int_range(p.acc_width, p.acc_signed)
    assert any(not lo <= e <= hi for *_x, e in packets), "the stimulus leaves the range"
    acc, error = nm_sparse(p, np.array(a), np.array(w), np.array(m), np.array(last))
    want = list(zip(acc.tolist(), error.tolist()))
    assert want == [(signed_reading(e, p.acc_width, p.acc_signed), False)
                    for *_x, e in packets]
    assert nm_sparse_rtl(p, a, w, m, last, seed=0) == want


# --- gelu, softmax, layernorm: saturate -----------------------------------------------

@pytest.mark.parametrize("method", ["lut", "pwl", "ibert"])
def test_gelu_saturates_at_both_bounds(method):
    """Outputs of range ``[-0.125, 0.109]`` (4 bits, 6 fraction bits): GELU leaves
    it above (x > 0.11) and below (its minimum is -0.17 near x = -0.75). Every
    code: the RTL equals the golden model, reaches both bounds, and gives the
    bound wherever GELU is more than 2 LSBs outside it."""
    p = gelu_gen.Params(method=method, in_bits=10, in_frac=8, out_bits=4, out_frac=6,
                        lut_bits=10, lanes=2)
    x = codes(p.in_bits, True)
    got = gelu_rtl(p, x, seed=0)
    assert got.tolist() == gelu(p, x).tolist()
    lo, hi = int_range(p.out_bits, True)
    ideal = gelu_real(x / 2 ** p.in_frac) * 2 ** p.out_frac
    assert (got[ideal > hi + 2] == hi).all() and (got[ideal < lo - 2] == lo).all()
    assert (ideal < lo - 2).any() and got.min() == lo and got.max() == hi


SOFTMAX = [softmax_gen.Params(n=8),
           softmax_gen.Params(n=8, method="base2", lanes=2, recip_steps=4),
           softmax_gen.Params(n=8, method="ibert", in_bits=16, in_frac=10, lanes=4,
                              recip_steps=4)]
SOFTMAX_LONGEST = [softmax_gen.Params(method=method, n=1024, lanes=16, in_bits=16,
                                      in_frac=10, recip_steps=4)
                   for method in ("lut", "base2", "ibert")]


@pytest.mark.parametrize("p", SOFTMAX + SOFTMAX_LONGEST,
                         ids=lambda p: f"{p.method}_n{p.n}_i{p.in_bits}")
def test_softmax_extreme_vectors(p):
    """All equal at the bottom, zero and top code (the largest exp sum, ``n * e(0)``,
    up to ``n = 1024`` of 16-bit codes), one top code among bottom codes at each end
    (an output of 1.0, above the ``2**out_bits - 1`` bound at out_frac = out_bits),
    and alternating ends."""
    lo, hi = int_range(p.in_bits, True)
    k = np.arange(p.n)
    vectors = np.array([np.full(p.n, lo), np.zeros(p.n, int), np.full(p.n, hi),
                        np.where(k == 0, hi, lo), np.where(k == p.n - 1, hi, lo),
                        np.where(k % 2, lo, hi)])
    want = softmax(p, vectors)
    top = (1 << p.out_bits) - 1
    assert want.max() <= top
    # An output of 1.0 saturates to the top code (ibert's exp(0), just under 1.0,
    # lands there as well at out_frac = out_bits).
    assert want[3, 0] == want[4, -1] == top == (1 << p.out_frac) - 1
    assert (softmax_rtl(p, vectors, seed=0) == want).all()


LAYERNORM = [ln_gen.Params(channels=8, out_bits=4, out_frac=2),
             ln_gen.Params(channels=8, method="rsqrt", lanes=2, out_bits=4, out_frac=2),
             ln_gen.Params(channels=4, lanes=2, affine=True, out_bits=6, out_frac=2,
                           stats_steps=4)]
LAYERNORM_LONGEST = [ln_gen.Params(method=method, channels=1024, lanes=16, in_bits=16,
                                   in_frac=10, out_bits=16, out_frac=12, stats_steps=4)
                     for method in ("isqrt", "rsqrt")]


@pytest.mark.parametrize("p", LAYERNORM + LAYERNORM_LONGEST,
                         ids=["isqrt", "rsqrt", "affine", "isqrt_c1024_i16", "rsqrt_c1024_i16"])
def test_layernorm_extreme_vectors(p):
    """One top code among bottom codes and the reverse (``+-sqrt(C - 1)`` sigma, past
    the output range: the bounds), all equal at the ends (the largest ``S2``,
    ``V = 0``), alternating ends (the largest variance), up to ``C = 1024`` of
    16-bit codes; affine: ``gamma`` and ``beta`` at their extremes push both ways."""
    lo, hi = int_range(p.in_bits, True)
    k = np.arange(p.channels)
    x = np.array([np.where(k == 0, hi, lo), np.where(k == 0, lo, hi), np.full(p.channels, lo),
                  np.full(p.channels, hi), np.where(k % 2, lo, hi)])
    out_lo, out_hi = int_range(p.out_bits, True)
    g_lo, g_hi = int_range(p.gamma_bits, True)
    if p.affine:
        x = np.concatenate([x, x])
        gamma = np.array([np.full(p.channels, g) for g in [g_hi] * 5 + [g_lo] * 5])
        beta = np.array([np.full(p.channels, b) for b in [out_hi] * 5 + [out_lo] * 5])
    else:
        gamma = beta = None
    want = layernorm(p, x, gamma, beta)
    assert want[0, 0] == out_hi and want[5 if p.affine else 1, 0] == out_lo
    got = layernorm_rtl(p, x, gamma, beta, seed=0)
    assert (got == want).all()


# --- systolic_array: wraps modulo 2**acc_width, no flag -------------------------------

@pytest.mark.parametrize("p,k", [
    (sa_gen.Params(rows=2, cols=2, a_width=4, w_width=4, acc_width=8), 7),
    (sa_gen.Params(rows=2, cols=2, dataflow="os", a_width=4, w_width=3, acc_width=7,
                   w_signed=False), 7),
    (sa_gen.Params(rows=1, cols=1, pe="fusion_unit", acc_width=18), 5),
    (sa_gen.Params(rows=2, cols=1, pe="ant_pe", a_width=4, w_width=4, acc_width=16), 17),
    (sa_gen.Params(rows=1, cols=2, pe="olive_pe", dataflow="os", a_width=4, w_width=4,
                   acc_width=16), 5),
], ids=["ws_s4_acc8", "os_s4xu3_acc7", "ws_fusion_acc18", "ws_ant4_acc16", "os_olive4_acc16"])
def test_systolic_array_wraps(p, k):
    """``extreme_gemms`` (every element an extreme of the PE's operands, every sign
    combination), one ``rows x cols`` output tile over ``K`` long enough to leave
    the range: results are ``A @ B`` modulo ``2**acc_width`` for every PE type."""
    m, n = p.rows, p.cols
    lo, hi = int_range(p.acc_width, p.acc_signed)
    left = 0
    for label, a, b, a_mode, w_mode, exact in extreme_gemms(p, m, k, n):
        want = wrap(np.asarray(exact).astype(np.uint64), p.acc_width, p.acc_signed)
        assert (gemm(p, a, b, a_mode, w_mode) == want).all(), label
        exact_int = [signed_reading(int(v), 64) for v in np.asarray(exact).ravel()]
        left += any(not lo <= v <= hi for v in exact_int)
        rows, _cycles = amaranth_gemm(p, a, b, a_mode, w_mode)
        assert (assemble(p, rows, *a.shape, b.shape[1]) == want).all(), label
    assert left, "some GEMM leaves the accumulator range"
