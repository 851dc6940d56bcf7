# SPDX-License-Identifier: BSD-2-Clause
"""The stream stall rules, written once.

A unit's input ``ready`` follows one of a few rules. Each rule is a
:class:`ReadyContract`: the generator builds its handshake with the contract's
builder, and declares the same object as the component's ``ready_contract``
class attribute, which the formal checks read (``<i>.ready_contract`` asserts
that ``i.ready`` equals :meth:`ReadyContract.ready` in every cycle). A unit
whose ``i.ready`` follows no fixed formula (it reads buffer state, the other
input's ``valid`` or the payload) declares ``ready_contract = None``, with a
comment saying why. Combinational units have no ``ready_contract`` attribute.
"""

import dataclasses
from typing import Callable

from amaranth.hdl import Signal

__all__ = ["ReadyContract", "PIPELINE", "DRAIN", "stall_advance", "pipeline_handshake"]


@dataclasses.dataclass(frozen=True)
class ReadyContract:
    """A rule for ``i.ready``.

    Attributes
    ----------
    name : str
        Short name (``"pipeline"``, ``"drain"``).
    formula : str
        The rule as the docstrings state it.
    ready : callable
        ``ready(component) -> {input stream name: Value}``: the ``ready`` each
        input must show, built from the component's ports.
    """

    name: str
    formula: str
    ready: Callable


#: A pipeline that stalls as a whole: ``i.ready = ~o.valid | o.ready``.
PIPELINE = ReadyContract(
    "pipeline", "i.ready = ~o.valid | o.ready",
    lambda dut: {"i": ~dut.o.valid | dut.o.ready})

#: One input beat drained into several output beats
#: (:func:`accelgen.hw.pipeline.drain_beats`):
#: ``i.ready = ~o.valid | (o.ready & o.last)``.
DRAIN = ReadyContract(
    "drain", "i.ready = ~o.valid | (o.ready & o.last)",
    lambda dut: {"i": ~dut.o.valid | (dut.o.ready & dut.o.payload.last)})


def stall_advance(m, o, name="advance"):
    """``advance = ~o.valid | o.ready``: high when the output register may load
    (it is empty or its beat leaves this cycle). Every register stage of a
    pipeline that stalls as a whole loads on ``advance``. Returns the signal."""
    advance = Signal(name=name)
    m.d.comb += advance.eq(~o.valid | o.ready)
    return advance


def pipeline_handshake(m, i, o, name="advance"):
    """The :data:`PIPELINE` rule: :func:`stall_advance` and ``i.ready = advance``.
    Returns ``advance``."""
    advance = stall_advance(m, o, name)
    m.d.comb += i.ready.eq(advance)
    return advance
