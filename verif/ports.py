# SPDX-License-Identifier: BSD-2-Clause
"""Port naming of the design under test: unit testbenches run unchanged on a wrapper.

The testbenches and the shared benches address the unit's own ports: ``dut.clk``,
``dut.rst`` (active high), ``dut.i__valid``, ``dut.o__payload``, ... A wrapper
such as the AXI4-Stream one (:mod:`accelgen.flow.axis`) renames them, inverts the
reset and pads the payloads to whole bytes. :class:`MappedDut` stands in for the
wrapper's handle and presents it under the unit's names:

- a renamed port is the wrapper's own handle (clocks and edges work as usual);
- an inverted port (``rst`` on ``aresetn``) reads and writes the opposite level
  (:class:`InvertedBit`);
- a padded payload (``i__payload`` on ``s_axis_tdata``) has the payload's width:
  writes are zero-extended, reads return the low bits and fail the test unless
  the pad bits are 0 (:class:`PaddedPayload`);
- every other attribute (``_log``, internal signals) is the wrapper's.

The map names every port, so a unit with several streams is mapped stream by
stream the same way (``systolic_array``: ``a__*`` on ``s_axis_a_*``, ``w__*`` on
``s_axis_w_*``, ``o__*`` on ``m_axis_o_*``); a payload as wide as its TDATA
(``w__payload``) is the wrapper's handle itself.

The runner (:func:`accelgen.verif.runner.run_cocotb` with ``ports="axis"``) puts
the map in ``ACCELGEN_PORT_MAP`` (JSON, :func:`accelgen.flow.axis.port_map`) and lists
this module before the unit's testbench in ``COCOTB_TEST_MODULES``; importing it
in the simulator replaces ``cocotb.top``, the handle cocotb passes to every test,
by the :class:`MappedDut`. Without the variable nothing changes.
"""

import json
import os
import warnings

import cocotb
from cocotb.types import Logic, LogicArray

__all__ = ["PORT_MAP_ENV", "MappedDut", "InvertedBit", "PaddedPayload", "install"]

#: Environment variable holding ``{unit port: {"port", "width"?, "invert"?}}``.
PORT_MAP_ENV = "ACCELGEN_PORT_MAP"


class InvertedBit:
    """A one-bit port seen at the opposite level (an active-low reset as ``rst``)."""

    def __init__(self, handle, name):
        self._handle = handle
        self._name = name

    def __len__(self):
        return 1

    @property
    def value(self):
        level = self._handle.value
        if isinstance(level, LogicArray):  # a one-bit vector on some simulators
            level = level[level.range.left]
        return ~Logic(level)

    @value.setter
    def value(self, level):
        self._handle.value = ~Logic(level)

    def __getattr__(self, attr):
        raise AttributeError(f"{self._name} is {self._handle._name} inverted: only .value is "
                             f"mapped, not .{attr}")


class PaddedPayload:
    """The low ``width`` bits of a wider port whose other bits must be 0."""

    def __init__(self, handle, width, name):
        if not 0 < width <= len(handle):
            raise ValueError(f"payload width of {name} must be 1..{len(handle)} "
                             f"(the width of {handle._name}), not {width}")
        self._handle = handle
        self._width = width
        self._name = name

    def __len__(self):
        return self._width

    @property
    def value(self):
        bits = self._handle.value
        if len(bits) > self._width:
            pad = bits[len(bits) - 1:self._width]
            if not pad.is_resolvable or pad.to_unsigned() != 0:
                raise AssertionError(f"{self._handle._name}[{len(bits) - 1}:{self._width}] "
                                     f"(padding of {self._name}) is {pad}, not 0")
        return bits[self._width - 1:0]

    @value.setter
    def value(self, bits):
        bits = int(bits)
        if not 0 <= bits < 1 << self._width:
            raise ValueError(f"{self._name} takes {self._width} bits, not {bits:#x}")
        self._handle.value = bits  # zero-extended into the pad bits

    def __getattr__(self, attr):
        raise AttributeError(f"{self._name} is the low {self._width} bits of "
                             f"{self._handle._name}: only .value is mapped, not .{attr}")


class MappedDut:
    """The wrapper's handle ``dut`` under the unit's port names ``mapping``
    (``{unit port: {"port": wrapper port, "width": payload bits, "invert": bool}}``)."""

    def __init__(self, dut, mapping):
        self._dut = dut
        self._ports = {}
        for name, spec in mapping.items():
            handle = getattr(dut, spec["port"])
            if spec.get("invert"):
                handle = InvertedBit(handle, name)
            elif spec.get("width", len(handle)) != len(handle):
                handle = PaddedPayload(handle, spec["width"], name)
            self._ports[name] = handle

    def __getattr__(self, name):
        ports = self.__dict__.get("_ports", {})
        if name in ports:
            return ports[name]
        return getattr(self.__dict__["_dut"], name)

    def __repr__(self):
        return f"MappedDut({self._dut!r}, {sorted(self._ports)})"


def install(environ=None):
    """Replace ``cocotb.top`` by its :class:`MappedDut` when ``ACCELGEN_PORT_MAP``
    is set; returns the map (``None`` when unset)."""
    text = (os.environ if environ is None else environ).get(PORT_MAP_ENV)
    if not text:
        return None
    mapping = json.loads(text)
    if not isinstance(cocotb.top, MappedDut):
        cocotb.top = MappedDut(cocotb.top, mapping)
        cocotb.top._log.info("ports mapped onto %s: %s", cocotb.top._dut._name,
                             ", ".join(f"{k}->{v['port']}" for k, v in mapping.items()))
    return mapping


if getattr(cocotb, "is_simulation", False):
    # This module holds no test; it is listed only to install the map first.
    warnings.filterwarnings("ignore", message=f"No tests were discovered in module: {__name__}")
    install()
