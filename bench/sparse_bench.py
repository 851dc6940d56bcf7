#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Sparse units: index_match's achieved pairs per cycle against density, and
ECP5 resources/Fmax of every sparse preset next to dense baselines.

    .venv/bin/python bench/sparse_bench.py

1. ``index_match``: blocks of ``length`` unique sorted indices drawn from an
   index space of ``length / density`` values on each side (so about
   ``density * length`` matches per block), 2,000 blocks per point (seed 0).
   Cycles per block are the unit's exact count, ``max(1, ceil(k / pairs))``
   (checked cycle by cycle by the cocotb test ``output_rate``); pairs per cycle
   = matches / cycles; utilization = pairs per cycle / ``pairs`` (SNAP reports
   75% average multiplier utilization).
2. Resources on ECP5 (LFE5U-25F, Yosys ``synth_ecp5`` with DSPs, nextpnr seed 1
   for Fmax). For ``nm_sparse``: multipliers built (``groups * n``) against the
   ``groups * m`` a dense dot product of the same beat needs, and the same
   number of 8x8 ``int_mac`` units as the dense baseline. Fmax is also given
   as a ratio to ``int_mac``'s default, measured in the same run, and
   ``index_match``'s default is measured at every ``pipeline`` setting.
"""

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from accelgen.flow.emit import emit
from accelgen.errors import ToolFailed
from accelgen.golden.index_match import matches, beats_per_block
from accelgen.registry import get_unit, module_name, PRESET_NAMES
from accelgen.flow.synth import synthesize, fmax
from accelgen.app.tables import format_table

DENSITIES = (0.1, 0.25, 0.5, 0.75, 0.9, 1.0)
SHAPES = ((8, 1), (8, 2), (8, 4), (16, 4))


def pairs_per_cycle():
    rng = np.random.default_rng(0)
    rows = []
    for length, pairs in SHAPES:
        p = get_unit("index_match").params(length=length, pairs=pairs, sorted=True,
                                           index_width=12)
        row = [f"L={length}, P={pairs}"]
        for density in DENSITIES:
            space = max(length, int(round(length / density)))
            found = cycles = 0
            for _ in range(2000):
                w = np.sort(rng.choice(space, length, replace=False))
                a = np.sort(rng.choice(space, length, replace=False))
                k = len(matches(p, w, np.ones(length), a, np.ones(length)))
                found += k
                cycles += beats_per_block(p, k)
            row.append(f"{found / cycles:.2f} ({100 * found / cycles / pairs:.0f}%)")
        rows.append(row)
    print("index_match: pairs per cycle (utilization of the P outputs) against density")
    print(format_table(rows, ["block", *(f"density {d:.2f}" for d in DENSITIES)],
                       right=tuple(range(1, len(DENSITIES) + 1))))


def resources():
    rows = []
    start = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        def measure(name, params):
            unit = get_unit(name)
            module = module_name(params)
            try:
                r = synthesize(emit(name, params), unit.build(params), "ecp5",
                               Path(tmp) / module)
                mhz = fmax(unit.build(params), "ecp5", Path(tmp) / f"{module}.pnr")
            except ToolFailed:  # YoWASP's ABC on the largest designs, as in synth_table
                r, mhz = None, None
            print(f"# {module} done ({time.monotonic() - start:.0f} s)", file=sys.stderr,
                  flush=True)
            return module, r, mhz

        mac = measure("int_mac", get_unit("int_mac").params())
        configs = [(name, get_unit(name).params(preset))
                   for name in ("lnzd", "index_match", "nm_sparse") for preset in PRESET_NAMES]
        default = get_unit("index_match").params()
        configs[3:3] = [("index_match", get_unit("index_match").params(pipeline=depth))
                        for depth in range(default.pipeline)]
        for name, params in configs:
            module, r, mhz = measure(name, params)
            if r is None:
                rows.append([f"`{module}`", "yosys failed", "-", "-", ""])
                continue
            note = ""
            if name == "nm_sparse":
                dense = params.groups * params.m
                note = (f"{params.multipliers} multipliers vs {dense} dense; "
                        f"{dense} x int_mac: {dense * mac[1]['LUT']} LUT, "
                        f"{dense * mac[1]['DSP']} DSP")
            rows.append([f"`{module}`", f"{r['LUT']}/{r['FF']}/{r['carry']}/{r['DSP']}",
                         f"{mhz:.1f}", f"{mhz / mac[2]:.2f}", note])
    rows.insert(0, [f"`{mac[0]}` (baseline)",
                    f"{mac[1]['LUT']}/{mac[1]['FF']}/{mac[1]['carry']}/{mac[1]['DSP']}",
                    f"{mac[2]:.1f}", "1.00", ""])
    print(format_table(rows, ["module", "ECP5 LUT/FF/carry/DSP", "ECP5 MHz", "x int_mac",
                              "N:M"], right=(2, 3)))


if __name__ == "__main__":
    pairs_per_cycle()
    print()
    resources()
