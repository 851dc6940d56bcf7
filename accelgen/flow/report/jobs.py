# SPDX-License-Identifier: BSD-2-Clause
"""The QoR job runner: synthesis and Fmax jobs with a time limit and a results cache.

:func:`run_jobs` runs :class:`Job` s (:func:`accelgen.flow.synth.synthesize` or
:func:`accelgen.flow.synth.fmax` of one configuration on one target), each in its own
process group, ``workers`` at a time, killing a job that runs longer than
``timeout`` seconds. Every job ends with a result dict whose ``status`` is
``ok``, ``failed`` (with ``reason``: the tool's last words), ``timeout`` or
``skipped`` (with ``reason``: a design whose emitted Verilog exceeds
``max_verilog_kb``, default :data:`MAX_VERILOG_KB`; an Fmax job whose synthesis
did not succeed, or whose synthesized cells exceed the device:
:data:`CAPACITY`); nothing is dropped.
Results are cached as JSON under ``cache_dir``, keyed by the job, the SHA-256 of
the emitted Verilog, the SHA-256 of ``accelgen/flow/synth.py`` and the tool versions
(:func:`tool_versions`), so an interrupted run resumes where it stopped and a
changed design or tool reruns only what it touches. A cached timeout (or size
skip) counts only if the current limit would give it again.

Each job runs as ``python -m accelgen.flow.report SPEC WORK MAX_KB``
(:func:`worker_main`), so that a time limit ends it and its tools together.
"""

import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from accelgen import __version__
from accelgen.flow import tools
from accelgen.registry import get_unit, module_name

__all__ = ["Job", "run_jobs", "tool_versions", "format_duration", "short_reason",
           "worker_main", "CAPACITY", "DEVICE", "MAX_VERILOG_KB"]

#: Designs whose emitted Verilog is larger than this are not synthesized by
#: default: the 8x8 ``bitfusion_array`` (4.6 MB, 64 Fusion Units) is the only
#: preset above it. Its synthesis ran past a 10-minute job limit on every
#: target; alone on ECP5 it took 10.4 CPU minutes (12.4 min wall) for 83,426
#: LUTs and 1,024 multipliers, over three times an LFE5U-25F. The next largest,
#: the 4x4 ``bitfusion_array``, is 1.1 MB.
MAX_VERILOG_KB = 2048

#: Cells of the devices Fmax is placed on (``accelgen.flow.synth.TARGETS``): iCE40
#: UP5K (5,280 logic cells, 8 SB_MAC16) and ECP5 LFE5U-25F (24,288 LUT4 and FF,
#: 28 multipliers). An Fmax job whose synthesis exceeds one is skipped.
CAPACITY = {"ice40": {"LUT": 5280, "FF": 5280, "DSP": 8},
            "ecp5": {"LUT": 24288, "FF": 24288, "DSP": 28}}
DEVICE = {"ice40": "UP5K", "ecp5": "LFE5U-25F"}


@dataclass(frozen=True)
class Job:
    """One synthesis (``kind="synth"``) or place-and-route (``kind="fmax"``) run.

    ``params`` are the non-default parameters as sorted ``(name, value)`` pairs;
    build jobs with :meth:`of`. ``label`` names the job in progress lines.
    """

    unit: str
    params: tuple
    target: str
    kind: str = "synth"
    dsp: bool = True
    label: str = field(default="", compare=False)

    @classmethod
    def of(cls, params, target, kind="synth", *, dsp=True, label=""):
        if kind not in ("synth", "fmax"):
            raise ValueError(f"job kind must be 'synth' or 'fmax', not {kind!r}")
        return cls(params.unit, tuple(sorted(params.nondefault().items())), target, kind,
                   dsp, label)

    @property
    def unit_params(self):
        return get_unit(self.unit).params_cls(**dict(self.params))

    @property
    def module(self):
        return module_name(self.unit_params)

    @property
    def name(self):
        """File-name key: ``<module>.<target>.<kind>[.nodsp]``."""
        return f"{self.module}.{self.target}.{self.kind}" + ("" if self.dsp else ".nodsp")

    @property
    def synth_job(self):
        """The synthesis job an Fmax job waits for."""
        return Job(self.unit, self.params, self.target, "synth", self.dsp)

    def spec(self):
        return {"unit": self.unit, "params": dict(self.params), "target": self.target,
                "kind": self.kind, "dsp": self.dsp}


def format_duration(seconds):
    """``3.1 s``, ``2 min 10 s`` or ``1 h 5 min``."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60)} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60)} min"


def _sha(text):
    return hashlib.sha256(text.encode()).hexdigest()


def tool_versions():
    """``{yosys, nextpnr-ice40, nextpnr-ecp5, amaranth, accelgen}``: the versions that
    the cache key and the report header record (asked of the tools themselves, so
    ``YOSYS``/``NEXTPNR_*`` overrides are seen)."""
    out = {}
    text = tools.run("yosys", ["-V"], cwd=".")
    match = re.search(r"Yosys \S+ \(git sha1 \w+", text)
    out["yosys"] = match.group(0) + ")" if match else text.strip().splitlines()[0]
    for name in ("nextpnr-ice40", "nextpnr-ecp5"):
        text = tools.run(name, ["--version"], cwd=".")
        match = re.search(r"Version (nextpnr-[^)\s]+)", text)
        out[name] = match.group(1) if match else text.strip().splitlines()[-1]
    out["amaranth"] = importlib.metadata.version("amaranth")
    out["accelgen"] = __version__
    return out


def _flow_hash():
    return _sha((Path(__file__).resolve().parents[1] / "synth.py").read_text())


def short_reason(message, limit=120):
    """The informative part of a tool failure: its first ``ERROR:`` line if any
    (:func:`accelgen.flow.tools.run` joins the last lines with `` | ``), long quoted
    (cell) names shortened."""
    text = " ".join(message.split())
    if "ERROR:" in text:
        text = text[text.index("ERROR:"):].split(" | ")[0]
    text = re.sub(r"'([^']{12})[^']{20,}'", r"'\1...'", text)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _skip_reason(job, synth):
    """Why an Fmax job need not run, from its synthesis result; or ``None``."""
    if synth is None:
        return None
    if synth["status"] != "ok":
        return f"synthesis {synth['status']}"
    over = [f"{synth[k]} {k} > {cap}" for k, cap in CAPACITY[job.target].items()
            if synth[k] > cap]
    return f"does not fit the {DEVICE[job.target]}: {', '.join(over)}" if over else None


def _worker_command(job, work, max_kb):
    """The command that runs one job and prints its result as JSON (last line)."""
    return [sys.executable, "-m", "accelgen.flow.report", json.dumps(job.spec()), str(work),
            str(max_kb)]


def _run_one(job, work, timeout, max_kb, running):
    """Run ``job`` in its own process group; return its result dict."""
    start = time.monotonic()
    proc = subprocess.Popen(_worker_command(job, work, max_kb), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    running.add(proc)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill(proc)
        proc.communicate()
        return {"status": "timeout", "limit": timeout, "seconds": time.monotonic() - start}
    finally:
        running.discard(proc)
    seconds = time.monotonic() - start
    lines = out.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = (err.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        return {"status": "failed", "reason": short_reason(tail), "seconds": seconds}
    return {**json.loads(lines[-1]), "seconds": seconds}


def _kill(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class _Cache:
    """Job results as ``<dir>/<job name>.json`` holding ``{"key": ..., "result": ...}``."""

    def __init__(self, directory, versions):
        self.dir = None if directory is None else Path(directory)
        self.versions = versions
        self.flow = _flow_hash()
        self._designs = {}
        self._lock = threading.Lock()

    def design(self, job):
        """SHA-256 of the job's emitted Verilog (emitted once per module)."""
        from accelgen.flow.emit import emit
        with self._lock:
            if job.module not in self._designs:
                self._designs[job.module] = _sha(emit(job.unit, job.unit_params).verilog)
            return self._designs[job.module]

    def key(self, job, design):
        return {**job.spec(), "design": design, "flow": self.flow, "tools": self.versions}

    def get(self, job, timeout, max_kb):
        if self.dir is None or not (self.dir / f"{job.name}.json").exists():
            return None
        try:
            stored = json.loads((self.dir / f"{job.name}.json").read_text())
        except (OSError, ValueError):
            return None
        result = stored.get("result", {})
        if stored.get("key") != self.key(job, self.design(job)):
            return None
        if result.get("status") == "timeout" and result.get("limit", 0) < timeout:
            return None
        if result.get("status") == "skipped" and result.get("verilog_kb", 0) <= max_kb:
            return None
        return result

    def put(self, job, result):
        if self.dir is None or "design" not in result:
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        path = self.dir / f"{job.name}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"key": self.key(job, result["design"]),
                                   "result": result}, indent=1))
        tmp.replace(path)


def run_jobs(jobs, *, work_dir, cache_dir=None, workers=2, timeout=900,
             max_verilog_kb=MAX_VERILOG_KB, versions=None, on_done=None):
    """Run ``jobs`` (deduplicated, in the given order; an Fmax job after its synthesis
    job when that is in the list) and return ``{job: result}``.

    ``result`` has ``status`` (``ok``, ``failed``, ``timeout``, ``skipped``),
    ``seconds`` (wall time of the job, or of the run that cached it), ``cpu_seconds``
    (its CPU time and its tools', for jobs that ran to the end), ``cached``,
    and for ``ok``: synthesis, the classified cells and ``mapper``
    (:func:`accelgen.flow.synth.synthesize`); Fmax, ``fmax_mhz``; plus ``design`` (the
    Verilog's SHA-256), ``latency`` and ``throughput`` from the manifest.
    ``on_done(job, result, done, total, elapsed)`` is called as each job ends.
    On ``KeyboardInterrupt`` the running jobs are killed and the interrupt re-raised;
    what finished is in the cache.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    if timeout <= 0:
        raise ValueError(f"timeout must be positive seconds, not {timeout}")
    jobs = list(dict.fromkeys(jobs))
    in_list = set(jobs)
    cache = _Cache(cache_dir, tool_versions() if versions is None else versions)
    results, running, pending = {}, set(), list(jobs)
    cond = threading.Condition()
    start = time.monotonic()
    errors = []

    def ready(job):
        return job.kind == "synth" or job.synth_job not in in_list or job.synth_job in results

    def finish(job, result):
        with cond:
            results[job] = result
            cond.notify_all()
            if on_done is not None:
                on_done(job, result, len(results), len(jobs), time.monotonic() - start)

    def execute(job):
        if job.kind == "fmax":  # decided by the synthesis result: not cached
            reason = _skip_reason(job, results.get(job.synth_job))
            if reason is not None:
                return {"status": "skipped", "reason": reason, "seconds": 0.0, "cached": False}
        cached = cache.get(job, timeout, max_verilog_kb)
        if cached is not None:
            return {**cached, "cached": True}
        result = _run_one(job, Path(work_dir) / job.name, timeout, max_verilog_kb, running)
        if "design" not in result:  # timed out or crashed: cached all the same
            result["design"] = cache.design(job)
        cache.put(job, result)
        return {**result, "cached": False}

    def worker():
        while True:
            with cond:
                while True:
                    if not pending or errors:
                        return
                    job = next((j for j in pending if ready(j)), None)
                    if job is not None:
                        pending.remove(job)
                        break
                    cond.wait()
            try:
                finish(job, execute(job))
            except BaseException as e:  # noqa: BLE001 - handed to the main thread
                with cond:
                    errors.append(e)
                    cond.notify_all()
                return

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(workers)]
    for t in threads:
        t.start()
    try:
        for t in threads:
            while t.is_alive():
                t.join(0.5)
    except KeyboardInterrupt:
        with cond:
            errors.append(KeyboardInterrupt())
        for proc in list(running):
            _kill(proc)
        raise
    if errors:
        raise errors[0]
    return {job: results[job] for job in jobs}


def worker_main(spec_json, work, max_kb=MAX_VERILOG_KB):
    """Run one job (``python -m accelgen.flow.report SPEC WORK MAX_KB``: the
    package's ``__main__``); print its result as JSON on the last line."""
    from accelgen.flow.emit import emit
    from accelgen.errors import ToolFailed
    from accelgen.flow.synth import synthesize, fmax
    spec = json.loads(spec_json)
    unit = get_unit(spec["unit"])
    params = unit.params_cls(**spec["params"])
    emitted = emit(unit.name, params)
    result = {"design": _sha(emitted.verilog), "latency": emitted.manifest["latency"],
              "throughput": emitted.manifest["throughput"]}
    size_kb = len(emitted.verilog.encode()) / 1024
    if size_kb > float(max_kb):
        result.update(status="skipped", verilog_kb=round(size_kb, 1),
                      reason=f"Verilog {size_kb:.0f} kB > {float(max_kb):.0f} kB "
                             f"(max_verilog_kb)")
        print(json.dumps(result), flush=True)
        return
    try:
        if spec["kind"] == "synth":
            result.update(synthesize(emitted, unit.build(params), spec["target"], work,
                                     dsp=spec["dsp"]))
        else:
            mhz = fmax(unit.build(params), spec["target"], work, dsp=spec["dsp"])
            result["fmax_mhz"] = round(mhz, 2)
        result["status"] = "ok"
        shutil.rmtree(work, ignore_errors=True)  # a failed job's files are kept to look at
    except ToolFailed as e:
        result.update(status="failed", reason=short_reason(str(e)))
    result["cpu_seconds"] = round(_cpu_seconds(), 1)
    print(json.dumps(result), flush=True)


def _cpu_seconds():
    """CPU time of this process and its finished children (the tools)."""
    import resource
    return sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF),
                                                 resource.getrusage(resource.RUSAGE_CHILDREN)))

