# SPDX-License-Identifier: BSD-2-Clause
"""The shared parameter helpers: coercion, messages, command-line parsing."""

import dataclasses

import pytest

from accelgen.params import UnitParams, param, check_int, check_bool, check_choice, \
    require, parse_value


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
    ("width", "12", 12), ("width", "0x10", 16),
    ("flag", "true", True), ("flag", "False", False), ("flag", "1", True), ("flag", "0", False),
    ("mode", "os", "os"),
])
def test_parse_value(name, text, value):
    assert parse_value(Demo, name, text) == value


def test_parse_value_errors():
    with pytest.raises(KeyError):
        parse_value(Demo, "nosuch", "1")
    with pytest.raises(ValueError, match=r"^demo flag must be true/false/1/0, not 'yes please'$"):
        parse_value(Demo, "flag", "yes please")
    with pytest.raises(ValueError, match=r"^demo width must be an integer, not 'wide'$"):
        parse_value(Demo, "width", "wide")


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
