# SPDX-License-Identifier: BSD-2-Clause
"""fp_decoder: parameter errors, the golden model against a literal reading of
docs/fp.md's field table, the manifest, the Amaranth simulator over every format,
and an independent Icarus run of every format's emitted Verilog against ml_dtypes;
the Verilator regression is in tests/test_regression.py."""

import subprocess

import ml_dtypes
import numpy as np
import pytest

from accelgen.flow.emit import emit
from accelgen.generators.fp_decoder import FpDecoder, Params, FORMAT_NAMES
from accelgen.golden.fp_decoder import fp_decoder
from accelgen.num.fpformats import FORMATS
from accelgen.registry import UNITS, module_name
from accelgen.verif.amaranth_sim import sweep_combinational
from accelgen.verif.fp_decoder import codes_under_test

SEED = 2027


@pytest.mark.parametrize("kwargs,error,message", [
    ({"fmt": "e4m4"}, ValueError,
     r"^fp_decoder fmt must be one of 'e4m3', 'e5m2', 'e3m2', 'e2m3', 'e2m1', 'bf16', "
     r"'fp16', 'fp32', 'e8m0', 'int8', not 'e4m4'$"),
    ({"fmt": 8}, TypeError, r"^fp_decoder fmt must be a string, not 8$"),
])
def test_parameter_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        Params(**kwargs)


def test_params_object_is_checked():
    with pytest.raises(TypeError, match=r"^fp_decoder params must be a fp_decoder Params "
                                        r"instance, not 'e4m3'$"):
        FpDecoder("e4m3")


def test_registry_covers_every_format():
    """Presets and sweep together take every format once."""
    names = [p.fmt for _label, p in UNITS["fp_decoder"].configurations()]
    assert sorted(names) == sorted(FORMAT_NAMES) == sorted(FORMATS)


# docs/fp.md's field table, verbatim: (exponent bits, mantissa bits, bias, specials).
TABLE = {
    "e4m3": (4, 3, 7, "fn"), "e5m2": (5, 2, 15, "ieee"), "e3m2": (3, 2, 3, "none"),
    "e2m3": (2, 3, 1, "none"), "e2m1": (2, 1, 1, "none"), "bf16": (8, 7, 127, "ieee"),
    "fp16": (5, 10, 15, "ieee"), "fp32": (8, 23, 127, "ieee"),
}


def literal(name, code):
    """One code read literally from docs/fp.md (Python integers): ``(value as a
    (numerator, power of two) pair, nan, inf)``."""
    if name == "int8":
        return (code - 256 if code >= 128 else code, -6), False, False
    if name == "e8m0":
        return (1, code - 127), code == 255, False
    e_bits, m_bits, bias, specials = TABLE[name]
    s = code >> (e_bits + m_bits)
    e = (code >> m_bits) % (1 << e_bits)
    f = code % (1 << m_bits)
    if e == 0:
        mant, exp = f, 1 - bias - m_bits
    else:
        mant, exp = (1 << m_bits) + f, e - bias - m_bits
    top = e == (1 << e_bits) - 1
    nan = (specials == "ieee" and top and f != 0) or \
          (specials == "fn" and top and f == (1 << m_bits) - 1)
    inf = specials == "ieee" and top and f == 0
    return (-mant if s else mant, exp), nan, inf


def test_golden_matches_a_literal_reading():
    """Every code of the formats up to 8 bits; BF16, FP16 and FP32 on every
    exponent field's edges and seeded random codes (BF16 and FP16 are walked
    whole by the Verilator and Icarus checks)."""
    print(f"seed {SEED}")
    rng = np.random.default_rng(SEED)
    for name in FORMAT_NAMES:
        fmt = FORMATS[name]
        if fmt.width <= 8:
            codes = np.arange(1 << fmt.width)
        else:
            top = (1 << fmt.man_bits) - 1
            edges = [(e << fmt.man_bits) | f for e in range(1 << fmt.exp_bits)
                     for f in (0, 1, top)]
            codes = np.unique(np.concatenate([edges, np.array(edges) | 1 << (fmt.width - 1),
                                              rng.integers(0, 1 << fmt.width, 512)]))
        mant, exp, nan, inf = fp_decoder(Params(fmt=name), codes)
        for k, c in enumerate(codes.tolist()):
            (m, e), n, i = literal(name, c)
            # Equal pairs: the same exact value written the same way.
            assert (int(mant[k]), int(exp[k]), int(nan[k]), int(inf[k])) == \
                (m, e, int(n), int(i)), (name, c)
        # The published widths hold every pair (the RTL's port widths).
        lo, hi = -(1 << (fmt.mant_width - 1)), 1 << (fmt.mant_width - 1)
        assert lo <= mant.min() and mant.max() < hi, name
        lo, hi = -(1 << (fmt.exp_width - 1)), 1 << (fmt.exp_width - 1)
        assert lo <= exp.min() and exp.max() < hi, name


def test_golden_rejects_codes_out_of_range():
    with pytest.raises(ValueError, match=r"^codes of e2m1 must be in 0\.\.15$"):
        fp_decoder(Params(fmt="e2m1"), [16])


def test_the_testbench_walks_every_code_up_to_16_bits():
    """The cocotb testbench's stimulus: every code of BF16; FP32's sample holds
    every exponent field's edges of both signs."""
    rng = np.random.default_rng(SEED)
    assert codes_under_test(FORMATS["bf16"], rng).tolist() == list(range(1 << 16))
    codes = codes_under_test(FORMATS["fp32"], rng, random=10)
    assert len(codes) == len(set(codes.tolist())) and codes.max() < 1 << 32
    fields = {(int(c) >> 31, (int(c) >> 23) & 0xFF, int(c) & 0x7FFFFF) for c in codes}
    for s in (0, 1):
        for e in range(256):
            assert {(s, e, 0), (s, e, 1), (s, e, 0x7FFFFF), (s, e, 1 << 22)} <= fields


@pytest.mark.parametrize("name", ["e4m3", "e8m0", "int8"])
def test_manifest_publishes_the_format(name):
    params = Params(fmt=name)
    manifest = emit("fp_decoder", params).manifest
    fmt = FORMATS[name]
    assert manifest["module"] == module_name(params)
    assert manifest["format"] == fmt.manifest()
    assert (manifest["exp_min"], manifest["exp_max"], manifest["emax"]) == \
        (fmt.exp_min, fmt.exp_max, fmt.emax)
    assert manifest["latency"] == 0 and manifest["throughput"] == 1
    ports = {p["name"]: p for p in manifest["ports"]}
    assert [p["name"] for p in manifest["ports"]] == ["code", "mant", "exp", "nan", "inf"]
    assert (ports["code"]["width"], ports["mant"]["width"], ports["exp"]["width"]) == \
        (fmt.width, fmt.mant_width, fmt.exp_width)
    assert ports["mant"]["signed"] and ports["exp"]["signed"] and not ports["code"]["signed"]


def edge_codes(fmt, rng, random=64):
    """Codes of a wide format: the lowest, second, middle and two highest
    exponent fields with the mantissas 0, 1 and all ones, of both signs, plus
    ``random`` seeded codes."""
    top_e, top_f = (1 << fmt.exp_bits) - 1, (1 << fmt.man_bits) - 1
    edges = np.array([(e << fmt.man_bits) | f for e in (0, 1, top_e // 2, top_e - 1, top_e)
                      for f in (0, 1, top_f)])
    return np.unique(np.concatenate([edges, edges | 1 << (fmt.width - 1),
                                     rng.integers(0, 1 << fmt.width, random)]))


@pytest.mark.sim
def test_amaranth_simulator_every_format():
    """The component of every format against the golden model: every code up to
    8 bits; for BF16, FP16 and FP32 :func:`edge_codes` (the decoder builder is
    driven over every exponent's edges in tests/test_fp_formats.py; Verilator and
    Icarus walk every 16-bit code)."""
    print(f"seed {SEED}")
    rng = np.random.default_rng(SEED)
    for name in FORMAT_NAMES:
        params = Params(fmt=name)
        fmt = params.format
        codes = np.arange(1 << fmt.width) if fmt.width <= 8 else edge_codes(fmt, rng)
        got = sweep_combinational(FpDecoder(params), [{"code": c} for c in codes],
                                  ("mant", "exp", "nan", "inf"))
        want = list(zip(*(a.tolist() for a in fp_decoder(params, codes))))
        assert got == want, name
        assert any(nan for _m, _e, nan, _i in want) == (fmt.specials != "none"), name


# --- the independent Icarus run ----------------------------------------------------

REFERENCE = {
    "e4m3": ml_dtypes.float8_e4m3fn, "e5m2": ml_dtypes.float8_e5m2,
    "e3m2": ml_dtypes.float6_e3m2fn, "e2m3": ml_dtypes.float6_e2m3fn,
    "e2m1": ml_dtypes.float4_e2m1fn, "e8m0": ml_dtypes.float8_e8m0fnu,
    "bf16": ml_dtypes.bfloat16, "fp16": np.float16, "fp32": np.float32, "int8": np.int8,
}
STORAGE = {4: np.uint8, 6: np.uint8, 8: np.uint8, 16: np.uint16, 32: np.uint32}


def reference(name, codes):
    """float64 values of ``codes`` read by ml_dtypes / NumPy (int8: ``code / 64``)."""
    fmt = FORMATS[name]
    with np.errstate(invalid="ignore"):
        values = codes.astype(STORAGE[fmt.width]).view(REFERENCE[name]).astype(np.float64)
    return values / 64 if name == "int8" else values


def icarus_bench(modules):
    """A Verilog testbench instantiating one decoder per format, ``modules`` a list
    of ``(name, module, manifest, walk)``; ``walk`` is ``None`` (every code) or a
    list of mantissa fields walked under every exponent field with both signs.
    Prints ``name code mant exp nan inf`` per code (decimal, ``mant``/``exp`` signed)."""
    lines = ["`timescale 1ns/1ps", "module fp_decoder_tb;", "  integer k, e, j, s;"]
    body = []
    for name, module, manifest, walk in modules:
        ports = {p["name"]: p["width"] for p in manifest["ports"]}
        w, mw, ew = ports["code"], ports["mant"], ports["exp"]
        lines += [f"  reg [{w - 1}:0] c_{name};",
                  f"  wire signed [{mw - 1}:0] m_{name};",
                  f"  wire signed [{ew - 1}:0] x_{name};",
                  f"  wire n_{name}, i_{name};",
                  f"  {module} u_{name} (.code(c_{name}), .mant(m_{name}), .exp(x_{name}), "
                  f".nan(n_{name}), .inf(i_{name}));"]
        show = (f'$display("{name} %0d %0d %0d %0d %0d", c_{name}, m_{name}, x_{name}, '
                f'n_{name}, i_{name});')
        if walk is None:
            body += [f"    for (k = 0; k < {1 << w}; k = k + 1) begin",
                     f"      c_{name} = k; #1; {show}", "    end"]
        else:
            fmt = FORMATS[name]
            cases = " ".join(f"{j}: c_{name}[{fmt.man_bits - 1}:0] = {fmt.man_bits}'d{f};"
                             for j, f in enumerate(walk))
            body += [f"    for (s = 0; s < 2; s = s + 1)",
                     f"      for (e = 0; e < {1 << fmt.exp_bits}; e = e + 1)",
                     f"        for (j = 0; j < {len(walk)}; j = j + 1) begin",
                     f"          c_{name}[{w - 1}] = s; "
                     f"c_{name}[{w - 2}:{fmt.man_bits}] = e;",
                     f"          case (j) {cases} endcase",
                     f"          #1; {show}", "        end"]
    return "\n".join(lines + ["  initial begin", *body, "    $finish;", "  end",
                              "endmodule", ""])


def test_icarus_every_format_against_ml_dtypes(tmp_path, iverilog):
    """Every format's emitted Verilog, compiled together in Icarus with a testbench
    that walks every code (FP32: every exponent field with the mantissas 0, 1,
    top bit, all ones, of both signs): ``mant * 2**exp`` equals ml_dtypes' (NumPy's
    for FP16/FP32, ``int8 / 64`` for MXINT8) value of the code, ``nan``/``inf``
    its NaN and infinity, the sign of an infinity its sign. Checked against
    ml_dtypes directly, not against the golden model."""
    fp32_walk = [0, 1, 1 << 22, (1 << 23) - 1]
    modules, sources = [], []
    for name in FORMAT_NAMES:
        emitted = emit("fp_decoder", Params(fmt=name))
        path = tmp_path / f"{emitted.module}.v"
        path.write_text(emitted.verilog)
        sources.append(path.name)
        modules.append((name, emitted.module, emitted.manifest,
                        fp32_walk if FORMATS[name].width > 16 else None))
    (tmp_path / "fp_decoder_tb.v").write_text(icarus_bench(modules))
    subprocess.run([iverilog, "-g2005", "-s", "fp_decoder_tb", "-o", "tb.vvp",
                    "fp_decoder_tb.v", *sources], cwd=tmp_path, check=True,
                   capture_output=True, text=True)
    run = subprocess.run(["vvp", "-n", "tb.vvp"], cwd=tmp_path, check=True,
                         capture_output=True, text=True)
    rows = {}
    for line in run.stdout.splitlines():
        name, *numbers = line.split()
        if name in FORMATS:
            rows.setdefault(name, []).append([int(v) for v in numbers])
    assert set(rows) == set(FORMAT_NAMES)
    counts = {}
    for name, table in rows.items():
        fmt = FORMATS[name]
        code, mant, exp, nan, inf = np.array(table, dtype=np.int64).T
        want = reference(name, code)
        want_nan, want_inf = np.isnan(want), np.isinf(want)
        np.testing.assert_array_equal(nan, want_nan.astype(np.int64), err_msg=name)
        np.testing.assert_array_equal(inf, want_inf.astype(np.int64), err_msg=name)
        finite = ~(want_nan | want_inf)
        np.testing.assert_array_equal(np.ldexp(mant[finite].astype(np.float64), exp[finite]),
                                      want[finite], err_msg=name)
        np.testing.assert_array_equal(np.sign(mant[want_inf]), np.sign(want[want_inf]),
                                      err_msg=name)
        expected = 1 << fmt.width if fmt.width <= 16 else 2 * 256 * len(fp32_walk)
        assert len(code) == len(np.unique(code)) == expected, name
        counts[name] = len(code)
    print("codes checked per format:", counts)
