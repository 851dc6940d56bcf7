# SPDX-License-Identifier: BSD-2-Clause
"""Manifests: unit-specific entries, lane arrays, ports of the top module only."""


import pytest

from accelgen.flow.emit import emit, write
from accelgen.registry import UNITS, get_unit


def test_manifest_carries_the_units_own_entries():
    manifest = emit("fusion_unit").manifest
    assert manifest["precision_codes"] == {"0": 2, "1": 4, "2": 8}
    assert manifest["products_per_beat"]["2x2"] == 16
    assert "a[k*wa +: wa]" in manifest["packing"]


def test_manifest_describes_lane_arrays():
    params = get_unit("bitfusion_array").params(rows=2, cols=3)
    ports = {p["name"]: p for p in emit("bitfusion_array", params).manifest["ports"]}
    acc = ports["o__payload"]["fields"]["acc"]
    assert acc == {"offset": 0, "width": 3 * 32, "signed": False,
                   "array": {"length": 3, "element_width": 32, "element_signed": True}}
    assert ports["i__payload"]["fields"]["data"]["array"]["length"] == 3


def test_manifest_extra_may_not_replace_standard_keys(monkeypatch):
    from accelgen.generators import int_mac
    from accelgen.flow.emit import _emit
    monkeypatch.setattr(int_mac.Params, "manifest_extra", lambda self: {"latency": 0})
    monkeypatch.delenv("ACCELGEN_EMIT_CACHE", raising=False)
    _emit.cache_clear()  # emission is cached per process; this one must run
    try:
        with pytest.raises(RuntimeError, match=r"manifest_extra overrides \['latency'\]"):
            emit("int_mac")
    finally:
        _emit.cache_clear()


def test_every_unit_emits_a_single_module():
    """Units inline their building blocks, so one file holds one module (no
    escaped hierarchical names for the user's flow to cope with)."""
    for name in UNITS:
        text = emit(name, get_unit(name).params("small")).verilog
        assert text.count("\nmodule ") == 1, name


def test_disk_cache_is_keyed_by_configuration_and_sources(monkeypatch, tmp_path):
    """``ACCELGEN_EMIT_CACHE`` keeps emissions across processes: a second process
    (here: a cleared memory cache) reads the same text; other parameters or
    other sources miss."""
    from accelgen.flow import emit as emit_module
    monkeypatch.setenv("ACCELGEN_EMIT_CACHE", str(tmp_path))
    params = get_unit("int_mac").params("small")
    emit_module._emit.cache_clear()
    try:
        first = emit("int_mac", params)
        entries = list(tmp_path.rglob("*.json"))
        assert len(entries) == 1
        emit_module._emit.cache_clear()
        monkeypatch.setattr(emit_module, "_elaborate", lambda *args: pytest.fail("elaborated"))
        again = emit("int_mac", params)
        assert (again.verilog, again.manifest) == (first.verilog, first.manifest)
        monkeypatch.undo()
        monkeypatch.setenv("ACCELGEN_EMIT_CACHE", str(tmp_path))
        emit_module._emit.cache_clear()
        emit("int_mac", get_unit("int_mac").params("small", pipeline=1))
        monkeypatch.setattr(emit_module, "_source_digest", lambda: "changed-sources")
        emit_module._emit.cache_clear()
        emit("int_mac", params)
        assert len(list(tmp_path.rglob("*.json"))) == 3
    finally:
        emit_module._emit.cache_clear()


def test_write_replaces_whole_files_and_keeps_unchanged_ones(tmp_path):
    emitted = emit("int_mac")
    v, j = write(emitted, tmp_path / "out")
    assert v.read_text() == emitted.verilog and j.read_text() == emitted.manifest_text
    mtime = v.stat().st_mtime_ns
    j.write_text("stale")
    assert write(emitted, tmp_path / "out") == (v, j)
    assert v.stat().st_mtime_ns == mtime and j.read_text() == emitted.manifest_text
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [j.name, v.name]


def test_write_onto_a_folder_fails_and_leaves_no_temporary_file(tmp_path):
    emitted = emit("int_mac")
    (tmp_path / f"{emitted.module}.json").mkdir()
    with pytest.raises(OSError):
        write(emitted, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{emitted.module}.json",
                                                         f"{emitted.module}.v"]
