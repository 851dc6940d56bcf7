#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""QoR report of every registered unit: ``make report`` writes docs/report.md,
docs/report.json and the plots in docs/report/.

    .venv/bin/python bench/report.py [-j N | --scheduler tcp://HOST:PORT] [--timeout S]
                                     [--no-cache] [--output DIR] [UNIT ...]
    .venv/bin/python bench/report.py --update-baselines      # make baselines

For every unit of ``accelgen.registry.UNITS`` and each of its presets (default,
small, large; one row per distinct module): Yosys cells (LUT, FF, carry, DSP,
BRAM) on iCE40 (UP5K, ``synth_ice40 -dsp``), ECP5 (LFE5U-25F, ``synth_ecp5``)
and Xilinx (``synth_xilinx``, 7-series cells, no place and route); Fmax on
iCE40 and ECP5 (nextpnr seed 1, register to register through
``accelgen.flow.synth.FmaxHarness``); latency and throughput from the manifest; and
the unit's own figure where it has one (:data:`FIGURES`: accuracy against
float64 for the units with an accuracy report in the registry; products or pairs per cycle,
utilization). Plots: the int8 WS systolic array at :data:`SYSTOLIC_SIZES` on
ECP5, the nonlinear units' error against ECP5 LUTs (the configurations and plot
of bench/nonlinear_bench.py), and BitFusion products per cycle per 1000 ECP5
LUTs (DSPs off) per precision mode.

Jobs run on Dask (``accelgen.flow.report.jobs``): a local cluster of ``-j``
worker processes (default 2, so two jobs at a time), or the cluster of the
scheduler given by ``--scheduler``; each job is limited to ``--timeout`` seconds
(default 1800; the slowest job, the default ``bitfusion_array``'s ECP5 place
and route, comes close to 900: its time is in the report's job table). A job that
fails or times out is a row entry (``failed: <tool message>``, ``timeout``),
never dropped. A design whose Verilog is larger than ``--max-verilog-kb``
(default 2048: only the 8x8 ``bitfusion_array``, 4.6 MB, whose synthesis takes
over 10 minutes on each target) is not synthesized, and an Fmax job is not run
when its synthesis did not succeed or exceeds the device; both are shown with
their reason. Results are cached under build/report/cache (see
``accelgen.flow.report.jobs``), so a rerun after an interruption repeats only the jobs
that had not finished. One progress line per job. ``--output DIR`` writes the
report there instead of docs/ (e.g. for a subset of the units).

``--update-baselines`` synthesizes every unit's ``small`` preset on iCE40, ECP5
and Xilinx and rewrites bench/baselines/<target>.json, which
tests/test_synth.py holds fresh synthesis to (tolerance:
``accelgen.flow.report.baselines``).
"""

import argparse
import json
import platform
import shlex
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from accelgen.app.accuracy import evaluate
from accelgen.registry import UNITS, PRESET_NAMES, get_unit, module_name
from accelgen.flow.report import baselines
from accelgen.flow.report.figures import FIGURES
from accelgen.flow.report.jobs import (Job, run_jobs, format_duration, tool_versions,
                                       scheduler_address, EngineError, MAX_VERILOG_KB)

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PLOTS = DOCS / "report"
BUILD = ROOT / "build" / "report"
TARGETS = ("ice40", "ecp5", "xilinx")
FMAX_TARGETS = ("ice40", "ecp5")
TARGET_NAMES = {"ice40": "iCE40 UP5K", "ecp5": "ECP5-25F", "xilinx": "Xilinx 7"}
SYSTOLIC_SIZES = (2, 4, 8)
BITFUSION_UNITS = ("int_mac", "fusion_unit", "bitfusion_array")


@dataclass
class Row:
    unit: str
    presets: list
    params: object

    @property
    def module(self):
        return module_name(self.params)

    @property
    def label(self):
        return f"{self.unit} {self.presets[0]}"


def rows_of(unit_names):
    """One :class:`Row` per distinct module of each unit's presets and of its
    ``fastest`` setting (the registry's timing-oriented overrides of ``default``)."""
    rows = []
    for name in unit_names:
        unit, by_module = UNITS[name], {}
        settings = [(preset, unit.params(preset)) for preset in PRESET_NAMES]
        if unit.fastest is not None:
            settings.append(("fastest", unit.fastest_params()))
        for label, params in settings:
            by_module.setdefault(module_name(params), Row(name, [], params)).presets.append(
                label)
        rows += by_module.values()
    return rows


def timing_rows(rows, results):
    """The timing table: per unit, the default preset's Fmax and the fastest of
    its rows, each as a ratio to ``int_mac`` default's Fmax in the same run, on
    every Fmax target. ``None`` when ``int_mac`` default is not in the run."""
    base = next((r for r in rows if r.unit == "int_mac" and "default" in r.presets), None)
    if base is None:
        return None

    def fmax_of(row, target):
        result = results.get(Job.of(row.params, target, "fmax"))
        return result["fmax_mhz"] if result and result["status"] == "ok" else None

    ref = {t: fmax_of(base, t) for t in FMAX_TARGETS}
    out = []
    for unit in dict.fromkeys(r.unit for r in rows):
        own = [r for r in rows if r.unit == unit]
        default = next(r for r in own if "default" in r.presets)
        cells = [f"`{unit}`"]
        for t in FMAX_TARGETS:
            timed = [(fmax_of(r, t), r) for r in own if fmax_of(r, t) is not None]
            d = fmax_of(default, t)
            if not timed or ref[t] is None:
                cells += [mhz(results[Job.of(default.params, t, "fmax")]), "—", "—", "—"]
                continue
            best, row = max(timed, key=lambda fr: fr[0])
            cells += [f"{d:.1f}" if d is not None else "—",
                      f"{d / ref[t]:.2f}" if d is not None else "—",
                      f"{', '.join(row.presets)}: {best:.1f}", f"{best / ref[t]:.2f}"]
        out.append(cells)
    return out


def row_jobs(row):
    return [*(Job.of(row.params, t, label=row.label) for t in TARGETS),
            *(Job.of(row.params, t, "fmax", label=row.label) for t in FMAX_TARGETS)]


# --- formatting -----------------------------------------------------------------

def cells(result, target):
    """``LUT/FF/carry/DSP/BRAM``; "(abc)" where ECP5 fell back from ABC9 to classic ABC."""
    if result["status"] != "ok":
        return status_text(result, short=True)
    fallback = target in ("ice40", "ecp5") and result.get("mapper") == "abc"
    return "/".join(str(result[k]) for k in baselines.METRICS) + (" (abc)" if fallback else "")


def mhz(result):
    return f"{result['fmax_mhz']:.1f}" if result["status"] == "ok" else \
        status_text(result, short=True)


def status_text(result, short=False):
    """``timeout (10 min 0 s)``, ``failed: <reason>`` or the reason of a skip
    (``short``: only "does not fit" of a device-capacity skip, for table cells)."""
    if result["status"] == "timeout":
        return f"timeout ({format_duration(result['limit'])})"
    if result["status"] == "skipped":
        fit = result["reason"].startswith("does not fit")
        return result["reason"].split(":")[0] if short and fit else result["reason"]
    return f"failed: {result['reason']}"


def progress_line(job, result, done, total, elapsed):
    what = f"{job.label or job.module} {job.target}" + (" Fmax" if job.kind == "fmax" else "") \
        + ("" if job.dsp else " (no DSP)")
    if result["status"] != "ok":
        figure = status_text(result)
    elif job.kind == "fmax":
        figure = f"{result['fmax_mhz']:.1f} MHz"
    else:
        figure = f"LUT {result['LUT']}  FF {result['FF']}" + \
            (f"  DSP {result['DSP']}" if result["DSP"] else "")
    cached = "  cached" if result.get("cached") else ""
    width = len(str(total))
    return (f"[{done:{width}d}/{total}] {what:44s} {figure}  {format_duration(result['seconds'])}"
            f"{cached}  (total {format_duration(elapsed)})")


def markdown_table(rows, header, right=()):
    rule = ["---:" if i in right else "---" for i in range(len(header))]
    return "\n".join("| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |"
                     for r in [header, rule, *rows])


# --- plots ----------------------------------------------------------------------

def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def plot_systolic(points, path):
    """``points``: ``[(n, result)]`` of n x n int8 WS arrays on ECP5."""
    plt = _pyplot()
    ok = [(n, r) for n, r in points if r["status"] == "ok"]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), dpi=110)
    for key, marker in (("LUT", "o"), ("FF", "s"), ("DSP", "^")):
        axes[0].plot([n * n for n, _ in ok], [r[key] for _, r in ok], marker=marker, label=key)
        axes[1].plot([n * n for n, _ in ok], [r[key] / (n * n) for n, r in ok], marker=marker,
                     label=key)
    for ax, title in ((axes[0], "total"), (axes[1], "per PE")):
        ax.set_xscale("log", base=2)
        ax.set_xticks([n * n for n, _ in ok], [f"{n}x{n}" for n, _ in ok])
        ax.set_xlabel("array (PEs)")
        ax.set_title(f"systolic_array int8 WS on ECP5: {title}")
        ax.grid(True, alpha=0.3)
        ax.legend()
    axes[0].set_yscale("log")
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)


def plot_bitfusion(mac, units, path):
    """Products per cycle per 1000 ECP5 LUTs (DSPs off) per mode; ``mac`` the
    fixed 8x8 ``int_mac`` result, ``units`` ``[(label, params, result)]``."""
    from accelgen.golden.fusion_unit import products_per_beat
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 3.8), dpi=110)
    width = 0.8 / max(1, len(units))
    modes = None
    for i, (label, params, result) in enumerate(units):
        scale = getattr(params, "rows", 1) * getattr(params, "cols", 1)
        modes = [f"{wa}x{ww}" for wa, ww in params.mode_set]
        values = [1000 * scale * products_per_beat(wa, ww) / result["LUT"]
                  for wa, ww in params.mode_set]
        ax.bar(np.arange(len(modes)) + (i - (len(units) - 1) / 2) * width, values, width,
               label=label)
    if mac is not None:
        ax.axhline(1000 / mac["LUT"], color="grey", linestyle="--",
                   label="int_mac 8x8 (1 product/cycle)")
    ax.set_xticks(np.arange(len(modes or [])), modes or [])
    ax.set_yscale("log")
    ax.set_xlabel("precision mode (activation x weight bits)")
    ax.set_ylabel("products/cycle per 1000 LUTs")
    ax.set_title("BitFusion throughput per area, ECP5 LUTs with DSPs off")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)


# --- the report -----------------------------------------------------------------

def plot_jobs(names):
    """Jobs of the plots whose units are in ``names``: ``{plot: [(key, job)]}``."""
    plots = {}
    if "systolic_array" in names:
        unit = get_unit("systolic_array")
        plots["systolic"] = [(n, Job.of(unit.params(rows=n, cols=n), "ecp5",
                                        label=f"systolic_array {n}x{n} (plot)"))
                             for n in SYSTOLIC_SIZES]
    if all(n in names for n in BITFUSION_UNITS):
        plots["bitfusion"] = [(n, Job.of(get_unit(n).params(), "ecp5", dsp=False,
                                         label=f"{n} default (plot)"))
                              for n in BITFUSION_UNITS]
    nonlinear = _nonlinear_configs(names)
    if nonlinear:
        plots["nonlinear"] = [((unit_name, knob), Job.of(params, "ecp5",
                                                         label=f"{module_name(params)} (plot)"))
                              for unit_name, knob, params in nonlinear]
    return plots


def _nonlinear_configs(names):
    sys.path.insert(0, str(Path(__file__).parent))
    import nonlinear_bench
    return [(unit_name, knob, get_unit(unit_name).params(**overrides))
            for unit_name, configs in nonlinear_bench.CONFIGS.items() if unit_name in names
            for knob, overrides in configs]


def _units_label(name, params):
    if hasattr(params, "rows"):
        return f"{name} {params.rows}x{params.cols} ({params.rows * params.cols} Fusion Units)"
    return f"{name} (one Fusion Unit)"


def make_plots(plots, results, folder=PLOTS):
    """Draw the plots whose jobs succeeded into ``folder``; return ``{plot: file name
    relative to its parent}``."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    if "systolic" in plots:
        plot_systolic([(n, results[job]) for n, job in plots["systolic"]],
                      folder / "systolic_resources.png")
        out["systolic"] = "report/systolic_resources.png"
    if "bitfusion" in plots:
        got = {n: (job.unit_params, results[job]) for n, job in plots["bitfusion"]}
        if all(r["status"] == "ok" for _, r in got.values()):
            plot_bitfusion(got["int_mac"][1], [(_units_label(n, p), p, r) for n, (p, r)
                                                in got.items() if n != "int_mac"],
                           folder / "bitfusion_products_per_lut.png")
            out["bitfusion"] = "report/bitfusion_products_per_lut.png"
    if "nonlinear" in plots:
        import nonlinear_bench
        points = {}
        for (unit_name, knob), job in plots["nonlinear"]:
            params, r = job.unit_params, results[job]
            if r["status"] == "ok" and params.out_bits == 8:
                err = evaluate(unit_name, params)["max_abs_error_lsb"]
                points.setdefault(unit_name, []).append((params.method, knob, r["LUT"], err))
        if points:
            nonlinear_bench.plot(points, folder / "nonlinear_error_vs_luts.png")
            out["nonlinear"] = "report/nonlinear_error_vs_luts.png"
    return out


def _timing_section(rows, results):
    table = timing_rows(rows, results)
    if table is None:
        return ["Not computed: `int_mac` default is not in this run.", ""]
    header = ["unit"]
    for t in FMAX_TARGETS:
        name = TARGET_NAMES[t]
        header += [f"{name} default MHz", "÷ int_mac", f"{name} fastest: MHz", "÷ int_mac"]
    return [markdown_table(table, header, right=tuple(range(1, len(header)))), ""]


def build_report(rows, results, plots, plot_files, header):
    """``(markdown, json)`` of the report."""
    entries, md_rows, figure_rows = [], [], []
    for row in rows:
        jobs = row_jobs(row)
        res = {j: results[j] for j in jobs}
        first = next((r for r in res.values() if "latency" in r),  # the manifest's
                     {"latency": row.params.latency, "throughput": row.params.throughput})
        figure = FIGURES[row.unit](row.params) if row.unit in FIGURES else None
        entries.append({
            "unit": row.unit, "presets": row.presets, "module": row.module,
            "params": row.params.as_dict(), "latency": first["latency"],
            "throughput": first["throughput"],
            "resources": {j.target: _clean(r) for j, r in res.items() if j.kind == "synth"},
            "fmax_mhz": {j.target: _clean(r) for j, r in res.items() if j.kind == "fmax"},
            "figure": None if figure is None else {"text": figure[0], **figure[1]}})
        md_rows.append([f"`{row.unit}`", ", ".join(row.presets), f"`{row.module}`",
                        first["latency"], first["throughput"],
                        *(cells(res[Job.of(row.params, t)], t) for t in TARGETS),
                        *(mhz(res[Job.of(row.params, t, "fmax")]) for t in FMAX_TARGETS)])
        if figure is not None:
            figure_rows.append([f"`{row.module}`", figure[0]])
    problems = [(j, r) for j, r in results.items() if r["status"] not in ("ok",)]
    slowest = sorted(results.items(), key=lambda jr: -jr[1]["seconds"])[:10]
    data = {**header, "rows": entries, "timing": timing_rows(rows, results),
            "plots": {name: {"file": f, "jobs": {j.name: _clean(results[j])
                                                  for _, j in plots[name]}}
                      for name, f in plot_files.items()},
            "not_ok": {j.name: _clean(r) for j, r in problems}}

    lines = [
        "# accelgen QoR report",
        "",
        f"Generated by `{header['command']}` on {header['date']} on {header['machine']}; "
        f"wall time {format_duration(header['wall_seconds'])} ({header['jobs']} jobs, "
        f"{header['cached']} from the cache of an earlier run, {header['engine']}; "
        f"the jobs' wall times add up to {format_duration(header['job_seconds'])}, "
        f"their CPU times (with the tools', for jobs that ran to the end) to "
        f"{format_duration(header['job_cpu_seconds'])}).",
        "",
        "Tools: " + ", ".join(f"{k} `{v}`" for k, v in header["tools"].items()) +
        f", Python {header['python']}. Per-job time limit "
        f"{format_duration(header['timeout'])}; designs with more than "
        f"{header['max_verilog_kb']:.0f} kB of Verilog are not synthesized "
        f"(`--max-verilog-kb`). Machine-readable: "
        "[report.json](report.json).",
        "",
        "Cells are LUT/FF/carry/DSP/BRAM as `accelgen.flow.synth.synthesize` counts them: "
        "iCE40 = UP5K (`synth_ice40 -dsp`), ECP5 = LFE5U-25F (`synth_ecp5`), Xilinx = "
        "`synth_xilinx` 7-series cells (no place and route). Fmax is register to register "
        "through `FmaxHarness` (nextpnr, seed 1) on the UP5K and the LFE5U-25F; "
        "\"does not fit\" means the synthesized cells exceed the device, so place and route "
        "was not tried (the reasons are listed below). \"(abc)\" marks a design that "
        "YoWASP's ABC9 could not map and classic ABC did. Latency (cycles) and throughput "
        "(beats/cycle) come from the manifest.",
        "",
        "## Resources and Fmax",
        "",
        markdown_table(md_rows, ["unit", "preset", "module", "latency", "throughput",
                                 *(f"{TARGET_NAMES[t]}" for t in TARGETS),
                                 *(f"{TARGET_NAMES[t]} MHz" for t in FMAX_TARGETS)],
                       right=(3, 4)),
        "",
        "## Timing",
        "",
        "Per unit, the default preset's Fmax and the fastest of its rows above (the "
        "presets and the registry's `fastest` setting: the deepest pipeline, at a size "
        "that places at speed on the UP5K, verified like the presets), each divided by "
        "`int_mac` default's Fmax placed and timed in this run.",
        "",
        *_timing_section(rows, results),
        "## The units' own figures",
        "",
        "Accuracy: `accelgen.app.accuracy.evaluate` (seed 0; every input code for gelu), "
        "|golden - float64| in output LSBs (the golden models are bit-exact with the RTL). "
        "Products/cycle per BitFusion precision mode; systolic utilization from the exact "
        "cycle model; index_match pairs per cycle on random sorted blocks (seed 0).",
        "",
        markdown_table(figure_rows, ["module", "figure"]) if figure_rows else "None here.",
        "",
        "## Plots",
        "",
    ]
    captions = {
        "systolic": f"int8 WS `systolic_array` at {', '.join(f'{n}x{n}' for n in SYSTOLIC_SIZES)}"
                    " on ECP5: cells in total and per PE.",
        "nonlinear": "Nonlinear units: max |error| against ECP5 LUTs, the configurations of "
                     "bench/nonlinear_bench.py (which adds Fmax and the long-vector softmax).",
        "bitfusion": "BitFusion products per cycle per 1000 ECP5 LUTs (DSPs off, all logic) "
                     "per precision mode, against a fixed 8x8 `int_mac`.",
    }
    for name, f in plot_files.items():
        lines += [captions[name], "", f"![{name}]({f})", ""]
    missing = [n for n in plots if n not in plot_files]
    if missing:
        lines += [f"Not drawn (a job it needs did not succeed): {', '.join(missing)}.", ""]
    lines += ["## Failures, time limits and skipped jobs", ""]
    if problems:
        lines.append(markdown_table([[f"`{j.module}`", j.target, j.kind, status_text(r),
                                      format_duration(r["seconds"])] for j, r in problems],
                                    ["module", "target", "job", "result", "time"]))
    else:
        lines.append("None: every job succeeded.")
    lines += ["", "## Slowest jobs", "",
              markdown_table([[f"`{j.module}`", j.target, j.kind + ("" if j.dsp else " (no DSP)"),
                               format_duration(r["seconds"]),
                               format_duration(r["cpu_seconds"]) if "cpu_seconds" in r else "—",
                               r["status"]] for j, r in slowest],
                             ["module", "target", "job", "wall time", "CPU time", "result"]), ""]
    return "\n".join(lines), data


def _clean(result):
    """A job result for report.json: without the cache's and the manifest's fields."""
    out = {k: v for k, v in result.items()
           if k not in ("design", "cached", "latency", "throughput")}
    out["seconds"] = round(out["seconds"], 1)
    return out


def header_of(args, versions, results, wall):
    return {"command": " ".join(map(shlex.quote, ["bench/report.py", *sys.argv[1:]])),
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": f"{platform.machine()}, {_cores()} cores",
            "tools": versions, "python": platform.python_version(),
            "timeout": args.timeout, "max_verilog_kb": args.max_verilog_kb,
            "workers": args.jobs, "engine": _engine(args), "wall_seconds": round(wall, 1),
            "jobs": len(results), "cached": sum(bool(r.get("cached")) for r in results.values()),
            "job_seconds": round(sum(r["seconds"] for r in results.values()), 1),
            "job_cpu_seconds": round(sum(r.get("cpu_seconds", 0) for r in results.values()), 1),
            "status": dict(Counter(r["status"] for r in results.values()))}


def _engine(args):
    """What ran the jobs, for the report's header."""
    return f"on the Dask cluster of {args.scheduler}" if args.scheduler else \
        f"{args.jobs} at a time on a local Dask cluster"


def _cores():
    import os
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def update_baselines(args, versions, on_done):
    """Synthesize every unit's small preset on the baseline targets; rewrite the files."""
    jobs = {(name, t): Job.of(UNITS[name].params(baselines.BASELINE_PRESET), t,
                              label=f"{name} {baselines.BASELINE_PRESET}")
            for t in baselines.BASELINE_TARGETS for name in UNITS}
    results = run_jobs(jobs.values(), work_dir=BUILD / "work",
                       cache_dir=None if args.no_cache else BUILD / "cache",
                       workers=args.jobs, timeout=args.timeout, scheduler=args.scheduler,
                       max_verilog_kb=args.max_verilog_kb, versions=versions, on_done=on_done)
    bad = [(j, r) for j, r in results.items() if r["status"] != "ok"]
    if bad:
        for j, r in bad:
            print(f"error: {j.name}: {status_text(r)}", file=sys.stderr)
        sys.exit("baselines not written: every small preset must synthesize")
    for target in baselines.BASELINE_TARGETS:
        old = (baselines.load_baseline(target) or {}).get("modules", {})
        entries = {}
        for name in UNITS:
            job = jobs[name, target]
            entries[job.module] = baselines.baseline_entry(name, results[job])
            diff = job.module in old and baselines.compare(entries[job.module],
                                                           old[job.module])
            if diff:
                print(f"{target} {job.module}: " + "; ".join(diff))
        path = baselines.write_baseline(target, entries, versions["yosys"])
        print(f"wrote {path.relative_to(ROOT)} ({len(entries)} modules)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("units", nargs="*", help="units to report (default: all)")
    parser.add_argument("-j", "--jobs", type=int, default=2,
                        help="worker processes of the local Dask cluster: jobs at a time (2)")
    parser.add_argument("--timeout", type=float, default=1800,
                        help="per-job time limit in seconds (1800)")
    parser.add_argument("--max-verilog-kb", type=float, default=MAX_VERILOG_KB,
                        help="synthesize only designs with at most this much Verilog "
                             f"({MAX_VERILOG_KB})")
    parser.add_argument("--no-cache", action="store_true", help="ignore and do not write "
                        "the result cache (build/report/cache)")
    parser.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                        help="run the jobs on this Dask scheduler's cluster (default: a "
                             "local cluster of -j workers)")
    parser.add_argument("--output", type=Path, default=DOCS,
                        help="folder of report.md, report.json and the plots (docs)")
    parser.add_argument("--update-baselines", action="store_true",
                        help="rewrite bench/baselines/*.json instead of the report")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"-j must be at least 1, not {args.jobs}")
    if args.timeout <= 0:
        parser.error(f"--timeout must be positive seconds, not {args.timeout}")
    unknown = [n for n in args.units if n not in UNITS]
    if unknown:
        parser.error(f"unknown unit {unknown[0]!r}; units are {', '.join(UNITS)}")
    if args.update_baselines and args.units:
        parser.error("--update-baselines covers every unit; give no unit names")
    if args.scheduler is not None:
        try:
            scheduler_address(args.scheduler)
        except EngineError as e:
            parser.error(str(e))
    start = time.monotonic()
    versions = tool_versions()

    def on_done(job, result, done, total, elapsed):
        print(progress_line(job, result, done, total, elapsed), flush=True)

    if args.update_baselines:
        update_baselines(args, versions, on_done)
        return
    names = args.units or list(UNITS)
    rows = rows_of(names)
    plots = plot_jobs(names)
    order = {"large": 0, "fastest": 1, "default": 2, "small": 3}  # longest jobs first
    jobs = [j for row in sorted(rows, key=lambda r: min(order[p] for p in r.presets))
            for j in row_jobs(row)]
    jobs += [job for entries in plots.values() for _, job in entries]
    print(f"{len(rows)} modules of {len(names)} units, {len(set(jobs))} jobs, "
          f"{_engine(args)}, limit {format_duration(args.timeout)} each", flush=True)
    results = run_jobs(jobs, work_dir=BUILD / "work",
                       cache_dir=None if args.no_cache else BUILD / "cache",
                       workers=args.jobs, timeout=args.timeout, scheduler=args.scheduler,
                       max_verilog_kb=args.max_verilog_kb, versions=versions, on_done=on_done)
    plot_files = make_plots(plots, results, args.output / "report")
    header = header_of(args, versions, results, time.monotonic() - start)
    markdown, data = build_report(rows, results, plots, plot_files, header)
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "report.md").write_text(markdown)
    (args.output / "report.json").write_text(json.dumps(data, indent=1) + "\n")
    print(f"wrote {args.output}/report.md, report.json, {len(plot_files)} plots in "
          f"{args.output}/report/; "
          f"{format_duration(time.monotonic() - start)} "
          f"({header['status']})", flush=True)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit("\ninterrupted: finished jobs are cached in build/report/cache; run again "
                 "to resume")
