# SPDX-License-Identifier: BSD-2-Clause
"""EIE leading non-zero detection: the non-zeros of a vector, one per cycle."""

import dataclasses

from amaranth.hdl import Module, Signal, Mux, Cat
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from accelgen.params import UnitParams, param, check_int, check_bool, int_shape
from accelgen.hw.pipeline import drain_beats
from accelgen.hw.reduce import several_set
from accelgen.hw.stream import DRAIN

__all__ = ["Params", "LNZD", "first_nonzero"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class Params(UnitParams):
    """Parameters of :class:`LNZD`."""

    unit = "lnzd"

    n: int = param(16, "vector length (2..256)")
    width: int = param(8, "value width in bits (1..32)", abbr="w")
    signed: bool = param(True, "values are two's complement (else unsigned)", abbr="s")
    fanin: int = param(4, "inputs per node of the detection tree (2..8; EIE uses 4)",
                       abbr="f")

    def __post_init__(self):
        check_int(self, "n", min=2, max=256)
        check_int(self, "width", min=1, max=32)
        check_bool(self, "signed")
        check_int(self, "fanin", min=2, max=8)

    @property
    def latency(self):
        """Cycles from accepting a vector to its first output beat."""
        return 1

    @property
    def throughput(self):
        """Output beats (non-zeros) per cycle; a vector of k non-zeros takes
        max(k, 1) cycles, and the next vector is taken in its last one."""
        return 1

    @property
    def tree_levels(self):
        levels, nodes = 0, self.n
        while nodes > 1:
            nodes = -(-nodes // self.fanin)
            levels += 1
        return levels

    def value_shape(self):
        return int_shape(self.width, self.signed)

    def input_layout(self):
        return data.StructLayout({"data": data.ArrayLayout(self.value_shape(), self.n)})

    def output_layout(self):
        return data.StructLayout({"index": range(self.n), "value": self.value_shape(),
                                  "nz": 1, "last": 1})

    def manifest_extra(self):
        return {"tree_levels": self.tree_levels, "fanin": self.fanin,
                "order": "non-zeros in increasing index; last on a vector's final beat; "
                         "an all-zero vector gives one beat with nz = 0, last = 1"}


def first_nonzero(m, flags, values, fanin, prefix=""):
    """A tree of ``fanin``-input nodes (EIE's LNZD): ``(any, index, value)`` of the
    lowest-index set flag. Each node passes up its first valid child's index
    (child offset + the child's own index) and value."""
    nodes = [(flag, None, value) for flag, value in zip(flags, values)]
    span, level = 1, 0
    while len(nodes) > 1:
        parents = []
        for p, start in enumerate(range(0, len(nodes), fanin)):
            children = nodes[start:start + fanin]
            bits = (span * fanin - 1).bit_length()
            any_ = Signal(name=f"{prefix}l{level}_{p}_any")
            index = Signal(max(1, bits), name=f"{prefix}l{level}_{p}_index")
            value = Signal.like(children[0][2], name=f"{prefix}l{level}_{p}_value")
            m.d.comb += any_.eq(Cat(*(c[0] for c in children)).any())
            sel_index, sel_value = 0, 0
            for k, (flag, child_index, child_value) in reversed(list(enumerate(children))):
                local = k * span + (child_index if child_index is not None else 0)
                sel_index = Mux(flag, local, sel_index)
                sel_value = Mux(flag, child_value, sel_value)
            m.d.comb += [index.eq(sel_index), value.eq(sel_value)]
            parents.append((any_, index, value))
        nodes, span, level = parents, span * fanin, level + 1
    flag, index, value = nodes[0]
    return flag, (index if index is not None else 0), value


class LNZD(wiring.Component):
    """EIE's leading non-zero detection (Han et al., ISCA 2016; docs/sparse.md).

    Each beat on ``i`` carries a vector ``data`` of ``n`` values. The unit emits
    on ``o`` the ``(index, value)`` of every non-zero entry in increasing index
    order, one per beat with ``nz = 1`` and ``last = 1`` on the vector's final
    non-zero; an all-zero vector emits a single end-of-vector beat (``nz = 0``,
    ``last = 1``, ``index`` and ``value`` 0). The first non-zero is found by a
    tree of ``fanin``-input nodes (``tree_levels`` in the manifest) over the
    vector's remaining non-zeros, which are cleared as they leave.

    Overflow: cannot overflow, so there is no flag. ``value`` is the input
    element unchanged (same width and signedness), ``index`` is a
    ``range(n)`` field, and the remaining non-zeros are a bit mask, not a
    count.

    Timing: the first beat of a vector is valid the cycle after it is accepted
    (latency 1); then one beat per cycle, so a vector with ``k`` non-zeros
    takes ``max(k, 1)`` cycles. The next vector is accepted in the cycle its
    predecessor's last beat leaves (``i.ready = ~busy | (o.ready & o.last)``, a
    combinational path from ``o.ready``). Synchronous reset drops the vector
    in progress. The non-zeros left after a beat are the remaining mask with
    its lowest set bit cleared (a carry chain) and ``last`` is "at most one
    left" (:func:`accelgen.hw.reduce.several_set`), so neither waits for the
    detection tree; as nextpnr reports it on the ECP5, the critical path runs
    from the remaining mask through the detection tree to ``index`` and
    ``value``.

    Members
    -------
    i : In(stream.Signature(Params.input_layout()))
    o : Out(stream.Signature(Params.output_layout()))
    """

    ready_contract = DRAIN

    def __init__(self, params=None):
        self.params = params = Params.ensure(params, self)
        super().__init__({
            "i": In(stream.Signature(params.input_layout())),
            "o": Out(stream.Signature(params.output_layout())),
        })

    def elaborate(self, platform):
        p = self.params
        m = Module()
        vector = Signal(data.ArrayLayout(p.value_shape(), p.n), name="vector")
        remaining = Signal(p.n, name="remaining")

        found, index, value = first_nonzero(
            m, [remaining[k] for k in range(p.n)], [vector[k] for k in range(p.n)], p.fanin)
        # The tree finds the lowest remaining non-zero, so the rest is
        # ``remaining`` with its lowest set bit cleared: a carry chain, and the
        # vector's last beat is the one with at most one bit left, a tree of
        # its own, neither of them after the detection tree.
        rest = Signal(p.n, name="rest")
        m.d.comb += rest.eq(remaining & (remaining - 1))
        m.d.comb += [
            self.o.payload.index.eq(Mux(found, index, 0)),
            self.o.payload.value.eq(Mux(found, value, 0)),
            self.o.payload.nz.eq(found),
        ]
        load = [vector.eq(self.i.payload.data),
                remaining.eq(Cat(*(self.i.payload.data[k] != 0 for k in range(p.n))))]
        drain_beats(m, self.i, self.o, remaining, rest, load,
                    last=~several_set(m, remaining, "more"))
        return m
