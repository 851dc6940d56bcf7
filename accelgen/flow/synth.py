# SPDX-License-Identifier: BSD-2-Clause
"""Synthesis with Yosys (cell counts per FPGA family) and Fmax with nextpnr.

Resources are counted from Yosys' ``stat -json`` after ``synth_<family>``, by
cell class: LUT, FF, carry, DSP, BRAM, LUTRAM (distributed RAM built from LUTs),
IO and other (plus the total cell count). Fmax is
measured register to register: :class:`FmaxHarness` feeds every input of the
unit from an LFSR and folds every output into a MISR, so the placed design has
four pins (``clk``, ``rst``, ``din``, ``dout``) whatever the unit's width, and
nextpnr's critical path runs between flip-flops, through the unit.
"""

import json
import re
import shutil
from pathlib import Path

from amaranth.back import rtlil
from amaranth.hdl import Module, Signal, Cat, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out, Flow

from accelgen.flow import tools
from accelgen.flow.emit import write

__all__ = ["TARGETS", "DEVICES", "SOURCES", "FmaxHarness", "synthesize", "fmax", "classify"]

# target -> (Yosys synthesis command, nextpnr tool or None, nextpnr device arguments)
TARGETS = {
    "generic": ("synth -flatten -top {top}", None, ()),
    "ice40": ("synth_ice40 -dsp -top {top}", "nextpnr-ice40",
              ("--up5k", "--package", "sg48", "--pcf-allow-unconstrained")),
    "ecp5": ("synth_ecp5 -top {top}", "nextpnr-ecp5", ("--25k", "--package", "CABGA256")),
    "xilinx": ("synth_xilinx -flatten -top {top}", None, ()),
}

#: target -> what the counts are for, and what ``fmax`` places and routes on.
DEVICES = {
    "generic": "Yosys generic gates (no device)",
    "ice40": "Lattice iCE40 (synth_ice40 -dsp); Fmax on iCE40UP5K-SG48",
    "ecp5": "Lattice ECP5 (synth_ecp5); Fmax on LFE5U-25F-CABGA256",
    "xilinx": "Xilinx 7-series (synth_xilinx)",
}

#: ``synthesize`` inputs: Amaranth's RTLIL of the component, or the emitted Verilog.
SOURCES = ("rtlil", "verilog")

# cell class -> regular expression over Yosys cell type names (all families)
_CLASSES = {
    "LUT": r"SB_LUT4|LUT[1-6]|LUT4|\$_(AND|OR|XOR|XNOR|NAND|NOR|ANDNOT|ORNOT|NOT|MUX|AOI\d|OAI\d)_",
    "FF": r"SB_DFF\w*|TRELLIS_FF|FD[CPRSE]\w*|\$_S?DFF\w*|\$_DLATCH\w*",
    "carry": r"SB_CARRY|CCU2C|CARRY4|CARRY8",
    "DSP": r"SB_MAC16|MULT18X18D|ALU54B|DSP48E1|DSP48E2|\$mul",
    "BRAM": r"SB_RAM40_4K|SB_SPRAM256KA|DP16KD|PDPW16KD|RAMB\w+",
    # ECP5 distributed RAM (synth_ecp5 emits TRELLIS_DPR16X4) and Xilinx LUT RAM
    # (synth_xilinx emits RAM64M, RAM32M, RAMnnXmS/D); shift-register LUTs stay "other".
    "LUTRAM": r"TRELLIS_DPR16X4|DPR16X4C?|SPR16X4C?|RAM32M16|RAM64M8|RAM32M|RAM64M|"
              r"RAM(16|32|64|128|256|512)X[1-8][SD]",
    "IO": r"SB_IO|TRELLIS_IO|[IO]BUF\w*|IOBUF\w*|BUFG\w*",
}


def classify(cells):
    """Map ``{cell_type: count}`` to ``{LUT, FF, carry, DSP, BRAM, LUTRAM, IO, other,
    cells}``: the number of cells of each class, ``cells`` the total.

    LUTRAM counts LUT RAM primitives (an ECP5 ``TRELLIS_DPR16X4``, a Xilinx
    ``RAM64M``, ...) as cells, not the LUTs they occupy. For the
    ``generic`` target LUT counts Yosys' internal logic gates.
    """
    out = {name: 0 for name in [*_CLASSES, "other"]}
    for cell, count in cells.items():
        for name, pattern in _CLASSES.items():
            if re.fullmatch(pattern, cell):
                out[name] += count
                break
        else:
            out["other"] += count
    out["cells"] = sum(cells.values())
    return out


class FmaxHarness(wiring.Component):
    """Wraps a clocked or combinational unit so nextpnr times it register to register.

    Every input bit of the unit comes from a flip-flop of an LFSR (fed by pin
    ``din`` so it cannot be folded away); every output bit goes through a
    capture flip-flop into a rotating MISR whose bit 0 drives ``dout``.
    """

    def __init__(self, dut):
        self.dut = dut
        super().__init__({"din": In(1), "dout": Out(1)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.dut = self.dut
        inputs, outputs = [], []
        for _path, member, value in self.dut.signature.flatten(self.dut):
            (inputs if member.flow == Flow.In else outputs).append(value)
        in_bits = max(2, sum(len(Value.cast(v)) for v in inputs))
        lfsr = Signal(in_bits, init=1)
        m.d.sync += lfsr.eq(Cat(lfsr[1:], lfsr[0] ^ lfsr[1] ^ self.din))
        offset = 0
        for value in inputs:
            width = len(Value.cast(value))
            m.d.comb += value.eq(lfsr[offset:offset + width])
            offset += width
        out_bits = Cat(*outputs)
        captured = Signal(len(out_bits))
        misr = Signal(len(out_bits))
        m.d.sync += [captured.eq(out_bits),
                     misr.eq(Cat(misr[1:], misr[0]) ^ captured)]
        m.d.comb += self.dout.eq(misr[0])
        return m


def _synth_command(target, top, dsp):
    """The Yosys synthesis command; ``dsp=False`` keeps multipliers in logic."""
    command = TARGETS[target][0].format(top=top)
    if not dsp:
        command = command.replace(" -dsp", "") if target == "ice40" else \
            command + (" -nodsp" if target in ("ecp5", "xilinx") else "")
    return command


def _classic_abc(synth_cmd):
    """ECP5 synthesis with Yosys' classic ``abc -lut 4`` in place of ``abc9`` (the
    ``map_luts`` step of ``synth_lattice``)."""
    return (f"{synth_cmd} -run :map_luts; techmap -map +/lattice/latches_map.v; "
            f"abc -lut 4; clean; {synth_cmd} -run map_cells:")


def _run_synthesis(work, top, target, dsp, tail, read=None):
    """Run ``<read>; <synthesis>; <tail>`` and return the LUT mapper used; ``read``
    is ``read_rtlil <top>.il`` unless given.

    YoWASP's Yosys sometimes exits inside ABC9 with no message (seen on ECP5 for
    some designs of a few hundred LUTs and on the largest presets); ECP5 then
    retries once with classic ABC, and the result says ``mapper: abc``."""
    synth_cmd = _synth_command(target, top, dsp)
    read = read or f"read_rtlil {top}.il"
    try:
        tools.run("yosys", ["-q", "-p", f"{read}; {synth_cmd}; {tail}"], cwd=work)
        return "abc9" if target in ("ecp5", "ice40") else "abc"
    except tools.ToolFailed:
        if target != "ecp5":
            raise
    tools.run("yosys", ["-q", "-p", f"{read}; {_classic_abc(synth_cmd)}; {tail}"], cwd=work)
    return "abc"


def _yosys_stat(work, top, target, dsp=True, read=None):
    mapper = _run_synthesis(work, top, target, dsp, "tee -q -o stat.json stat -json", read)
    stat = json.loads((Path(work) / "stat.json").read_text())
    design = stat.get("design") or stat["modules"][f"\\{top}"]
    return {k: int(v) for k, v in design.get("num_cells_by_type", {}).items()}, mapper


def _fresh(work_dir):
    work = Path(work_dir)
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    return work


def synthesize(emitted, component, target, work_dir, *, dsp=True, source="rtlil"):
    """Synthesize one configuration for ``target``; return classified cell counts
    plus ``mapper`` (``abc9``, or ``abc`` where ECP5 fell back to classic ABC).

    ``component`` is the elaborated unit (the same configuration as ``emitted``).
    ``source="rtlil"`` hands it to Yosys as RTLIL (the QoR report's input);
    ``source="verilog"`` synthesizes the emitted ``<module>.v`` instead, the file
    users get (``component`` is then not read). The Verilog and manifest are
    written beside. ``dsp=False`` maps multipliers to logic (no DSP blocks).
    Raises ``ValueError`` for an unknown ``target`` or ``source``.
    """
    if target not in TARGETS:
        raise ValueError(f"target must be one of {', '.join(TARGETS)}, not {target!r}")
    if source not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)}, not {source!r}")
    work = _fresh(work_dir)
    write(emitted, work)
    if source == "verilog":
        read = f"read_verilog {emitted.module}.v"
    else:
        read = None
        (work / f"{emitted.module}.il").write_text(
            rtlil.convert(component, name=emitted.module, emit_src=False))
    cells, mapper = _yosys_stat(work, emitted.module, target, dsp=dsp, read=read)
    return {**classify(cells), "mapper": mapper}


_FREQ_TARGET_MHZ = {"nextpnr-ice40": 12, "nextpnr-ecp5": 50}


def fmax(component, target, work_dir, *, seed=1, dsp=True, device=None, timeout=1800):
    """Place and route ``FmaxHarness(component)``; return Fmax in MHz of ``clk``.

    ``device`` replaces the target's nextpnr device arguments (e.g. ``("--85k",
    "--package", "CABGA381")`` for a design too big for the default LFE5U-25F).
    ``timeout`` bounds the place-and-route run in seconds (``subprocess.TimeoutExpired``
    past it).
    """
    if TARGETS.get(target, (None, None))[1] is None:
        raise ValueError(f"Fmax needs target ice40 or ecp5, not {target!r}")
    _synth, pnr, default_device = TARGETS[target]
    device = default_device if device is None else tuple(device)
    work = _fresh(work_dir)
    top = "fmax_harness"
    (work / f"{top}.il").write_text(rtlil.convert(FmaxHarness(component), name=top,
                                                  emit_src=False))
    _run_synthesis(work, top, target, dsp, f"write_json {top}.json")
    tools.run(pnr, [*device, "--json", f"{top}.json", "--freq", str(_FREQ_TARGET_MHZ[pnr]),
                    "--timing-allow-fail", "--seed", str(seed), "--report", "report.json",
                    "-q"], cwd=work, timeout=timeout)
    report = json.loads((work / "report.json").read_text())
    clocks = report.get("fmax", {})
    if not clocks:
        raise tools.ToolFailed(f"{pnr} reported no clock in report.json")
    return min(c["achieved"] for c in clocks.values())
