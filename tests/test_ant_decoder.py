# SPDX-License-Identifier: BSD-2-Clause
"""ant_decoder: parameter errors, golden decoders against docs/formats.md's tables and a
literal scalar reading, width formulas, the quantizer, Amaranth simulator over every
format; the Verilator regression is in tests/test_regression.py."""

import numpy as np
import pytest

from accelgen.num.formats import AntFormat, KINDS
from accelgen.generators.ant_decoder import AntDecoder, Params, BITS_RANGE
from accelgen.golden.ant_decoder import (ant_decoder, decode, values, grid, nearest, encode,
                                         quantize, scale_search, select_type, mse_report)
from accelgen.verif.amaranth_sim import sweep_combinational


@pytest.mark.parametrize("kwargs,error,message", [
    ({"fmt": "posit"}, ValueError,
     r"^ant_decoder fmt must be one of 'int', 'pot', 'float', 'flint', not 'posit'$"),
    ({"fmt": 3}, TypeError, r"^ant_decoder fmt must be a string, not 3$"),
    ({"bits": 2}, ValueError,
     r"^ant_decoder bits must be an integer from 3 to 16 for fmt='flint', not 2$"),
    ({"bits": 3, "signed": True}, ValueError,
     r"^ant_decoder bits must be an integer from 4 to 16 for fmt='flint', signed=True, "
     r"not 3$"),
    ({"fmt": "pot", "bits": 9}, ValueError,
     r"^ant_decoder bits must be an integer from 2 to 8 for fmt='pot', not 9$"),
    ({"fmt": "int", "bits": 17}, ValueError,
     r"^ant_decoder bits must be an integer from 2 to 16 for fmt='int', not 17$"),
    ({"bits": 4.0}, TypeError, r"^ant_decoder bits must be an integer, not 4.0$"),
    ({"signed": 1}, TypeError, r"^ant_decoder signed must be a bool, not 1$"),
    ({"exp_bits": 2}, ValueError,
     r"^ant_decoder exp_bits applies to fmt='float' only; leave it at 3, not 2$"),
    ({"fmt": "float", "signed": True, "exp_bits": 4}, ValueError,
     r"^ant_decoder exp_bits must be an integer from 1 to 3 for a signed 4-bit float "
     r"\(3 magnitude bits\), not 4$"),
    ({"fmt": "float", "exp_bits": 0}, ValueError,
     r"^ant_decoder exp_bits must be an integer of at least 1, not 0$"),
])
def test_parameter_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        Params(**kwargs)


# docs/formats.md, verbatim.
FLINT4 = [0, 1, 2, 3, 4, 5, 6, 7, 64, 32, 16, 24, 8, 10, 12, 14]
FLINT8_SET = (list(range(128)) + list(range(128, 255, 2)) + list(range(256, 505, 8)) +
              list(range(512, 993, 32)) + list(range(1024, 1921, 128)) +
              list(range(2048, 3585, 512)) + [4096, 6144, 8192, 16384])
FLOAT4 = [0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192]


def test_golden_matches_the_spec_tables():
    assert values(AntFormat("flint", 4, False)) == FLINT4
    assert sorted(values(AntFormat("flint", 8, False))) == FLINT8_SET
    assert sorted(set(values(AntFormat("flint", 4, True)))) == \
        [-16, -8, -6, -4, -3, -2, -1, 0, 1, 2, 3, 4, 6, 8, 16]
    assert values(AntFormat("float", 4, False)) == FLOAT4
    assert sorted(set(values(AntFormat("float", 4, True)))) == \
        sorted({0} | {s * (1 << k) for s in (1, -1) for k in range(7)})  # sign + E3M0
    assert values(AntFormat("pot", 4, False)) == [0] + [1 << k for k in range(15)]
    assert values(AntFormat("pot", 4, True))[9:] == [-(1 << k) for k in range(7)]
    assert values(AntFormat("int", 4, True)) == list(range(8)) + list(range(-8, 0))
    assert values(AntFormat("int", 4, False)) == list(range(16))


def literal(fmt, code):
    """docs/formats.md read literally, one code, Python integers (flint through its
    ``(2**k + f) << (2z + 1)`` form)."""
    n = fmt.bits
    if fmt.kind == "int":
        return code - (1 << n) if fmt.signed and code >> (n - 1) else code
    sign, mag, w = (code >> (n - 1), code & ((1 << (n - 1)) - 1), n - 1) if fmt.signed \
        else (0, code, n)
    if fmt.kind == "pot":
        value = 0 if mag == 0 else 2 ** (mag - 1)
    elif fmt.kind == "float":
        m = w - fmt.exp_bits
        e, f = mag >> m, mag % (1 << m)
        value = f if e == 0 else (2 ** m + f) * 2 ** (e - 1)
    else:
        b, r = mag >> (w - 1), mag % (1 << (w - 1))
        z = (w - 1) - r.bit_length()
        if b == 0:
            value = r
        elif r:
            k = w - 2 - z
            value = (2 ** k + (r % (1 << k))) * 2 ** (2 * z + 1)
        else:
            value = 2 ** (2 * w - 2)
    return -value if sign else value


def every_format(max_bits=16):
    for kind, (lo, hi) in BITS_RANGE.items():
        for bits in range(lo, min(hi, max_bits) + 1):
            for signed in (False, True) if (kind, bits) != ("flint", 3) else (False,):
                magnitude = bits - 1 if signed and kind != "int" else bits
                for e in range(1, magnitude + 1) if kind == "float" else [3]:
                    yield AntFormat(kind, bits, signed, e)


def test_golden_matches_a_literal_reading_and_the_width_formulas():
    count = 0
    for fmt in every_format():
        exp, mant = decode(fmt, np.arange(1 << fmt.bits))
        assert values(fmt) == [literal(fmt, c) for c in range(1 << fmt.bits)], fmt
        # The generator's port widths: exactly the largest exponent and |mantissa|.
        assert exp.min() >= 0 and exp.max() == fmt.exp_max, fmt
        assert np.abs(mant).max() == fmt.mant_max, fmt
        lo, hi = -(1 << (fmt.mant_width - 1)), (1 << (fmt.mant_width - 1)) - 1
        assert lo <= mant.min() and mant.max() <= hi, fmt
        assert int(exp.max()).bit_length() <= fmt.exp_width
        count += 1
    assert count == 131  # every format and float split the generator accepts


def test_golden_rejects_codes_out_of_range():
    with pytest.raises(ValueError, match=r"^uflint4 codes must be in 0..15$"):
        decode(AntFormat("flint", 4, False), [16])


def test_nearest_ties_to_the_larger_value_and_clips():
    points = np.array([-4.0, 0.0, 1.0, 4.0])
    got = nearest(points, [-9, -2, 0.5, 2.5, 2.4, 4, 100])
    assert got.tolist() == [-4, 0, 1, 4, 1, 4, 4]


def test_encode_round_trip_is_the_nearest_value():
    rng = np.random.default_rng(3)
    for fmt in every_format(max_bits=8):
        table = np.array(values(fmt), dtype=np.float64)
        points = np.unique(table)
        x = np.concatenate([rng.uniform(points[0] - 3, points[-1] + 3, 300),
                            (points[1:] + points[:-1]) / 2, points])  # ties and exact
        codes = encode(fmt, x)
        got = table[codes]
        # Brute force: smallest distance, ties to the larger value.
        dist = np.abs(points[None, :] - x[:, None])
        best = np.where(dist == dist.min(axis=1, keepdims=True), points[None, :], -np.inf)
        assert (got == best.max(axis=1)).all(), fmt


def test_scale_search_and_type_selection():
    rng = np.random.default_rng(7)
    x = rng.normal(size=4000)
    fmt = AntFormat("int", 4, True)
    scale, mse = scale_search(fmt, x)
    peak = np.abs(x).max()
    brute = min((np.mean((quantize(fmt, x, peak * i / 100 / 7) - x) ** 2), i)
                for i in range(75, 151))
    assert mse == pytest.approx(brute[0]) and scale == pytest.approx(peak * brute[1] / 700)
    candidates = [AntFormat(k, 4, True) for k in KINDS]
    best, results = select_type(x, candidates)
    assert results[best.name][1] == min(mse for _s, mse in results.values())
    report = mse_report(x)
    assert report["selected"] == best.name and set(report["mse"]) == {f.name for f in candidates}
    assert scale_search(fmt, np.zeros(5)) == (1.0, 0.0)


def test_quantizer_contracts():
    """The rules the quantizer states: ANT's search range, ties between types go to
    the first candidate, and a value with several codes gets the lowest."""
    import inspect
    assert inspect.signature(scale_search).parameters["search"].default == range(75, 151)
    x = np.random.default_rng(5).laplace(size=500)
    pot, flt = AntFormat("pot", 4, True), AntFormat("float", 4, True)  # same grid
    assert select_type(x, [pot, flt])[0] == pot and select_type(x, [flt, pot])[0] == flt
    signed = AntFormat("flint", 4, True)
    assert encode(signed, [0.0, -0.1, 0.2]).tolist() == [0, 0, 0]  # not -0 (code 8)
    scale, _ = scale_search(AntFormat("int", 4, True), x, search=[150])
    assert scale == pytest.approx(np.abs(x).max() * 1.5 / 7)


def test_grid_is_sorted_and_distinct():
    g = grid(AntFormat("flint", 4, True))
    assert (np.diff(g) > 0).all() and g[0] == -16 and g[-1] == 16


@pytest.mark.sim
def test_amaranth_simulator_every_format():
    """Every code of every format up to 8 bits (and every float split), against golden."""
    count = 0
    for fmt in every_format(max_bits=8):
        params = Params(fmt=fmt.kind, bits=fmt.bits, signed=fmt.signed, exp_bits=fmt.exp_bits)
        dut = AntDecoder(params)
        codes = np.arange(1 << fmt.bits)
        got = sweep_combinational(dut, [{"code": c} for c in codes], ("exp", "mant"))
        exp, mant = ant_decoder(params, codes)
        assert got == list(zip(exp.tolist(), mant.tolist())), fmt
        count += 1
    assert count == 99  # every format up to 8 bits
