# SPDX-License-Identifier: BSD-2-Clause
"""Flow files of ``accelgen generate`` (FuseSoC core, filelist) and the Icarus run."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from accelgen import __version__

from accelgen.flow import tools
from accelgen.app.cli import main
from accelgen.flow.emit import Emitted, emit
from accelgen.errors import ToolFailed
from accelgen.flow.corefiles import core_name, generate, lint_files, waiver_flags, write_flows
from accelgen.registry import UNITS, module_name
from accelgen.verif.testing import check_run

TARGETS = {"default": None, "lint": "verilator", "synth": "yosys"}
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
    for target, tool in TARGETS.items():
        flags = {"target": target, "is_toplevel": True, **core.get_flags(target)}
        assert flags.get("tool") == tool, target
        assert core.get_toplevel(flags) == top, target
        assert core.get_files(flags) == [{"name": s, "file_type": "verilogSource"}
                                         for s in sources], target
        for source in sources:
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
    assert [p.name for p in paths] == [f"{module}.core", f"{module}.f"]
    options = check_core(load_core(paths[0]), module, [f"{module}.v"], UNITS[unit].summary)
    assert options == {"mode": "lint-only", "verilator_options": ["-Wall", *waiver_flags()]}
    assert paths[1].read_text() == f"{module}.v\n"


def test_generate_writes_core_and_filelist_beside_the_verilog(tmp_path):
    emitted = emit("int_mac")
    paths = generate(emitted, tmp_path)
    assert [p.name for p in paths] == ["int_mac.v", "int_mac.json", "int_mac.core", "int_mac.f"]
    assert paths[0].read_text() == emitted.verilog
    check_core(load_core(paths[2]), "int_mac", ["int_mac.v"], UNITS["int_mac"].summary)
    with pytest.raises(ValueError, match="ports must be one of native, axis, not 'apb'"):
        generate(emitted, tmp_path / "other", ports="apb")
    assert not (tmp_path / "other").exists()


def test_axis_core_lists_core_then_wrapper(tmp_path):
    emitted = emit("int_mac")
    paths = generate(emitted, tmp_path, ports="axis")
    assert [p.name for p in paths] == ["int_mac.v", "int_mac.json", "int_mac_axis.v",
                                       "int_mac_axis.json", "int_mac_axis.core",
                                       "int_mac_axis.f"]
    core = load_core(tmp_path / "int_mac_axis.core")
    check_core(core, "int_mac_axis", ["int_mac.v", "int_mac_axis.v"],
               f"{UNITS['int_mac'].summary} AXI4-Stream wrapper int_mac_axis.")
    assert (tmp_path / "int_mac_axis.f").read_text() == "int_mac.v\nint_mac_axis.v\n"


def test_axis_core_of_a_multi_stream_unit(tmp_path):
    """systolic_array (streams a, w in, o out): the same six files, the core loads in
    FuseSoC with the core's Verilog first."""
    paths = generate(committed("systolic_array"), tmp_path, ports="axis")
    assert [p.name for p in paths] == ["systolic_array.v", "systolic_array.json",
                                       "systolic_array_axis.v", "systolic_array_axis.json",
                                       "systolic_array_axis.core", "systolic_array_axis.f"]
    check_core(load_core(paths[4]), "systolic_array_axis",
               ["systolic_array.v", "systolic_array_axis.v"],
               f"{UNITS['systolic_array'].summary} AXI4-Stream wrapper systolic_array_axis.")


def test_flow_files_are_reproducible_and_hold_no_path(tmp_path):
    first = generate(emit("gelu"), tmp_path / "a", ports="axis")
    second = generate(emit("gelu"), tmp_path / "b", ports="axis")
    assert [p.name for p in first] == [p.name for p in second] and len(first) == 6
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
    """The .f drives Verilator -Wall (with the waiver file) and Yosys; the core's
    lint options, waivers as flags, pass too; a warning in a listed file fails."""
    generate(emit("int_mac"), tmp_path)
    lint_files(tmp_path, "int_mac", "int_mac.f")
    options = load_core(tmp_path / "int_mac.core").get_tool_options(
        {"target": "lint", "is_toplevel": True, "tool": "verilator"})["verilator_options"]
    tools.run("verilator", ["--lint-only", *options, "int_mac.v", "--top-module", "int_mac"],
              cwd=tmp_path)
    (tmp_path / "extra.v").write_text("module extra(output y);\n  wire z;\n  int_mac core();\n"
                                      "  assign y = z;\nendmodule\n")
    (tmp_path / "int_mac.f").write_text("int_mac.v\nextra.v\n")
    with pytest.raises(ToolFailed, match="UNDRIVEN"):
        lint_files(tmp_path, "extra", "int_mac.f")


def test_cli_generate_lists_the_four_files(capsys, tmp_path):
    status = main(["generate", "int_mac", "-p", "acc_width=24", "-o", str(tmp_path)])
    out, err = capsys.readouterr()
    module = "int_mac__acc24"
    assert (status, err) == (0, "")
    assert out.split() == [str(tmp_path / f"{module}{s}") for s in (".v", ".json", ".core", ".f")]
    assert load_core(tmp_path / f"{module}.core").name.name == module


def require_iverilog():
    """Skip when Icarus is missing, except under CI, where that is a failure."""
    if shutil.which("iverilog") is None:
        if os.environ.get("CI"):
            pytest.fail("iverilog not found on PATH, and CI is set: install it "
                        "(Debian package iverilog; make install does as root)")
        pytest.skip("iverilog not found on PATH (Debian package iverilog)")


@pytest.mark.parametrize("unit", ["int_mac", "systolic_array"])
def test_filelist_compiles_in_icarus(unit, tmp_path):
    """``iverilog -c <top>.f`` compiles the AXI4-Stream variant (core and wrapper)
    with -Wall and no output at all: one stream each way (int_mac) and three
    streams (systolic_array)."""
    require_iverilog()
    emitted = emit(unit) if unit == "int_mac" else committed(unit)
    generate(emitted, tmp_path, ports="axis")
    top = f"{emitted.module}_axis"
    proc = subprocess.run(["iverilog", "-g2005", "-Wall", "-gstrict-expr-width",
                           "-s", top, "-o", os.devnull, "-c", f"{top}.f"],
                          cwd=tmp_path, capture_output=True, text=True)
    assert (proc.returncode, proc.stdout + proc.stderr) == (0, "")


@pytest.mark.cocotb
def test_icarus_runs_int_mac_regression():
    """int_mac's whole cocotb testbench (small preset) passes under Icarus with
    the same test count as under Verilator."""
    require_iverilog()
    from accelgen.verif.runner import run_cocotb
    params = UNITS["int_mac"].params("small")
    icarus = run_cocotb("int_mac", params, simulator="icarus")
    verilator = run_cocotb("int_mac", params, seed=icarus.seed)
    print(f"seed {icarus.seed}: icarus {icarus.tests} tests in {icarus.run_seconds:.1f} s, "
          f"verilator {verilator.tests} in {verilator.run_seconds:.1f} s")
    log = (Path(icarus.results_xml).parent / "sim.log").read_text()
    assert "Running on Icarus Verilog" in log
    for result in (icarus, verilator):
        check_run(result, UNITS["int_mac"].testbench)


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
