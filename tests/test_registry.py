# SPDX-License-Identifier: BSD-2-Clause
"""The registry is complete and every registered unit has its four homes."""

import importlib
import importlib.util
import inspect
import pkgutil
import re
from pathlib import Path

import pytest

import accelgen
from accelgen.registry import UNITS, PRESET_NAMES, Unit, get_unit, module_name
from accelgen.flow.emit import emit
from conftest import all_configurations

ROOT = Path(__file__).resolve().parents[1]


def _modules(package):
    pkg = importlib.import_module(package)
    return sorted(m.name for m in pkgutil.iter_modules(pkg.__path__) if not m.name.startswith("_"))


def test_every_generator_is_registered():
    assert _modules("accelgen.generators") == sorted(UNITS)


@pytest.mark.parametrize("package", ["accelgen.golden"])
def test_every_golden_model_belongs_to_a_unit(package):
    assert _modules(package) == sorted(UNITS)


SHARED_VERIF = {"amaranth_sim", "bench", "packets", "payload", "ports", "protocol", "runner",
                "scoreboard", "selftest", "stream", "vectors"}


def test_every_testbench_belongs_to_a_unit():
    assert sorted(set(_modules("accelgen.verif")) - SHARED_VERIF) == sorted(UNITS)


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


@pytest.mark.parametrize("unit,params", [p.values[0] for p in all_configurations()],
                         ids=[p.id for p in all_configurations()])
def test_configuration_elaborates_and_emits(unit, params):
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


def _all_modules():
    names = ["accelgen"]
    for info in pkgutil.walk_packages(accelgen.__path__, "accelgen."):
        if info.name != "accelgen.__main__":
            names.append(info.name)
    return names


@pytest.mark.parametrize("name", _all_modules())
def test_dunder_all_resolves(name):
    module = importlib.import_module(name)
    assert hasattr(module, "__all__"), f"{name} has no __all__"
    for attr in module.__all__:
        assert hasattr(module, attr), f"{name}.__all__ names missing {attr}"
