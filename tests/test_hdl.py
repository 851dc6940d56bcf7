# SPDX-License-Identifier: BSD-2-Clause
"""The committed ``hdl/`` folder holds exactly the default presets' current output."""

from pathlib import Path

from accelgen.flow.emit import emit
from accelgen.registry import UNITS

HDL = Path(__file__).resolve().parents[1] / "hdl"


def test_hdl_is_fresh():
    expected = {}
    for unit in UNITS.values():
        emitted = emit(unit.name)
        expected[f"{emitted.module}.v"] = emitted.verilog
        expected[f"{emitted.module}.json"] = emitted.manifest_text
    present = {p.name for p in HDL.iterdir() if p.suffix in (".v", ".json")}
    assert present == set(expected), "hdl/ has extra or missing files: run 'make hdl'"
    stale = [name for name, text in expected.items() if (HDL / name).read_text() != text]
    assert not stale, f"stale files in hdl/: {stale}; run 'make hdl'"
