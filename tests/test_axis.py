# SPDX-License-Identifier: BSD-2-Clause
"""The AXI4-Stream wrapper (``accelgen generate --ports axis``): which units it
applies to, its ports and manifest, lint, and the units' own cocotb regressions
run through it."""

import json
from pathlib import Path

import pytest
from cocotb.types import LogicArray, Range

from accelgen import tools
from accelgen.axis import check_streaming, padded_width, port_map, wrap
from accelgen.cli import main
from accelgen.emit import Emitted
from accelgen.flows import generate, lint_files, waiver_flags
from accelgen.registry import UNITS, module_name
from accelgen.verif.ports import MappedDut
from conftest import STRESS, HEAVY_REASON

ROOT = Path(__file__).resolve().parents[1]

#: Units the wrapper refuses, and what the message must say.
REFUSED = {"bitbrick": "has no stream ports", "ant_decoder": "has no stream ports",
           "olive_decoder": "has no stream ports",
           "systolic_array": "has extra ports a__payload, a__valid, a__ready, w__payload"}
STREAMING = [name for name in UNITS if name not in REFUSED]


def committed(unit):
    """The unit's default preset as committed in ``hdl/`` (kept equal to a fresh
    emission by test_hdl), so these checks emit nothing."""
    module = module_name(UNITS[unit].params())
    return Emitted(module, (ROOT / "hdl" / f"{module}.v").read_text(),
                   json.loads((ROOT / "hdl" / f"{module}.json").read_text()))


@pytest.mark.parametrize("unit", list(REFUSED))
def test_units_without_one_stream_each_way_are_refused(unit):
    with pytest.raises(ValueError, match=f"^unit {unit} {REFUSED[unit]}.*: --ports axis wraps"):
        wrap(committed(unit))


@pytest.mark.parametrize("unit", STREAMING)
def test_wrapper_ports_and_manifest(unit):
    core = committed(unit)
    wrapper = wrap(core)
    assert wrapper.module == f"{core.module}_axis"
    core_ports = {p["name"]: p for p in core.manifest["ports"]}
    ports = {p["name"]: p for p in wrapper.manifest["ports"]}
    assert list(ports) == ["aclk", "aresetn", "s_axis_tdata", "s_axis_tvalid", "s_axis_tready",
                           "m_axis_tdata", "m_axis_tvalid", "m_axis_tready"]
    for name, port in ports.items():
        source = core_ports[port["core_port"]]
        assert port["dir"] == source["dir"], name
        if name.endswith("tdata"):
            assert port["payload_width"] == source["width"]
            assert port["width"] % 8 == 0 and 0 <= port["width"] - source["width"] < 8
            assert port.get("fields") == source.get("fields")
            assert port.get("signed") == source.get("signed")
        else:
            assert port["width"] == source["width"] == 1, name
    assert ports["aresetn"]["active_low"] is True and ports["aclk"]["role"] == "clock"
    manifest = dict(wrapper.manifest)
    assert manifest.pop("ports") and manifest.pop("module") and manifest.pop("axis")
    assert manifest == {k: v for k, v in core.manifest.items() if k not in ("ports", "module")}
    assert port_map(wrapper.manifest)["rst"] == {"port": "aresetn", "invert": True}
    assert f"  {core.module} core (\n" in wrapper.verilog
    assert core.verilog not in wrapper.verilog  # the core stays in its own file


def test_padded_width():
    assert [padded_width(w) for w in (1, 7, 8, 9, 16, 17, 129)] == [8, 8, 8, 16, 16, 24, 136]


def test_wrong_direction_is_refused():
    manifest = committed("gelu").manifest
    for port in manifest["ports"]:
        if port["name"] == "o__ready":
            port["dir"] = "out"
    with pytest.raises(ValueError, match="unit gelu has o__ready in the wrong direction"):
        check_streaming(manifest)


def strict_lint(folder, core, wrapper):
    """Verilator -Wall with the waivers confined to the core's file: the wrapper
    itself needs none (the shared waiver file would hide a width mismatch)."""
    rules = "".join(f'lint_off -rule {flag[5:]} -file "{core}.v"\n' for flag in waiver_flags())
    (folder / "core_only.vlt").write_text(f"`verilator_config\n{rules}")
    tools.run("verilator", ["--lint-only", "-Wall", "core_only.vlt", f"{core}.v",
                            f"{wrapper}.v", "--top-module", wrapper], cwd=folder)


# Input and output padding present or not: int_mac (17 -> 24, 32), softmax (8, 9 -> 16),
# gelu (8, 8), fusion_unit (71 -> 72, 34 -> 40); every streaming unit with STRESS >= 2.
LINTED = ["int_mac", "softmax", "gelu", "fusion_unit"]


def lint_params():
    return [pytest.param(u, marks=[] if u in LINTED else
                         [pytest.mark.skipif(STRESS < 2, reason=HEAVY_REASON)])
            for u in STREAMING]


@pytest.mark.parametrize("unit", lint_params())
def test_wrapper_lints_clean(unit, tmp_path):
    core = committed(unit)
    generate(core, tmp_path, ports="axis")
    wrapper = f"{core.module}_axis"
    lint_files(tmp_path, wrapper, f"{wrapper}.f")
    strict_lint(tmp_path, core.module, wrapper)


def test_strict_lint_catches_a_wrong_slice(tmp_path):
    core = committed("int_mac")
    generate(core, tmp_path, ports="axis")
    text = (tmp_path / "int_mac_axis.v").read_text()
    mutated = text.replace("s_axis_tdata[16:0]", "s_axis_tdata")
    assert mutated != text
    (tmp_path / "int_mac_axis.v").write_text(mutated)
    lint_files(tmp_path, "int_mac_axis", "int_mac_axis.f")  # the waiver file hides it
    with pytest.raises(tools.ToolFailed, match="WIDTHTRUNC"):
        strict_lint(tmp_path, "int_mac", "int_mac_axis")


def test_cli_axis(capsys, tmp_path):
    assert main(["generate", "int_mac", "--ports", "axis", "-o", str(tmp_path)]) == 0
    out, _ = capsys.readouterr()
    assert [Path(p).name for p in out.split()] == [
        "int_mac.v", "int_mac.json", "int_mac_axis.v", "int_mac_axis.json",
        "int_mac_axis.core", "int_mac_axis.f"]
    assert main(["generate", "bitbrick", "--ports", "axis", "-o", str(tmp_path / "b")]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert err.startswith("accelgen: error: unit bitbrick has no stream ports")
    assert not (tmp_path / "b").exists()


# --- the testbench's port naming (accelgen.verif.ports), on stand-in handles --------

class FakeHandle:
    def __init__(self, name, width, value=0):
        self._name, self.width = name, width
        self.value = LogicArray(value, Range(width - 1, "downto", 0)) if width > 1 else value

    def __len__(self):
        return self.width


def test_mapped_dut_names_inverts_and_pads():
    tdata, out = FakeHandle("s_axis_tdata", 24), FakeHandle("m_axis_tdata", 16, 0x1ab)
    resetn = FakeHandle("aresetn", 1, 1)
    wrapper = type("Wrapper", (), {"aclk": FakeHandle("aclk", 1), "aresetn": resetn,
                                   "s_axis_tdata": tdata, "m_axis_tdata": out,
                                   "_log": "log"})()
    dut = MappedDut(wrapper, {"clk": {"port": "aclk"}, "rst": {"port": "aresetn", "invert": True},
                              "i__payload": {"port": "s_axis_tdata", "width": 17},
                              "o__payload": {"port": "m_axis_tdata", "width": 9}})
    assert dut.clk is wrapper.aclk and dut._log == "log"
    assert int(dut.rst.value) == 0
    dut.rst.value = 1
    assert int(resetn.value) == 0
    assert len(dut.i__payload) == 17
    dut.i__payload.value = 0x1ffff
    assert tdata.value == 0x1ffff
    with pytest.raises(ValueError, match="i__payload takes 17 bits"):
        dut.i__payload.value = 1 << 17
    assert int(dut.o__payload.value) == 0x1ab
    out.value = LogicArray(0x3ab, Range(15, "downto", 0))
    with pytest.raises(AssertionError, match=r"m_axis_tdata\[15:9\] \(padding of o__payload\)"):
        dut.o__payload.value
    with pytest.raises(AttributeError, match="only .value is mapped"):
        dut.rst.value_change
    resetn.value = LogicArray("1", Range(0, "downto", 0))  # a one-bit vector
    assert str(dut.rst.value) == "0"
    with pytest.raises(AttributeError):
        dut.i__valid


# --- the units' own cocotb regressions through the wrapper ---------------------------

DEFAULT_RUNS = {("int_mac", "default"), ("softmax", "small")}


def regression_params():
    runs = sorted(DEFAULT_RUNS) + [(u, "small") for u in STREAMING
                                   if (u, "small") not in DEFAULT_RUNS]
    return [pytest.param(unit, preset, id=f"{unit}-{preset}",
                         marks=[pytest.mark.cocotb] + ([] if (unit, preset) in DEFAULT_RUNS else
                                [pytest.mark.skipif(STRESS < 2, reason=HEAVY_REASON)]))
            for unit, preset in runs]


@pytest.mark.parametrize("unit,preset", regression_params())
def test_regression_through_wrapper(unit, preset):
    """The unit's whole testbench, unchanged, on ``<module>_axis`` as toplevel."""
    from accelgen.verif.runner import run_cocotb
    result = run_cocotb(unit, UNITS[unit].params(preset), ports="axis")
    print(f"{result.module}: {result.tests} tests, seed {result.seed}, "
          f"build {result.build_seconds:.1f} s, run {result.run_seconds:.1f} s")
    assert result.module.endswith("_axis") and result.tests >= 1
    log = (Path(result.results_xml).parent / "sim.log").read_text()
    assert "ports mapped onto" in log
