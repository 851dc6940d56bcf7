# SPDX-License-Identifier: BSD-2-Clause
"""The AXI4-Stream wrapper (``accelgen generate --ports axis``): which units it
applies to, its ports and manifest, lint, and the units' own cocotb regressions
run through it. Which units, which preset runs through it and what waits for
``ACCELGEN_STRESS=2`` are the registry's ``axis`` and ``heavy`` facts."""

import json
from pathlib import Path

import pytest
from cocotb.types import LogicArray, Range

from accelgen.flow import tools
from accelgen.flow.axis import check_streaming, padded_width, port_map, wrap
from accelgen.app.cli import main
from accelgen.flow.emit import Emitted
from accelgen.flow.corefiles import generate, lint_files, waiver_flags
from accelgen.registry import UNITS, module_name
from accelgen.verif.ports import MappedDut
from accelgen.verif.testing import STRESS, HEAVY_REASON

ROOT = Path(__file__).resolve().parents[1]

#: Units the wrapper refuses (``axis=None`` in the registry: no stream ports).
REFUSED = [name for name, unit in UNITS.items() if unit.axis is None]
STREAMING = [name for name, unit in UNITS.items() if unit.axis is not None]
HEAVY = pytest.mark.skipif(STRESS < 2, reason=HEAVY_REASON)


def _deferred(unit, check):
    """The skip mark of ``check`` where the unit's ``heavy`` fact defers it."""
    return [HEAVY] if check in UNITS[unit].heavy.checks else []


def test_axis_fact_follows_the_stream_ports():
    """The registry's ``axis`` fact is there exactly for the units whose manifest
    has stream ports (the wrapper's own test of streaming)."""
    for name in UNITS:
        ports = committed(name).manifest["ports"]
        assert (UNITS[name].axis is not None) == any(
            p["name"].endswith("__valid") for p in ports), name

#: The wrapper's ports of a unit with one input stream i and one output stream o.
SINGLE_STREAM_PORTS = ["aclk", "aresetn", "s_axis_tdata", "s_axis_tvalid", "s_axis_tready",
                       "m_axis_tdata", "m_axis_tvalid", "m_axis_tready"]
#: Units with other streams: one interface per stream, named after it.
MULTI_STREAM_PORTS = {"systolic_array": [
    "aclk", "aresetn",
    "s_axis_a_tdata", "s_axis_a_tvalid", "s_axis_a_tready",
    "s_axis_w_tdata", "s_axis_w_tvalid", "s_axis_w_tready",
    "m_axis_o_tdata", "m_axis_o_tvalid", "m_axis_o_tready"]}


def committed(unit):
    """The unit's default preset as committed in ``hdl/`` (kept equal to a fresh
    emission by test_hdl), so these checks emit nothing."""
    module = module_name(UNITS[unit].params())
    return Emitted(module, (ROOT / "hdl" / f"{module}.v").read_text(),
                   json.loads((ROOT / "hdl" / f"{module}.json").read_text()))


@pytest.mark.parametrize("unit", REFUSED)
def test_units_without_streams_are_refused(unit):
    with pytest.raises(ValueError,
                       match=f"^unit {unit} has no stream ports.*: --ports axis wraps"):
        wrap(committed(unit))


@pytest.mark.parametrize("unit", STREAMING)
def test_wrapper_ports_and_manifest(unit):
    core = committed(unit)
    wrapper = wrap(core)
    assert wrapper.module == f"{core.module}_axis"
    core_ports = {p["name"]: p for p in core.manifest["ports"]}
    ports = {p["name"]: p for p in wrapper.manifest["ports"]}
    assert list(ports) == MULTI_STREAM_PORTS.get(unit, SINGLE_STREAM_PORTS)
    assert sorted(p["core_port"] for p in ports.values()) == sorted(core_ports)
    for name, port in ports.items():
        source = core_ports[port["core_port"]]
        assert port["dir"] == source["dir"], name
        signal = {"payload": "tdata", "valid": "tvalid", "ready": "tready"}.get(
            port["core_port"].partition("__")[2])
        if signal:  # the stream's member under its interface's AXI4-Stream signal
            assert name.endswith(f"_{signal}"), name
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
    if unit not in MULTI_STREAM_PORTS:  # the single-stream contract has no interface list
        assert set(wrapper.manifest["axis"]) == {"core_module", "reset", "tdata", "tlast"}


def test_multi_stream_interfaces_and_port_map():
    """systolic_array: s_axis_a_* and s_axis_w_* in, m_axis_o_* out, each TDATA
    padded on its own (33 -> 40, 32 stays, 129 -> 136), all listed in the manifest."""
    wrapper = wrap(committed("systolic_array"))
    assert wrapper.module == "systolic_array_axis"
    axis = wrapper.manifest["axis"]
    assert axis["core_module"] == "systolic_array"
    assert axis["interfaces"] == [
        {"name": f"{prefix}_{stream}", "stream": stream, "dir": direction,
         "ports": [f"{prefix}_{stream}_{s}" for s in ("tdata", "tvalid", "tready")]}
        for prefix, stream, direction in (("s_axis", "a", "in"), ("s_axis", "w", "in"),
                                          ("m_axis", "o", "out"))]
    assert "s_axis_<stream>_tdata" in axis["tdata"] and "m_axis_<stream>_" in axis["naming"]
    widths = {p["name"]: (p["width"], p.get("payload_width")) for p in wrapper.manifest["ports"]}
    assert [widths[f"{i}_tdata"] for i in ("s_axis_a", "s_axis_w", "m_axis_o")] == [
        (40, 33), (32, 32), (136, 129)]
    mapping = port_map(wrapper.manifest)
    assert mapping == {
        "clk": {"port": "aclk"}, "rst": {"port": "aresetn", "invert": True},
        **{f"{stream}__{member}": {"port": f"{interface}_{signal}",
                                   **({"width": width} if member == "payload" else {})}
           for stream, interface, width in (("a", "s_axis_a", 33), ("w", "s_axis_w", 32),
                                            ("o", "m_axis_o", 129))
           for member, signal in (("payload", "tdata"), ("valid", "tvalid"),
                                  ("ready", "tready"))}}
    text = wrapper.verilog
    for wiring in (".a__payload(s_axis_a_tdata[32:0])", ".w__payload(s_axis_w_tdata)",
                   ".a__valid(s_axis_a_tvalid)", ".w__ready(s_axis_w_tready)",
                   "assign m_axis_o_tdata = {7'h0, o_payload};", ".o__payload(o_payload)",
                   "assign unused_s_axis_a_tdata_pad = s_axis_a_tdata[39:33];"):
        assert wiring in text, wiring
    assert "unused_s_axis_w_tdata_pad" not in text  # 32 bits: nothing to pad


def test_mapped_dut_maps_every_stream():
    """The testbench's a__*, w__*, o__* reach the wrapper's per-stream ports."""
    wrapper = wrap(committed("systolic_array"))
    handles = {p["name"]: FakeHandle(p["name"], p["width"]) for p in wrapper.manifest["ports"]}
    dut = MappedDut(type("Wrapper", (), dict(handles))(), port_map(wrapper.manifest))
    assert dut.a__valid is handles["s_axis_a_tvalid"]
    assert dut.w__ready is handles["s_axis_w_tready"]
    assert dut.o__ready is handles["m_axis_o_tready"]
    assert dut.w__payload is handles["s_axis_w_tdata"]  # 32 bits: no padding
    assert (len(dut.a__payload), len(dut.o__payload)) == (33, 129)
    dut.a__payload.value = (1 << 33) - 1
    assert handles["s_axis_a_tdata"].value == (1 << 33) - 1
    handles["m_axis_o_tdata"].value = LogicArray(1 << 129, Range(135, "downto", 0))
    with pytest.raises(AssertionError, match=r"m_axis_o_tdata\[135:129\] \(padding of o__payload"):
        dut.o__payload.value


def test_incomplete_stream_is_refused():
    manifest = committed("systolic_array").manifest
    manifest["ports"] = [p for p in manifest["ports"] if p["name"] != "w__ready"]
    with pytest.raises(ValueError, match="^unit systolic_array has no w__ready: --ports axis"):
        check_streaming(manifest)
    manifest["ports"].append({"name": "start", "dir": "in", "width": 1})
    with pytest.raises(ValueError, match="has extra ports start; no w__ready"):
        check_streaming(manifest)


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


# By default (the units whose heavy fact does not defer axis_lint), input and
# output padding present or not: int_mac (17 -> 24, 32), softmax (8, 9 -> 16),
# gelu (8, 8), fusion_unit (71 -> 72, 34 -> 40), systolic_array (three streams:
# 33 -> 40, 32, 129 -> 136); every streaming unit with STRESS >= 2.
def lint_params():
    return [pytest.param(u, marks=_deferred(u, "axis_lint")) for u in STREAMING]


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


def test_cli_axis_multi_stream(capsys, tmp_path):
    """The small systolic_array preset: the six files, the wrapper as wrap() makes it,
    its per-stream ports in its manifest and its .f listing the core first."""
    from accelgen.flow.emit import emit
    params = UNITS["systolic_array"].params("small")
    module = module_name(params)
    assert main(["generate", "systolic_array", "--preset", "small", "--ports", "axis",
                 "-o", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert out.split() == [str(tmp_path / f"{module}{suffix}") for suffix in (
        ".v", ".json", "_axis.v", "_axis.json", "_axis.core", "_axis.f")]
    wrapper = wrap(emit("systolic_array", params))
    assert (tmp_path / f"{module}_axis.v").read_text() == wrapper.verilog
    manifest = json.loads((tmp_path / f"{module}_axis.json").read_text())
    assert [p["name"] for p in manifest["ports"]] == MULTI_STREAM_PORTS["systolic_array"]
    assert [i["name"] for i in manifest["axis"]["interfaces"]] == [
        "s_axis_a", "s_axis_w", "m_axis_o"]
    assert (tmp_path / f"{module}_axis.f").read_text() == f"{module}.v\n{module}_axis.v\n"


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

# Each streaming unit on its axis.regression preset; by default int_mac (default),
# softmax (small) and systolic_array (small: the unit with three streams, cold
# build and run 16 s, warm 7 s), the others with STRESS >= 2.
def regression_params():
    return [pytest.param(unit, UNITS[unit].axis.regression,
                         id=f"{unit}-{UNITS[unit].axis.regression}",
                         marks=[pytest.mark.cocotb, *_deferred(unit, "axis_regression")])
            for unit in STREAMING]


@pytest.mark.parametrize("unit,preset", regression_params())
def test_regression_through_wrapper(unit, preset):
    """The unit's whole testbench, unchanged, on ``<module>_axis`` as toplevel: as
    many cocotb tests as its module defines, none failing."""
    from accelgen.verif.runner import run_cocotb
    from accelgen.verif.testing import check_run
    result = run_cocotb(unit, UNITS[unit].params(preset), ports="axis")
    print(f"{result.module}: {result.tests} tests, seed {result.seed}, "
          f"build {result.build_seconds:.1f} s, run {result.run_seconds:.1f} s")
    assert result.module.endswith("_axis")
    check_run(result, UNITS[unit].testbench)  # every test the testbench defines, none failed
    log = (Path(result.results_xml).parent / "sim.log").read_text()
    assert "ports mapped onto" in log
