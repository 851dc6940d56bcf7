# SPDX-License-Identifier: BSD-2-Clause
"""``accelgen sweep`` and its Dask engine: results against direct synthesis, on a
LocalCluster and on a real ``dask scheduler`` with two ``dask worker`` processes;
time limits, failures, a killed worker, resume after an interruption; the
command line's errors; the Pareto front and its plot.

Real synthesis runs only for two tiny ``lnzd`` configurations on the generic
target (Yosys ``synth``, no place and route); everything else runs stand-in job
processes (``python -c``) in place of the worker command, so the engine is
exercised without the tools.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from accelgen.app import cli
from accelgen.flow import sweep
from accelgen.flow.emit import emit
from accelgen.flow.report import figures, jobs
from accelgen.flow.synth import synthesize
from accelgen.registry import get_unit

__all__ = []

VERSIONS = {"yosys": "test", "accelgen": "test"}
LNZD = get_unit("lnzd")
INT_MAC = get_unit("int_mac")
DASK = Path(sys.executable).with_name("dask")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def local():
    """One two-worker ``LocalCluster`` client for the module."""
    with jobs.dask_client(workers=2) as client:
        yield client


def _stop(proc):
    """Kill a process this test started, and its group (a worker's nanny children)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=10)


def _wait_for_port(port, proc, limit=60):
    """Wait until something listens on 127.0.0.1:``port`` (``proc`` still running)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"dask scheduler exited with status {proc.returncode}"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"dask scheduler did not listen on port {port} within {limit} s")


@pytest.fixture(scope="module")
def remote(tmp_path_factory):
    """A ``dask scheduler`` and two ``dask worker`` processes (no nanny: a killed
    worker stays dead) on 127.0.0.1 (free port), stopped at the end even when a
    test fails; yields the address."""
    folder = tmp_path_factory.mktemp("cluster")
    address = f"tcp://127.0.0.1:{_free_port()}"
    procs = []
    try:
        log = open(folder / "scheduler.log", "w")  # noqa: SIM115 - closed below
        procs.append(subprocess.Popen(
            [str(DASK), "scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1],
             "--no-dashboard"], stdout=log, stderr=subprocess.STDOUT, cwd=folder,
            start_new_session=True))
        for i in range(2):
            procs.append(subprocess.Popen(
                [str(DASK), "worker", address, "--nthreads", "1", "--no-nanny",
                 "--no-dashboard", "--death-timeout", "60", "--name", f"w{i}",
                 "--local-directory", str(folder / f"w{i}")],
                stdout=log, stderr=subprocess.STDOUT, cwd=folder, start_new_session=True))
        _wait_for_port(int(address.rsplit(":", 1)[1]), procs[0])
        with jobs.dask_client(scheduler=address, connect_timeout=30) as client:
            client.wait_for_workers(2, timeout=60)
        yield address
    finally:
        for proc in reversed(procs):
            _stop(proc)
        log.close()


def _result_code(job, lut, delay=0.0, marker=None, design=None):
    """A stand-in job that (after ``delay`` s, having appended a line to ``marker``)
    prints an ``ok`` result: ``lut`` LUTs, or an Fmax of ``1000 / lut`` MHz (with
    ``design`` as the Verilog hash if given; else the runner computes it)."""
    result = {"status": "ok", "LUT": lut, "FF": 2 * lut, "carry": 0, "DSP": 0, "BRAM": 0,
              "LUTRAM": 0, "mapper": "abc9"} if job.kind == "synth" else \
        {"status": "ok", "fmax_mhz": round(1000 / lut, 2)}
    if design:
        result["design"] = design
    mark = "" if marker is None else f"open({str(marker)!r}, 'a').write('x'); "
    return f"import json, time; {mark}time.sleep({delay}); print(json.dumps({result!r}))"


def _width(job):
    return dict(job.params).get("width", 8)


# --- real synthesis ---------------------------------------------------------------

def _direct(point, work):
    params = LNZD.params(**point)
    cells = synthesize(emit("lnzd", params), LNZD.build(params), "generic", work)
    return {k: cells[k] for k in (*sweep.RESOURCE_KEYS, "mapper")}


def test_sweep_matches_direct_synthesis_locally_and_on_a_scheduler(local, remote, tmp_path):
    """Tiny configurations on the generic target (Yosys ``synth``: the cheapest)."""
    axes = {"n": [2], "width": [1, 2]}
    kwargs = dict(work_dir=tmp_path / "w", versions=VERSIONS)
    rows = sweep.run_sweep(LNZD, axes, "generic", client=local, **kwargs)
    assert [r["params"] for r in rows] == [{"n": 2, "width": 1}, {"n": 2, "width": 2}]
    for row in rows:
        assert row["status"] == "ok" and not row["cached"]
        assert row["resources"] == _direct(row["params"], tmp_path / "direct"), row
    assert rows[0]["module"] == "lnzd__n2_w1" and rows[0]["resources"]["LUT"] > 0
    assert rows[0]["resources"] != rows[1]["resources"]
    # The same sweep on a real scheduler and two worker processes, with a cache
    # written by this process from the results the workers returned.
    on_cluster = sweep.run_sweep(LNZD, axes, "generic", scheduler=remote,
                                 cache_dir=tmp_path / "c", **kwargs)
    strip = [{k: v for k, v in r.items() if k != "seconds"} for r in rows]
    assert [{k: v for k, v in r.items() if k != "seconds"} for r in on_cluster] == strip
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == [
        "lnzd__n2_w1.generic.synth.json", "lnzd__n2_w2.generic.synth.json"]


# --- the engine with stand-in jobs ---------------------------------------------------

def test_timeout_and_failure_are_recorded_without_losing_others(local, fake_worker, tmp_path):
    codes = {4: "import time; time.sleep(60)",
             5: "import sys; sys.exit('ERROR: out of cheese')"}
    fake_worker(lambda job: codes.get(_width(job)) or _result_code(job, 7))
    start = time.monotonic()
    rows = sweep.run_sweep(LNZD, {"width": [4, 5, 6]}, "ice40", client=local, timeout=1.5,
                           work_dir=tmp_path, versions=VERSIONS)
    assert time.monotonic() - start < 20
    timed_out, failed, fine = rows
    assert timed_out["status"] == "timeout" and timed_out["resources"] is None
    assert timed_out["reason"] == "synth: timeout after 1.5 s"
    assert failed["status"] == "failed"
    assert failed["reason"] == "synth: failed: ERROR: out of cheese"
    assert fine["status"] == "ok" and fine["resources"]["LUT"] == 7
    # The worker that ran the timed-out job survived.
    assert len(local.scheduler_info()["workers"]) == 2


def test_killed_worker_loses_no_result(remote, fake_worker, tmp_path):
    """A worker process killed while it runs a job: Dask runs the job again on
    another worker and every configuration still gets its result."""
    fake_worker(lambda job: _result_code(job, _width(job), delay=1,
                                         marker=tmp_path / f"started{_width(job)}"))
    widths = [3, 4, 5, 6]
    killed = {}

    def kill_one(client):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            busy = {w: keys for w, keys in client.processing().items() if keys}
            started = [p for p in tmp_path.glob("started*")]
            if busy and started:
                worker, keys = next(iter(busy.items()))
                pid = client.run(os.getpid, workers=[worker])[worker]
                os.kill(pid, signal.SIGKILL)
                killed.update(worker=worker, keys=list(keys))
                return
            time.sleep(0.05)

    with jobs.dask_client(scheduler=remote) as client:
        thread = threading.Thread(target=kill_one, args=(client,), daemon=True)
        thread.start()
        rows = sweep.run_sweep(LNZD, {"width": widths}, "ice40", client=client,
                               timeout=60, work_dir=tmp_path, versions=VERSIONS)
        thread.join(timeout=30)
        workers = len(client.scheduler_info()["workers"])
    assert killed, "no worker was killed: the test did not exercise the loss"
    assert workers == 1, "the killed worker is still registered"
    assert [r["status"] for r in rows] == ["ok"] * 4
    assert [r["resources"]["LUT"] for r in rows] == widths
    # The job the killed worker was running was started again elsewhere.
    rerun = [w for w in widths if len((tmp_path / f"started{w}").read_text()) > 1]
    assert rerun, f"no job ran twice; killed {killed}"


def _gone(pid):
    """The process ``pid`` has ended (gone, or a zombie nobody reaped)."""
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (FileNotFoundError, ProcessLookupError):
        return True


def _wait_until(condition, limit=10.0):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_job_process_ends_with_its_worker(tmp_path):
    """A job process whose worker died (here: before the job got going) kills
    itself and its tools, its process group."""
    tool_file = tmp_path / "tool.pid"
    job = ("import subprocess, time; from accelgen.flow.report.jobs import _end_with_parent; "
           f"q = subprocess.Popen(['sleep', '60']); open({str(tool_file)!r}, 'w')"
           ".write(str(q.pid)); _end_with_parent(0.1); time.sleep(60)")
    worker = ("import os, subprocess, sys; "
              f"p = subprocess.Popen([sys.executable, '-c', {job!r}], start_new_session=True, "
              "env={**os.environ, 'ACCELGEN_JOB_PARENT': str(os.getpid())}); print(p.pid)")
    done = subprocess.run([sys.executable, "-c", worker], capture_output=True, text=True,
                          timeout=30, check=True)
    job_pid = int(done.stdout)
    try:
        assert _wait_until(tool_file.exists, 20), "the job did not start its tool"
        tool_pid = int(tool_file.read_text())
        assert _wait_until(lambda: _gone(job_pid) and _gone(tool_pid)), \
            "the orphaned job or its tool still runs"
    finally:
        try:
            os.killpg(job_pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_resume_after_interruption_runs_only_the_rest(local, fake_worker, monkeypatch, tmp_path):
    pid_file = tmp_path / "slow.pid"
    slow = ("import os, time; open({!r}, 'a').write(str(os.getpid()) + ' '); "
            "time.sleep(120)").format(str(pid_file))
    interrupted = {"on": True}
    calls = fake_worker(lambda job: slow if interrupted["on"] and _width(job) != 3
                        else _result_code(job, _width(job), delay=0.1))
    kwargs = dict(client=local, work_dir=tmp_path / "w", cache_dir=tmp_path / "c",
                  versions=VERSIONS)

    def stop(job, result, done, total, elapsed):
        _wait_until(pid_file.exists)  # a slow job is running (asserted below)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sweep.run_sweep(LNZD, {"width": [3, 4, 5]}, "ice40", on_done=stop, **kwargs)
    assert sorted(_width(j) for j in calls) == [3, 4, 5]
    # The job that was running when the run stopped was killed with it.
    assert pid_file.exists(), "the slow job never started"
    pids = [int(p) for p in pid_file.read_text().split()]
    assert _wait_until(lambda: all(_gone(p) for p in pids)), \
        f"interrupted job processes {pids} still run"
    interrupted["on"] = False
    calls.clear()
    start = time.monotonic()
    rows = sweep.run_sweep(LNZD, {"width": [3, 4, 5]}, "ice40", **kwargs)
    # No job of the stopped run, even one that started after the stop, holds a worker.
    assert time.monotonic() - start < 60
    assert sorted(_width(j) for j in calls) == [4, 5]
    assert [(r["status"], r["cached"]) for r in rows] == [("ok", True), ("ok", False),
                                                          ("ok", False)]
    calls.clear()
    # Everything is cached: no cluster is even started.
    monkeypatch.setattr(jobs, "dask_client", lambda *a, **k: pytest.fail("cluster started"))
    again = sweep.run_sweep(LNZD, {"width": [3, 4, 5]}, "ice40",
                            **{k: v for k, v in kwargs.items() if k != "client"})
    assert calls == [] and all(r["cached"] for r in again)


def test_cli_sweep_json_invalid_pnr_and_plot(remote, fake_worker, monkeypatch, tmp_path,
                                             capsys):
    """End to end, on the scheduler: an invalid combination listed with its reason
    and not run, one JSON line per configuration, a progress line per job, the
    plot written."""
    monkeypatch.setattr(jobs, "tool_versions", lambda: VERSIONS)
    calls = fake_worker(lambda job: _result_code(job, dict(job.params).get("acc_width", 32),
                                                 design="not-emitted"))
    png = tmp_path / "front.png"
    status = cli.main(["sweep", "int_mac", "-p", "acc_width=8,16,24", "--target", "ice40",
                       "--pnr", "--json", "--plot", str(png), "--scheduler", remote,
                       "--cache", "", "--work", str(tmp_path / "w")])
    out, err = capsys.readouterr()
    assert status == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert [r["params"] for r in lines] == [{"acc_width": a} for a in (8, 16, 24)]
    assert lines[0]["status"] == "invalid" and lines[0]["module"] is None
    assert lines[0]["reason"].startswith("int_mac acc_width must be")
    assert [r["resources"]["LUT"] for r in lines[1:]] == [16, 24]
    assert [r["fmax"] for r in lines[1:]] == [62.5, 41.67]
    assert set(lines[1]) >= {"params", "status", "resources", "fmax", "figure", "seconds",
                             "cached"}
    assert len(calls) == 4  # two configurations, synthesis and Fmax each
    assert f"invalid: acc_width=8: {lines[0]['reason']}" in err
    progress = [line for line in err.splitlines() if line.startswith("[")]
    assert len(progress) == 4 and all("elapsed" in p and "left)" in p for p in progress)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # (16 LUT, 62.5 MHz) beats (24 LUT, 41.67 MHz).
    assert f"wrote {png}: 1 Pareto-optimal of 2 configurations" in err


@pytest.mark.parametrize("args, message", [
    (["nounit", "-p", "x=1"], r"unknown unit 'nounit'.*"),
    (["lnzd", "-p", "bogus=1,2"], r"unit lnzd has no parameter 'bogus'; parameters are "
                                  r"n, width, signed, fanin.*"),
    (["lnzd"], r"sweep needs at least one -p NAME=V1,V2,\.\.\. or NAME=LO\.\.HI .*"),
    (["lnzd", "-p", "width"], r"-p expects NAME=V1,V2,\.\.\. or NAME=LO\.\.HI, not 'width'"),
    (["lnzd", "-p", "width=4,,8"], r"-p width=4,,8: empty value in the list '4,,8'"),
    (["lnzd", "-p", "width=4,x"], r"lnzd width must be a decimal integer .*, not 'x'"),
    (["lnzd", "-p", "width=8..4"], r"-p width=8\.\.4: range 8\.\.4 is empty "
                                   r"\(LO must be at most HI\)"),
    (["lnzd", "-p", "width=4..x"], r"-p width=4\.\.x: a range is LO\.\.HI with decimal "
                                   r"integers, not '4\.\.x'"),
    (["lnzd", "-p", "signed=0..1"], r"-p signed=0\.\.1: a range LO\.\.HI needs an integer "
                                    r"parameter; signed is bool"),
    (["lnzd", "-p", "width=4", "-p", "width=5"], r"-p/--param width given more than once"),
    (["lnzd", "-p", "width=4", "--scheduler", "nowhere"],
     r"scheduler must be an address tcp://HOST:PORT, not 'nowhere'"),
    (["lnzd", "-p", "width=4", "--workers", "0"], r"--workers must be at least 1, not 0"),
    (["lnzd", "-p", "width=4", "--timeout", "0"], r"--timeout must be positive seconds, not 0"),
    (["lnzd", "-p", "width=4", "--pnr", "--target", "xilinx"],
     r"--pnr needs --target ice40 or ecp5, not xilinx"),
    (["lnzd", "-p", "width=4", "--accuracy"], r"unit lnzd has no figure for --accuracy; .*"),
    (["lnzd", "-p", "width=4", "--plot", "x.png"], r"--plot needs --pnr .*"),
])
def test_cli_errors(args, message, capsys, tmp_path):
    args = [*args, "--cache", str(tmp_path / "c"), "--work", str(tmp_path / "w")]
    assert cli.main(["sweep", *args]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1
    assert err.endswith("\n")
    assert __import__("re").fullmatch(f"accelgen: error: {message}", err.rstrip("\n")), err


def test_cli_unreachable_scheduler(capsys, tmp_path):
    address = f"tcp://127.0.0.1:{_free_port()}"  # nothing listens there
    start = time.monotonic()
    assert cli.main(["sweep", "lnzd", "-p", "width=4", "--scheduler", address, "--cache",
                     str(tmp_path / "c"), "--work", str(tmp_path / "w")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[-1] == f"accelgen: error: cannot reach the Dask scheduler at {address}: " \
                      "Connection refused"
    assert time.monotonic() - start < 15


# --- axes, Pareto front, plot ----------------------------------------------------------

def test_axes_expand_ranges_lists_and_invalid_combinations():
    axes = sweep.parse_axes(INT_MAC, ["a_width=3..5", "acc_width=12,12,16", "a_signed=true,0"])
    assert axes == {"a_width": [3, 4, 5], "acc_width": [12, 16], "a_signed": [True, False]}
    valid, invalid = sweep.expand(INT_MAC, {"a_width": [3, 5], "acc_width": [12, 16]})
    assert [p for p, _ in valid] == [{"a_width": 3, "acc_width": 12},
                                     {"a_width": 3, "acc_width": 16},
                                     {"a_width": 5, "acc_width": 16}]
    assert valid[0][1] == INT_MAC.params(a_width=3, acc_width=12)
    ((point, reason),) = invalid
    assert point == {"a_width": 5, "acc_width": 12}
    assert reason.startswith("int_mac acc_width must be") and "13" in reason


def test_pareto_front_by_hand():
    points = [(1, 5), (2, 3), (3, 4), (4, 1), (2, 3), (5, 5)]
    # (3, 4) is beaten by (2, 3); (5, 5) by everything; equal points both stay.
    assert sweep.pareto_front(points) == [True, True, False, True, True, False]
    # LUTs down, Fmax up: (3, 2) is beaten by (2, 3).
    assert sweep.pareto_front([(1, 1), (2, 3), (3, 2), (4, 4)], maximize=(False, True)) == \
        [True, True, False, True]
    assert sweep.pareto_front([]) == []


def test_plot_marks_the_front(tmp_path):
    def row(lut, err, **params):
        return {"unit": "softmax", "params": params, "resources": {"LUT": lut}, "fmax": None,
                "figure": {"text": "", "max_abs_error_lsb": err}}
    rows = [row(100, 2.0, t=5), row(150, 1.0, t=6), row(200, 1.5, t=7), row(300, 0.5, t=8),
            {**row(0, 0, t=9), "resources": None, "figure": None}]
    path = tmp_path / "front.png"
    axes = sweep.plot_axes("softmax", figure=True)
    assert axes == ("figure.max_abs_error_lsb", "max |error| (output LSB)", "min")
    best = sweep.plot(rows, path, axes, "softmax")
    assert [r["params"]["t"] for r in best] == [5, 6, 8]
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000
    assert sweep.plot_axes("lnzd", figure=True) is None
    assert sweep.plot_axes("lnzd", pnr=True) == ("fmax", "Fmax (MHz)", "max")


def test_figure_job_prints_the_units_figure(tmp_path, capsys):
    """The worker process of a figure job (run in-process here) reports the figure
    the QoR report shows, with the manifest's latency."""
    params = get_unit("nm_sparse").params("small")
    job = jobs.Job.of(params, "ecp5", "figure")
    jobs.worker_main(json.dumps(job.spec()), str(tmp_path / "w"))
    result = json.loads(capsys.readouterr().out.splitlines()[-1])
    text, data = figures.figure(params)
    assert result["status"] == "ok" and result["figure"] == {"text": text, **data}
    assert result["latency"] == params.latency and data["dense_macs_per_cycle"] > 0
