# SPDX-License-Identifier: BSD-2-Clause
"""QoR tooling (accelgen.flow.report): the baseline comparison and its tolerance, the
committed baseline files against the registry (``baselines``), and the job
runner's time limit, failures, cache and Fmax skips (``jobs``, on one Dask
``LocalCluster`` shared by the module, with stand-in worker processes, no
synthesis; the real worker once, on a size skip)."""

import hashlib
import json
import sys
import time
from pathlib import Path

import pytest

from accelgen.flow.emit import emit
from accelgen.flow.report import baselines, jobs
from accelgen.flow.report.baselines import compare, baseline_mismatch
from accelgen.flow.report.jobs import Job, run_jobs
from accelgen.registry import UNITS, module_name

BASE = {"LUT": 100, "FF": 50, "carry": 10, "DSP": 1, "BRAM": 0}
VERSIONS = {"yosys": "test", "accelgen": "test"}


def fresh(**changes):
    return {**BASE, **changes}


# --- tolerance ------------------------------------------------------------------

@pytest.mark.parametrize("metric,value", [("LUT", 107), ("LUT", 93), ("FF", 54),
                                          ("carry", 12), ("carry", 8)])
def test_within_tolerance_passes(metric, value):
    """5% of the baseline plus 2 cells, either way."""
    assert compare(fresh(**{metric: value}), BASE) == []


def test_regression_beyond_tolerance_fails():
    problems = compare(fresh(LUT=108, FF=55), BASE)
    assert len(problems) == 2
    assert problems[0].startswith("LUT 108 vs baseline 100 (+8, +8.0%; tolerance ±7)")
    assert "regression" in problems[0] and problems[1].startswith("FF 55 vs baseline 50")


def test_beaten_baseline_fails_and_asks_for_refresh():
    (problem,) = compare(fresh(LUT=92), BASE)
    assert "LUT 92 vs baseline 100 (-8" in problem and "baseline beaten: refresh it" in problem


def test_tiny_design_has_absolute_slack():
    tiny = {"LUT": 2, "FF": 0, "carry": 0, "DSP": 0, "BRAM": 0}
    assert compare({**tiny, "LUT": 4, "FF": 2}, tiny) == []
    assert compare({**tiny, "LUT": 5}, tiny) == ["LUT 5 vs baseline 2 (+3, +150.0%; "
                                                 "tolerance ±2.1): regression"]
    assert "FF 3 vs baseline 0 (+3; tolerance ±2)" in compare({**tiny, "FF": 3}, tiny)[0]


@pytest.mark.parametrize("metric", baselines.EXACT_METRICS)
@pytest.mark.parametrize("delta", [1, -1])
def test_dsp_and_bram_must_be_equal(metric, delta):
    base = {**BASE, metric: 4}
    (problem,) = compare({**base, metric: 4 + delta}, base)
    assert problem.startswith(f"{metric} {4 + delta} vs baseline 4") and "must be equal" in problem


# --- baseline files -------------------------------------------------------------

def _small(name="int_mac"):
    return UNITS[name].params(baselines.BASELINE_PRESET)


def test_mismatch_messages(tmp_path):
    params = _small()
    module = module_name(params)
    missing_file = baseline_mismatch("int_mac", params, "ecp5", fresh(), tmp_path)
    assert "no QoR baseline file" in missing_file and "`make baselines`" in missing_file

    baselines.write_baseline("ecp5", {"other": baselines.baseline_entry("x", BASE)}, "Yosys 0.1",
                          tmp_path)
    missing = baseline_mismatch("int_mac", params, "ecp5", fresh(), tmp_path)
    assert f"{module} (int_mac small) has no QoR baseline" in missing
    assert "`make baselines`" in missing

    entry = baselines.baseline_entry("int_mac", {**BASE, "mapper": "abc9"})
    baselines.write_baseline("ecp5", {module: entry}, "Yosys 0.1", tmp_path)
    assert baseline_mismatch("int_mac", params, "ecp5", fresh(LUT=105), tmp_path) is None
    worse = baseline_mismatch("int_mac", params, "ecp5", fresh(LUT=120, mapper="abc"),
                              tmp_path)
    assert worse.startswith(f"{module} on ecp5 is outside its QoR baseline")
    assert "LUT 120 vs baseline 100" in worse and "regression" in worse
    assert "LUT/FF/carry within ±(5% of the baseline + 2), DSP/BRAM equal" in worse
    assert "Yosys 0.1" in worse and "run `make baselines`" in worse
    assert "mapped by abc, the baseline by abc9" in worse
    # Targets without baselines (generic) are not compared.
    assert baseline_mismatch("int_mac", params, "generic", fresh(LUT=999), tmp_path) is None


def test_baseline_file_round_trip_and_stale_entries(tmp_path):
    first = module_name(_small(next(iter(UNITS))))
    entries = {first: baselines.baseline_entry("u", {**BASE, "mapper": "abc9"}),
               "gone_unit__x1": baselines.baseline_entry("gone_unit", BASE)}
    path = baselines.write_baseline("ice40", entries, "Yosys 0.1", tmp_path)
    data = json.loads(path.read_text())
    assert data["modules"][first] == {"unit": "u", **BASE, "mapper": "abc9"}
    assert data["yosys"] == "Yosys 0.1" and data["update"] == "make baselines"
    stale, missing = baselines.stale_entries("ice40", tmp_path)
    assert stale == ["gone_unit__x1"]
    assert first not in missing and len(missing) == len(UNITS) - 1


@pytest.mark.parametrize("target", baselines.BASELINE_TARGETS)
def test_committed_baselines_cover_the_registry(target):
    """Every registered unit's small preset has an entry, and nothing else does
    (a new or renamed unit needs `make baselines`)."""
    stale, missing = baselines.stale_entries(target)
    assert not missing, (f"bench/baselines/{target}.json lacks {', '.join(missing)}: "
                         f"run `{baselines.UPDATE_COMMAND}`")
    assert not stale, (f"bench/baselines/{target}.json has entries no unit's small preset "
                       f"produces: {', '.join(stale)}: run `{baselines.UPDATE_COMMAND}`")
    for entry in baselines.load_baseline(target)["modules"].values():
        assert set(baselines.METRICS) <= set(entry) and entry["unit"] in UNITS


# --- the job runner, with stand-in workers ----------------------------------------

def _design(params):
    return hashlib.sha256(emit(params.unit, params).verilog.encode()).hexdigest()


@pytest.fixture(scope="module")
def client():
    """One two-worker Dask ``LocalCluster`` for the runner tests."""
    with jobs.dask_client(workers=2) as c:
        yield c


def _prints(result):
    return f"import json; print(json.dumps({result!r}))"


def test_runner_records_timeout_and_failure_and_kills_the_group(fake_worker, tmp_path, client):
    params = UNITS["bitbrick"].params()
    pid_file = tmp_path / "child.pid"
    slow = ("import subprocess, time; p = subprocess.Popen(['sleep', '60']); "
            f"open({str(pid_file)!r}, 'w').write(str(p.pid)); time.sleep(60)")
    broken = "import sys; sys.exit('ERROR: out of cheese')"
    fake_worker(lambda job: slow if job.target == "ecp5" else broken)
    slow_job, bad_job = Job.of(params, "ecp5"), Job.of(params, "ice40")
    lines = []
    start = time.monotonic()
    results = run_jobs([slow_job, bad_job], work_dir=tmp_path, timeout=1.5, versions=VERSIONS,
                       on_done=lambda *a: lines.append(a), client=client)
    assert time.monotonic() - start < 10
    assert results[slow_job]["status"] == "timeout" and results[slow_job]["limit"] == 1.5
    assert results[bad_job] == {**results[bad_job], "status": "failed",
                                "reason": "ERROR: out of cheese"}
    assert [a[2:4] for a in lines] == [(1, 2), (2, 2)]
    # The worker's own child (a tool, in real runs) went with it.
    child = Path(f"/proc/{pid_file.read_text()}/stat")
    deadline = time.monotonic() + 5
    while child.exists() and child.read_text().split()[2] != "Z" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not child.exists() or child.read_text().split()[2] == "Z"


def test_runner_caches_results_and_skips_fmax_that_cannot_fit(fake_worker, tmp_path, client):
    params = UNITS["bitbrick"].params()
    design = _design(params)
    huge = {"status": "ok", "design": design, "LUT": 10 ** 6, "FF": 0, "carry": 0,
            "DSP": 0, "BRAM": 0, "latency": 0, "throughput": 1}
    calls = fake_worker(lambda job: _prints(huge))
    synth, pnr = Job.of(params, "ice40"), Job.of(params, "ice40", "fmax")
    kwargs = dict(work_dir=tmp_path / "w", cache_dir=tmp_path / "c", versions=VERSIONS,
                  client=client)
    # The Fmax job comes first in the list but waits for its synthesis.
    first = run_jobs([pnr, synth], **kwargs)
    assert calls == [synth]
    assert first[pnr]["status"] == "skipped"
    assert first[pnr]["reason"] == "does not fit the UP5K: 1000000 LUT > 5280"
    assert first[synth]["LUT"] == 10 ** 6 and not first[synth]["cached"]
    again = run_jobs([pnr, synth], **kwargs)
    assert calls == [synth] and again[synth]["cached"]
    assert again[pnr]["status"] == "skipped"  # decided again from the cached synthesis
    assert again[synth]["seconds"] == first[synth]["seconds"]
    # Other tool versions (or another design, or synth.py) miss the cache.
    run_jobs([synth], **{**kwargs, "versions": {**VERSIONS, "yosys": "other"}})
    assert calls == [synth, synth]


def test_fmax_runs_after_synthesis_that_fits(fake_worker, tmp_path, client):
    params = UNITS["bitbrick"].params()
    small = {"status": "ok", "design": _design(params), "LUT": 10, "FF": 0, "carry": 0,
             "DSP": 1, "BRAM": 0, "fmax_mhz": 99.5}
    calls = fake_worker(lambda job: _prints(small))
    synth, pnr = Job.of(params, "ecp5"), Job.of(params, "ecp5", "fmax")
    results = run_jobs([pnr, synth], work_dir=tmp_path, versions=VERSIONS, client=client)
    assert calls == [synth, pnr] and results[pnr]["fmax_mhz"] == 99.5


def test_size_limit_skips_synthesis_until_raised(fake_worker, tmp_path, client):
    """The real worker skips a design above ``max_verilog_kb`` (and says why); the
    cached skip holds under the same limit and not under a higher one."""
    params = UNITS["bitbrick"].params()
    job = Job.of(params, "ecp5")
    kwargs = dict(work_dir=tmp_path / "w", cache_dir=tmp_path / "c", versions=VERSIONS,
                  client=client)
    (skipped,) = run_jobs([job], max_verilog_kb=0.1, **kwargs).values()
    assert skipped["status"] == "skipped" and skipped["verilog_kb"] > 0.1
    assert skipped["reason"].startswith("Verilog ") and "(max_verilog_kb)" in skipped["reason"]
    calls = fake_worker(lambda job: _prints({"status": "ok", "design": _design(params),
                                             "LUT": 1, "FF": 0, "carry": 0, "DSP": 1,
                                             "BRAM": 0}))
    assert run_jobs([job], max_verilog_kb=0.1, **kwargs)[job]["cached"] and calls == []
    assert run_jobs([job], **kwargs)[job]["status"] == "ok" and calls == [job]


def test_job_and_runner_arguments():
    params = UNITS["int_mac"].params("small")
    job = Job.of(params, "ecp5", dsp=False)
    assert job.name == f"{module_name(params)}.ecp5.synth.nodsp"
    assert job.unit_params == params and job.synth_job == Job.of(params, "ecp5", dsp=False)
    with pytest.raises(ValueError, match="^job kind must be 'synth', 'fmax' or 'figure', "
                                         "not 'pnr'$"):
        Job.of(params, "ecp5", "pnr")
    with pytest.raises(ValueError, match="workers must be at least 1, not 0"):
        run_jobs([], work_dir=".", workers=0, versions=VERSIONS)
    with pytest.raises(ValueError, match="timeout must be positive seconds, not 0"):
        run_jobs([], work_dir=".", timeout=0, versions=VERSIONS)


@pytest.mark.parametrize("seconds,text", [(3.14, "3.1 s"), (130, "2 min 10 s"),
                                          (3900, "1 h 5 min")])
def test_format_duration(seconds, text):
    assert jobs.format_duration(seconds) == text


def test_short_reason_keeps_the_error():
    assert jobs.short_reason("yosys exited with status 1: a | ERROR: no\n cells | Info: "
                               "1 warning") == "ERROR: no cells"
    assert len(jobs.short_reason("x" * 500)) == 120
    assert jobs.short_reason("ERROR: Unable to place cell 'dut.buf_ptr1_SB_DFFESR_Q_D_SB_"
                               "LUT4_I2_O', no BELs remaining for cell type 'ICESTORM_LC'") == \
        "ERROR: Unable to place cell 'dut.buf_ptr1...', no BELs remaining for cell type " \
        "'ICESTORM_LC'"


def _bench_report():
    """bench/report.py, loaded as a module (it is a script, not a package module)."""
    import importlib.util
    path = Path(__file__).resolve().parents[1] / "bench" / "report.py"
    spec = importlib.util.spec_from_file_location("bench_report", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_timing_table_divides_by_int_mac_of_the_same_run():
    """The report's timing table: the default's Fmax and the fastest row's
    (the registry's ``fastest`` setting among them), as ratios to int_mac default."""
    report = _bench_report()
    rows = report.rows_of(["int_mac", "fp_mac"])
    fusion = [r for r in rows if r.unit == "fp_mac"]
    assert any("fastest" in r.presets for r in fusion), "fp_mac declares a fastest setting"
    results = {}
    for n, row in enumerate(rows):
        for t in report.FMAX_TARGETS:
            value = 150.0 if row.unit == "int_mac" and "default" in row.presets else 60.0 + 10 * n
            results[Job.of(row.params, t, "fmax")] = {"status": "ok", "fmax_mhz": value}
    table = report.timing_rows(rows, results)
    by_unit = {r[0]: r for r in table}
    best = max(results[Job.of(r.params, "ecp5", "fmax")]["fmax_mhz"] for r in fusion)
    default = next(r for r in fusion if "default" in r.presets)
    cells = by_unit["`fp_mac`"]
    d = results[Job.of(default.params, "ecp5", "fmax")]["fmax_mhz"]
    ecp5 = 1 + 4 * report.FMAX_TARGETS.index("ecp5")
    assert cells[ecp5] == f"{d:.1f}" and cells[ecp5 + 1] == f"{d / 150:.2f}"
    assert cells[ecp5 + 2].endswith(f": {best:.1f}") and cells[ecp5 + 3] == f"{best / 150:.2f}"
    assert report.timing_rows([r for r in rows if r.unit != "int_mac"], results) is None


def test_runner_starts_its_own_cluster_in_a_fresh_interpreter(tmp_path):
    """With no Dask client in the process (as in ``bench/report.py`` and
    ``accelgen sweep``), the runner starts a LocalCluster itself: a job that
    prints an ``ok`` result comes back ``ok``."""
    import subprocess
    script = (
        "import json, sys\n"
        "from accelgen.flow.report import jobs\n"
        "from accelgen.registry import get_unit\n"
        "ok = {'status': 'ok', 'LUT': 1, 'FF': 0, 'carry': 0, 'DSP': 0, 'BRAM': 0, "
        "'LUTRAM': 0, 'mapper': 'abc9', 'design': 'x', 'latency': 2, 'throughput': 1}\n"
        "jobs._worker_command = lambda job, work, kb: "
        "[sys.executable, '-c', 'print(' + repr(json.dumps(ok)) + ')']\n"
        "job = jobs.Job.of(get_unit('int_mac').params(), 'ice40')\n"
        "result = jobs.run_jobs([job], work_dir=sys.argv[1], workers=1)[job]\n"
        "print(result['status'], result['LUT'])\n")
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines()[-1] == "ok 1"
