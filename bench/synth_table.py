#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Resources per FPGA family and Fmax for every registered unit's presets.

    .venv/bin/python bench/synth_table.py [UNIT ...]

iCE40 = UP5K (synth_ice40 -dsp, nextpnr-ice40), ECP5 = LFE5U-25F (synth_ecp5,
nextpnr-ecp5), Xilinx = synth_xilinx cell counts (no place and route). Fmax is
register to register through accelgen.flow.synth.FmaxHarness, nextpnr seed 1;
"does not fit" when place and route fails (the design exceeds the device),
"yosys failed" when synthesis does (YoWASP's ABC on the largest arrays).
"""

import sys
import tempfile
import time
from pathlib import Path

from accelgen.flow.emit import emit
from accelgen.app.tables import format_table
from accelgen.registry import UNITS, PRESET_NAMES, module_name
from accelgen.errors import ToolFailed
from accelgen.flow.synth import synthesize, fmax


def main(names):
    rows = []
    start = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        for name in names or UNITS:
            unit = UNITS[name]
            seen = set()
            for preset in PRESET_NAMES:
                params = unit.params(preset)
                module = module_name(params)
                if module in seen:
                    continue
                seen.add(module)
                row = [module]
                for target in ("ice40", "ecp5", "xilinx"):
                    work = Path(tmp) / f"{module}.{target}"
                    try:
                        r = synthesize(emit(name, params), unit.build(params), target, work)
                    except ToolFailed:  # e.g. YoWASP's ABC exiting on a large design
                        row.append("yosys failed")
                        continue
                    row.append(f"{r['LUT']}/{r['FF']}/{r['carry']}/{r['DSP']}")
                for target in ("ice40", "ecp5"):
                    try:
                        mhz = fmax(unit.build(params), target,
                                   Path(tmp) / f"{module}.{target}.pnr")
                        row.append(f"{mhz:.1f}")
                    except ToolFailed:  # e.g. more LUTs than the device has
                        row.append("does not fit")
                rows.append(row)
                print(f"# {module} done ({time.monotonic() - start:.0f} s)", file=sys.stderr,
                      flush=True)
    header = ("module", "iCE40 LUT/FF/carry/DSP", "ECP5 LUT/FF/carry/DSP",
              "Xilinx LUT/FF/carry/DSP", "iCE40 MHz", "ECP5 MHz")
    print(format_table(rows, header))


if __name__ == "__main__":
    main(sys.argv[1:])
