#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""ANT and OliVe number formats: quantization error per type, and what the
decoders and PEs cost next to an int_mac of the same width.

    .venv/bin/python bench/number_formats.py [--mse-only]

1. **Quantization MSE** (golden models, float64), normalized by the tensor's
   variance, for 100,000 samples per distribution (seed 0): 4-bit signed ANT
   types with ANT's scale search (``alpha = max|x| * i/100``, i = 75..150) and
   OliVe int4 pairs (abfloat E2M1 bias 2, the best of 200 scales between "all
   representable" and "no outliers"); a ReLU'd Gaussian with the unsigned types.
   The selected type is ANT's per-tensor choice (lowest MSE).
2. **Resources and Fmax** on ECP5 (LFE5U-25F; Yosys ``synth_ecp5``, nextpnr
   seed 1): LUTs with DSP inference off (all logic, comparable across units),
   LUT/FF/DSP as built by default, register-to-register Fmax, and decoder
   overhead = LUTs of the standalone decoders of both operands over the PE's
   LUTs (DSP off).
"""

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from accelgen.flow.emit import emit
from accelgen.num.formats import AntFormat, KINDS
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
    rng = np.random.default_rng(0)
    rows = []
    for name, x, signed in distributions(rng):
        report = mse_report(x, bits=4, signed=signed)
        var = x.var()
        row = [name, *(f"{mse / var:.4f}" for mse in report["mse"].values())]
        olive = f"{scale_search(default_format(4), x)[1] / var:.4f}" if signed else "-"
        rows.append([*row, olive, report["selected"]])
    names = [f"{'' if s else 'u'}{k}4" for k, s in zip(KINDS, [True] * 4)]
    print("Quantization MSE / variance, 4-bit (ReLU row: unsigned types; float4 is "
          "sign + E3M0 signed, E3M1 unsigned)")
    print(format_table(rows, ["distribution", *names, "OliVe int4+E2M1", "ANT selects"],
                       right=(1, 2, 3, 4, 5)))


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
    mse_table()
    if "--mse-only" not in args:
        print()
        resources_table()


if __name__ == "__main__":
    main(sys.argv[1:])
