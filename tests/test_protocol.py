# SPDX-License-Identifier: BSD-2-Clause
"""Stream protocol stress of every streaming unit (``accelgen.verif.protocol``).

Each streaming unit's default preset (the small one where the unit's heavy
checks name ``protocol_default``: ``bitfusion_array``) runs the shared cocotb test under
Verilator: random traffic under six idle/backpressure mixes (0 to 0.9 on
either side), one reset at a random point of each, every result compared in
order with the golden model and every output checked against the AXI-Stream
rules. ``ACCELGEN_PROTOCOL_BEATS`` sets the input beats per unit (default
1,200; the full run in docs/verification.md uses 100,000); with ``ACCELGEN_STRESS >= 2``
the other preset runs as well.
"""

import json

import pytest

from accelgen.flow.emit import emit
from accelgen.registry import UNITS, module_name
from accelgen.verif.testing import STRESS, HEAVY_REASON, check_run


def streaming_units():
    """Units with at least one valid/ready stream port (read from the manifest)."""
    return [name for name in UNITS
            if any(port["name"].endswith("__valid") for port in emit(name).manifest["ports"])]


def _cases():
    """The default preset of each streaming unit, the small one with
    ``ACCELGEN_STRESS >= 2``; swapped for the units whose heavy checks name
    ``protocol_default``."""
    for name in streaming_units():
        swapped = "protocol_default" in UNITS[name].heavy.checks
        for preset in ("default", "small"):
            params = UNITS[name].params(preset)
            marks = [] if (preset == "default") != swapped else \
                [pytest.mark.skipif(STRESS < 2, reason=HEAVY_REASON)]
            yield pytest.param(name, params, id=module_name(params), marks=marks)


def test_every_streaming_unit_names_its_bench():
    """A new streaming unit cannot miss the protocol stress: its testbench must
    name the bench the shared test drives."""
    import importlib
    assert len(streaming_units()) >= 12
    for name in streaming_units():
        module = importlib.import_module(UNITS[name].testbench)
        bench = getattr(module, "BENCH", None)
        assert bench is not None, f"verif/{name}.py has no BENCH for the protocol stress"
        for member in ("start", "stalls", "send_random", "accepted", "queued", "idle",
                       "reset_now", "drain"):
            assert hasattr(bench, member), f"{name} BENCH lacks {member}"


@pytest.mark.cocotb
@pytest.mark.parametrize("unit_name,params", list(_cases()))
def test_protocol_stress(unit_name, params):
    from accelgen.verif.runner import build, run_tests
    runner, build_dir, module, seconds = build(unit_name, params)
    env = {"ACCELGEN_UNIT": unit_name, "ACCELGEN_PARAMS": json.dumps(params.as_dict())}
    check_run(run_tests(runner, build_dir, module, "accelgen.verif.protocol",
                        extra_env=env, build_seconds=seconds), "accelgen.verif.protocol")
