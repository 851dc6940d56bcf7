#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""BitFusion on FPGAs: the Fusion Unit next to a fixed 8x8 int_mac, same run.

    .venv/bin/python bench/bitfusion_table.py

Prints two tables:

1. resources per family with DSP inference on (what a user gets by default)
   and off (all logic: the like-for-like area comparison of the paper's ASIC
   figure), plus register-to-register Fmax (nextpnr, seed 1, DSPs on);
2. throughput per area: products per cycle in each precision mode, per 1000
   ECP5 LUTs with DSPs off, and relative to the fixed 8x8 MAC.

Configurations: ``int_mac`` (8x8 signed, 32-bit accumulator, one product
register), ``fusion_unit`` (all nine modes), ``fusion_unit`` built for 8x8
only (the same BitBricks and adder tree without the run-time mode selection,
to show what the flexibility costs) and ``fusion_unit`` with ``pipeline=3``.
"""

import sys
import tempfile
import time
from pathlib import Path

from accelgen.flow.emit import emit
from accelgen.golden.fusion_unit import products_per_beat
from accelgen.registry import get_unit, module_name
from accelgen.flow.synth import synthesize, fmax
from accelgen.app.tables import format_table

CONFIGS = [("int_mac", {}), ("fusion_unit", {}), ("fusion_unit", {"modes": "8x8"}),
           ("fusion_unit", {"pipeline": 3})]
FAMILIES = ("ice40", "ecp5", "xilinx")


def measure(unit_name, overrides, tmp):
    unit = get_unit(unit_name)
    params = unit.params(**overrides)
    module = module_name(params)
    out = {"module": module, "params": params}
    for target in FAMILIES:
        for dsp in (True, False):
            work = Path(tmp) / f"{module}.{target}.{dsp}"
            out[target, dsp] = synthesize(emit(unit_name, params), unit.build(params),
                                          target, work, dsp=dsp)
    for target in ("ice40", "ecp5"):
        out[target, "mhz"] = fmax(unit.build(params), target, Path(tmp) / f"{module}.{target}.pnr")
    return out


def cells(r):
    return f"{r['LUT']}/{r['FF']}/{r['carry']}/{r['DSP']}"


def main():
    results = []
    start = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        for unit_name, overrides in CONFIGS:
            results.append(measure(unit_name, overrides, tmp))
            print(f"# {results[-1]['module']} done ({time.monotonic() - start:.0f} s)",
                  file=sys.stderr, flush=True)

    rows = []
    for r in results:
        rows.append([f"`{r['module']}`", *(cells(r[t, True]) for t in FAMILIES),
                     *(cells(r[t, False]) for t in FAMILIES),
                     f"{r['ice40', 'mhz']:.1f}", f"{r['ecp5', 'mhz']:.1f}"])
    print(format_table(rows, ["module", *(f"{t} (DSP on)" for t in FAMILIES),
                              *(f"{t} (DSP off)" for t in FAMILIES), "iCE40 MHz", "ECP5 MHz"]))
    print()

    mac, fusion = results[0], results[1]
    mac_luts = mac["ecp5", False]["LUT"]
    fusion_luts = fusion["ecp5", False]["LUT"]
    rows = [["`int_mac` 8x8", 1, f"{1000 / mac_luts:.2f}", "1.00"]]
    for wa, ww in fusion["params"].mode_set:
        per = products_per_beat(wa, ww)
        rows.append([f"`fusion_unit` {wa}x{ww}", per, f"{1000 * per / fusion_luts:.2f}",
                     f"{per * mac_luts / fusion_luts:.2f}"])
    print(format_table(rows, ["configuration", "products/cycle",
                              "products/cycle per 1000 ECP5 LUTs (DSP off)",
                              "vs fixed 8x8 MAC"], right=(1, 2, 3)))
    print()
    for t in FAMILIES:
        ratio = fusion[t, False]["LUT"] / mac[t, False]["LUT"]
        print(f"Fusion Unit / fixed 8x8 MAC, {t} LUTs with DSP off: {ratio:.2f}x")


if __name__ == "__main__":
    main()
