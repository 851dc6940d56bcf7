# SPDX-License-Identifier: BSD-2-Clause
"""The formal harness: a streaming unit inside stream-rule assumptions and claims.

Environment (assumptions):

``reset_first``
    ``rst`` is high in the first cycle; afterwards it is free, so resets in the
    middle of a packet are explored too.
``<i>.source_holds`` (``source="rules"``; none with ``source="free"``)
    for every input stream: a beat offered and not taken outside reset
    (``valid & ~ready & ~rst``) is offered again in the next cycle with the
    same payload, unless ``rst`` is high then. ``valid`` and ``payload`` are
    otherwise free every cycle (junk while ``valid`` is low).
``o.ready`` is free every cycle.

Claims on every output stream (assertions):

``<o>.valid_held``, ``<o>.payload_held``
    a beat offered and not taken outside reset is offered again in the next
    cycle, with the same payload (the units reset synchronously: a reset in the
    stalled cycle may drop it).
``<o>.idle_after_reset``
    ``valid`` is low in the first cycle and in every cycle after one with
    ``rst`` high (every unit clears its output register synchronously).
``<i>.ready_contract`` (components whose ``ready_contract`` class attribute is
an :class:`accelgen.hw.stream.ReadyContract`)
    ``i.ready`` equals the contract's formula, so it never depends on
    ``i.valid`` or ``i.payload``.

Cover (non-vacuity): ``<o>.transfer`` (a beat leaves outside reset) and
``<o>.stall_released`` (a beat that was held by ``~o.ready`` leaves).

The configurations proven by default, the beats of a packet and the faults
each unit is checked against are the registry's :class:`accelgen.registry.Formal`
facts; :func:`formal_configurations`, :func:`formal_params` and
:func:`bmc_depth` read them.
"""

import contextlib

from amaranth.asserts import AnySeq, Initial
from amaranth.hdl import Assert, Assume, Cover, Module, ResetSignal, Signal, Value
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import Flow

from accelgen.hw.stream import ReadyContract
from accelgen.registry import UNITS, get_unit

__all__ = ["StreamHarness", "FaultyOutput", "FAULTS", "SOURCES", "formal_configurations",
           "formal_params", "bmc_depth", "ready_contract"]

SOURCES = ("rules", "free")


def formal_configurations():
    """``[(unit name, Params)]``: every unit's :attr:`accelgen.registry.Formal.configs`,
    in registry order."""
    return [(unit.name, params) for unit in UNITS.values()
            for params in unit.formal_configurations()]


def formal_params(unit_name):
    """The ``Params`` of the first formal configuration of ``unit_name``."""
    unit = get_unit(unit_name)
    if unit.formal is None:
        names = [u.name for u in UNITS.values() if u.formal is not None]
        raise ValueError(f"unit must be one of {', '.join(names)} for the formal "
                         f"check, not {unit_name!r}")
    return unit.formal_configurations()[0]


def bmc_depth(unit_name, params):
    """Steps of the default bound: the reset cycle, one whole packet in (the
    registry's :attr:`accelgen.registry.Formal.beats`), the latency, the
    packet's output beats, and one cycle more for a stall::

        1 + in_beats + latency + out_beats + 1
    """
    unit = get_unit(unit_name)
    if unit.formal is None:
        formal_params(unit_name)  # raises, naming the units that have a check
    beats_in, beats_out = unit.formal.beats(params)
    return 1 + beats_in + params.latency + beats_out + 1


def ready_contract(component):
    """The :class:`accelgen.hw.stream.ReadyContract` ``component`` declares in its
    ``ready_contract`` attribute, or ``None`` (no fixed formula, or none declared);
    ``TypeError`` for anything else."""
    contract = getattr(component, "ready_contract", None)
    if contract is not None and not isinstance(contract, ReadyContract):
        raise TypeError(f"{type(component).__name__}.ready_contract must be an "
                        f"accelgen.hw.stream.ReadyContract or None, not {contract!r}")
    return contract


def _streams(component):
    """``[(name, interface, flow)]`` of a component's stream members; ``ValueError``
    if it has another kind of port (combinational units have no stream to check)."""
    out = []
    for name, member in component.signature.members.items():
        if not (member.is_signature and isinstance(member.signature, stream.Signature)):
            raise ValueError(f"member {name!r} of {type(component).__name__} is not a "
                             f"stream: the formal check needs a unit with stream ports only")
        out.append((name, getattr(component, name), member.flow))
    return out


@contextlib.contextmanager
def _unused_on_error(*elaboratables):
    """On an exception, mark ``elaboratables`` so that Amaranth does not also
    warn that they were "created but never used" (as ``Params.ensure`` does)."""
    try:
        yield
    except Exception:
        for elaboratable in elaboratables:
            elaboratable._MustUse__silence = True
        raise


def _bits(payload):
    return Value.cast(payload).as_unsigned()


class StreamHarness(wiring.Component):
    """The unit ``dut`` (a component with stream ports only) inside the
    environment and properties listed in the module docstring.

    ``source`` is ``"rules"`` (input streams follow the stream rules) or
    ``"free"`` (any ``valid``/``payload`` every cycle). The ``i.ready`` claims
    come from ``dut``'s ``ready_contract`` attribute (:func:`ready_contract`).
    :attr:`properties` lists ``(kind, name)`` in the order built; the names
    are the messages of the ``$check`` cells.
    """

    def __init__(self, dut, *, source="rules"):
        with _unused_on_error(self, dut):
            if source not in SOURCES:
                raise ValueError(f"source must be one of {', '.join(SOURCES)}, "
                                 f"not {source!r}")
            self.streams = _streams(dut)
            self.ready_contract = ready_contract(dut)
        self.dut = dut
        self.source = source
        self.properties = []
        super().__init__({})

    def _prop(self, m, kind, name, test):
        m.d.comb += {"assert": Assert, "assume": Assume, "cover": Cover}[kind](test, name)
        self.properties.append((kind, name))

    def _prev(self, m, value, name):
        """``value`` one cycle ago (0 in the first cycle); not reset by ``rst``."""
        reg = Signal(len(value), name=f"prev_{name}", reset_less=True)
        m.d.sync += reg.eq(value)
        return reg

    def elaborate(self, platform):
        m = Module()
        m.submodules.dut = self.dut
        self.properties = []
        rst = ResetSignal()
        first = Initial()
        self._prop(m, "assume", "reset_first", ~first | rst)
        prev_rst = self._prev(m, rst, "rst")

        for name, port, flow in self.streams:
            payload = _bits(port.payload)
            if flow == Flow.In:
                m.d.comb += [port.valid.eq(AnySeq(1)), payload.eq(AnySeq(len(payload)))]
                if self.source == "rules":
                    pending = self._prev(m, port.valid & ~port.ready & ~rst, f"{name}_pending")
                    offered = self._prev(m, payload, f"{name}_payload")
                    self._prop(m, "assume", f"{name}.source_holds",
                               ~(pending & ~rst) | (port.valid & (payload == offered)))
            else:
                m.d.comb += port.ready.eq(AnySeq(1))
                stalled = self._prev(m, port.valid & ~port.ready & ~rst, f"{name}_stalled")
                offered = self._prev(m, payload, f"{name}_payload")
                self._prop(m, "assert", f"{name}.valid_held", ~stalled | port.valid)
                self._prop(m, "assert", f"{name}.payload_held", ~stalled | (payload == offered))
                self._prop(m, "assert", f"{name}.idle_after_reset",
                           ~(first | prev_rst) | ~port.valid)
                self._prop(m, "cover", f"{name}.transfer", port.valid & port.ready & ~rst)
                self._prop(m, "cover", f"{name}.stall_released",
                           stalled & port.valid & port.ready & ~rst)
        if self.ready_contract is not None:
            for name, expected in self.ready_contract.ready(self.dut).items():
                self._prop(m, "assert", f"{name}.ready_contract",
                           getattr(self.dut, name).ready == expected)
        return m


#: fault -> the property a :class:`FaultyOutput` with it must violate.
FAULTS = {
    "drop_valid": "o.valid_held",
    "payload_glitch": "o.payload_held",
    "valid_after_reset": "o.idle_after_reset",
    "ready_from_valid": "i.ready_contract",
}


class FaultyOutput(wiring.Component):
    """A deliberately broken wrapper of a unit with an output stream ``o``, to
    show that the checks can fail (the fault names are the keys of :data:`FAULTS`):

    ``drop_valid``: ``o.valid`` drops in the second cycle of a stall;
    ``payload_glitch``: ``o.payload``'s low bit flips in every stalled cycle;
    ``valid_after_reset``: ``o.valid`` is high in the cycle after a reset;
    ``ready_from_valid``: ``i.ready`` is also high whenever ``i.valid`` is low
    (needs an input stream ``i``).

    Every other port is passed through unchanged, and :attr:`ready_contract` is
    the wrapped unit's, so the harness holds the wrapper to the unit's claims.
    """

    def __init__(self, dut, fault):
        with _unused_on_error(self, dut):
            if fault not in FAULTS:
                raise ValueError(f"fault must be one of {', '.join(FAULTS)}, not {fault!r}")
            streams = {name for name, _port, _flow in _streams(dut)}
            needed = "i" if fault == "ready_from_valid" else "o"
            if needed not in streams:
                raise ValueError(f"fault {fault!r} needs a stream {needed!r}; "
                                 f"{type(dut).__name__} has {', '.join(sorted(streams))}")
        self.inner = dut
        self.fault = fault
        super().__init__(dut.signature)

    @property
    def ready_contract(self):
        """The wrapped unit's ``ready_contract`` (``None`` if it declares none)."""
        return ready_contract(self.inner)

    def elaborate(self, platform):
        m = Module()
        m.submodules.inner = inner = self.inner
        for name, port, flow in _streams(self):
            inner_port = getattr(inner, name)
            if flow == Flow.In:
                m.d.comb += [inner_port.valid.eq(port.valid),
                             inner_port.payload.eq(port.payload),
                             port.ready.eq(inner_port.ready)]
            else:
                m.d.comb += [port.valid.eq(inner_port.valid),
                             port.payload.eq(inner_port.payload),
                             inner_port.ready.eq(port.ready)]
        o = self.o
        stalled = Signal(name="stalled")          # o was stalled in the previous cycle
        m.d.sync += stalled.eq(o.valid & ~o.ready)
        if self.fault == "drop_valid":
            m.d.comb += o.valid.eq(inner.o.valid & ~stalled)
        elif self.fault == "payload_glitch":
            flip = Signal(name="flip")
            with m.If(o.valid & ~o.ready):
                m.d.sync += flip.eq(~flip)
            m.d.comb += _bits(o.payload).eq(_bits(inner.o.payload) ^ flip)
        elif self.fault == "valid_after_reset":
            after_reset = Signal(name="after_reset", reset_less=True)
            m.d.sync += after_reset.eq(ResetSignal())
            m.d.comb += o.valid.eq(inner.o.valid | after_reset)
        else:
            m.d.comb += self.i.ready.eq(inner.i.ready | ~self.i.valid)
        return m
