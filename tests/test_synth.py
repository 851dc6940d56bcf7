# SPDX-License-Identifier: BSD-2-Clause
"""Synthesis reports: cell classes per family and register-to-register Fmax; the
small presets' cells held to the committed QoR baselines (bench/baselines/, see
accelgen.flow.report.baselines for the tolerance; `make baselines` rewrites them)."""

import pytest

from accelgen.flow.emit import emit
from accelgen.registry import UNITS
from accelgen.flow.report.baselines import baseline_mismatch
from accelgen.flow.synth import classify, synthesize, fmax, TARGETS, _synth_command
from accelgen.verif.testing import STRESS, HEAVY_REASON


def test_classify():
    cells = {"SB_LUT4": 10, "SB_DFFE": 3, "SB_DFFSR": 1, "SB_CARRY": 4, "SB_MAC16": 1,
             "TRELLIS_FF": 2, "CCU2C": 1, "LUT6": 5, "FDRE": 7, "CARRY4": 1, "DSP48E1": 1,
             "RAMB18E1": 1, "IBUF": 4, "OBUF": 2, "BUFG": 1, "MUXF7": 2,
             "TRELLIS_DPR16X4": 64, "RAM64M": 24, "RAM32M": 3, "RAM128X1D": 2,
             "RAM32X1S": 1, "SRL16E": 1}
    assert classify(cells) == {"LUT": 15, "FF": 13, "carry": 6, "DSP": 2, "BRAM": 1,
                               "LUTRAM": 94, "IO": 7, "other": 3,
                               "cells": sum(cells.values())}


@pytest.mark.synth
@pytest.mark.parametrize("target", [
    "ecp5",
    pytest.param("xilinx", marks=pytest.mark.skipif(STRESS < 2, reason=HEAVY_REASON)),
])
def test_lut_ram_is_its_own_class(target, tmp_path):
    """A small asynchronous-read memory becomes LUT RAM on ECP5 and Xilinx, counted
    under LUTRAM (the cell names Yosys emits), not under other. (Xilinx only with
    ``ACCELGEN_STRESS=2``: synth_xilinx alone takes about 15 s.)"""
    from amaranth.hdl import Module, Signal
    from amaranth.lib import wiring
    from amaranth.lib.memory import Memory
    from amaranth.lib.wiring import In, Out
    from types import SimpleNamespace

    class Ram(wiring.Component):
        waddr: In(4)
        wdata: In(8)
        we: In(1)
        raddr: In(4)
        rdata: Out(8)

        def elaborate(self, platform):
            m = Module()
            m.submodules.mem = mem = Memory(shape=8, depth=16, init=[])
            w = mem.write_port()
            r = mem.read_port(domain="comb")
            m.d.comb += [w.addr.eq(self.waddr), w.data.eq(self.wdata), w.en.eq(self.we),
                         r.addr.eq(self.raddr), self.rdata.eq(r.data)]
            return m

    emitted = SimpleNamespace(module="lutram_probe", verilog="", manifest_text="")
    result = synthesize(emitted, Ram(), target, tmp_path)
    assert result["LUTRAM"] > 0 and result["other"] == 0 and result["BRAM"] == 0


def test_dsp_off_commands():
    assert _synth_command("ice40", "t", dsp=False) == "synth_ice40 -top t"
    assert _synth_command("ecp5", "t", dsp=False) == "synth_ecp5 -top t -nodsp"
    assert _synth_command("xilinx", "t", dsp=False) == "synth_xilinx -flatten -top t -nodsp"
    assert _synth_command("ice40", "t", dsp=True) == "synth_ice40 -dsp -top t"


@pytest.mark.synth
def test_dsp_off_maps_multipliers_to_logic(tmp_path):
    unit = UNITS["int_mac"]
    params = unit.params("small")
    result = synthesize(emit("int_mac", params), unit.build(params), "ecp5", tmp_path,
                        dsp=False)
    assert result["DSP"] == 0 and result["LUT"] > 16


@pytest.mark.synth
def test_ecp5_falls_back_to_classic_abc(tmp_path, monkeypatch):
    """When Yosys exits inside ABC9 (YoWASP does on some ECP5 designs), ECP5
    synthesis is retried once with classic ABC and says so; other targets fail."""
    from accelgen.flow import tools
    from accelgen.errors import ToolFailed
    real, scripts = tools.run, []

    def abc9_fails(name, args, **kwargs):
        scripts.append(args[-1])
        if "abc -lut" not in args[-1]:
            raise ToolFailed("yosys exited with status 1: (no output)")
        return real(name, args, **kwargs)

    monkeypatch.setattr(tools, "run", abc9_fails)
    unit = UNITS["int_mac"]
    params = unit.params("small")
    result = synthesize(emit("int_mac", params), unit.build(params), "ecp5", tmp_path)
    assert result["mapper"] == "abc" and result["LUT"] > 0 and result["DSP"] == 1
    assert len(scripts) == 2 and "-run :map_luts" in scripts[1]
    with pytest.raises(ToolFailed):
        synthesize(emit("int_mac", params), unit.build(params), "ice40", tmp_path / "i")


def _smoke_targets(unit_name):
    """Every target; the generic and Xilinx flows only with ``ACCELGEN_STRESS >= 2``
    where the unit's ``heavy`` fact defers ``synth_more_targets`` (every unit but
    ``int_mac``)."""
    deferred = "synth_more_targets" in UNITS[unit_name].heavy.checks
    for target in TARGETS:
        heavy = deferred and target in ("generic", "xilinx")
        yield pytest.param(unit_name, target, id=f"{unit_name}-{target}",
                           marks=[pytest.mark.skipif(STRESS < 2, reason=HEAVY_REASON)]
                           if heavy else [])


@pytest.mark.synth
@pytest.mark.parametrize("unit_name,target",
                         [case for name in UNITS for case in _smoke_targets(name)])
def test_small_preset_synthesizes(unit_name, target, tmp_path):
    """Synthesizes, and stays within the QoR baseline of its target (the same run:
    no extra synthesis), which fails on a regression, on a baseline beaten by more
    than the tolerance and on a missing entry, saying to run `make baselines`."""
    unit = UNITS[unit_name]
    params = unit.params("small")
    result = synthesize(emit(unit_name, params), unit.build(params), target, tmp_path)
    assert result["cells"] > 0 and result["LUT"] > 0
    mismatch = baseline_mismatch(unit_name, params, target, result)
    if mismatch is not None:
        pytest.fail(mismatch, pytrace=False)
    if unit_name == "int_mac":
        # Result and accumulator registers at least (Xilinx packs them into the
        # DSP); one multiplier, in a DSP where the family maps one this small.
        assert result["FF"] >= params.acc_width or target == "xilinx"
        assert result["DSP"] == {"generic": 0, "ice40": 0, "ecp5": 1, "xilinx": 0}[target]


@pytest.mark.synth
def test_fmax_is_register_to_register(tmp_path):
    unit = UNITS["int_mac"]
    mhz = fmax(unit.build(unit.params("small")), "ecp5", tmp_path)
    assert 20 < mhz < 1000
