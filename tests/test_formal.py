# SPDX-License-Identifier: BSD-2-Clause
"""Bounded model checking of the stream rules (accelgen/flow/formal/, docs/formal.md).

Everything per unit comes from the registry's ``formal`` and ``heavy`` facts.
Every formal configuration is proven to its :func:`bmc_depth` with a free
source (which contains every source that keeps the stream rules), and in cover
mode (a beat leaves; a stalled beat leaves); with a rule-keeping source for the
units that do not defer ``formal_rules`` (one per control style; all with
``ACCELGEN_STRESS >= 2``). The checks are shown to be able to fail: wrappers
that break one rule each (a unit's ``Formal.faults``) must give a
counterexample naming that rule, within the same bound.
"""

import os
import time

import pytest
from amaranth.hdl import Fragment

from accelgen.flow import formal
from accelgen.flow.formal import driver
from accelgen.errors import ToolFailed, ToolNotFound
from accelgen.hw.stream import PIPELINE
from accelgen.registry import UNITS, module_name
from accelgen.verif.testing import STRESS, HEAVY_REASON

# The output assertions every stream output gets, and the ready contract.
OUTPUT_ASSERTS = ("o.valid_held", "o.payload_held", "o.idle_after_reset")
COVERS = ("o.transfer", "o.stall_released")


def _record(unit, report, extra=""):
    """One line of the per-unit record (shown with ``-s``)."""
    bmc, cover = report.bmc, report.cover
    print(f"\nformal {unit:16s} {report.module:42s} source={report.source:5s} "
          f"asserts={len(report.properties['assert'])} depth={bmc.depth} "
          f"bmc={'pass' if bmc.passed else 'FAIL'} {bmc.seconds:.2f}s"
          + (f" cover={'found' if cover.passed else 'MISSING'} {cover.seconds:.2f}s "
             f"{cover.reached}" if cover else "") + extra)


def _expected_asserts(unit_name):
    declared = getattr(UNITS[unit_name].component_cls, "ready_contract", None)
    contract = ("i.ready_contract",) if declared is not None else ()
    return sorted(OUTPUT_ASSERTS + contract)


CONFIGS = [pytest.param(name, params, id=module_name(params))
           for name, params in formal.formal_configurations()]
FORMAL_UNITS = [name for name, unit in UNITS.items() if unit.formal is not None]
HEAVY = pytest.mark.skipif(STRESS < 2, reason=HEAVY_REASON)


def _deferred(unit_name, check):
    """The skip mark of ``check`` where the unit's ``heavy`` fact defers it."""
    return [HEAVY] if check in UNITS[unit_name].heavy.checks else []


def test_every_streaming_unit_has_formal_configurations():
    """The parametrization below covers every unit the registry gives a formal
    fact, and only those; the faults it names exist."""
    assert sorted({name for name, _params in formal.formal_configurations()}) == \
        sorted(FORMAL_UNITS)
    for name in FORMAL_UNITS:
        assert set(UNITS[name].formal.faults) <= set(formal.FAULTS), name


def test_harness_reads_the_components_ready_contract():
    """The ``i.ready`` claim is the component's ``ready_contract`` class attribute;
    a wrapper carries its unit's, and anything but a ReadyContract is refused."""
    unit = UNITS["int_mac"]
    dut = unit.build(unit.params("small"))
    assert type(dut).ready_contract is PIPELINE
    harness = formal.StreamHarness(dut, source="free")
    Fragment.get(harness, None)  # elaborated: builds the properties
    assert harness.ready_contract is PIPELINE
    assert ("assert", "i.ready_contract") in harness.properties
    faulty = formal.FaultyOutput(unit.build(unit.params("small")), "drop_valid")
    assert faulty.ready_contract is PIPELINE
    Fragment.get(faulty, None)

    class Odd:
        ready_contract = "i.ready = 1"
    with pytest.raises(TypeError, match=r"^Odd.ready_contract must be an "
                                        r"accelgen.hw.stream.ReadyContract or None"):
        formal.ready_contract(Odd())


def _prove(unit_name, params, work_dir, *, source, scale=1):
    """Check one configuration and require: every expected assertion in the
    model, the bound passed, both covers reached before its last step."""
    depth = scale * formal.bmc_depth(unit_name, params)
    start = time.perf_counter()
    report = formal.check(unit_name, params, work_dir=work_dir, source=source, depth=depth)
    _record(unit_name, report, f" total={time.perf_counter() - start:.1f}s")
    assert sorted(report.properties["assert"]) == _expected_asserts(unit_name)
    inputs = [name for name, flow in report.streams.items() if flow == "in"]
    assert inputs and "o" in report.streams
    expected_assumes = ["reset_first"] + ([f"{name}.source_holds" for name in inputs]
                                          if source == "rules" else [])
    assert sorted(report.properties["assume"]) == sorted(expected_assumes)
    assert report.bmc.passed, report.bmc.log
    assert report.bmc.depth == depth
    assert report.cover.passed, report.cover.log
    assert set(report.cover.reached) == set(COVERS)
    # smtbmc visits steps 0 .. depth-1: the last step must be left unused.
    assert report.cover.reached["o.stall_released"] < depth - 1
    return report


@pytest.mark.parametrize("unit_name, params", CONFIGS)
def test_stream_rules_proven(unit_name, params, tmp_path):
    """The output rules (and the stated ``i.ready``) hold to the unit's depth
    with a free source: every ``valid``/``payload`` sequence, so also every
    source that keeps the rules (no unit relies on its source for them). Cover
    mode reaches a transfer and a released stall, so the proof is not vacuous."""
    _prove(unit_name, params, tmp_path, source="free")


@pytest.mark.parametrize("unit_name, params",
                         [pytest.param(*p.values, id=p.id,
                                       marks=_deferred(p.values[0], "formal_rules"))
                          for p in CONFIGS])
def test_stream_rules_proven_with_a_rule_keeping_source(unit_name, params, tmp_path):
    """The same under the ``source_holds`` assumptions (implied by the free
    case; run by default for one unit of each control style: the units whose
    ``heavy`` fact does not defer ``formal_rules``)."""
    _prove(unit_name, params, tmp_path, source="rules")


@pytest.mark.parametrize("unit_name, fault", [
    pytest.param(name, fault, id=f"{name}-{fault}", marks=_deferred(name, "formal_faults"))
    for name in FORMAL_UNITS for fault in UNITS[name].formal.faults])
def test_each_fault_fails_its_rule(unit_name, fault, tmp_path):
    """A wrapper that breaks one rule gives a counterexample on that rule (within
    the unit's bound, as every BMC answer is), and the trace is written
    (``bmc.vcd``)."""
    unit = UNITS[unit_name]
    params = formal.formal_params(unit_name)
    faulty = formal.FaultyOutput(unit.build(params), fault)
    report = formal.check(unit_name, params, work_dir=tmp_path, dut=faulty, modes=("bmc",))
    assert not report.bmc.passed
    assert formal.FAULTS[fault] in report.bmc.failed, report.bmc.log
    assert (tmp_path / "bmc.vcd").stat().st_size > 0


def test_missing_assertion_is_an_error(tmp_path):
    """An assertion that does not reach the SMT2 model is reported, not ignored."""
    report = formal.check("int_mac", work_dir=tmp_path, modes=("bmc",))
    smt2 = (tmp_path / f"{report.module}.smt2").read_text()
    built = [(kind, name) for kind, names in report.properties.items() for name in names]
    assert sorted(report.cells.values()) == sorted(name for _kind, name in built)
    assert driver._model_properties(smt2, report.cells, built) == report.properties
    victim = next(cell for cell, name in report.cells.items() if name == "o.payload_held")
    lines = [line for line in smt2.splitlines()
             if not (line.startswith("; yosys-smt2-assert") and line.endswith(f" {victim}"))]
    assert len(lines) == len(smt2.splitlines()) - 1
    with pytest.raises(ToolFailed, match="assert 'o.payload_held' is missing"):
        driver._model_properties("\n".join(lines), report.cells, built)


def test_unreached_cover_fails(tmp_path):
    """Cover mode fails, naming the cover, when the bound is too short to reach it
    (int_mac small: a beat leaves at step 2 at the earliest, a stalled one at 3)."""
    report = formal.check("int_mac", work_dir=tmp_path, depth=3, modes=("cover",))
    assert not report.cover.passed and report.bmc is None
    assert report.cover.reached == {"o.transfer": 2}
    assert report.cover.unreached == ("o.stall_released",)


def test_unsatisfiable_assumptions_are_an_error(tmp_path, monkeypatch):
    """Contradictory assumptions (every claim would hold vacuously) fail the check."""

    class Contradictory(formal.StreamHarness):
        def elaborate(self, platform):
            m = super().elaborate(platform)
            self._prop(m, "assume", "never", 0)
            return m

    monkeypatch.setattr(driver, "StreamHarness", Contradictory)
    with pytest.raises(ToolFailed, match="unsatisfiable"):
        formal.check("int_mac", work_dir=tmp_path, modes=("bmc",))


def test_errors_name_the_parameter(tmp_path):
    with pytest.raises(ValueError, match="source must be one of rules, free, not 'any'"):
        formal.check("int_mac", work_dir=tmp_path, source="any")
    with pytest.raises(ValueError, match="depth must be an integer from 1 to 1000, not 0"):
        formal.check("int_mac", work_dir=tmp_path, depth=0)
    with pytest.raises(ValueError, match="modes must be a non-empty subset"):
        formal.check("int_mac", work_dir=tmp_path, modes=("prove",))
    with pytest.raises(ValueError, match="unit must be one of .* not 'bitbrick'"):
        formal.formal_params("bitbrick")
    with pytest.raises(ValueError, match=r"^unit bitbrick declares no formal check in the "
                                         r"registry \(formal=None\): give depth"):
        formal.check("bitbrick", UNITS["bitbrick"].params(), work_dir=tmp_path)
    with pytest.raises(ValueError, match="member 'x' of BitBrick is not a stream"):
        formal.check("bitbrick", UNITS["bitbrick"].params(), work_dir=tmp_path, depth=4)
    with pytest.raises(ValueError, match="fault must be one of"):
        formal.FaultyOutput(UNITS["int_mac"].build(UNITS["int_mac"].params()), "late")
    array = UNITS["systolic_array"]
    with pytest.raises(ValueError, match="fault 'ready_from_valid' needs a stream 'i'; "
                                         "SystolicArray has a, o, w"):
        formal.FaultyOutput(array.build(array.params("small")), "ready_from_valid")


def test_tool_overrides(monkeypatch, tmp_path):
    """``Z3`` and ``YOSYS_SMTBMC`` override the look-up; a wrong one is named."""
    assert formal.find_smtbmc().endswith("smtbmc")
    assert "z3" in os.listdir(driver._solver_env()["PATH"].split(os.pathsep)[0])
    monkeypatch.setenv("YOSYS_SMTBMC", "no-such-smtbmc")
    with pytest.raises(ToolNotFound, match="yosys-smtbmc not found at YOSYS_SMTBMC="):
        formal.find_smtbmc()
    (tmp_path / "solver").write_text("")
    monkeypatch.setenv("Z3", str(tmp_path / "solver"))
    with pytest.raises(ToolNotFound, match="z3 not found at Z3="):
        driver._solver_env()


def test_depth_covers_a_packet():
    """The default bound is reset + one packet in + latency + its output + a stall."""
    p = formal.formal_params("int_mac")
    assert formal.bmc_depth("int_mac", p) == 1 + 2 + p.latency + 1 + 1
    p = formal.formal_params("softmax")
    assert formal.bmc_depth("softmax", p) == 1 + p.words + p.latency + p.words + 1
    p = formal.formal_params("index_match")
    assert formal.bmc_depth("index_match", p) == 1 + 1 + 1 + p.length ** 2 + 1
    p = UNITS["systolic_array"].params("small", dataflow="os")
    assert formal.bmc_depth("systolic_array", p) == 1 + 1 + p.latency + p.rows + 1


def test_timeout_is_an_error(tmp_path):
    with pytest.raises(ToolFailed, match="did not finish in 0.001 s"):
        formal.check("int_mac", work_dir=tmp_path, modes=("bmc",), timeout=0.001)


# Heavy tier: each unit's ``heavy.proofs`` (preset, overrides, bound as a
# multiple of bmc_depth): the small presets at twice the bound, the default
# presets where the solver finishes in minutes, the vector units' formal
# configurations at twice the bound, LayerNorm's isqrt datapath. Out of reach
# (more than 300 s on 2 cores for one bound): index_match and bitfusion_array
# default, softmax and layernorm small (docs/formal.md).
def _heavy_params():
    out = []
    for name in FORMAL_UNITS:
        for preset, overrides, scale in UNITS[name].heavy.proofs:
            params = UNITS[name].params(preset, **overrides)
            out.append(pytest.param(name, params, scale,
                                    id=f"{module_name(params)}-x{scale}", marks=HEAVY))
    return out


@pytest.mark.parametrize("unit_name, params, scale", _heavy_params())
def test_stream_rules_proven_deeper(unit_name, params, scale, tmp_path):
    """Larger configurations and deeper bounds (``ACCELGEN_STRESS >= 2``)."""
    _prove(unit_name, params, tmp_path, source="free", scale=scale)
