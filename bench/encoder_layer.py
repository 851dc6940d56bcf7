#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""The encoder layer's RTL: cycles against the roofline, GEMM utilisation, resources and Fmax.

    .venv/bin/python bench/encoder_layer.py [--sizes small,tiny] [--synth small]
        [--targets ecp5,ice40,xilinx] [--fmax mini,small4] [--fmax-timeout 3600]
        [--jobs 2] [--output docs/encoder_layer]

For each size (``small``: ``d_model=32, heads=2, d_ff=64, seq=8``; ``tiny``, a
BERT-tiny-like layer: ``d_model=128, heads=2, d_ff=512, seq=128``; both on an
8x8 array, 8 lanes in every unit; ``small4``: ``small`` on a 4x4 array, 4 lanes;
``mini``: ``d_model=16, heads=2, d_ff=32, seq=4`` on a 2x2 array) the cycle
model (:mod:`accelgen.transformer.cycles`, exact against the RTL: the
testbench checks it) gives the cycles of one sequence, per token,
per pass, and the GEMM engine's utilisation against the roofline bound (MACs
/ (rows x cols)). ``--synth`` sizes are synthesized with Yosys for each target
(LUT, FF, carry, DSP, block RAM, LUT RAM); ``--fmax`` sizes are placed with
nextpnr on the ECP5 (LFE5U-85F: the layer does not fit the 25F's block RAM
beside the 25F's LUTs) with ``int_mac``'s default placed in the same run for
the ratio (the 8x8 layers need more multipliers than the 85F's 156: place
``small4`` or ``mini``; a placement past ``--fmax-timeout`` is reported as
such). Tool runs go on ``--jobs`` processes. ``--output`` writes ``report.md``
and ``utilisation.png`` there. Synthesis of ``small`` takes minutes per
target; ``tiny`` longer.
"""

import argparse
import json
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from accelgen.app.tables import format_table
from accelgen.transformer import quantize
from accelgen.transformer.cycles import pass_cycles, utilisation
from accelgen.transformer.layer import EncoderConfig
from accelgen.transformer.plan import LayerPlan

__all__ = ["SIZES", "main"]

SIZES = {
    "small": dict(d_model=32, heads=2, d_ff=64, seq=8),
    "small4": dict(d_model=32, heads=2, d_ff=64, seq=8, rows=4, cols=4),
    "tiny": dict(d_model=128, heads=2, d_ff=512, seq=128),
    "mini": dict(d_model=16, heads=2, d_ff=32, seq=4, rows=2, cols=2),
}
BIG_ECP5 = ("--85k", "--package", "CABGA381")


def _model(size, seed):
    return quantize.calibrate_seeded(EncoderConfig(dataflow="os", **SIZES[size]), seed)


def cycle_rows(plans):
    rows, per_pass = [], []
    for size, plan in plans.items():
        cfg = plan.config
        u = utilisation(plan)
        rows.append((size, cfg.label, f"{cfg.rows}x{cfg.cols}", u["macs"], u["cycles"],
                     f"{u['cycles'] / cfg.seq:.1f}", f"{u['bound']:.0f}",
                     f"{u['bound'] / u['cycles']:.3f}", f"{u['gemm_cycles'] / u['cycles']:.3f}"))
        cyc = pass_cycles(plan)
        for name, n in cyc.items():
            macs, _, util = u["passes"].get(name, (0, n, None))
            per_pass.append((size, name, n, f"{n / u['cycles']:.3f}", macs or "",
                             "" if util is None else f"{util:.3f}"))
    return rows, per_pass


CYCLE_HEADER = ("size", "layer", "array", "MACs", "cycles/sequence", "cycles/token",
                "roofline cycles", "utilisation", "GEMM share")
PASS_HEADER = ("size", "pass", "cycles", "share", "MACs", "utilisation")


def plot(plans, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(plans), figsize=(6 * len(plans), 4), squeeze=False)
    for ax, (size, plan) in zip(axes[0], plans.items()):
        cyc = pass_cycles(plan)
        u = utilisation(plan)
        names = list(cyc)
        colours = ["tab:blue" if n in u["passes"] else "tab:orange" for n in names]
        ax.bar(range(len(names)), [cyc[n] for n in names], color=colours)
        ax.set_xticks(range(len(names)), names, rotation=90, fontsize=7)
        ax.set_ylabel("cycles")
        ax.set_title(f"{size}: {u['cycles']} cycles/sequence, roofline {u['bound']:.0f} "
                     f"(GEMM passes blue)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def synth_job(size, target, seed):
    """One synthesis: the row of the resources table."""
    from accelgen.flow.synth import synthesize
    from accelgen.transformer.rtl import EncoderLayer, emit_encoder
    model = _model(size, seed)
    t = time.time()
    r = synthesize(emit_encoder(model), EncoderLayer(model), target,
                   f"build/encoder/{size}_{target}")
    print(json.dumps({"size": size, "target": target, **r}), flush=True)
    return (size, target, *(r[k] for k in ("LUT", "FF", "carry", "DSP", "BRAM", "LUTRAM")),
            f"{time.time() - t:.0f}")


SYNTH_HEADER = ("size", "target", "LUT", "FF", "carry", "DSP", "BRAM", "LUT RAM", "s")


def fmax_job(size, seed, timeout):
    """One place and route on the 85F: MHz, or the reason it gave none."""
    from accelgen.flow.synth import fmax
    from accelgen.registry import get_unit
    from accelgen.transformer.rtl import EncoderLayer
    if size == "int_mac":
        mac = get_unit("int_mac")
        component = mac.build(mac.params())
    else:
        component = EncoderLayer(_model(size, seed))
    t = time.time()
    try:
        mhz = fmax(component, "ecp5", f"build/encoder/fmax_{size}", device=BIG_ECP5,
                   timeout=timeout)
    except subprocess.TimeoutExpired:
        return size, None, f"no result: nextpnr ran past {timeout} s"
    except Exception as e:  # noqa: BLE001 -- a design that does not place is a result
        return size, None, f"failed: {str(e)[-120:]}"
    print(json.dumps({"size": size, "mhz": mhz, "s": round(time.time() - t)}), flush=True)
    return size, mhz, f"{time.time() - t:.0f}"


def hardware_rows(synth, targets, fmax_sizes, seed, jobs, timeout):
    """Run the synthesis and place-and-route jobs on ``jobs`` processes (the
    slowest, the placements, first); return the resources and Fmax rows."""
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        placed = [pool.submit(fmax_job, size, seed, timeout)
                  for size in (["int_mac", *fmax_sizes] if fmax_sizes else [])]
        synthesized = [pool.submit(synth_job, size, target, seed)
                       for size in synth for target in targets]
        synth_table = [f.result() for f in synthesized]
        results = [f.result() for f in placed]
    fmax_table = []
    if results:
        ref = results[0][1]
        for size, mhz, note in results:
            name = "int_mac default" if size == "int_mac" else f"encoder_layer {size}"
            if mhz is None:
                fmax_table.append((name, note, "", ""))
            else:
                ratio = f"{mhz / ref:.2f}" if ref else ""
                fmax_table.append((name, f"{mhz:.2f}", ratio, note))
    return synth_table, fmax_table


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(SIZES), help="sizes for the cycle model")
    parser.add_argument("--synth", default="", help="sizes to synthesize (e.g. small)")
    parser.add_argument("--targets", default="ecp5,ice40,xilinx")
    parser.add_argument("--fmax", default="", help="sizes to place on the ECP5 (e.g. small)")
    parser.add_argument("--fmax-timeout", type=int, default=3600,
                        help="seconds one place and route may take (3600)")
    parser.add_argument("--jobs", type=int, default=2, help="parallel tool runs (2)")
    parser.add_argument("--seed", type=int, default=0, help="calibration data seed (0)")
    parser.add_argument("--output", default=None, help="folder for report.md and the plot")
    args = parser.parse_args(argv)
    split = lambda text: [s for s in text.split(",") if s]  # noqa: E731
    for size in split(args.sizes) + split(args.synth) + split(args.fmax):
        if size not in SIZES:
            parser.error(f"unknown size {size!r} (sizes: {', '.join(SIZES)})")
    plans = {size: LayerPlan(_model(size, args.seed)) for size in split(args.sizes)}
    rows, per_pass = cycle_rows(plans)
    out = ["## Cycles (cycle model, exact against the RTL)", "",
           format_table(rows, CYCLE_HEADER), "", format_table(per_pass, PASS_HEADER)]
    synth_table, fmax_table = hardware_rows(split(args.synth), split(args.targets),
                                            split(args.fmax), args.seed, args.jobs,
                                            args.fmax_timeout)
    if synth_table:
        out += ["", "## Resources (Yosys)", "", format_table(synth_table, SYNTH_HEADER)]
    if fmax_table:
        out += ["", "## Fmax (nextpnr-ecp5, LFE5U-85F, seed 1, same run)", "",
                format_table(fmax_table, ("design", "MHz", "÷ int_mac", "s"))]
    text = "\n".join(out)
    print(text)
    if args.output:
        folder = Path(args.output)
        folder.mkdir(parents=True, exist_ok=True)
        plot(plans, folder / "utilisation.png")
        cmd = " ".join(["bench/encoder_layer.py", *(argv if argv is not None else sys.argv[1:])])
        (folder / "report.md").write_text(
            f"# Encoder layer RTL: cycles, utilisation, resources\n\nGenerated by `{cmd}`; "
            f"do not edit.\n\n![cycles per pass](utilisation.png)\n\n{text}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
