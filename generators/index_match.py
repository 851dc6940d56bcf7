# SPDX-License-Identifier: BSD-2-Clause
"""SNAP index matching: the equal-index pairs of a weight block and an
activation block, up to P per cycle."""

import dataclasses

from amaranth.hdl import C, Module, Signal, Cat, Mux, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from accelgen.params import UnitParams, param, check_int, check_bool, require
from accelgen.hw.pipeline import drain_beats
from accelgen.hw.stream import DRAIN

__all__ = ["Params", "IndexMatch", "lowest_set"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class Params(UnitParams):
    """Parameters of :class:`IndexMatch`."""

    unit = "index_match"

    length: int = param(8, "indices per block on each side (2..32)", abbr="l")
    index_width: int = param(8, "index width in bits (1..16)", abbr="iw")
    pairs: int = param(2, "matched pairs emitted per cycle (1..8)", abbr="p")
    sorted: bool = param(False, "indices are unique on each side, as in sorted sparse "
                                "formats: one match per weight at most, a cheaper "
                                "encoder (else every equal pair is a match)", abbr="s")

    def __post_init__(self):
        check_int(self, "length", min=2, max=32)
        check_int(self, "index_width", min=1, max=16)
        check_int(self, "pairs", min=1, max=8)
        check_bool(self, "sorted")
        if self.sorted:
            need = (self.length - 1).bit_length()
            require(self, self.index_width >= need,
                    f"index_width must be at least {need} with sorted=True ({self.length} "
                    f"unique indices per block), not {self.index_width}")

    @property
    def latency(self):
        """Cycles from accepting a block to its first output beat."""
        return 1

    @property
    def throughput(self):
        """Blocks per cycle at most: a block with ``k`` matches takes
        ``max(1, ceil(k / pairs))`` cycles."""
        return 1

    def input_layout(self):
        index = data.ArrayLayout(unsigned(self.index_width), self.length)
        return data.StructLayout({"w_idx": index, "w_valid": self.length,
                                  "a_idx": index, "a_valid": self.length})

    def output_layout(self):
        pos = data.ArrayLayout(range(self.length), self.pairs)
        return data.StructLayout({"w_pos": pos, "a_pos": pos, "valid": self.pairs,
                                  "last": 1})

    def manifest_extra(self):
        return {"order": "pairs in increasing w_pos, then a_pos; slot 0 first; a beat's "
                         "valid slots are a prefix; last on a block's final beat; a block "
                         "without matches gives one beat with valid = 0, last = 1",
                "duplicates": "sorted=False: every (w_pos, a_pos) with equal valid indices; "
                              "sorted=True: per w_pos only the lowest matching a_pos"}


def lowest_set(m, bits, name):
    """``(any, index)`` of the lowest set bit of ``bits``: a priority encoder built
    as a tree of two-input nodes (depth ``log2(len(bits))``)."""
    nodes = [(bits[k], None) for k in range(len(bits))]
    span, level = 1, 0
    while len(nodes) > 1:
        parents = []
        for p in range(0, len(nodes), 2):
            pair = nodes[p:p + 2]
            if len(pair) == 1:
                parents.append(pair[0])
                continue
            (lo_any, lo_index), (hi_any, hi_index) = pair
            found = Signal(name=f"{name}_l{level}_{p // 2}_any")
            index = Signal(range(2 * span), name=f"{name}_l{level}_{p // 2}_index")
            m.d.comb += [found.eq(lo_any | hi_any),
                         index.eq(Mux(lo_any, lo_index if lo_index is not None else 0,
                                      span + (hi_index if hi_index is not None else 0)))]
            parents.append((found, index))
        nodes, span, level = parents, span * 2, level + 1
    found, index = nodes[0]
    return found, (index if index is not None else 0)


class IndexMatch(wiring.Component):
    """SNAP's index matching (Zhang et al., JSSC 2021; docs/sparse.md).

    Each beat on ``i`` is a block: ``length`` weight indices ``w_idx`` with valid
    bits ``w_valid`` and ``length`` activation indices ``a_idx`` with ``a_valid``.
    A comparator array marks every pair ``(w_pos, a_pos)`` whose indices are
    equal and both valid; ``pairs`` cascaded priority encoders then emit up to
    ``pairs`` matches per beat on ``o`` in increasing ``w_pos``, then ``a_pos``
    (slot 0 first, valid slots a prefix of ``valid``, unused slots 0), with ``last`` on the
    block's final beat. A block without matches emits one beat with ``valid =
    0, last = 1``. No match is dropped or repeated.

    With ``sorted=True`` the indices on each side are unique (a sorted sparse
    format's guarantee), so a weight matches at most one activation: the
    encoders then run over ``length`` weight rows instead of ``length**2``
    pairs. If a weight does match several activations anyway, only the lowest
    ``a_pos`` is emitted.

    Overflow: cannot overflow, so there is no flag. Indices are only compared
    for equality (the top code included), positions are ``range(length)``
    fields, and pending matches are one bit per pair, not a count: the densest
    block (every index equal, ``length**2`` matches) leaves in full over
    ``ceil(length**2 / pairs)`` beats.

    Timing: the first beat of a block is valid the cycle after it is accepted;
    a block with ``k`` matches takes ``max(1, ceil(k / pairs))`` cycles, and the
    next block is accepted in its last one (``i.ready = ~busy | (o.ready &
    o.last)``). Synchronous reset drops the block in progress.

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
        n = p.length
        i = self.i.payload
        # The comparator array, evaluated on the incoming block.
        equal = [[Signal(name=f"eq{r}_{c}") for c in range(n)] for r in range(n)]
        for r in range(n):
            for c in range(n):
                m.d.comb += equal[r][c].eq(i.w_valid[r] & i.a_valid[c] &
                                           (i.w_idx[r] == i.a_idx[c]))
        if p.sorted:
            # One match per weight row: the row's flag and its (lowest) a_pos.
            pending = Signal(n, name="rows")
            a_of = [Signal(range(n), name=f"row{r}_a_pos") for r in range(n)]
            incoming_a = []
            for r in range(n):
                _found, pos = lowest_set(m, Cat(*equal[r]), f"row{r}")
                incoming_a.append(pos)
            incoming = Cat(*(Cat(*equal[r]).any() for r in range(n)))
        else:
            # Rows at a power-of-two stride, so a position splits into row and
            # column by wiring, not by a divider.
            stride = 1 << (n - 1).bit_length()
            pending = Signal(n * stride, name="matches")
            incoming = Cat(*(Cat(*equal[r], C(0, stride - n)) for r in range(n)))

        rest = pending
        for s in range(p.pairs):
            found, pos = lowest_set(m, rest, f"slot{s}")
            m.d.comb += self.o.payload.valid[s].eq(found)
            if p.sorted:
                w_pos, a_pos = pos, Cat(*a_of).word_select(pos, len(a_of[0]))
            else:
                shift = stride.bit_length() - 1
                w_pos, a_pos = pos >> shift, pos[:shift] if shift else 0
            m.d.comb += [self.o.payload.w_pos[s].eq(Mux(found, w_pos, 0)),
                         self.o.payload.a_pos[s].eq(Mux(found, a_pos, 0))]
            cleared = Signal(len(pending), name=f"rest{s}")
            m.d.comb += cleared.eq(rest & ~(found << pos))
            rest = cleared

        load = [pending.eq(incoming)]
        if p.sorted:
            load += [a.eq(v) for a, v in zip(a_of, incoming_a)]
        drain_beats(m, self.i, self.o, pending, rest, load)
        return m
