#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Nonlinear units: accuracy against float64 next to ECP5 resources and Fmax,
method by method, table size by table size.

    .venv/bin/python bench/nonlinear_bench.py

For each configuration of ``softmax``, ``gelu`` and ``layernorm`` below:

1. Accuracy: :func:`accelgen.app.accuracy.evaluate` (seed 0, default vector counts:
   every input code for gelu; 2,000 random and adversarial vectors for softmax
   and layernorm, 512 for n = 1024): max and mean ``|golden - float64|`` in
   output LSBs; for softmax also the largest ``sum(out) - 1`` in LSBs and the
   argmax agreement. The golden models are bit-exact with the RTL.
2. Resources on ECP5 (LFE5U-25F, Yosys ``synth_ecp5`` with DSPs): LUT, FF, DSP;
   Fmax with nextpnr-ecp5 (seed 1) through :class:`accelgen.flow.synth.FmaxHarness`.
   A Yosys/nextpnr failure prints ``yosys failed`` in the row; "(abc)" marks
   a design that YoWASP's ABC9 could not map and classic ABC did.

Softmax is synthesized at n = 16 (its buffers grow with n; n = 64 for one row
per method), and its long-vector accuracy (n = 1024, not synthesized) is a
separate table. The script writes ``docs/nonlinear_accuracy.png``: max |error|
against ECP5 LUTs, one panel per unit, one marker per method, 8-bit-output
configurations only (LSBs of different output widths are not comparable).
About 5 to 6 minutes on 2 cores.
"""

import sys
import tempfile
import time
from pathlib import Path

from accelgen.app.accuracy import evaluate
from accelgen.flow.emit import emit
from accelgen.errors import ToolFailed
from accelgen.registry import get_unit, module_name
from accelgen.flow.synth import synthesize, fmax
from accelgen.app.tables import format_table

WIDE = {"in_bits": 16, "in_frac": 10}
WIDE_OUT = {"in_bits": 16, "in_frac": 10, "out_bits": 16, "out_frac": 12}

# unit -> [(knob label, overrides)]
CONFIGS = {
    "softmax": [
        *((f"lut_bits={t}", {"method": "lut", "n": 16, "lut_bits": t}) for t in (5, 6, 7, 8)),
        *((f"lut_bits={t}", {"method": "base2", "n": 16, "lut_bits": t})
          for t in (2, 4, 6, 8)),
        ("in 8/4", {"method": "ibert", "n": 16}),
        ("in 16/10", {"method": "ibert", "n": 16, **WIDE}),
        ("lut_bits=8, n=64", {"method": "lut", "n": 64}),
        ("lut_bits=8, n=64", {"method": "base2", "n": 64}),
        ("in 16/10, n=64", {"method": "ibert", "n": 64, **WIDE}),
    ],
    "gelu": [
        *((f"lut_bits={t}", {"method": "lut", "lut_bits": t}) for t in (4, 6, 7, 8)),
        *((f"segments={s}", {"method": "pwl", "segments": s}) for s in (4, 8, 16, 32)),
        ("in 12/8", {"method": "ibert", "in_bits": 12, "in_frac": 8}),
        ("in 16/12", {"method": "ibert", "in_bits": 16, "in_frac": 12}),
    ],
    "layernorm": [
        ("exact", {"method": "isqrt", "channels": 16}),
        *((f"lut_bits={t}", {"method": "rsqrt", "channels": 16, "lut_bits": t})
          for t in (4, 6, 8, 10)),
        ("exact, out 16/12", {"method": "isqrt", "channels": 16, **WIDE_OUT}),
        *((f"lut_bits={t}, out 16/12", {"method": "rsqrt", "channels": 16, "lut_bits": t,
                                        **WIDE_OUT}) for t in (8, 12)),
    ],
}

LONG_SOFTMAX = [{"method": m, "n": 1024, "exp_bits": e, **(WIDE if m == "ibert" else {})}
                for m in ("lut", "base2", "ibert") for e in (16, 20)]

MARKERS = {"lut": "o", "base2": "s", "ibert": "^", "pwl": "D", "isqrt": "*", "rsqrt": "v"}
COLORS = {"lut": "C0", "base2": "C1", "ibert": "C2", "pwl": "C3", "isqrt": "C4", "rsqrt": "C5"}


def measure(unit_name, params, tmp, start):
    unit = get_unit(unit_name)
    module = module_name(params)
    acc = evaluate(unit_name, params)
    try:
        r = synthesize(emit(unit_name, params), unit.build(params), "ecp5", Path(tmp) / module)
        mhz = fmax(unit.build(params), "ecp5", Path(tmp) / f"{module}.pnr")
    except ToolFailed:
        r, mhz = None, None
    print(f"# {module} done ({time.monotonic() - start:.0f} s)", file=sys.stderr, flush=True)
    return acc, r, mhz


def sweep(start):
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for unit_name, configs in CONFIGS.items():
            rows, points = [], []
            for knob, overrides in configs:
                params = get_unit(unit_name).params(**overrides)
                acc, r, mhz = measure(unit_name, params, tmp, start)
                row = [f"`{acc['module']}`", params.method, knob,
                       f"{acc['max_abs_error_lsb']:.2f}", f"{acc['mean_abs_error_lsb']:.3f}"]
                if unit_name == "softmax":
                    row += [f"{acc['max_sum_lsb_above_one']:+d}",
                            f"{100 * acc['argmax_agreement']:.0f}%"]
                if r is None:
                    row += ["yosys failed", "", "", ""]
                else:
                    lut = r["LUT"] if r["mapper"] != "abc" else f"{r['LUT']} (abc)"
                    row += [lut, r["FF"], r["DSP"], f"{mhz:.1f}"]
                    if params.out_bits == 8:
                        points.append((params.method, knob, r["LUT"], acc["max_abs_error_lsb"]))
                rows.append(row)
            header = ["module", "method", "table / format", "max |err| LSB", "mean |err| LSB"]
            if unit_name == "softmax":
                header += ["max sum-1 LSB", "argmax"]
            header += ["LUT", "FF", "DSP", "MHz"]
            print(f"{unit_name}: accuracy against float64 (seed 0) and ECP5 resources")
            print(format_table(rows, header, right=tuple(range(3, len(header)))))
            print(flush=True)
            results[unit_name] = points
    return results


def long_softmax():
    rows = []
    for overrides in LONG_SOFTMAX:
        p = get_unit("softmax").params(**overrides)
        acc = evaluate("softmax", p)
        worst = max(acc["families"], key=lambda f: f["max_abs_error_lsb"])["family"]
        rows.append([f"`{acc['module']}`", p.method, p.exp_bits,
                     f"{acc['max_abs_error_lsb']:.2f}", f"{acc['mean_abs_error_lsb']:.3f}",
                     worst, f"{acc['max_sum_lsb_above_one']:+d}",
                     f"{100 * acc['argmax_agreement']:.0f}%"])
    print(f"softmax at n=1024 (accuracy only, {acc['vectors']} vectors, seed 0; not "
          f"synthesized)")
    print(format_table(rows, ["module", "method", "exp_bits", "max |err| LSB",
                              "mean |err| LSB", "worst family", "max sum-1 LSB", "argmax"],
                       right=(2, 3, 4, 6, 7)))


def plot(results, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import ticker

    fig, axes = plt.subplots(1, len(results), figsize=(5 * len(results), 4.2))
    for ax, (unit_name, points) in zip(axes, results.items()):
        for method in dict.fromkeys(m for m, *_ in points):
            mine = [p for p in points if p[0] == method]
            ax.scatter([p[2] for p in mine], [p[3] for p in mine], marker=MARKERS[method],
                       color=COLORS[method], s=50, label=method)
            for _m, knob, lut, err in mine:
                ax.annotate(knob.replace("lut_bits=", "t").replace("segments=", "s"),
                            (lut, err), textcoords="offset points", xytext=(4, 4),
                            fontsize=7)
        ax.axhline(1.0, color="grey", linestyle="--", linewidth=0.8)
        ax.axhline(0.5, color="grey", linestyle=":", linewidth=0.8)
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(ticker.NullFormatter())
        ax.margins(x=0.15, y=0.15)
        ax.set_xlabel("ECP5 LUTs")
        ax.set_ylabel("max |error| vs float64 (output LSBs)")
        ax.set_title(f"{unit_name} (8-bit outputs)" + (", n=16/64" if unit_name == "softmax"
                                                      else ""))
        ax.legend(fontsize=8)
    fig.suptitle("accelgen nonlinear units: accuracy against area (dashed: 1 LSB, "
                 "dotted: 0.5 LSB rounding floor)", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    start = time.monotonic()
    results = sweep(start)
    long_softmax()
    out = Path(__file__).resolve().parent.parent / "docs" / "nonlinear_accuracy.png"
    plot(results, out)
    print(f"\nwrote {out.relative_to(Path.cwd()) if out.is_relative_to(Path.cwd()) else out}"
          f"; {time.monotonic() - start:.0f} s")
