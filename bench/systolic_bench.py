#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Systolic array: utilization, resources per PE, Fmax, verification speed.

    .venv/bin/python bench/systolic_bench.py [utilization] [resources] [fmax] [fmax25] [speed]

(no argument: all five sections).

utilization  useful MACs / (rows * cols * cycles) of square GEMMs (M = N = K) on
             an 8x8 array, WS and OS, from the cycle model (which the tests hold
             equal to the RTL's cycle counts); writes docs/systolic_utilization.png.
resources    int8 WS arrays of 4x4, 8x8 and 16x16 PEs, Yosys cell counts on
             iCE40 (synth_ice40 -dsp), ECP5 and Xilinx, in total and per PE.
fmax         register-to-register Fmax (nextpnr-ecp5, seed 1) of the 8x8 int8 array
             (WS and OS, pipeline 0 and 1) next to one int_mac, all on an
             LFE5U-85F (the array's 64 multipliers do not fit the 25F's 28 DSPs).
fmax25       the 8x8 int8 WS array at pipeline=1 with multiplier='logic' (no DSP
             block) on the LFE5U-25F of the QoR report's timing table, as a ratio
             to int_mac default placed in the same run (nextpnr-ecp5, seeds 1
             and 2; place and route of the array takes 10 to 30 minutes a seed).
speed        simulated cycles per second of the same tiled GEMMs on an 8x8
             array: cocotb + Verilator (the regression's harness) against
             Amaranth's Python simulator.
"""

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from accelgen.flow.emit import emit
from accelgen.errors import ToolFailed
from accelgen.golden.systolic_array import cycles, utilization
from accelgen.registry import get_unit
from accelgen.flow.synth import synthesize, fmax
from accelgen.app.tables import format_table

DOCS = Path(__file__).resolve().parents[1] / "docs"
UNIT = get_unit("systolic_array")
SIZES = (8, 16, 32, 64, 128, 256, 512, 1024)


def progress(message, start=[time.monotonic()]):
    print(f"# {message} ({time.monotonic() - start[0]:.0f} s)", file=sys.stderr, flush=True)


def section_utilization():
    rows, curves = [], {}
    for dataflow in ("ws", "os"):
        p = UNIT.params(rows=8, cols=8, dataflow=dataflow)
        curves[dataflow] = [utilization(p, k, k, k) for k in SIZES]
    for i, k in enumerate(SIZES):
        p = UNIT.params(rows=8, cols=8)
        rows.append([k, cycles(p, k, k, k), f"{100 * curves['ws'][i]:.1f}%",
                     cycles(UNIT.params(rows=8, cols=8, dataflow="os"), k, k, k),
                     f"{100 * curves['os'][i]:.1f}%"])
    print(format_table(rows, ["M = K = N", "WS cycles", "WS utilization", "OS cycles",
                              "OS utilization"], right=(0, 1, 2, 3, 4)))
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib not installed: pip install -e .[bench] for the plot)")
        return
    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=120)
    for dataflow, label in (("ws", "weight stationary (double-buffered)"),
                            ("os", "output stationary")):
        ax.plot(SIZES, [100 * u for u in curves[dataflow]], marker="o", label=label)
    ax.axhline(95, color="grey", linestyle=":", linewidth=1)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("M = K = N")
    ax.set_ylabel("utilization (%)")
    ax.set_ylim(0, 100)
    ax.set_title("8x8 systolic_array: useful MACs / (64 x cycles)")
    ax.legend(loc="lower right")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    DOCS.mkdir(exist_ok=True)
    fig.savefig(DOCS / "systolic_utilization.png", metadata={"Software": None})
    print(f"(plot: {DOCS / 'systolic_utilization.png'})")


def section_resources(tmp):
    rows = []
    for n in (4, 8, 16):
        params = UNIT.params(rows=n, cols=n)
        row = [f"{n}x{n}"]
        for target in ("ice40", "ecp5", "xilinx"):
            try:
                r = synthesize(emit(UNIT.name, params), UNIT.build(params), target,
                               Path(tmp) / f"{n}.{target}")
            except ToolFailed:  # e.g. YoWASP's ABC exiting on a large design
                row += ["yosys failed", "—"]
                continue
            pes = n * n
            row.append(f"{r['LUT']}/{r['FF']}/{r['DSP']}")
            row.append(f"{r['LUT'] / pes:.1f}/{r['FF'] / pes:.1f}/{r['DSP'] / pes:.2f}")
        rows.append(row)
        progress(f"resources {n}x{n}")
    print(format_table(rows, ["array", "iCE40 LUT/FF/DSP", "per PE", "ECP5 LUT/FF/DSP",
                              "per PE", "Xilinx LUT/FF/DSP", "per PE"]))


def section_fmax(tmp):
    big = ("--85k", "--package", "CABGA381")
    mac = get_unit("int_mac")
    rows = []
    for label, build in [
            ("systolic_array 8x8 int8, WS",
             lambda p: UNIT.build(UNIT.params(rows=8, cols=8, pipeline=p))),
            ("systolic_array 8x8 int8, OS",
             lambda p: UNIT.build(UNIT.params(rows=8, cols=8, dataflow="os", pipeline=p))),
            ("int_mac int8", lambda p: mac.build(mac.params(pipeline=p)))]:
        row = [label]
        for pipeline in (0, 1):
            mhz = fmax(build(pipeline), "ecp5", Path(tmp) / f"{len(rows)}.{pipeline}",
                       device=big)
            row.append(f"{mhz:.1f}")
            progress(f"fmax {label} pipeline={pipeline}")
        rows.append(row)
    print(format_table(rows, ["design (LFE5U-85F)", "pipeline=0 MHz", "pipeline=1 MHz"],
                       right=(1, 2)))


def section_fmax25(tmp):
    mac = get_unit("int_mac")
    designs = [("int_mac default", mac.build(mac.params())),
               ("systolic_array 8x8 int8 WS, pipeline=1, multiplier='logic'",
                UNIT.build(UNIT.params(rows=8, cols=8, pipeline=1, multiplier="logic")))]
    seeds = (1, 2)
    found = {}
    for k, (label, design) in enumerate(designs):
        for seed in seeds:
            found[label, seed] = fmax(design, "ecp5", Path(tmp) / f"25f.{k}.{seed}", seed=seed,
                                      timeout=3600)
            progress(f"fmax {label} seed {seed}")
    base = designs[0][0]
    rows = [[label] + [f"{found[label, s]:.1f} ({found[label, s] / found[base, s]:.2f}×)"
                       for s in seeds] for label, _ in designs]
    print(format_table(rows, ["design (LFE5U-25F)"] +
                       [f"seed {s}: MHz (÷ int_mac)" for s in seeds], right=(1, 2)))


def section_speed():
    from accelgen.verif.runner import run_cocotb, sim_speed
    from accelgen.verif.systolic_array import amaranth_gemm, shapes
    params = UNIT.params(rows=8, cols=8)
    result = run_cocotb(UNIT.name, params, testcase="gemm_shapes_under_stalls", seed=1)
    sim_cycles, wall = sim_speed(result.results_xml)
    verilator_rate = sim_cycles / wall
    progress("speed: Verilator")
    rng = np.random.default_rng(1)
    total_cycles, start = 0, time.monotonic()
    for m, k, n in shapes(params) * 2:
        a = rng.integers(-128, 128, (m, k))
        b = rng.integers(-128, 128, (k, n))
        _rows, ran = amaranth_gemm(params, a, b, idle=0.3, backpressure=0.3, seed=1)
        total_cycles += ran
    amaranth_rate = total_cycles / (time.monotonic() - start)
    print(format_table([["cocotb + Verilator", f"{sim_cycles:.0f}", f"{verilator_rate:.0f}"],
                        ["Amaranth simulator", f"{total_cycles}", f"{amaranth_rate:.0f}"]],
                       ["8x8 GEMM regression (12 tiled GEMMs, stalls)", "cycles",
                        "cycles/s"], right=(1, 2)))


def main(sections):
    sections = sections or ["utilization", "resources", "fmax", "fmax25", "speed"]
    with tempfile.TemporaryDirectory() as tmp:
        for name in sections:
            print(f"## {name}")
            if name == "utilization":
                section_utilization()
            elif name == "resources":
                section_resources(tmp)
            elif name == "fmax":
                section_fmax(tmp)
            elif name == "fmax25":
                section_fmax25(tmp)
            elif name == "speed":
                section_speed()
            else:
                sys.exit(f"unknown section {name!r}")
            print()


if __name__ == "__main__":
    main(sys.argv[1:])
