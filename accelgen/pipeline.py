# SPDX-License-Identifier: BSD-2-Clause
"""Small RTL builders shared by generators (they add logic to a caller's module)."""

from amaranth.hdl import Signal

__all__ = ["delay_chain", "pipeline_stage"]


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


def pipeline_stage(m, enable, name, **values):
    """Registers of ``values`` (keyword arguments), named ``<name>_<key>``, that
    load when ``enable`` is high: one stage of a pipeline that stalls as a whole.
    Returns ``{key: register}``."""
    regs = {}
    for key, value in values.items():
        regs[key] = Signal.like(value, name=f"{name}_{key}")
        with m.If(enable):
            m.d.sync += regs[key].eq(value)
    return regs
