# SPDX-License-Identifier: BSD-2-Clause
"""The registry is complete: every registered unit has its four homes and declares
every per-unit fact (formal, accuracy, axis, heavy), held against its modules."""

import dataclasses
import importlib
import importlib.util
import inspect
import pkgutil
import re
from pathlib import Path

import pytest

import accelgen
from accelgen.registry import (UNITS, PRESET_NAMES, HEAVY_CHECKS, Accuracy, Axis, Formal,
                               Heavy, Unit, get_unit, module_name)
from accelgen.flow.emit import emit
from accelgen.verif.testing import all_configurations

ROOT = Path(__file__).resolve().parents[1]


def _modules(package):
    pkg = importlib.import_module(package)
    return sorted(m.name for m in pkgutil.iter_modules(pkg.__path__) if not m.name.startswith("_"))


def test_every_generator_is_registered():
    assert _modules("accelgen.generators") == sorted(UNITS)


@pytest.mark.parametrize("package", ["accelgen.golden"])
def test_every_golden_model_belongs_to_a_unit(package):
    assert _modules(package) == sorted(UNITS)


SHARED_VERIF = {"amaranth_sim", "axis_cocotb", "bench", "compose", "packets", "payload",
                "ports", "protocol", "runner", "scoreboard", "selftest", "stream", "testing",
                "vectors"}
# Testbenches of designs built from several units, not registry units themselves.
COMPOSED_VERIF = {"encoder_layer"}


def test_every_testbench_belongs_to_a_unit():
    testbenches = set(_modules("accelgen.verif")) - SHARED_VERIF - COMPOSED_VERIF
    assert sorted(testbenches) == sorted(UNITS)


@pytest.mark.parametrize("name", list(UNITS))
def test_unit_has_all_homes(name):
    unit = UNITS[name]
    assert unit.params_cls.unit == name
    assert callable(unit.golden_fn)
    assert importlib.util.find_spec(unit.testbench) is not None
    assert (ROOT / "tests" / f"test_{name}.py").exists()
    assert set(unit.presets) == set(PRESET_NAMES)
    assert unit.params().nondefault() == {}, "the default preset must be Params()"


OVERFLOW_RULE = re.compile(r"Overflow: (wraps|saturates|flagged|cannot overflow)\b")


@pytest.mark.parametrize("name", list(UNITS))
def test_component_documents_overflow(name):
    """A unit states what it does at the extremes: its component docstring has
    one paragraph starting ``Overflow:`` that says it wraps, saturates, sets a
    flag (named, in double backquotes) or cannot overflow, then why or how
    (tests/test_overflow.py drives each claim through the RTL)."""
    doc = inspect.getdoc(UNITS[name].component_cls)
    paragraphs = [" ".join(p.split()) for p in doc.split("\n\n")
                  if p.startswith("Overflow:")]
    assert len(paragraphs) == 1, f"{name}: the component docstring needs one 'Overflow:' paragraph"
    paragraph, = paragraphs
    kind = OVERFLOW_RULE.match(paragraph)
    assert kind, (f"{name}: 'Overflow:' must go on with wraps, saturates, flagged or "
                  f"cannot overflow, not {paragraph[:60]!r}")
    assert len(paragraph.split()) >= 20, f"{name}: say why or how, not only {paragraph!r}"
    if kind.group(1) == "flagged":
        assert re.search(r"``\w+``", paragraph), f"{name}: name the flag"


@pytest.mark.parametrize("unit,params", [pytest.param(*p.values[0], id=p.id, marks=p.marks)
                                         for p in all_configurations(defer_large=True)])
def test_configuration_elaborates_and_emits(unit, params):
    """Every configuration emits (the ``large`` presets, whose emission the 8x8
    ``bitfusion_array`` alone takes 45 s of, with ``ACCELGEN_STRESS=2``, as
    their lint and Icarus compile)."""
    emitted = emit(unit.name, params)
    assert emitted.module == module_name(params)
    assert f"module {emitted.module}(" in emitted.verilog
    assert emitted.manifest["latency"] == params.latency


def test_module_names_are_unique():
    names = [p.id for p in all_configurations()]
    assert len(names) == len(set(names))


def test_module_name_spells_nondefault_parameters():
    p = get_unit("int_mac").params(acc_width=24, a_signed=False)
    assert module_name(p) == "int_mac__acc24_noas"
    assert module_name(get_unit("int_mac").params()) == "int_mac"


def test_unknown_unit():
    with pytest.raises(KeyError, match=r"unknown unit .nosuch.; units are " + ", ".join(UNITS)):
        get_unit("nosuch")


def test_unknown_preset():
    with pytest.raises(ValueError, match=r"^unit int_mac has no preset 'huge'; "
                                         r"presets are default, small, large$"):
        get_unit("int_mac").params("huge")


def test_unit_needs_the_three_presets():
    with pytest.raises(ValueError, match=r"presets must be exactly"):
        Unit(name="x", summary="", component="X", golden="x", presets={"default": {}})


# --- the per-unit facts -------------------------------------------------------------

@pytest.mark.parametrize("name", list(UNITS))
def test_unit_declares_its_facts(name):
    """Every fact agrees with the unit's modules: a unit with stream ports has
    formal configurations, AXI4-Stream coverage and a component class that
    declares its ``ready_contract`` (a ReadyContract, or None when ``i.ready``
    follows no fixed formula); a unit without has neither; an accuracy report
    has a float64 reference to measure against."""
    UNITS[name].check_facts()


def test_streaming_units_are_the_ones_with_stream_ports():
    streaming = {n for n, u in UNITS.items() if u.stream_ports()}
    assert streaming == {n for n, u in UNITS.items() if u.formal is not None}
    assert streaming == {n for n, u in UNITS.items() if u.axis is not None}
    assert len(streaming) >= 12
    assert UNITS["systolic_array"].stream_ports() == {"a": "in", "w": "in", "o": "out"}
    assert UNITS["bitbrick"].stream_ports() == {}


_FACTS = dict(formal=None, accuracy=None, axis=None, heavy=None)


def _unit(**facts):
    return Unit(name="x", summary="", component="X", golden="x",
                presets={p: {} for p in PRESET_NAMES}, **{**_FACTS, **facts})


@pytest.mark.parametrize("fact", list(_FACTS))
def test_a_missing_fact_is_an_error(fact):
    """Leaving a fact out is not the same as declaring it none: the entry fails."""
    given = {k: v for k, v in _FACTS.items() if k != fact}
    with pytest.raises(ValueError, match=rf"^unit x declares no {fact}: give "):
        Unit(name="x", summary="", component="X", golden="x",
             presets={p: {} for p in PRESET_NAMES}, **given)


def test_declared_none_is_a_declaration():
    unit = _unit()
    assert unit.formal is None and unit.accuracy is None and unit.axis is None
    assert unit.heavy == Heavy() and unit.heavy.checks == frozenset()


def test_a_streaming_unit_without_a_fact_fails():
    """check_facts names the unit and the fact that is missing or wrong."""
    mac = UNITS["int_mac"]
    with pytest.raises(ValueError, match=r"^unit int_mac has stream ports \(i, o\) but "
                                         r"declares formal=None: give its Formal\(\.\.\.\)$"):
        dataclasses.replace(mac, formal=None, heavy=Heavy()).check_facts()
    with pytest.raises(ValueError, match=r"^unit int_mac has stream ports \(i, o\) but "
                                         r"declares axis=None: give its Axis\(\.\.\.\)$"):
        dataclasses.replace(mac, axis=None).check_facts()
    with pytest.raises(ValueError, match=r"^unit bitbrick has no stream ports, so its "
                                         r"formal must be None$"):
        dataclasses.replace(UNITS["bitbrick"], formal=mac.formal).check_facts()
    with pytest.raises(ValueError, match=r"^unit int_mac declares accuracy, but "
                                         r"golden/int_mac.py has no float64 reference"):
        dataclasses.replace(mac, accuracy=Accuracy()).check_facts()
    with pytest.raises(ValueError, match=r"^unit softmax accuracy length names 'size', "
                                         r"which its Params does not have$"):
        dataclasses.replace(UNITS["softmax"], accuracy=Accuracy(
            length="size", families=("uniform",))).check_facts()


def test_a_component_without_ready_contract_fails(monkeypatch):
    cls = UNITS["int_mac"].component_cls
    assert hasattr(cls, "ready_contract")
    monkeypatch.setattr(cls, "ready_contract", "i.ready = ~o.valid | o.ready")
    with pytest.raises(ValueError, match=r"^unit int_mac: IntMAC.ready_contract must be an "
                                         r"accelgen.hw.stream.ReadyContract or None, not "):
        UNITS["int_mac"].check_facts()
    monkeypatch.delattr(cls, "ready_contract")
    with pytest.raises(ValueError, match=r"^unit int_mac has stream ports but IntMAC has no "
                                         r"ready_contract class attribute"):
        UNITS["int_mac"].check_facts()


def test_fact_shapes_are_checked():
    with pytest.raises(TypeError, match=r"^unit x formal must be a Formal or None, not \{\}$"):
        _unit(formal={})
    with pytest.raises(ValueError, match=r"^Formal configs must name at least one"):
        Formal(configs=(), beats=len)
    with pytest.raises(ValueError, match=r"^Formal configs\[0\] preset must be one of "
                                         r"default, small, large, not 'tiny'$"):
        Formal(configs=(("tiny", {}),), beats=len)
    with pytest.raises(TypeError, match=r"^Formal configs\[0\] must be a \(preset, "
                                        r"overrides\) tuple, not 'small'$"):
        Formal(configs=("small",), beats=len)
    with pytest.raises(TypeError, match=r"^Formal beats must be a function"):
        Formal(configs=(("small", {}),), beats=2)
    with pytest.raises(TypeError, match=r"^Formal faults must be a sequence of names, "
                                        r"not 'drop_valid'$"):
        Formal(configs=(("small", {}),), beats=len, faults="drop_valid")
    with pytest.raises(ValueError, match=r"^Accuracy families need a vector length"):
        Accuracy(families=("uniform",))
    with pytest.raises(ValueError, match=r"^Accuracy of vectors needs length"):
        Accuracy(length="n")
    with pytest.raises(ValueError, match=r"^Axis regression must be one of default, small, "
                                         r"large, not 'huge'$"):
        Axis(regression="huge")
    with pytest.raises(ValueError, match=r"^Heavy checks must be among .*, not lint$"):
        Heavy(checks={"lint"})
    with pytest.raises(ValueError, match=r"^Heavy proofs\[0\] scale must be a positive "
                                         r"integer, not 0$"):
        Heavy(proofs=(("small", {}, 0),))
    with pytest.raises(ValueError, match=r"^unit x heavy names formal_rules, but its formal "
                                         r"is None$"):
        _unit(heavy=Heavy(checks={"formal_rules"}))
    with pytest.raises(ValueError, match=r"^unit x heavy names proofs, but its formal is None$"):
        _unit(heavy=Heavy(proofs=(("small", {}, 2),)))
    with pytest.raises(ValueError, match=r"^unit x heavy names axis_lint, but its axis is None$"):
        _unit(heavy=Heavy(checks={"axis_lint"}))
    with pytest.raises(TypeError, match=r"^Heavy sweeps must be indices into the unit's "
                                        r"sweep \(non-negative integers\), not \{-1\}$"):
        Heavy(sweeps={-1})
    with pytest.raises(ValueError, match=r"^unit x heavy sweeps must be in range\(0, 1\) "
                                         r"\(its sweep's indices\), not 1, 2$"):
        _unit(sweep=({},), heavy=Heavy(sweeps={1, 2}))


def test_heavy_sweeps_wait_for_stress():
    """The cocotb regression skips, below ACCELGEN_STRESS=2, exactly the large
    preset and the sweep configurations each unit's ``heavy.sweeps`` names."""
    from accelgen.verif.testing import HEAVY_REASON, STRESS, regression_configurations
    for name, unit in UNITS.items():
        labels = [label for label, _params in unit.configurations()]
        cases = regression_configurations(name)
        assert len(cases) == len(labels)
        for label, case in zip(labels, cases):
            heavy = label == "large" or label in {f"sweep{i}" for i in unit.heavy.sweeps}
            skips = [m for m in case.marks if m.name == "skipif"]
            assert bool(skips) == heavy, (name, label)
            for mark in skips:
                assert mark.args == (STRESS < 2,) and mark.kwargs["reason"] == HEAVY_REASON
    assert sum(len(u.heavy.sweeps) for u in UNITS.values()) >= 1


def test_fastest_settings_are_verified_by_default():
    """Each unit's ``fastest`` setting (a row of the QoR report's timing table) is
    one of its configurations, and the cocotb regression and the lint gate take it
    without ``ACCELGEN_STRESS``."""
    from accelgen.verif.testing import regression_cases, all_configurations
    regression = {case.id: case.marks for case in regression_cases()}
    linted = {case.id for case in all_configurations(defer_large=True) if not case.marks}
    declared = [unit for unit in UNITS.values() if unit.fastest is not None]
    assert len(declared) >= 7
    for unit in declared:
        name = module_name(unit.fastest_params())
        assert ("fastest", name) in [(label, module_name(p))
                                     for label, p in unit.configurations()] or \
            name in {module_name(unit.params(p)) for p in unit.presets}, unit.name
        assert name in regression and not regression[name], unit.name
        assert name in linted, unit.name


def test_facts_are_frozen():
    formal = UNITS["int_mac"].formal
    with pytest.raises(dataclasses.FrozenInstanceError):
        formal.faults = ()
    with pytest.raises(TypeError):
        formal.configs[0][1]["a_width"] = 3
    assert set(HEAVY_CHECKS) >= {c for u in UNITS.values() for c in u.heavy.checks}


@pytest.mark.parametrize("name", [n for n, u in UNITS.items() if u.formal is not None])
def test_formal_configurations_are_valid(name):
    """Every formal configuration and deeper proof is a valid configuration whose
    packet has at least one beat each way."""
    unit = UNITS[name]
    for params in unit.formal_configurations():
        beats_in, beats_out = unit.formal.beats(params)
        assert beats_in >= 1 and beats_out >= 1
    for preset, overrides, _scale in unit.heavy.proofs:
        unit.params(preset, **overrides)


def _all_modules():
    names = ["accelgen"]
    for info in pkgutil.walk_packages(accelgen.__path__, "accelgen."):
        if not info.name.endswith(".__main__"):
            names.append(info.name)
    return names


@pytest.mark.parametrize("name", _all_modules())
def test_dunder_all_resolves(name):
    module = importlib.import_module(name)
    assert hasattr(module, "__all__"), f"{name} has no __all__"
    for attr in module.__all__:
        assert hasattr(module, attr), f"{name}.__all__ names missing {attr}"
