# SPDX-License-Identifier: BSD-2-Clause
"""Small RTL builders shared by generators (they add logic to a caller's module)."""

from amaranth.hdl import Signal, Value
from amaranth.lib import data

__all__ = ["delay_chain", "register_stage", "register_values", "drain_beats", "Carry"]


def delay_chain(m, value, name, stages, enable=1):
    """``[value, value delayed 1 cycle, ..., delayed `stages` cycles]``: registers
    named ``<name>_d<t>`` that load when ``enable`` is high (a pipeline's advance)."""
    chain = [value]
    for t in range(1, stages + 1):
        reg = Signal.like(value, name=f"{name}_d{t}")
        with m.If(enable):
            m.d.sync += reg.eq(chain[-1])
        chain.append(reg)
    return chain


def _shape_of(value):
    """The shape of ``value``: a ``data.View``'s layout, else its ``Value`` shape."""
    if isinstance(value, data.View):
        return value.shape()
    return Value.cast(value).shape()


def register_stage(m, enable, name, **values):
    """One typed register stage: a ``data.View`` of a ``StructLayout`` with a
    field per keyword argument (shaped like its value), named ``name``, whose
    fields load their values when ``enable`` is high: one stage of a pipeline
    that stalls as a whole. Read the registers as attributes (``s.valid``,
    ``s.a``) or, for computed names, by key (``s["a0"]``); Amaranth checks the
    names and shapes. Field names must be valid keyword arguments other than
    ``m``, ``enable`` and ``name``."""
    layout = data.StructLayout({key: _shape_of(value) for key, value in values.items()})
    reg = Signal(layout, name=name)
    with m.If(enable):
        m.d.sync += [reg[key].eq(value) for key, value in values.items()]
    return reg


def register_values(m, enable, name, values):
    """:func:`register_stage` over the dict ``values``, returned as a dict of the
    registered copies under the same keys: a cut through a pipeline that
    carries its values in a dict."""
    regs = register_stage(m, enable, name, **values)
    return {key: regs[key] for key in values}


class Carry:
    """Register cuts inside a builder that does not know the caller's pipeline.

    ``Carry(m, enable, name, **side)`` holds the caller's signals ``side``
    (``valid``, flags); ``carry.cut(stage, **values)`` registers ``values``
    together with the current ``side`` in one :func:`register_stage` named
    ``<name>_<stage>``, moves ``side`` to the registered copies, and returns
    the registered ``values`` as a dict. ``carry.enabled`` selects the stages
    that are built: a stage not in it returns its ``values`` unchanged (no
    register), so ``cut`` can be handed to a builder whatever the depth.
    ``carry.stages`` counts the registers built."""

    def __init__(self, m, enable, name, *, enabled=(), **side):
        self.m, self.enable, self.name = m, enable, name
        self.enabled, self.side, self.stages = tuple(enabled), dict(side), 0

    def cut(self, stage, **values):
        if stage not in self.enabled:
            return values
        clash = set(values) & set(self.side)
        if clash:
            raise ValueError(f"Carry {self.name}: {sorted(clash)} are both carried and cut")
        regs = register_values(self.m, self.enable, f"{self.name}_{stage.replace(' ', '_')}",
                               {**self.side, **values})
        self.side = {key: regs[key] for key in self.side}
        self.stages += 1
        return {key: regs[key] for key in values}


def drain_beats(m, i, o, remaining, rest, load, last=None):
    """Control of a unit that turns one input beat into several output beats
    (``lnzd``): ``remaining`` is a register holding the work left of the beat
    being drained, ``rest`` what is left after the output beat on offer;
    ``o.last`` is ``last``, which must be high exactly when ``rest`` is empty
    (``None``: ``rest == 0``; a unit passes a faster equivalent). An input beat is taken
    when the unit is idle or in the cycle its last output beat leaves
    (``i.ready = ~busy | (o.ready & o.last)``, combinational from ``o.ready``),
    and then the statements ``load`` (which set ``remaining`` and the beat's
    other registers) run. ``o.valid`` is the busy flag."""
    busy = Signal(name="busy")
    m.d.comb += [o.valid.eq(busy), o.payload.last.eq(rest == 0 if last is None else last),
                 i.ready.eq(~busy | (o.ready & o.payload.last))]
    with m.If(o.valid & o.ready):
        m.d.sync += remaining.eq(rest)
        with m.If(o.payload.last):
            m.d.sync += busy.eq(0)
    with m.If(i.valid & i.ready):
        m.d.sync += [*load, busy.eq(1)]
