#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""ANT, OliVe, FP8 and MX number formats: quantization error per type, and what
the decoders and PEs cost next to an int_mac of the same width.

    .venv/bin/python bench/number_formats.py [--mse-only]

1. **Quantization MSE** (golden models, float64), normalized by the tensor's
   variance, for 100,000 samples per distribution (seed 0): 4-bit signed ANT
   types with ANT's scale search (``alpha = max|x| * i/100``, i = 75..150) and
   OliVe int4 pairs (abfloat E2M1 bias 2, the best of 200 scales between "all
   representable" and "no outliers"); a ReLU'd Gaussian with the unsigned types.
   The selected type is ANT's per-tensor choice (lowest MSE).
2. **FP8, MX and BF16 beside them** (:mod:`accelgen.num.fpquant`, docs/fp.md), on
   the same data: OCP MX with blocks of 32 along the samples (MXFP8 E4M3/E5M2,
   MXFP6 E3M2/E2M3, MXFP4 E2M1, MXINT8: the spec's shared exponent
   ``floor(log2 max|x|) - emax``, elements rounded to nearest even and
   saturated), FP8 E4M3/E5M2 with one per-tensor scale ``max|x| / max finite``
   (saturating), and BF16 unscaled; with the 4-bit ANT choice and OliVe int4
   of table 1. MSE over the variance, and SQNR ``10 log10(sum x^2 / sum
   error^2)`` in dB; the bits per element include MX's shared 8-bit scale.
3. **Resources and Fmax** on ECP5 (LFE5U-25F; Yosys ``synth_ecp5``, nextpnr
   seed 1): LUTs with DSP inference off (all logic, comparable across units),
   LUT/FF/DSP as built by default, register-to-register Fmax, and decoder
   overhead = LUTs of the standalone decoders of both operands over the PE's
   LUTs (DSP off); the fp_decoder of each FP/MX format on the same flow.
"""

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from accelgen.flow.emit import emit
from accelgen.num.formats import AntFormat, KINDS
from accelgen.num.fpquant import quantize, dequantize, mx_quantize, mx_dequantize
from accelgen.num.fpformats import get_format
from accelgen.golden.ant_decoder import mse_report
from accelgen.golden.olive_decoder import scale_search, default_format
from accelgen.registry import get_unit, module_name
from accelgen.flow.synth import synthesize, fmax
from accelgen.app.tables import format_table

SAMPLES = 100_000


def distributions(rng):
    gaussian = rng.normal(size=SAMPLES)
    outliers = rng.normal(size=SAMPLES)
    pick = rng.random(SAMPLES) < 0.01
    outliers[pick] *= rng.uniform(8, 20, pick.sum())
    return [("uniform", rng.uniform(-1, 1, SAMPLES), True),
            ("Gaussian", gaussian, True),
            ("Laplace", rng.laplace(size=SAMPLES), True),
            ("Gaussian + 1% outliers (x8..20)", outliers, True),
            ("ReLU(Gaussian)", np.maximum(rng.normal(size=SAMPLES), 0), False)]


def mse_table():
    """Print table 1 and return ``{distribution: (ANT's choice, its MSE, OliVe's MSE)}``."""
    rng = np.random.default_rng(0)
    rows, best = [], {}
    for name, x, signed in distributions(rng):
        report = mse_report(x, bits=4, signed=signed)
        var = x.var()
        row = [name, *(f"{mse / var:.4f}" for mse in report["mse"].values())]
        olive = scale_search(default_format(4), x)[1] if signed else None
        rows.append([*row, "-" if olive is None else f"{olive / var:.4f}",
                     report["selected"]])
        best[name] = (report["selected"], report["mse"][report["selected"]], olive)
    names = [f"{'' if s else 'u'}{k}4" for k, s in zip(KINDS, [True] * 4)]
    print("Quantization MSE / variance, 4-bit (ReLU row: unsigned types; float4 is "
          "sign + E3M0 signed, E3M1 unsigned)")
    print(format_table(rows, ["distribution", *names, "OliVe int4+E2M1", "ANT selects"],
                       right=(1, 2, 3, 4, 5)))
    return best


#: Table 2's columns: (label, bits per element, how the tensor is quantized).
FP_SCHEMES = [
    ("MXFP8 E4M3", 8 + 8 / 32, ("mx", "e4m3")),
    ("MXFP8 E5M2", 8 + 8 / 32, ("mx", "e5m2")),
    ("MXFP6 E3M2", 6 + 8 / 32, ("mx", "e3m2")),
    ("MXFP6 E2M3", 6 + 8 / 32, ("mx", "e2m3")),
    ("MXFP4 E2M1", 4 + 8 / 32, ("mx", "e2m1")),
    ("MXINT8", 8 + 8 / 32, ("mx", "int8")),
    ("FP8 E4M3/tensor", 8, ("tensor", "e4m3")),
    ("FP8 E5M2/tensor", 8, ("tensor", "e5m2")),
    ("BF16", 16, ("plain", "bf16")),
]


def fp_quantized(x, scheme):
    """``x`` through one of :data:`FP_SCHEMES`, back to float64."""
    kind, fmt = scheme
    if kind == "mx":
        return mx_dequantize(*mx_quantize(x, fmt, block=32), fmt, block=32)
    if kind == "tensor":
        scale = np.abs(x).max() / float(get_format(fmt).max_value)
        return dequantize(quantize(x / scale, fmt, saturate=True), fmt) * scale
    return dequantize(quantize(x, fmt), fmt)


def fp_mse_table(best4=None):
    """Print table 2 (same seed and data as table 1) and return its figures
    ``{distribution: {label: (mse / variance, SQNR dB)}}``."""
    rng = np.random.default_rng(0)
    rows, figures = [], {}
    for name, x, _signed in distributions(rng):
        var, power = x.var(), np.sum(x * x)
        figures[name] = {}
        row = [name]
        for label, _bits, scheme in FP_SCHEMES:
            err = np.sum((fp_quantized(x, scheme) - x) ** 2)
            mse = err / x.size
            sqnr = 10 * np.log10(power / err) if err else float("inf")
            figures[name][label] = (mse / var, sqnr)
            row.append(f"{mse / var:.2e} / {sqnr:.1f}")
        if best4 is not None:
            selected, ant, olive = best4[name]
            row.append(f"{ant / var:.2e} / {10 * np.log10(power / (ant * x.size)):.1f} "
                       f"({selected})")
            row.append("-" if olive is None else
                       f"{olive / var:.2e} / {10 * np.log10(power / (olive * x.size)):.1f}")
        rows.append(row)
        print(f"# {name} done", file=sys.stderr, flush=True)
    header = ["distribution", *(f"{label} ({bits:g} b)" for label, bits, _s in FP_SCHEMES)]
    if best4 is not None:
        header += ["ANT 4-bit choice", "OliVe int4"]
    print("Quantization MSE / variance and SQNR (dB), as 'relative MSE / SQNR'; MX blocks "
          "of 32, bits per element with the shared scale")
    print(format_table(rows, header, right=tuple(range(1, len(header)))))
    return figures


CONFIGS = [
    ("int_mac", {"a_width": 4, "b_width": 4, "acc_width": 32}),
    *(("ant_decoder", {"fmt": kind, "signed": signed})
      for signed in (False, True) for kind in KINDS),
    ("ant_pe", {"types": "int"}),
    ("ant_pe", {}),
    ("olive_decoder", {}),
    ("olive_pe", {}),
    ("int_mac", {}),
    *(("ant_decoder", {"fmt": kind, "bits": 8, "signed": True}) for kind in KINDS),
    ("ant_pe", {"bits": 8, "a_signed": True, "types": "int"}),
    ("ant_pe", {"bits": 8, "a_signed": True}),
    ("olive_decoder", {"bits": 8, "exp_bits": 4, "man_bits": 3, "bias": 4}),
    ("olive_pe", {"bits": 8, "exp_bits": 4, "man_bits": 3, "bias": 4}),
    *(("fp_decoder", {"fmt": fmt}) for fmt in ("e2m1", "e2m3", "e3m2", "e4m3", "e5m2",
                                               "int8", "e8m0", "bf16", "fp16")),
]


def decoder_luts(results, unit, params):
    """LUTs (DSP off) of the standalone decoders that feed ``unit``'s operands."""
    if unit == "olive_pe":
        key = ("olive_decoder", module_name(get_unit("olive_decoder").params(
            bits=params.bits, normal=params.normal, exp_bits=params.exp_bits,
            man_bits=params.man_bits, bias=params.bias)))
        return 2 * results[key]["off"]["LUT"] if key in results else None
    total = 0
    for signed in (params.a_signed, params.w_signed):
        for kind in params.kinds:
            fmt = AntFormat(kind, params.bits, signed, params.float_exp)
            key = ("ant_decoder", module_name(get_unit("ant_decoder").params(
                fmt=kind, bits=fmt.bits, signed=signed,
                exp_bits=fmt.exp_bits if kind == "float" else 3)))
            if key not in results:
                return None
            total += results[key]["off"]["LUT"]
    return total


def resources_table():
    results, order = {}, []
    start = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        for name, overrides in CONFIGS:
            unit = get_unit(name)
            params = unit.params(**overrides)
            module = module_name(params)
            entry = {"params": params}
            for dsp, label in ((False, "off"), (True, "on")):
                entry[label] = synthesize(emit(name, params), unit.build(params), "ecp5",
                                          Path(tmp) / f"{module}.{label}", dsp=dsp)
            entry["mhz"] = fmax(unit.build(params), "ecp5", Path(tmp) / f"{module}.pnr")
            results[name, module] = entry
            order.append((name, module))
            print(f"# {module} done ({time.monotonic() - start:.0f} s)", file=sys.stderr,
                  flush=True)
    rows = []
    for name, module in order:
        r = results[name, module]
        share = ""
        if name in ("ant_pe", "olive_pe"):
            dec = decoder_luts(results, name, r["params"])
            if dec is not None:
                share = f"{100 * dec / r['off']['LUT']:.0f}%"
        on = r["on"]
        rows.append([f"`{module}`", r["off"]["LUT"], f"{on['LUT']}/{on['FF']}/{on['DSP']}",
                     f"{r['mhz']:.1f}", share])
    print(format_table(rows, ["module", "ECP5 LUTs (DSP off)", "LUT/FF/DSP (DSP on)",
                              "ECP5 MHz", "decoders / PE LUTs"], right=(1, 3, 4)))


def main(args):
    best4 = mse_table()
    print()
    fp_mse_table(best4)
    if "--mse-only" not in args:
        print()
        resources_table()


if __name__ == "__main__":
    main(sys.argv[1:])
