# SPDX-License-Identifier: BSD-2-Clause
"""The QoR job engine: synthesis, Fmax and figure jobs on Dask, with time limits and a cache.

:func:`run_jobs` runs :class:`Job` s (:func:`accelgen.flow.synth.synthesize`,
:func:`accelgen.flow.synth.fmax` or the unit's own figure,
:func:`accelgen.flow.report.figures.figure`, of one configuration) as tasks of a
Dask distributed cluster: by default a ``LocalCluster`` of ``workers`` worker
processes with one thread each (so ``workers`` jobs at a time), or the existing
cluster whose scheduler is at ``scheduler`` (``tcp://HOST:PORT``; its workers
need only ``pip install accelgen[tools]``). Each task runs its job in a
subprocess of its own process group on the worker and kills that group when the
job runs longer than ``timeout`` seconds; the worker survives. Every job ends
with a result dict whose ``status`` is ``ok``, ``failed`` (with ``reason``: the
tool's last words, or why the worker could not finish it), ``timeout`` or
``skipped`` (with ``reason``: a design whose emitted Verilog exceeds
``max_verilog_kb``, default :data:`MAX_VERILOG_KB`; an Fmax job whose synthesis
did not succeed, or whose synthesized cells exceed the device:
:data:`CAPACITY`); nothing is dropped. A worker that dies mid-job loses no
result: Dask runs its tasks again on another worker (a task whose workers die
three times is recorded as ``failed``).

Results are cached as JSON under ``cache_dir``, keyed by the job, the SHA-256 of
the emitted Verilog, the SHA-256 of ``accelgen/flow/synth.py`` (for a figure job:
of the figure and accuracy code) and the tool versions (:func:`tool_versions`).
The client writes the cache from the results the workers return, so workers
need no shared disk; an interrupted run resumes where it stopped and a changed
design or tool reruns only what it touches. A cached timeout (or size skip)
counts only if the current limit would give it again.

Each job runs as ``python -m accelgen.flow.report SPEC WORK MAX_KB``
(:func:`worker_main`) with the worker's own interpreter; the job process ends
itself and its tools if the worker that started it dies.
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
import socket
import threading
import time
import uuid
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from accelgen import __version__
from accelgen.errors import AccelgenError
from accelgen.flow import tools
from accelgen.registry import get_unit, module_name

__all__ = ["Job", "run_jobs", "dask_client", "scheduler_address", "EngineError",
           "tool_versions",
           "format_duration", "short_reason", "worker_main", "CAPACITY", "DEVICE",
           "KINDS", "MAX_VERILOG_KB", "CONNECT_TIMEOUT"]

#: Job kinds: synthesis, place and route for Fmax, the unit's own figure.
KINDS = ("synth", "fmax", "figure")

#: Seconds to wait for a scheduler given by address to answer.
CONNECT_TIMEOUT = 10


class EngineError(AccelgenError):
    """The Dask engine could not start or reach its cluster (one line for users)."""

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
    """One synthesis (``kind="synth"``), place-and-route (``kind="fmax"``) or
    figure (``kind="figure"``: :func:`accelgen.flow.report.figures.figure`) run.

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
        if kind not in KINDS:
            raise ValueError(f"job kind must be 'synth', 'fmax' or 'figure', not {kind!r}")
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


def _flow_hash(kind="synth"):
    """SHA-256 of the code that turns a design into a ``kind`` job's result."""
    flow = Path(__file__).resolve().parents[1]
    files = [flow / "synth.py"] if kind != "figure" else \
        [flow / "report" / "figures.py", flow.parent / "app" / "accuracy.py"]
    return _sha("".join(f.read_text() for f in files))


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
    """The command that runs one job and prints its result as JSON (last line); the
    worker runs it with its own interpreter in place of the first word."""
    return [sys.executable, "-m", "accelgen.flow.report", json.dumps(job.spec()), str(work),
            str(max_kb)]


def _run_command(command, timeout, track=None, env=None):
    """Run ``command`` in its own process group; return its result dict.

    ``track(proc, started)`` is called with ``started=True`` once the process
    exists (if it returns false the process is killed at once) and with
    ``started=False`` when it has ended."""
    start = time.monotonic()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True, env=env)
    if track is not None and not track(proc, True):
        _kill(proc)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill(proc)
        proc.communicate()
        return {"status": "timeout", "limit": timeout, "seconds": time.monotonic() - start}
    finally:
        if track is not None:
            track(proc, False)
    seconds = time.monotonic() - start
    lines = out.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = (err.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        return {"status": "failed", "reason": short_reason(tail), "seconds": seconds}
    try:
        return {**json.loads(lines[-1]), "seconds": seconds}
    except ValueError:
        return {"status": "failed", "reason": short_reason(f"no result: {lines[-1]}"),
                "seconds": seconds}


def _kill(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


# --- on the Dask workers --------------------------------------------------------

#: The environment variable that tells a job process which worker started it.
_PARENT_VARIABLE = "ACCELGEN_JOB_PARENT"

#: run id -> job processes running on this worker (killed by :func:`_kill_run`).
_RUNNING = {}
#: The runs stopped by :func:`_kill_run` (the latest :data:`_STOPPED_KEPT`): a job
#: of one that starts afterwards is killed at once.
_STOPPED = {}
_STOPPED_KEPT = 1000
_RUNNING_LOCK = threading.Lock()


def _task(command, timeout, run_id):
    """The Dask task of one job: run ``command`` (with this worker's interpreter)
    under the time limit and return its result dict."""
    def track(proc, started):
        with _RUNNING_LOCK:
            procs = _RUNNING.setdefault(run_id, set())
            if started:
                procs.add(proc)
                return run_id not in _STOPPED
            procs.discard(proc)
            if not procs:
                del _RUNNING[run_id]
            return True

    env = {**os.environ, _PARENT_VARIABLE: str(os.getpid())}
    return _run_command([sys.executable, *command[1:]], timeout, track, env)


def _kill_run(run_id):
    """Stop run ``run_id`` on this worker: kill its job processes, and any that
    start later; return how many were running."""
    with _RUNNING_LOCK:
        _STOPPED[run_id] = True
        while len(_STOPPED) > _STOPPED_KEPT:
            del _STOPPED[next(iter(_STOPPED))]
        procs = list(_RUNNING.get(run_id, ()))
    for proc in procs:
        _kill(proc)
    return len(procs)


# --- on the client --------------------------------------------------------------

def scheduler_address(scheduler):
    """``(host, port)`` of a scheduler address ``[tcp://]HOST:PORT``; raises
    :class:`EngineError` for anything else."""
    match = re.fullmatch(r"(?:tcp://)?(\[[0-9a-fA-F:]+\]|[^:/\s\[\]]+):([0-9]{1,5})",
                         scheduler)
    if match is None or not 0 < int(match.group(2)) < 65536:
        raise EngineError(f"scheduler must be an address tcp://HOST:PORT, not {scheduler!r}")
    return match.group(1).strip("[]"), int(match.group(2))


def _check_address(scheduler, timeout):
    """Raise :class:`EngineError` unless something listens at ``scheduler``."""
    host, port = scheduler_address(scheduler)
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as e:
        raise EngineError(f"cannot reach the Dask scheduler at {scheduler}: "
                          f"{e.strerror or e}") from None


@contextmanager
def dask_client(workers=2, scheduler=None, connect_timeout=CONNECT_TIMEOUT):
    """A ``distributed.Client``: of a new ``LocalCluster`` of ``workers`` worker
    processes with one thread each (closed on exit), or connected to the
    scheduler at ``scheduler`` (``tcp://HOST:PORT``; the cluster stays up).

    Raises ``ValueError`` for ``workers`` below 1 and :class:`EngineError` for a
    scheduler that is malformed or cannot be reached in ``connect_timeout`` seconds.
    """
    import logging
    from distributed import Client, LocalCluster
    if scheduler is not None:
        _check_address(scheduler, connect_timeout)
        try:
            client = Client(scheduler, timeout=connect_timeout)
        except (OSError, TimeoutError) as e:
            raise EngineError(f"cannot reach the Dask scheduler at {scheduler}: "
                              f"{' '.join(str(e).split())}") from None
        try:
            yield client
        finally:
            client.close()
        return
    if workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    import dask
    # Workers start with Ctrl-C (SIGINT) ignored, so that a Ctrl-C at the terminal
    # reaches only this process, which then stops the run and closes the cluster.
    # One task per worker thread at a time (Dask's default sends a second one,
    # which would then wait behind a long job while another worker is idle).
    with _interrupts_ignored(), \
            dask.config.set({"distributed.scheduler.worker-saturation": 1.0}):
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=":0", silence_logs=logging.ERROR)
        client = Client(cluster)
    try:
        yield client
    finally:
        with _interrupts_ignored():
            client.close()
            cluster.close()


@contextmanager
def _interrupts_ignored():
    """Ignore SIGINT while Dask starts (its processes inherit that) or stops a local
    cluster; only in the main thread (elsewhere there is no handler to change)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class _Cache:
    """Job results as ``<dir>/<job name>.json`` holding ``{"key": ..., "result": ...}``."""

    def __init__(self, directory, versions):
        self.dir = None if directory is None else Path(directory)
        self.versions = versions
        self.flow = {kind: _flow_hash(kind) for kind in KINDS}
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
        return {**job.spec(), "design": design, "flow": self.flow[job.kind],
                "tools": self.versions}

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
             max_verilog_kb=MAX_VERILOG_KB, versions=None, on_done=None, scheduler=None,
             client=None):
    """Run ``jobs`` (deduplicated; started in the given order, an Fmax job after its
    synthesis job when that is in the list) on Dask and return ``{job: result}``.

    The cluster is ``client`` (a ``distributed.Client``, left open) if given, else
    the scheduler at ``scheduler``, else a ``LocalCluster`` of ``workers``
    processes (see :func:`dask_client`), connected or started only when a job is
    not in the cache. ``work_dir`` is where the workers build
    (``<work_dir>/<job name>``, a failed job's files kept); ``cache_dir`` is read
    and written by this process only.

    ``result`` has ``status`` (``ok``, ``failed``, ``timeout``, ``skipped``),
    ``seconds`` (wall time of the job, or of the run that cached it), ``cpu_seconds``
    (its CPU time and its tools', for jobs that ran to the end), ``cached``,
    and for ``ok``: synthesis, the classified cells and ``mapper``
    (:func:`accelgen.flow.synth.synthesize`); Fmax, ``fmax_mhz``; a figure,
    ``figure`` (``{"text": ..., **data}``); plus ``design`` (the Verilog's
    SHA-256), ``latency`` and ``throughput`` from the manifest.
    ``on_done(job, result, done, total, elapsed)`` is called as each job ends.
    On ``KeyboardInterrupt`` (or any error) the running jobs are killed and the
    exception re-raised; what finished is in the cache.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    if timeout <= 0:
        raise ValueError(f"timeout must be positive seconds, not {timeout}")
    jobs = list(dict.fromkeys(jobs))
    if not jobs:
        return {}
    if client is None and scheduler is not None:
        _check_address(scheduler, CONNECT_TIMEOUT)  # fail before any work is done
    with ExitStack() as stack:
        clients = [] if client is None else [client]

        def cluster():  # started for the first job that is not in the cache
            if not clients:
                clients.append(stack.enter_context(dask_client(workers, scheduler)))
            return clients[0]

        return _run(jobs, cluster, clients, work_dir=work_dir, cache_dir=cache_dir,
                    timeout=timeout, max_verilog_kb=max_verilog_kb, versions=versions,
                    on_done=on_done)


def _run(jobs, cluster, clients, *, work_dir, cache_dir, timeout, max_verilog_kb, versions,
         on_done):
    """:func:`run_jobs` once the arguments are checked; ``cluster()`` returns the
    client (starting the cluster the first time), ``clients`` holds it once it is."""
    from distributed import as_completed
    in_list = set(jobs)
    priority = {job: len(jobs) - i for i, job in enumerate(jobs)}
    cache = _Cache(cache_dir, tool_versions() if versions is None else versions)
    work_dir = Path(work_dir).resolve()
    run_id = uuid.uuid4().hex[:12]
    results, futures, waiting = {}, {}, {}
    completed = []  # the as_completed iterator, made with the cluster's client
    start = time.monotonic()

    def finish(job, result):
        results[job] = result
        if on_done is not None:
            on_done(job, result, len(results), len(jobs), time.monotonic() - start)
        for fmax_job in waiting.pop(job, ()):
            launch(fmax_job)

    def launch(job):
        if job.kind == "fmax":
            if job.synth_job in in_list and job.synth_job not in results:
                waiting.setdefault(job.synth_job, []).append(job)
                return
            reason = _skip_reason(job, results.get(job.synth_job))  # not cached
            if reason is not None:
                finish(job, {"status": "skipped", "reason": reason, "seconds": 0.0,
                             "cached": False})
                return
        cached = cache.get(job, timeout, max_verilog_kb)
        if cached is not None:
            finish(job, {**cached, "cached": True})
            return
        command = _worker_command(job, work_dir / job.name, max_verilog_kb)
        # One task group ("accelgen_job"): Dask queues a large group on the scheduler
        # and hands its tasks out by priority as workers free up.
        client = cluster()
        future = client.submit(_task, command, timeout, run_id, priority=priority[job],
                               key=f"accelgen_job-{job.name}-{run_id}", pure=False)
        futures[future] = job
        if not completed:
            completed.append(as_completed(loop=client.loop))
        completed[0].add(future)

    def collect(future):
        job = futures.pop(future)
        try:
            result = future.result()
        except Exception as e:  # noqa: BLE001 - the worker's failure is the job's result
            result = {"status": "failed", "seconds": 0.0,
                      "reason": short_reason(f"{type(e).__name__}: {e}")}
            finish(job, {**result, "cached": False})
            return
        if "design" not in result and cache.dir is not None:  # timed out or crashed:
            result["design"] = cache.design(job)  # cached all the same
        cache.put(job, result)
        finish(job, {**result, "cached": False})

    try:
        for job in jobs:
            launch(job)
        for future in (completed[0] if completed else ()):
            collect(future)
    except BaseException:
        if clients:
            _cancel(clients[0], run_id, list(futures))
        raise
    return {job: results[job] for job in jobs}


def _cancel(client, run_id, futures):
    """Stop run ``run_id``: cancel its tasks and kill its running job processes."""
    try:
        client.run(_kill_run, run_id, on_error="ignore")
        client.cancel(futures)
    except Exception:  # noqa: BLE001 - best effort on the way out of an error
        pass


def worker_main(spec_json, work, max_kb=MAX_VERILOG_KB):
    """Run one job (``python -m accelgen.flow.report SPEC WORK MAX_KB``: the
    package's ``__main__``); print its result as JSON on the last line."""
    from accelgen.flow.emit import emit
    from accelgen.errors import ToolFailed
    from accelgen.flow.synth import synthesize, fmax
    _end_with_parent()
    spec = json.loads(spec_json)
    unit = get_unit(spec["unit"])
    params = unit.params_cls(**spec["params"])
    emitted = emit(unit.name, params)
    result = {"design": _sha(emitted.verilog), "latency": emitted.manifest["latency"],
              "throughput": emitted.manifest["throughput"]}
    if spec["kind"] == "figure":
        from accelgen.flow.report.figures import figure
        text, data = figure(params)
        result.update(status="ok", figure={"text": text, **data},
                      cpu_seconds=round(_cpu_seconds(), 1))
        print(json.dumps(result), flush=True)
        return
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


def _end_with_parent(period=1.0):
    """When this process leads its own process group and was started by a worker
    (:data:`_PARENT_VARIABLE`), kill the group (it and its tools) once that worker
    is no longer its parent: the worker died (even before this process got here)."""
    parent = os.environ.get(_PARENT_VARIABLE, "")
    if not parent.isdigit() or os.getpgid(0) != os.getpid():
        return

    def watch():
        while os.getppid() == int(parent):
            time.sleep(period)
        os.killpg(0, signal.SIGKILL)

    threading.Thread(target=watch, daemon=True).start()
