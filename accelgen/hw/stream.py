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

from amaranth.hdl import Mux, Signal

__all__ = ["ReadyContract", "PIPELINE", "DRAIN", "stall_advance", "pipeline_handshake",
           "skid_output"]


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


def skid_output(m, o, valid, payload, name="skid"):
    """Drive the stream ``o`` from a pipeline's last register stage (``valid``
    and ``payload``, shaped like ``o.payload``) through a one-beat skid
    register, and return the pipeline's ``advance``: a flip-flop, so that the
    stall of a wide pipeline reads a register rather than ``o.ready``.

    ``advance`` is high while the skid register is empty. A beat that ``o``
    refuses then moves into the skid register (the pipeline advances under
    it); ``o`` shows the held beat, unchanged, until it is taken, and the
    pipeline stalls meanwhile. So ``o`` sees the pipeline's beats in order,
    none lost or repeated, in the same cycles as with :func:`stall_advance`
    while ``o.ready`` stays high. Costs a register and a multiplexer per
    payload bit."""
    room = Signal(name=f"{name}_room", init=1)
    held = Signal(o.payload.shape(), name=f"{name}_payload")
    m.d.comb += [o.valid.eq(~room | valid),
                 o.payload.eq(Mux(room, payload, held))]
    with m.If(room & valid & ~o.ready):
        m.d.sync += [held.eq(payload), room.eq(0)]
    with m.Elif(~room & o.ready):
        m.d.sync += room.eq(1)
    return room
