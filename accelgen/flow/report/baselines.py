# SPDX-License-Identifier: BSD-2-Clause
"""The committed QoR baselines: load, compare and write ``bench/baselines/*.json``.

``bench/baselines/<target>.json`` (targets :data:`BASELINE_TARGETS`) hold the
LUT, FF, carry, DSP and BRAM counts of every registered unit's ``small`` preset
(:data:`BASELINE_PRESET`), keyed by module name, with the Yosys version that
made them. ``make baselines`` (``bench/report.py --update-baselines``) rewrites
them. :func:`baseline_mismatch` compares one fresh result with its entry:

* LUT, FF and carry may differ from the baseline by at most
  :data:`RELATIVE_TOLERANCE` (5%) of the baseline plus :data:`ABSOLUTE_SLACK`
  (2 cells, for tiny designs where 5% is less than one cell);
* DSP and BRAM must be equal: they count a few hard blocks, and a change means
  a multiplier or a memory moved between logic and a block;
* more is a regression; less beyond the tolerance means the baseline is beaten
  and must be refreshed, so the committed numbers stay true. Both fail, and so
  does a registered unit with no entry; the message says to run
  ``make baselines`` (and to commit ``bench/baselines/``) when the change is
  intended.

``tests/test_synth.py::test_small_preset_synthesizes`` makes the comparison on
the synthesis it already runs (iCE40 and ECP5 by default; Xilinx too for the
units whose registry ``heavy`` fact does not defer ``synth_more_targets``, and
for every unit with ``ACCELGEN_STRESS=2``), so it costs no extra synthesis. Yosys is deterministic here (two runs of
``bench/report.py --update-baselines --no-cache`` wrote identical files), so the
tolerance is for intended small changes, not for noise.
"""

import json
from pathlib import Path

from accelgen.registry import UNITS, module_name

__all__ = ["BASELINE_DIR", "BASELINE_TARGETS", "BASELINE_PRESET", "METRICS",
           "RELATIVE_TOLERANCE", "ABSOLUTE_SLACK", "EXACT_METRICS", "UPDATE_COMMAND",
           "load_baseline", "baseline_entry", "write_baseline", "compare",
           "baseline_mismatch", "stale_entries"]

ROOT = Path(__file__).resolve().parents[3]
BASELINE_DIR = ROOT / "bench" / "baselines"
BASELINE_TARGETS = ("ice40", "ecp5", "xilinx")
BASELINE_PRESET = "small"
METRICS = ("LUT", "FF", "carry", "DSP", "BRAM")
EXACT_METRICS = ("DSP", "BRAM")
RELATIVE_TOLERANCE = 0.05
ABSOLUTE_SLACK = 2
UPDATE_COMMAND = "make baselines"


def _baseline_path(target, directory=None):
    return Path(BASELINE_DIR if directory is None else directory) / f"{target}.json"


def load_baseline(target, directory=None):
    """The baseline file of ``target`` as a dict, or ``None`` if there is none."""
    path = _baseline_path(target, directory)
    return json.loads(path.read_text()) if path.exists() else None


def baseline_entry(unit_name, result):
    """The baseline entry of one synthesis result: the unit, :data:`METRICS`, mapper."""
    return {"unit": unit_name, **{k: int(result[k]) for k in METRICS},
            "mapper": result.get("mapper")}


def write_baseline(target, entries, yosys, directory=None):
    """Write ``{module: entry}`` (registry order kept) as ``target``'s baseline file."""
    path = _baseline_path(target, directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    head = {"target": target, "preset": BASELINE_PRESET, "yosys": yosys,
            "update": UPDATE_COMMAND}
    lines = [f"  {json.dumps(k)}: {json.dumps(v)}," for k, v in head.items()]
    modules = [f"    {json.dumps(m)}: {json.dumps(e)}" for m, e in entries.items()]
    path.write_text("{\n" + "\n".join(lines) + '\n  "modules": {\n' + ",\n".join(modules)
                    + "\n  }\n}\n")  # one module a line: diffs show what changed
    return path


def _tolerance(metric, base):
    return 0 if metric in EXACT_METRICS else RELATIVE_TOLERANCE * base + ABSOLUTE_SLACK


def compare(fresh, base):
    """Lines naming each metric of ``fresh`` outside the tolerance of ``base``
    (both dicts with :data:`METRICS`); empty when everything is within it."""
    problems = []
    for metric in METRICS:
        new, old = int(fresh[metric]), int(base[metric])
        delta, allowed = new - old, _tolerance(metric, old)
        if abs(delta) <= allowed:
            continue
        pct = f", {100 * delta / old:+.1f}%" if old else ""
        limit = "must be equal" if metric in EXACT_METRICS else f"tolerance ±{allowed:g}"
        verdict = "regression" if delta > 0 else "baseline beaten: refresh it"
        problems.append(f"{metric} {new} vs baseline {old} ({delta:+d}{pct}; {limit}): "
                        f"{verdict}")
    return problems


def _tolerance_text():
    return (f"LUT/FF/carry within ±({RELATIVE_TOLERANCE:.0%} of the baseline + "
            f"{ABSOLUTE_SLACK}), DSP/BRAM equal")


def baseline_mismatch(unit_name, params, target, result, directory=None):
    """``None`` if ``result`` (``synthesize`` of ``params``, the unit's
    :data:`BASELINE_PRESET`, on ``target``) matches its committed baseline within
    the tolerance or ``target`` has no baselines; otherwise the failure message,
    which says how to update the baselines."""
    if target not in BASELINE_TARGETS:
        return None
    module = module_name(params)
    path = _baseline_path(target, directory)
    rel = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    how = (f"If the change is intended, run `{UPDATE_COMMAND}` and commit "
           f"bench/baselines/.")
    add = f"Run `{UPDATE_COMMAND}` and commit bench/baselines/."
    baseline = load_baseline(target, directory)
    if baseline is None:
        return f"no QoR baseline file {rel} for target {target}. {add}"
    entry = baseline.get("modules", {}).get(module)
    if entry is None:
        return (f"{module} ({unit_name} {BASELINE_PRESET}) has no QoR baseline in {rel} "
                f"(a new unit or a changed small preset). {add}")
    problems = compare(result, entry)
    if not problems:
        return None
    note = ""
    if entry.get("mapper") and result.get("mapper") and entry["mapper"] != result["mapper"]:
        note = (f" Note: LUTs were mapped by {result['mapper']}, the baseline by "
                f"{entry['mapper']} (ECP5 falls back to classic ABC when ABC9 exits).")
    lines = "\n  ".join(problems)
    return (f"{module} on {target} is outside its QoR baseline in {rel} "
            f"({_tolerance_text()}; baseline made with {baseline.get('yosys')}):\n  "
            f"{lines}\n{how}{note}")


def stale_entries(target, directory=None):
    """Modules in ``target``'s baseline that no registered unit's
    :data:`BASELINE_PRESET` produces, and registered units missing from it:
    ``(stale, missing)`` lists of module names."""
    baseline = load_baseline(target, directory) or {"modules": {}}
    expected = {module_name(u.params(BASELINE_PRESET)) for u in UNITS.values()}
    stored = set(baseline["modules"])
    return sorted(stored - expected), sorted(expected - stored)

