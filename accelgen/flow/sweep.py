# SPDX-License-Identifier: BSD-2-Clause
"""Design-space sweeps: every combination of parameter values, synthesized on the Dask job engine.

A sweep takes a unit, a preset (default ``default``) and one or more axes
``NAME=V1,V2,...`` or ``NAME=LO..HI`` (an inclusive integer range), and forms
every combination of the axes' values over the preset (:func:`expand`). A
combination the unit's ``Params`` reject is an ``invalid`` configuration with
the constructor's one-line reason; it is listed, never run. Each valid
configuration becomes the jobs of :mod:`accelgen.flow.report.jobs` (the engine
of the QoR report): synthesis on the target, with ``pnr`` place and route for
Fmax (after its synthesis, skipped when it does not fit the device), with
``figure`` the unit's own figure (:mod:`accelgen.flow.report.figures`: accuracy
against float64, utilization, pairs or products per cycle). They run on a Dask
``LocalCluster`` or an existing cluster, each under the time limit, with the
results cache, so a sweep run again (or resumed after an interruption) runs only
what is not cached. :func:`run_sweep` returns one row per configuration
(:func:`row_of`); :func:`pareto_front` and :func:`plot` find and draw the
configurations no other one beats on both area and the plotted figure.
"""

import itertools
import re

from accelgen.errors import AccelgenError
from accelgen.flow.report import figures
from accelgen.flow.report.jobs import Job, run_jobs, format_duration, MAX_VERILOG_KB
from accelgen.params import parse_value

__all__ = ["SweepError", "parse_axis", "parse_axes", "expand", "sweep_jobs", "run_sweep",
           "row_of", "invalid_row", "progress_line", "plot_axes", "pareto_front", "plot",
           "PNR_TARGETS", "RESOURCE_KEYS"]

#: Targets nextpnr places for Fmax.
PNR_TARGETS = ("ice40", "ecp5")

#: Cell classes a sweep row reports (``accelgen.flow.synth.classify``).
RESOURCE_KEYS = ("LUT", "FF", "carry", "DSP", "BRAM", "LUTRAM")

_RANGE = re.compile(r"(-?[0-9]+)\.\.(-?[0-9]+)", re.ASCII)


class SweepError(AccelgenError):
    """A malformed sweep (unknown parameter, bad value list or range): one line."""


def parse_axis(unit, text):
    """``(name, [values])`` of one ``-p`` argument ``NAME=V1,V2,...`` or ``NAME=LO..HI``.

    Values are parsed as ``accelgen generate -p`` parses them
    (:func:`accelgen.params.parse_value`); repeated values are kept once. A range
    needs an integer parameter and ``LO <= HI``. Raises :class:`SweepError`.
    """
    name, sep, values = text.partition("=")
    if not sep or not name or not values:
        raise SweepError(f"-p expects NAME=V1,V2,... or NAME=LO..HI, not {text!r}")
    try:
        parse_value(unit.params_cls, name, "0")
    except KeyError:
        names = ", ".join(unit.params_cls.describe()) or "(none)"
        raise SweepError(f"unit {unit.name} has no parameter {name!r}; "
                         f"parameters are {names}") from None
    except ValueError:
        pass  # only asked whether the parameter exists
    kind = unit.params_cls.describe()[name]["type"]
    match = _RANGE.fullmatch(values)
    if match is not None:
        if kind != "int":
            raise SweepError(f"-p {text}: a range LO..HI needs an integer parameter; "
                             f"{name} is {kind}")
        low, high = int(match.group(1)), int(match.group(2))
        if low > high:
            raise SweepError(f"-p {text}: range {low}..{high} is empty (LO must be at most HI)")
        return name, list(range(low, high + 1))
    if ".." in values:
        raise SweepError(f"-p {text}: a range is LO..HI with decimal integers, not {values!r}")
    out = []
    for item in values.split(","):
        if not item:
            raise SweepError(f"-p {text}: empty value in the list {values!r}")
        try:
            value = parse_value(unit.params_cls, name, item)
        except ValueError as e:
            raise SweepError(str(e)) from None
        if value not in out:
            out.append(value)
    return name, out


def parse_axes(unit, texts):
    """``{name: [values]}`` of the ``-p`` arguments ``texts`` (at least one; each
    parameter once). Raises :class:`SweepError`."""
    if not texts:
        raise SweepError(f"sweep needs at least one -p NAME=V1,V2,... or NAME=LO..HI "
                         f"(parameters of {unit.name}: "
                         f"{', '.join(unit.params_cls.describe()) or '(none)'})")
    axes = {}
    for text in texts:
        name, values = parse_axis(unit, text)
        if name in axes:
            raise SweepError(f"-p/--param {name} given more than once")
        axes[name] = values
    return axes


def expand(unit, axes, preset="default"):
    """``(valid, invalid)``: every combination of ``axes`` (``{name: [values]}``, the
    last axis varying fastest) over ``preset``. ``valid`` is ``[(point, params)]``,
    ``invalid`` ``[(point, reason)]``, ``point`` the ``{name: value}`` of the axes."""
    valid, invalid = [], []
    for values in itertools.product(*axes.values()):
        point = dict(zip(axes, values))
        try:
            valid.append((point, unit.params(preset, **point)))
        except (TypeError, ValueError) as e:
            invalid.append((point, " ".join(str(e).split())))
    return valid, invalid


def sweep_jobs(params, target, *, pnr=False, figure=False):
    """The jobs of one configuration: synthesis on ``target``, then Fmax (``pnr``)
    and the unit's figure (``figure``)."""
    label = " ".join(f"{k}={v}" for k, v in params.nondefault().items()) or "default"
    jobs = [Job.of(params, target, label=label)]
    if pnr:
        jobs.append(Job.of(params, target, "fmax", label=label))
    if figure:
        jobs.append(Job.of(params, target, "figure", label=label))
    return jobs


def _status_text(kind, result):
    if result["status"] == "timeout":
        return f"{kind}: timeout after {format_duration(result['limit'])}"
    return f"{kind}: {result['status']}: {result.get('reason', '')}".rstrip(": ")


def row_of(unit, point, params, results, jobs):
    """One configuration's row: ``unit``, ``module``, ``params`` (its values on the
    axes), ``status`` (``ok``, or the first of ``failed``/``timeout``/``skipped``
    among its jobs, with ``reason``), ``resources`` (:data:`RESOURCE_KEYS` and
    ``mapper``, or ``None``), ``fmax`` (MHz or ``None``), ``figure`` (``{"text",
    ...data}`` or ``None``), ``seconds`` (the jobs' wall times added) and
    ``cached`` (every job came from the cache)."""
    got = {job.kind: results[job] for job in jobs}
    row = {"unit": unit.name, "module": jobs[0].module, "params": point, "status": "ok",
           "resources": None, "fmax": None, "figure": None,
           "seconds": round(sum(r["seconds"] for r in got.values()), 2),
           "cached": all(r.get("cached", False) for r in got.values())}
    for kind in ("synth", "fmax", "figure"):
        if kind in got and got[kind]["status"] != "ok" and row["status"] == "ok":
            row["status"] = got[kind]["status"]
            row["reason"] = _status_text(kind, got[kind])
    synth = got["synth"]
    if synth["status"] == "ok":
        row["resources"] = {k: synth[k] for k in (*RESOURCE_KEYS, "mapper") if k in synth}
    if got.get("fmax", {}).get("status") == "ok":
        row["fmax"] = got["fmax"]["fmax_mhz"]
    if got.get("figure", {}).get("status") == "ok":
        row["figure"] = got["figure"]["figure"]
    return row


def invalid_row(unit, point, reason):
    """The row of a configuration the unit's ``Params`` reject."""
    return {"unit": unit.name, "module": None, "params": point, "status": "invalid",
            "reason": reason, "resources": None, "fmax": None, "figure": None,
            "seconds": 0.0, "cached": False}


def progress_line(job, result, done, total, elapsed):
    """``[3/8] softmax__t5 ecp5 synth: LUT 412 FF 96  1.2 s  (elapsed 5.0 s, about
    8.3 s left)``: one finished job."""
    if result["status"] != "ok":
        what = _status_text(job.kind, result)
    elif job.kind == "synth":
        what = f"LUT {result['LUT']} FF {result['FF']}" + \
            (f" DSP {result['DSP']}" if result.get("DSP") else "")
    elif job.kind == "fmax":
        what = f"{result['fmax_mhz']:.1f} MHz"
    else:
        what = result["figure"]["text"]
    left = elapsed / done * (total - done)
    cached = " cached" if result.get("cached") else ""
    width = len(str(total))
    return (f"[{done:{width}d}/{total}] {job.module} {job.target} {job.kind}: {what}  "
            f"{format_duration(result['seconds'])}{cached}  (elapsed "
            f"{format_duration(elapsed)}, about {format_duration(left)} left)")


def run_sweep(unit, axes, target, *, preset="default", pnr=False, figure=False,
              work_dir, cache_dir=None, workers=2, scheduler=None, client=None,
              timeout=900, max_verilog_kb=MAX_VERILOG_KB, versions=None, on_done=None):
    """Run the sweep of ``unit`` (a registry ``Unit``) over ``axes`` on ``target``;
    return one row per combination, in :func:`expand`'s order (``invalid`` rows
    included, not run). The engine arguments are :func:`run_jobs`'.

    Raises :class:`SweepError` for ``pnr`` on a target nextpnr does not place or
    ``figure`` for a unit without one."""
    if pnr and target not in PNR_TARGETS:
        raise SweepError(f"--pnr needs --target {' or '.join(PNR_TARGETS)}, not {target}")
    if figure and not figures.has_figure(unit.name):
        raise SweepError(f"unit {unit.name} has no figure for --accuracy; units with one "
                         f"are {', '.join(figures.FIGURES)}")
    valid, invalid = expand(unit, axes, preset)
    bad = {tuple(point.items()): reason for point, reason in invalid}
    configs = [(point, params, sweep_jobs(params, target, pnr=pnr, figure=figure))
               for point, params in valid]
    results = run_jobs([job for _, _, jobs in configs for job in jobs], work_dir=work_dir,
                       cache_dir=cache_dir, workers=workers, timeout=timeout,
                       max_verilog_kb=max_verilog_kb, versions=versions, on_done=on_done,
                       scheduler=scheduler, client=client)
    rows = {tuple(point.items()): row_of(unit, point, params, results, jobs)
            for point, params, jobs in configs}
    return [rows[key] if key in rows else invalid_row(unit, dict(key), bad[key])
            for key in (tuple(zip(axes, values)) for values in itertools.product(*axes.values()))]


# --- Pareto front and plot ----------------------------------------------------------

def pareto_front(points, maximize=(False, False)):
    """``[bool]``: whether each ``(x, y)`` of ``points`` is Pareto-optimal, i.e. no
    other point is at least as good on both axes and better on one (``maximize``
    says, per axis, whether larger is better; by default smaller is). Equal points
    are all optimal or all not."""
    def better(a, b, axis):  # a strictly better than b on axis
        return a[axis] > b[axis] if maximize[axis] else a[axis] < b[axis]

    def dominates(a, b):
        return (not better(b, a, 0) and not better(b, a, 1)
                and (better(a, b, 0) or better(a, b, 1)))

    return [not any(dominates(q, p) for q in points) for p in points]


def plot_axes(unit_name, *, figure=False, pnr=False):
    """``(key, label, better)`` of the y axis a sweep plots against LUTs: the unit's
    figure (:data:`accelgen.flow.report.figures.AXES`) when it is measured,
    else Fmax, else ``None``."""
    if figure and unit_name in figures.AXES:
        key, label, better = figures.AXES[unit_name]
        return f"figure.{key}", label, better
    if pnr:
        return "fmax", "Fmax (MHz)", "max"
    return None


def _y_value(row, key):
    if key == "fmax":
        return row["fmax"]
    return figures.axis_value(row["unit"], row["figure"]) if row["figure"] else None


def plot(rows, path, axes, title):
    """Write a PNG at ``path``: the target's LUTs (x) against ``axes`` (from
    :func:`plot_axes`) of the rows that have both, Pareto-optimal ones marked and
    joined; return the Pareto-optimal rows."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    key, label, better = axes
    got = [(r, r["resources"]["LUT"], _y_value(r, key)) for r in rows
           if r["resources"] is not None and _y_value(r, key) is not None]
    front = pareto_front([(x, y) for _, x, y in got], maximize=(False, better == "max"))
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    rest = [(x, y) for (_, x, y), f in zip(got, front) if not f]
    best = sorted((x, y) for (_, x, y), f in zip(got, front) if f)
    if rest:
        ax.scatter(*zip(*rest), color="tab:grey", label="dominated")
    if best:
        ax.plot(*zip(*best), color="tab:red", marker="o", linestyle="-",
                label="Pareto-optimal")
    for r, x, y in got:
        ax.annotate(" ".join(f"{k}={v}" for k, v in r["params"].items()), (x, y),
                    fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_xlabel("LUTs")
    ax.set_ylabel(label)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    if got:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)
    return [r for (r, _, _), f in zip(got, front) if f]
