# SPDX-License-Identifier: BSD-2-Clause
"""The shared parameter helpers: coercion, messages, command-line parsing."""

import dataclasses
import re

import pytest

from accelgen.params import UnitParams, param, check_int, check_bool, check_choice, \
    require, parse_value
from accelgen.registry import UNITS


@dataclasses.dataclass(frozen=True, kw_only=True)
class Demo(UnitParams):
    unit = "demo"
    width: int = param(8, "a width")
    flag: bool = param(False, "a flag")
    mode: str = param("ws", "a mode")

    def __post_init__(self):
        check_int(self, "width", min=1, max=16)
        check_bool(self, "flag")
        check_choice(self, "mode", ("ws", "os"))
        require(self, self.width != 13, "width must not be 13")


class Index:
    def __index__(self):
        return 4


def test_index_coercion():
    assert Demo(width=Index()).width == 4
    assert type(Demo(width=Index()).width) is int


@pytest.mark.parametrize("kwargs,error,message", [
    ({"width": "8"}, TypeError, r"^demo width must be an integer, not '8'$"),
    ({"width": True}, TypeError, r"^demo width must be an integer, not True$"),
    ({"width": 0}, ValueError, r"^demo width must be an integer from 1 to 16, not 0$"),
    ({"width": 17}, ValueError, r"^demo width must be an integer from 1 to 16, not 17$"),
    ({"flag": 1}, TypeError, r"^demo flag must be a bool, not 1$"),
    ({"mode": 3}, TypeError, r"^demo mode must be a string, not 3$"),
    ({"mode": "is"}, ValueError, r"^demo mode must be one of 'ws', 'os', not 'is'$"),
    ({"width": 13}, ValueError, r"^demo width must not be 13$"),
])
def test_messages(kwargs, error, message):
    with pytest.raises(error, match=message):
        Demo(**kwargs)


def test_positional_arguments_are_refused():
    with pytest.raises(TypeError):
        Demo(8)


def test_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Demo().width = 3


def test_describe():
    assert Demo.describe() == {
        "width": {"default": 8, "type": "int", "doc": "a width"},
        "flag": {"default": False, "type": "bool", "doc": "a flag"},
        "mode": {"default": "ws", "type": "str", "doc": "a mode"},
    }


@pytest.mark.parametrize("name,text,value", [
    ("width", "12", 12), ("width", "-3", -3), ("width", "0", 0), ("width", "016", 16),
    ("flag", "true", True), ("flag", "false", False), ("flag", "1", True), ("flag", "0", False),
    ("mode", "os", "os"), ("mode", " os ", " os "),
])
def test_parse_value(name, text, value):
    parsed = parse_value(Demo, name, text)
    assert parsed == value and type(parsed) is type(value)


INT_MESSAGE = r"^demo width must be a decimal integer \(digits 0-9, optional leading '-'\), not "


@pytest.mark.parametrize("text", [
    "wide", "", "-", "0x10", "0o7", "0b1", "1_6", "+16", " 16", "16 ", " 16 ", "16\n",
    "1e3", "16.0", "\uff11\uff16", "\u0661\u0666", "\u00b2", "--1",
])
def test_parse_value_refuses_non_decimal_integers(text):
    with pytest.raises(ValueError, match=INT_MESSAGE + re.escape(repr(text)) + "$"):
        parse_value(Demo, "width", text)


@pytest.mark.parametrize("text", ["yes", "no", "True", "FALSE", " true", "true ", "on",
                                  "01", "", "yes please"])
def test_parse_value_refuses_other_bool_words(text):
    with pytest.raises(ValueError, match=r"^demo flag must be one of true, false, 1, 0, not "
                       + re.escape(repr(text)) + "$"):
        parse_value(Demo, "flag", text)


def test_parse_value_errors():
    with pytest.raises(KeyError):
        parse_value(Demo, "nosuch", "1")


def test_ranges_record_what_the_checks_declare():
    assert Demo.ranges() == {"width": {"min": 1, "max": 16}, "flag": None,
                             "mode": {"choices": ["ws", "os"]}}
    ranges = Demo.ranges()
    ranges["width"]["min"] = 99  # a copy: the recorded ranges stay as they were
    assert Demo.ranges()["width"] == {"min": 1, "max": 16}


def test_ranges_name_derived_bounds():
    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Derived(UnitParams):
        unit = "derived"
        a: int = param(4, "a")
        b: int = param(12, "b")
        c: int = param(3, "c")

        def __post_init__(self):
            check_int(self, "a", min=1)
            check_int(self, "b", min=2 * self.a, min_expr="2*a", max=64, when="a=4")
            check_int(self, "c", max=5)

    assert Derived.ranges() == {
        "a": {"min": 1, "max": None},
        "b": {"min": 8, "max": 64, "min_expr": "2*a", "when": "a=4"},
        "c": {"min": None, "max": 5},
    }


def _own_check(unit, name):
    return f"{unit.name} {name} must be "


@pytest.mark.parametrize("unit", list(UNITS.values()), ids=list(UNITS))
def test_every_registered_parameter_has_type_default_and_checked_range(unit):
    """Every parameter has a type and default; an integer range holds what validation
    does: one beyond a bound fails with the parameter's own message, a bound itself
    passes or fails only on a relation with another parameter (e.g. acc_width >=
    a_width + b_width); every listed choice likewise."""
    cls = unit.params_cls
    base = cls()
    described, ranges = cls.describe(), cls.ranges()
    assert list(described) == list(ranges)
    for name, spec in described.items():
        assert spec["type"] in ("int", "bool", "str")
        assert spec["default"] == getattr(base, name)
        r = ranges[name]
        if spec["type"] == "int":
            assert r is not None and set(r) >= {"min", "max"}, f"{unit.name} {name}"
            if r["min"] is not None:
                assert r["min"] <= spec["default"]
            if r["max"] is not None:
                assert spec["default"] <= r["max"]
            for bound, step in ((r["min"], -1), (r["max"], 1)):
                if bound is None:
                    continue
                try:
                    dataclasses.replace(base, **{name: bound})
                except ValueError as e:
                    assert not str(e).startswith(_own_check(unit, name)), str(e)
                with pytest.raises(ValueError, match="^" + re.escape(_own_check(unit, name))):
                    dataclasses.replace(base, **{name: bound + step})
        elif spec["type"] == "bool":
            assert r is None
        elif r is not None:
            assert set(r) == {"choices"} and spec["default"] in r["choices"]
            for choice in r["choices"]:
                try:
                    dataclasses.replace(base, **{name: choice})
                except ValueError as e:
                    assert not str(e).startswith(_own_check(unit, name)), str(e)
            with pytest.raises(ValueError, match="^" + re.escape(_own_check(unit, name))):
                dataclasses.replace(base, **{name: "\x00not-a-choice"})


def test_int_range_and_check_range():
    from accelgen.num.numeric import int_range, check_range
    assert int_range(8, True) == (-128, 127) and int_range(8, False) == (0, 255)
    assert int_range(1, True) == (-1, 0)
    check_range("x", [-128, 127], 8, True)
    with pytest.raises(ValueError, match=r"^x values must be in 0\.\.15$"):
        check_range("x", [16], 4, False)


def test_packet_bounds():
    from accelgen.num.numeric import packet_bounds
    starts, ends = packet_bounds([0, 1, 1, 0, 0, 1, 0])  # the last beat closes nothing
    assert starts.tolist() == [0, 2, 3] and ends.tolist() == [1, 2, 5]
    starts, ends = packet_bounds([0, 0])
    assert starts.tolist() == [] and ends.tolist() == []
