# SPDX-License-Identifier: BSD-2-Clause
"""olive_decoder: parameter errors, golden decoder against docs/formats.md and a literal
scalar reading, the outlier-victim encoder's invariants, Amaranth simulator; the
Verilator regression is in tests/test_regression.py."""

import functools

import numpy as np
import pytest

from accelgen.num.formats import Abfloat
from accelgen.generators.olive_decoder import OliveDecoder, Params
from accelgen.golden.ant_decoder import values as ant_values
from accelgen.golden.olive_decoder import (olive_decoder, decode_pairs, pair_values,
                                           encode_pairs, quantize, normal_values,
                                           outlier_values, default_format, scale_search)
from accelgen.verif.amaranth_sim import sweep_combinational


@pytest.mark.parametrize("kwargs,error,message", [
    ({"bits": 6}, ValueError, r"^olive_decoder bits must be 4 or 8, not 6$"),
    ({"bits": 16}, ValueError, r"^olive_decoder bits must be an integer from 4 to 8, not 16$"),
    ({"normal": "pot"}, ValueError,
     r"^olive_decoder normal must be one of 'int', 'flint', not 'pot'$"),
    ({"bits": 8}, ValueError,
     r"^olive_decoder exp_bits \+ man_bits must be bits - 1 = 7 \(sign \+ exponent \+ "
     r"mantissa fill an element\), not 3$"),
    ({"exp_bits": 0, "man_bits": 3}, ValueError,
     r"^olive_decoder exp_bits must be an integer from 1 to 3, not 0$"),
    ({"bias": -1}, ValueError, r"^olive_decoder bias must be an integer from 0 to 32, not -1$"),
    ({"bias": "2"}, TypeError, r"^olive_decoder bias must be an integer, not '2'$"),
])
def test_parameter_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        Params(**kwargs)


FORMATS = [Params().format, Params(normal="flint", bias=3).format,
           Params(bias=0).format, Params(exp_bits=3, man_bits=0).format,
           Params(bits=8, exp_bits=4, man_bits=3, bias=4).format,
           Params(bits=8, exp_bits=2, man_bits=5, bias=2, normal="flint").format]


def test_abfloat_magnitudes_match_the_spec():
    assert Abfloat(2, 1, 2).magnitudes() == [12, 16, 24, 32, 48, 64, 96]
    assert Abfloat(2, 1, 3).magnitudes() == [24, 32, 48, 64, 96, 128, 192]
    assert Abfloat(2, 1, 0).magnitudes() == [3, 4, 6, 8, 12, 16, 24]  # the lecture's table
    # The default biases start just above the normal range.
    assert Params().format.min_bias() == 2
    assert Params(normal="flint").format.min_bias() == 3
    assert default_format(8).outlier == Abfloat(4, 3, 4)


def literal(fmt, code, partner):
    """docs/formats.md read literally for one element (Python integers)."""
    n, ident = fmt.bits, 1 << (fmt.bits - 1)
    if code == ident:
        return 0
    sign = -1 if code >> (n - 1) else 1
    mag = code & (ident - 1)
    if partner == ident:
        ab = fmt.outlier
        if mag == 0:
            return 0
        e, f = mag >> ab.man_bits, mag % (1 << ab.man_bits)
        return sign * (2 ** ab.man_bits + f) * 2 ** (e + ab.bias)
    if fmt.normal == "int":
        return code - (1 << n) if code >> (n - 1) else code
    return _normal_values(fmt.normal_format)[code]


@functools.lru_cache(maxsize=None)
def _normal_values(normal_format):
    """The normal format's value table, read once per format (the exhaustive
    8-bit test reads it 2**17 times)."""
    return ant_values(normal_format)


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f"{f.bits}{f.normal}_b{f.outlier.bias}")
def test_golden_matches_a_literal_reading(fmt):
    n = fmt.bits
    words = np.arange(1 << (2 * n))
    got = pair_values(fmt, words)
    lo, hi = words & ((1 << n) - 1), words >> n
    want = [[literal(fmt, int(x), int(y)), literal(fmt, int(y), int(x))]
            for x, y in zip(lo, hi)]
    assert got.tolist() == want
    exp, mant = decode_pairs(fmt, words)
    assert exp.max() < 1 << fmt.exp_width
    assert np.abs(mant).max() < 1 << (fmt.mant_width - 1)


def test_pair_layout_victims_and_normals():
    fmt = Params().format
    # 0x3B: element 0 = 0xB = -5, element 1 = 3 (both normal int4).
    assert pair_values(fmt, [0x3B]).tolist() == [[-5, 3]]
    # 0x83: element 1 is the identifier (victim), element 0 = abfloat 011 = 24.
    assert pair_values(fmt, [0x83]).tolist() == [[24, 0]]
    # 0xF8: element 0 is the victim, element 1 = abfloat -(111) = -96.
    assert pair_values(fmt, [0xF8]).tolist() == [[0, -96]]
    assert pair_values(fmt, [0x88, 0x08, 0x80]).tolist() == [[0, 0], [0, 0], [0, 0]]
    with pytest.raises(ValueError, match=r"^OliVe pair words must be in 0..255$"):
        decode_pairs(fmt, [256])


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f"{f.bits}{f.normal}_b{f.outlier.bias}")
@pytest.mark.parametrize("keep", ["larger", "left"])
def test_encoder_invariants(fmt, keep):
    rng = np.random.default_rng(11)
    top = max(outlier_values(fmt))
    x = rng.normal(0, fmt.normal_max / 2, 4000)
    big = rng.random(x.size) < 0.1
    x[big] = rng.uniform(-1.5 * top, 1.5 * top, big.sum())
    x[:6] = [fmt.normal_max + 0.5, -fmt.normal_max - 0.5, top * 2, -top * 2, top, top]
    words = encode_pairs(fmt, x, keep=keep)
    got = pair_values(fmt, words).astype(np.float64).ravel()
    n, ident = fmt.bits, fmt.identifier
    lo, hi = words & ((1 << n) - 1), words >> n
    assert not ((lo == ident) & (hi == ident)).any(), "two victims in a pair"
    normal = np.array(sorted(normal_values(fmt)), dtype=np.float64)
    every = np.array(sorted(set(normal_values(fmt)) | set(outlier_values(fmt))), np.float64)
    dist = np.abs(every[None, :] - x[:, None])
    nearest = np.where(dist == dist.min(axis=1, keepdims=True), every[None, :], -np.inf).max(1)
    is_outlier = ~np.isin(nearest, normal)
    pairs = is_outlier.reshape(-1, 2)
    victims = np.stack([lo == ident, hi == ident], axis=1)
    # A pair has a victim exactly when it holds an outlier; victims read 0; the kept
    # element (every non-victim) is the nearest representable value.
    assert (victims.any(axis=1) == pairs.any(axis=1)).all()
    flat_victims = victims.ravel()
    assert (got[flat_victims] == 0).all()
    assert (got[~flat_victims] == nearest[~flat_victims]).all()
    both = pairs.all(axis=1)
    mags = np.abs(x).reshape(-1, 2)
    kept_left = ~victims[:, 0]
    if keep == "left":
        assert kept_left[both].all()
    else:
        assert (kept_left[both] == (mags[both, 0] >= mags[both, 1])).all()
    assert both.any() and pairs.any() and (~pairs).all(axis=1).any()
    assert np.allclose(quantize(fmt, x, keep=keep), got)


def test_keep_larger_compares_the_values_not_their_clipped_codes():
    fmt = Params().format
    assert quantize(fmt, [-97, 100]).tolist() == [0, 96]
    assert quantize(fmt, [-100, 97]).tolist() == [-96, 0]
    assert quantize(fmt, [-100, 100]).tolist() == [-96, 0]  # equal: the left one
    assert quantize(fmt, [-97, 100], keep="left").tolist() == [-96, 0]


def test_scale_search_is_the_best_of_its_sweep():
    fmt = Params().format
    x = np.random.default_rng(8).normal(size=301)  # odd: the pad is not scored
    scale, mse = scale_search(fmt, x, steps=30)
    peak = np.abs(x).max()
    sweep = np.geomspace(peak / 96, peak / 7, 30)
    errors = [np.mean((quantize(fmt, np.append(x, 0.0), s)[:301] - x) ** 2) for s in sweep]
    assert mse == pytest.approx(min(errors)) and scale == pytest.approx(sweep[np.argmin(errors)])
    assert scale_search(fmt, np.zeros(4)) == (1.0, 0.0)


def test_encoder_errors_and_scale():
    fmt = Params().format
    with pytest.raises(ValueError, match=r"even number"):
        encode_pairs(fmt, [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"^keep must be 'larger' or 'left', not 'right'$"):
        encode_pairs(fmt, [1.0, 2.0], keep="right")
    assert quantize(fmt, [0.5, 2.4], scale=0.1).tolist() == pytest.approx([0.0, 2.4])


@pytest.mark.sim
@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f"{f.bits}{f.normal}_b{f.outlier.bias}")
def test_amaranth_simulator_every_word(fmt):
    params = Params(bits=fmt.bits, normal=fmt.normal, exp_bits=fmt.outlier.exp_bits,
                    man_bits=fmt.outlier.man_bits, bias=fmt.outlier.bias)
    dut = OliveDecoder(params)
    step = 1 if fmt.bits == 4 else 7  # 8-bit: every 7th word (the cocotb tier does all)
    words = np.arange(0, 1 << (2 * fmt.bits), step)
    got = sweep_combinational(dut, [{"code": w} for w in words],
                              ("exp0", "mant0", "exp1", "mant1"))
    exp, mant = olive_decoder(params, words)
    assert got == [tuple(row) for row in
                   np.stack([exp[:, 0], mant[:, 0], exp[:, 1], mant[:, 1]], 1).tolist()]
