#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Verilator build time and cocotb harness speed per configuration.

For every registered unit's presets: a cold Verilator build (fresh build
directory), an unchanged rebuild, and the cocotb regression's simulated clock
cycles per wall-clock second (from cocotb's results file).

    .venv/bin/python bench/regression_speed.py [UNIT ...]
"""

import os
import sys
import tempfile

from accelgen.flow.emit import emit
from accelgen.app.tables import format_table
from accelgen.registry import UNITS, PRESET_NAMES, module_name
from accelgen.verif import runner
from accelgen.verif.runner import sim_speed


def main(names):
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["ACCELGEN_BUILD_DIR"] = tmp
        for name in names or UNITS:
            unit = UNITS[name]
            seen = set()
            for preset in PRESET_NAMES:
                params = unit.params(preset)
                if module_name(params) in seen:
                    continue
                seen.add(module_name(params))
                *_, cold = runner.build(name, params)
                *_, warm = runner.build(name, params)
                result = runner.run_cocotb(name, params, seed=1)
                cycles, wall = sim_speed(result.results_xml)
                clocked = any(p.get("role") == "clock" for p in emit(name, params).manifest["ports"])
                rate = f"{cycles / wall:,.0f}" if clocked and wall else "(comb.)"
                cycles = cycles if clocked else 0
                rows.append((module_name(params), f"{cold:.1f}", f"{warm:.2f}",
                             result.tests, f"{cycles:,.0f}", f"{wall:.2f}", rate))
    header = ("module", "cold build s", "rebuild s", "tests", "sim cycles", "sim s",
              "cycles/s")
    print(format_table(rows, header, right=range(1, len(header))))


if __name__ == "__main__":
    main(sys.argv[1:])
