# SPDX-License-Identifier: BSD-2-Clause
"""Small RTL builders shared by generators (they add logic to a caller's module)."""

from amaranth.hdl import Signal

__all__ = ["delay_chain"]


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
