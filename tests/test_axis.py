# SPDX-License-Identifier: BSD-2-Clause
"""The AXI4-Stream wrapper (``accelgen generate --ports axis``): which units it
applies to, its ports and manifest, lint, and the units' own cocotb regressions
run through it. Which units, which preset runs through it and what waits for
``ACCELGEN_STRESS=2`` are the registry's ``axis`` and ``heavy`` facts."""

import copy
import json
from pathlib import Path

import pytest
from cocotb.types import LogicArray, Range

from accelgen.flow import tools
from accelgen.flow.axis import check_streaming, port_map, tdata_width, wrap
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

#: The wrapper's ports of some units: the payload split into TDATA, TKEEP (an
#: output's null padding bytes), TUSER (side flags) and TLAST (the ``last`` field).
PORTS = {
    "int_mac": ["aclk", "aresetn", "s_axis_tdata", "s_axis_tlast", "s_axis_tvalid",
                "s_axis_tready", "m_axis_tdata", "m_axis_tvalid", "m_axis_tready"],
    "gelu": ["aclk", "aresetn", "s_axis_tdata", "s_axis_tvalid", "s_axis_tready",
             "m_axis_tdata", "m_axis_tvalid", "m_axis_tready"],
    "softmax": ["aclk", "aresetn", "s_axis_tdata", "s_axis_tvalid", "s_axis_tready",
                "m_axis_tdata", "m_axis_tlast", "m_axis_tvalid", "m_axis_tready"],
    "fusion_unit": ["aclk", "aresetn", "s_axis_tdata", "s_axis_tlast", "s_axis_tvalid",
                    "s_axis_tready", "m_axis_tdata", "m_axis_tuser", "m_axis_tvalid",
                    "m_axis_tready"],
    "systolic_array": ["aclk", "aresetn",
                       "s_axis_a_tdata", "s_axis_a_tlast", "s_axis_a_tvalid", "s_axis_a_tready",
                       "s_axis_w_tdata", "s_axis_w_tvalid", "s_axis_w_tready",
                       "m_axis_o_tdata", "m_axis_o_tlast", "m_axis_o_tvalid",
                       "m_axis_o_tready"],
}


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
    """Every core port reaches the wrapper: clock, reset, valid, ready one to one;
    each payload field exactly once, in TLAST (``last``), TUSER (side flags of
    outputs) or TDATA (the rest, packed from bit 0 in order, padded to a power of
    two of at least 8 bits), with a constant TKEEP on outputs with padding bytes."""
    core = committed(unit)
    wrapper = wrap(core)
    assert wrapper.module == f"{core.module}_axis"
    core_ports = {p["name"]: p for p in core.manifest["ports"]}
    ports = {p["name"]: p for p in wrapper.manifest["ports"]}
    if unit in PORTS:
        assert list(ports) == PORTS[unit]
    assert {p["core_port"] for p in ports.values()} - {None} == set(core_ports)
    streams = check_streaming(core.manifest)
    for stream, direction in streams.items():
        prefix = {"in": "s_axis", "out": "m_axis"}[direction]
        prefix += "" if set(streams) == {"i", "o"} else f"_{stream}"
        payload = core_ports[f"{stream}__payload"]
        assert ports[f"{prefix}_tvalid"]["core_port"] == f"{stream}__valid"
        assert ports[f"{prefix}_tready"]["core_port"] == f"{stream}__ready"
        tdata = ports[f"{prefix}_tdata"]
        assert tdata["dir"] == direction and tdata["core_port"] == payload["name"]
        width = tdata["data_width"]
        assert tdata["width"] in (8, 16, 32, 64, 128, 256, 512, 1024)
        assert tdata["width"] == 8 or tdata["width"] < 2 * width
        fields = payload.get("fields", {})
        seen = dict(tdata.get("fields", {}))
        offset = 0
        for name, field in seen.items():  # packed from bit 0, in the payload's order
            assert field["offset"] == offset and field["width"] == fields[name]["width"]
            offset += field["width"]
        assert offset == width or not fields
        if not fields:
            assert width == payload["width"] and tdata["signed"] == payload["signed"]
        user = ports.get(f"{prefix}_tuser")
        if user:
            assert direction == "out" and user["core_port"] == payload["name"]
            assert all(f["width"] == 1 for f in user["fields"].values())
            assert all(n == "overflow" or n.endswith("_error") for n in user["fields"])
            seen.update(user["fields"])
        last = ports.get(f"{prefix}_tlast")
        assert (last is not None) == ("last" in fields)
        if last:
            assert last["core_field"] == "last" and last["width"] == 1
            seen["last"] = fields["last"]
        assert sorted(seen) == sorted(fields)
        flags = [n for n, f in fields.items() if direction == "out" and f["width"] == 1
                 and (n == "overflow" or n.endswith("_error"))]
        assert list(user["fields"] if user else []) == flags
        keep = ports.get(f"{prefix}_tkeep")
        pad_bytes = tdata["width"] // 8 - -(-width // 8)
        assert (keep is not None) == (direction == "out" and pad_bytes > 0)
        if keep:
            assert keep["core_port"] is None and keep["width"] == tdata["width"] // 8
            assert keep["value"] == (1 << -(-width // 8)) - 1
    assert ports["aresetn"]["active_low"] is True and ports["aclk"]["role"] == "clock"
    manifest = dict(wrapper.manifest)
    assert manifest.pop("ports") and manifest.pop("module") and manifest.pop("axis")
    assert manifest == {k: v for k, v in core.manifest.items() if k not in ("ports", "module")}
    assert f"  {core.module} core (\n" in wrapper.verilog
    assert core.verilog not in wrapper.verilog  # the core stays in its own file
    assert set(wrapper.manifest["axis"]) == {"core_module", "reset", "tdata", "tkeep", "tlast",
                                             "tuser", "naming", "interfaces"}


def test_multi_stream_interfaces():
    """systolic_array: s_axis_a_* and s_axis_w_* in, m_axis_o_* out, each split
    on its own (a: 32 data bits and TLAST; w: 32 bits; o: 128 bits and TLAST), all
    listed in the manifest."""
    wrapper = wrap(committed("systolic_array"))
    assert wrapper.module == "systolic_array_axis"
    axis = wrapper.manifest["axis"]
    assert axis["core_module"] == "systolic_array"
    assert axis["interfaces"] == [
        {"name": f"{prefix}_{stream}", "stream": stream, "dir": direction,
         "ports": [f"{prefix}_{stream}_{s}" for s in signals]}
        for prefix, stream, direction, signals in (
            ("s_axis", "a", "in", ("tdata", "tlast", "tvalid", "tready")),
            ("s_axis", "w", "in", ("tdata", "tvalid", "tready")),
            ("m_axis", "o", "out", ("tdata", "tlast", "tvalid", "tready")))]
    assert "s_axis_<stream>_*" in axis["naming"]
    widths = {p["name"]: (p["width"], p.get("data_width")) for p in wrapper.manifest["ports"]}
    assert [widths[f"{i}_tdata"] for i in ("s_axis_a", "s_axis_w", "m_axis_o")] == [
        (32, 32), (32, 32), (128, 128)]
    text = wrapper.verilog
    for wiring in ("assign a_payload = {s_axis_a_tlast, s_axis_a_tdata[31:0]};",
                   "assign m_axis_o_tdata = o_payload[127:0];",
                   "assign m_axis_o_tlast = o_payload[128];",
                   ".a__payload(a_payload)", ".w__ready(s_axis_w_tready)"):
        assert wiring in text, wiring
    with pytest.raises(ValueError, match="^a__payload is split over s_axis_a_tdata and "
                                         "s_axis_a_tlast: no one-port map$"):
        port_map(wrapper.manifest)


def test_padding_tkeep_and_tuser_wiring():
    """fusion_unit: acc into TDATA, the two side flags into TUSER (bit 0 first),
    last from TLAST; nm_sparse: 104 input data bits in a 128-bit TDATA whose pad is
    read into an unused wire; lnzd: 13 output data bits in 16, no whole pad byte,
    so no TKEEP."""
    text = wrap(committed("fusion_unit")).verilog
    for wiring in ("assign m_axis_tdata = o_payload[31:0];",
                   "assign m_axis_tuser = {o_payload[33], o_payload[32]};",
                   "assign i_payload = {s_axis_tlast, s_axis_tdata[69],"):
        assert wiring in text, wiring
    sparse = wrap(committed("nm_sparse"))
    assert "assign unused_s_axis_tdata_pad = s_axis_tdata[127:104];" in sparse.verilog
    assert "assign m_axis_tuser = o_payload[32];" in sparse.verilog
    lnzd = {p["name"]: p for p in wrap(committed("lnzd")).manifest["ports"]}
    assert (lnzd["m_axis_tdata"]["width"], lnzd["m_axis_tdata"]["data_width"]) == (16, 13)
    assert "m_axis_tkeep" not in lnzd and "m_axis_tlast" in lnzd


def test_tkeep_marks_whole_padding_bytes():
    """An output of 9 data bits and no last: 16-bit TDATA, both bytes kept; of 17
    bits: 32-bit TDATA, TKEEP 0b0111, driven as a constant."""
    for width, tdata, keep in ((9, 16, None), (17, 32, 0b0111), (8, 8, None)):
        manifest = copy.deepcopy(committed("gelu").manifest)
        for port in manifest["ports"]:
            if port["name"] == "o__payload":
                port.update(width=width, fields={"y": {"offset": 0, "width": width,
                                                       "signed": False}})
        text = committed("gelu").verilog.replace("output [7:0] o__payload",
                                                 f"output [{width - 1}:0] o__payload")
        wrapper = wrap(Emitted("gelu", text, manifest))
        ports = {p["name"]: p for p in wrapper.manifest["ports"]}
        assert ports["m_axis_tdata"]["width"] == tdata
        assert ports.get("m_axis_tkeep", {}).get("value") == keep
        if keep:
            assert f"assign m_axis_tkeep = {tdata // 8}'h{keep:x};" in wrapper.verilog


def test_mapped_dut_maps_an_unsplit_wrapper():
    """gelu (no last, no flags): the testbench's i__*, o__* reach the wrapper's ports."""
    wrapper = wrap(committed("gelu"))
    handles = {p["name"]: FakeHandle(p["name"], p["width"]) for p in wrapper.manifest["ports"]}
    dut = MappedDut(type("Wrapper", (), dict(handles))(), port_map(wrapper.manifest))
    assert dut.i__valid is handles["s_axis_tvalid"]
    assert dut.o__ready is handles["m_axis_tready"]
    assert dut.i__payload is handles["s_axis_tdata"]  # 8 bits: no padding
    assert port_map(wrapper.manifest)["rst"] == {"port": "aresetn", "invert": True}


def test_incomplete_stream_is_refused():
    manifest = committed("systolic_array").manifest
    manifest["ports"] = [p for p in manifest["ports"] if p["name"] != "w__ready"]
    with pytest.raises(ValueError, match="^unit systolic_array has no w__ready: --ports axis"):
        check_streaming(manifest)
    manifest["ports"].append({"name": "start", "dir": "in", "width": 1})
    with pytest.raises(ValueError, match="has extra ports start; no w__ready"):
        check_streaming(manifest)


def test_tdata_width():
    assert [tdata_width(w) for w in (1, 7, 8, 9, 16, 17, 33, 129, 257, 600)] == [
        8, 8, 8, 16, 16, 32, 64, 256, 512, 1024]
    for bad in (0, -3, 2.0, True):
        with pytest.raises(ValueError, match="^TDATA data width must be a positive integer"):
            tdata_width(bad)


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
    mutated = text.replace("s_axis_tdata[15:8]", "s_axis_tdata[15:7]")
    assert mutated != text
    (tmp_path / "int_mac_axis.v").write_text(mutated)
    # The generated int_mac.vlt waives nothing in the wrapper's file.
    with pytest.raises(tools.ToolFailed, match="WIDTHTRUNC"):
        lint_files(tmp_path, "int_mac_axis", "int_mac_axis.f")
    with pytest.raises(tools.ToolFailed, match="WIDTHTRUNC"):
        strict_lint(tmp_path, "int_mac", "int_mac_axis")


def test_cli_axis(capsys, tmp_path):
    assert main(["generate", "int_mac", "--ports", "axis", "-o", str(tmp_path)]) == 0
    out, _ = capsys.readouterr()
    assert [Path(p).name for p in out.split()] == [
        "int_mac.v", "int_mac.json", "int_mac_axis.v", "int_mac_axis.json", "int_mac.vlt",
        "int_mac_axis.core", "int_mac_axis.f"]
    assert main(["generate", "bitbrick", "--ports", "axis", "-o", str(tmp_path / "b")]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert err.startswith("accelgen: error: unit bitbrick has no stream ports")
    assert not (tmp_path / "b").exists()


def test_cli_axis_multi_stream(capsys, tmp_path):
    """The small systolic_array preset: the seven files, the wrapper as wrap() makes it,
    its per-stream ports in its manifest and its .f listing the waivers, then the core."""
    from accelgen.flow.emit import emit
    params = UNITS["systolic_array"].params("small")
    module = module_name(params)
    assert main(["generate", "systolic_array", "--preset", "small", "--ports", "axis",
                 "-o", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert out.split() == [str(tmp_path / f"{module}{suffix}") for suffix in (
        ".v", ".json", "_axis.v", "_axis.json", ".vlt", "_axis.core", "_axis.f")]
    wrapper = wrap(emit("systolic_array", params))
    assert (tmp_path / f"{module}_axis.v").read_text() == wrapper.verilog
    manifest = json.loads((tmp_path / f"{module}_axis.json").read_text())
    # The small preset's output has 24 data bits in a 32-bit TDATA: a null byte, TKEEP.
    assert [p["name"] for p in manifest["ports"]] == [
        *PORTS["systolic_array"][:-3], "m_axis_o_tkeep", *PORTS["systolic_array"][-3:]]
    assert [i["name"] for i in manifest["axis"]["interfaces"]] == [
        "s_axis_a", "s_axis_w", "m_axis_o"]
    assert (tmp_path / f"{module}_axis.f").read_text() == \
        f"{module}.vlt\n{module}.v\n{module}_axis.v\n"


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


# --- the wrapper driven by cocotbext-axi, as an external client ---------------------

# Every streaming unit on its axis.regression preset: by default where the heavy
# fact does not defer axis_regression (int_mac, softmax, systolic_array: 5 s
# each once built), the others with STRESS >= 2.
def regression_params():
    return [pytest.param(unit, UNITS[unit].axis.regression,
                         id=f"{unit}-{UNITS[unit].axis.regression}",
                         marks=[pytest.mark.cocotb, *_deferred(unit, "axis_regression")])
            for unit in STREAMING]


def test_every_streaming_unit_has_a_scenario():
    """The cocotbext-axi bench has a scenario for exactly the units with a
    wrapper: a new streaming unit without one, or a renamed or removed unit's
    left behind, fails here."""
    from accelgen.verif.axis_cocotb import SCENARIOS
    assert sorted(SCENARIOS) == sorted(STREAMING)


def test_pack_and_unpack_follow_the_manifest():
    """The bench's TDATA/TUSER packing: fields at their offsets, signed values in
    two's complement, array elements from bit 0, round trip; a value out of range
    or an array of the wrong length is refused."""
    from accelgen.verif.axis_cocotb import pack, unpack
    fields = {"a": {"offset": 0, "width": 4, "signed": True},
              "v": {"offset": 4, "width": 6, "signed": False,
                    "array": {"length": 3, "element_width": 2, "element_signed": False}},
              "f": {"offset": 10, "width": 1, "signed": False}}
    word = pack(fields, {"a": -3, "v": [1, 2, 3], "f": 1})
    assert word == 0b1_11_10_01_1101
    assert unpack(fields, word) == {"a": -3, "v": [1, 2, 3], "f": 1}
    with pytest.raises(ValueError, match="8 does not fit 4 signed bits"):
        pack(fields, {"a": 8, "v": [0, 0, 0], "f": 0})
    with pytest.raises(ValueError, match="v takes 3 elements, not 2"):
        pack(fields, {"a": 0, "v": [0, 0], "f": 0})


@pytest.mark.parametrize("unit,preset", regression_params())
def test_frames_through_cocotbext_axi(unit, preset):
    """``<module>_axis`` as toplevel, driven by cocotbext-axi's AxiStreamSource and
    AxiStreamSink with pause generators from the wrapper's manifest alone; every
    result frame equal to the golden model's (accelgen.verif.axis_cocotb)."""
    from accelgen.verif.axis_cocotb import AXIS_MANIFEST_ENV
    from accelgen.verif.runner import build, run_tests
    params = UNITS[unit].params(preset)
    runner, build_dir, top, build_seconds = build(unit, params, ports="axis")
    result = run_tests(runner, build_dir, top, "accelgen.verif.axis_cocotb", extra_env={
        "ACCELGEN_UNIT": unit, "ACCELGEN_PARAMS": json.dumps(params.as_dict()),
        AXIS_MANIFEST_ENV: str(build_dir / "src" / f"{top}.json")},
        build_seconds=build_seconds)
    print(f"{result.module}: {result.tests} tests, seed {result.seed}, "
          f"build {result.build_seconds:.1f} s, run {result.run_seconds:.1f} s")
    assert result.module == f"{module_name(params)}_axis"
    assert (result.tests, result.failed) == (1, 0)
    log = (Path(result.results_xml).parent / "sim.log").read_text()
    assert "results match the golden model" in log
