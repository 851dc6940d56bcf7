# SPDX-License-Identifier: BSD-2-Clause
"""SNAP index matching: the equal-index pairs of a weight block and an
activation block, up to P per cycle."""

import dataclasses

from amaranth.hdl import C, Module, Signal, Cat, Mux, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from accelgen.params import UnitParams, param, check_int, check_bool, require
from accelgen.hw.pipeline import register_stage, register_values
from accelgen.hw.reduce import several_set
from accelgen.hw.stream import DRAIN, stall_advance

__all__ = ["Params", "IndexMatch", "lowest_set", "drop_lowest", "SEGMENT_BITS",
           "encode_onehot", "select_onehot", "rank_classes"]


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
    pipeline: int = param(4, "register cuts (0..4): 1 holds the selected matches one-hot "
                             "(positions decoded after the register), 2 also registers "
                             "the comparison matrix, 3 also the rank classes, 4 also "
                             "the rank prefix halfway; latency 1 + (pipeline >= 2) + "
                             "(pipeline >= 3) + (pipeline >= 4)", abbr="pl")

    def __post_init__(self):
        check_int(self, "length", min=2, max=32)
        check_int(self, "index_width", min=1, max=16)
        check_int(self, "pairs", min=1, max=8)
        check_bool(self, "sorted")
        check_int(self, "pipeline", min=0, max=4)
        if self.sorted:
            need = (self.length - 1).bit_length()
            require(self, self.index_width >= need,
                    f"index_width must be at least {need} with sorted=True ({self.length} "
                    f"unique indices per block), not {self.index_width}")

    @property
    def latency(self):
        """Cycles from accepting a block to its first output beat: 1, plus one per
        register before the beat register (the comparison matrix at ``pipeline >=
        2``, the rank classes at ``pipeline >= 3``, the rank prefix halfway at
        ``pipeline >= 4``)."""
        return 1 + (self.pipeline >= 2) + (self.pipeline >= 3) + (self.pipeline >= 4)

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


#: :func:`drop_lowest` subtracts in segments of at most this many bits (past
#: twice as many).
SEGMENT_BITS = 12


def drop_lowest(m, bits, name, segment=SEGMENT_BITS):
    """``(rest, empty)``: ``bits`` with its lowest set bit cleared (``bits & (bits -
    1)``) and ``bits == 0``. Each ``segment``-bit slice clears its own lowest
    set bit with one subtraction (a carry chain on FPGAs; its borrow out says
    the slice is empty), and a slice keeps that result only when every slice
    below it is empty: chains of ``segment`` bits, side by side, instead of one
    ``len(bits)`` long. Up to ``2 * segment`` bits the chain is not split (its
    slices' multiplexers would cost more LUTs than the shorter chain saves)."""
    n = len(bits)
    if n <= 2 * segment:
        segment = n
    rest = Signal(n, name=f"{name}_rest")
    below_empty = C(1, 1)
    for at in range(0, n, segment):
        part = bits[at:at + segment]
        less = Signal(len(part) + 1, name=f"{name}_dec{at // segment}")
        m.d.comb += [less.eq(part - 1),
                     rest[at:at + segment].eq(Mux(below_empty, part & less[:len(part)], part))]
        below_empty = below_empty & less[len(part)] if at else less[len(part)]
    empty = Signal(name=f"{name}_empty")
    m.d.comb += empty.eq(below_empty)
    return rest, empty


def encode_onehot(m, onehot, name):
    """The position of the set bit of a one-hot (or zero) ``onehot`` (0 when
    none is set): each result bit an OR of the positions holding it, no priority."""
    width = max(1, (len(onehot) - 1).bit_length())
    pos = Signal(range(1 << width) if len(onehot) > 1 else 1, name=name)
    for b in range(width if len(onehot) > 1 else 0):
        m.d.comb += pos[b].eq(Cat(*(onehot[k] for k in range(len(onehot))
                                    if (k >> b) & 1)).any())
    return pos


def select_onehot(m, onehot, values, name):
    """``values[k]`` for the set bit ``k`` of a one-hot (or zero) ``onehot``, 0
    when none is set: an AND-OR, no priority."""
    width = len(values[0])
    out = Signal(width, name=name)
    m.d.comb += out.eq(Cat(*(Cat(*(values[k][b] & onehot[k] for k in range(len(values))))
                             .any() for b in range(width))))
    return out


def rank_classes(m, bits, classes, name, cut=None):
    """``classes`` masks of ``bits``: mask ``s`` holds the set bits whose rank
    (set bits below them) is ``s`` modulo ``classes``. The ranks come from a
    parallel prefix (depth ``ceil(log2(len(bits)))``) of one-hot counts modulo
    ``classes``.

    ``cut``, when given, registers the prefix halfway: it is called once with a
    dict of values (``bits`` and the counts within blocks of
    ``2**floor(depth/2)`` bits, the prefix's lower levels) and returns their
    registered copies under the same keys; the upper levels and the masks
    are built on those."""
    n = len(bits)
    count = 0

    def combine(lo, hi):
        nonlocal count
        out = Signal(classes, name=f"{name}_c{count}")
        count += 1
        m.d.comb += [out[k].eq(Cat(*(lo[j] & hi[(k - j) % classes] for j in range(classes)))
                               .any()) for k in range(classes)]
        return out

    def scan(lo, hi, blocks):
        if (lo, hi) in blocks:
            return [blocks[lo, hi][j] for j in range(hi - lo)]
        if hi - lo == 1:
            return [Cat(~bits[lo], bits[lo], C(0, classes - 2))]
        mid = (lo + hi) // 2
        left, right = scan(lo, mid, blocks), scan(mid, hi, blocks)
        return left + [combine(left[-1], r) for r in right]

    def block_spans(lo, hi, size):
        if hi - lo <= size:
            return [(lo, hi)]
        mid = (lo + hi) // 2
        return block_spans(lo, mid, size) + block_spans(mid, hi, size)

    if cut is not None:
        size = 1 << ((n - 1).bit_length() // 2)
        spans = block_spans(0, n, size)
        local = {} if classes == 1 else {
            f"p{lo + j}": value for lo, hi in spans
            for j, value in enumerate(scan(lo, hi, {}))}
        registered = cut({"bits": bits, **local})
        bits = registered["bits"]
        blocks = {} if classes == 1 else {
            (lo, hi): [registered[f"p{k}"] for k in range(lo, hi)] for lo, hi in spans}
    else:
        blocks = {}
    if classes == 1:
        return [bits]
    inclusive = scan(0, n, blocks)
    below = [C(1, classes)] + inclusive[:-1]
    return [Cat(*(bits[j] & below[j][s] for j in range(n))) for s in range(classes)]


#: The register cuts of each ``pipeline`` setting: (comparison matrix, rank
#: prefix halfway, rank classes, one-hot selection).
_CUTS = {0: (False, False, False, False), 1: (False, False, False, True),
         2: (True, False, False, True), 3: (True, False, True, True),
         4: (True, True, True, True)}


class IndexMatch(wiring.Component):
    """SNAP's index matching (Zhang et al., JSSC 2021; docs/sparse.md).

    Each beat on ``i`` is a block: ``length`` weight indices ``w_idx`` with valid
    bits ``w_valid`` and ``length`` activation indices ``a_idx`` with ``a_valid``.
    A comparator array marks every pair ``(w_pos, a_pos)`` whose indices are
    equal and both valid; the unit emits up to ``pairs`` matches per beat on ``o``
    in increasing ``w_pos``, then ``a_pos`` (slot 0 first, valid slots a prefix of
    ``valid``, unused slots 0), with ``last`` on the block's final beat. A block
    without matches emits one beat with ``valid = 0, last = 1``. No match is
    dropped or repeated.

    Selection: the matches are split by rank (matches before them in the
    order) modulo ``pairs``, a parallel prefix count; slot ``s`` then takes,
    beat after beat, the lowest match of its class (``x & (x - 1)`` clears
    it), since emitting ``pairs`` matches leaves every class as it was.

    With ``sorted=True`` the indices on each side are unique (a sorted sparse
    format's guarantee), so a weight matches at most one activation: the
    selection then runs over ``length`` weight rows instead of ``length**2``
    pairs. If a weight does match several activations anyway, only the lowest
    ``a_pos`` is emitted.

    Overflow: cannot overflow, so there is no flag. Indices are only compared
    for equality (the top code included), positions are ``range(length)``
    fields, and pending matches are one bit per pair, not a count: the densest
    block (every index equal, ``length**2`` matches) leaves in full over
    ``ceil(length**2 / pairs)`` beats.

    Timing: the first beat of a block is valid ``latency = 1 + (pipeline >= 2) +
    (pipeline >= 3) + (pipeline >= 4)`` cycles after it is accepted; a block
    with ``k`` matches takes ``max(1, ceil(k / pairs))`` cycles, and the next
    block is accepted in its last one (``i.ready = ~o.valid | (o.ready &
    o.last)``), so blocks of at most ``pairs`` matches stream at one per cycle
    at every ``pipeline``. Synchronous reset drops the blocks in progress.

    Pipeline: the beat register (``o.valid``, the slots, the matches left per
    slot) is always there; ``pipeline`` adds, in this order, (1) the selected
    matches held one-hot, their positions decoded after the register (no
    latency); (2) a register of the comparison matrix; (3) a register of the
    rank classes; (4) a register halfway through the rank prefix (the counts
    within blocks of ``2**floor(depth/2)`` flags). The registers before the
    beat register load with the block taken (``i.ready``). The beat register
    also holds whether slot 0 has matches left after its beat (two or more set
    bits in its class, a tree beside the selection), so ``o.last`` is a
    flip-flop's output and the handshake (``i.ready``, the beat register's
    choice) starts at one. A slot clears its lowest match with subtractions
    of :data:`SEGMENT_BITS` bits side by side (:func:`drop_lowest`), not one
    carry chain across the ``length**2`` flags. As nextpnr reports it on the
    ECP5 (``accelgen synth index_match --target ecp5 --pnr``), the critical
    path of the default (``pipeline=4``) runs from the rank-class register
    through a slot's subtraction into the beat register, and on the iCE40
    UP5K the same way; at ``pipeline=3`` it runs from the comparison register
    through the rank prefix (on the UP5K, Yosys' ABC maps that prefix to a
    chain twice its depth) or from the rank-class register through the tree
    above; at ``pipeline=2`` from the comparison register through the rank
    prefix and a slot's subtraction into the beat register; at 0 and 1, from
    the input through the comparators as well.

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
        compare_cut, prefix_cut, split_cut, onehot_cut = _CUTS[p.pipeline]
        i = self.i.payload
        # The comparator array, on the incoming block.
        equal = Signal(n * n, name="equal")
        for r in range(n):
            for c in range(n):
                m.d.comb += equal[r * n + c].eq(i.w_valid[r] & i.a_valid[c] &
                                                (i.w_idx[r] == i.a_idx[c]))
        # The handshake: the stages before the beat register load a block when
        # the unit is empty or its last beat leaves (i.ready, the DRAIN rule);
        # the beat register loads when its beat leaves or it is empty.
        take = Signal(name="take")
        m.d.comb += [take.eq(DRAIN.ready(self)["i"]), self.i.ready.eq(take)]
        advance = stall_advance(m, self.o)
        src_valid = self.i.valid
        if compare_cut:
            # The comparison matrix registered.
            s1 = register_stage(m, take, "compared", valid=src_valid, equal=equal)
            src_valid, equal = s1.valid, s1.equal
        rows = [equal[r * n:(r + 1) * n] for r in range(n)]
        if p.sorted:
            # One match per weight row: the row's flag and its (lowest) a_pos.
            incoming = Signal(n, name="rows")
            incoming_a = Signal(n * (n - 1).bit_length(), name="rows_a_pos")
            m.d.comb += [incoming.eq(Cat(*(row.any() for row in rows))),
                         incoming_a.eq(Cat(*(lowest_set(m, row, f"row{r}")[1]
                                             for r, row in enumerate(rows))))]
            a_width = len(incoming_a) // n
        else:
            # Rows at a power-of-two stride, so a position splits into row and
            # column by wiring, not by a divider.
            stride = 1 << (n - 1).bit_length()
            shift = stride.bit_length() - 1
            incoming = Cat(*(Cat(row, C(0, stride - n)) for row in rows))
            incoming_a = C(0, 1)
        # Slot s of every beat takes the matches whose rank (matches before it
        # in the order) is s modulo `pairs`: emitting a beat removes `pairs`
        # matches and leaves every rank's class as it was, so each slot drains
        # its own set, one match per beat, the lowest first.
        def halfway(values):
            nonlocal src_valid, incoming_a
            regs = register_values(m, take, "prefix",
                                   {"valid": src_valid, "a": incoming_a, **values})
            src_valid, incoming_a = regs.pop("valid"), regs.pop("a")
            return regs

        split = rank_classes(m, incoming, p.pairs, "rank",
                             cut=halfway if prefix_cut else None)
        if split_cut:
            s2 = register_stage(m, take, "split", valid=src_valid, a=incoming_a,
                                **{f"m{s}": mask for s, mask in enumerate(split)})
            src_valid, incoming_a = s2.valid, s2.a
            split = [s2[f"m{s}"] for s in range(p.pairs)]

        width = len(incoming)
        pending = [Signal(width, name=f"pending{s}") for s in range(p.pairs)]
        a_of = Signal(len(incoming_a), name="a_of")

        def positions(hot, a_pool, tag):
            if p.sorted:
                a_words = [a_pool[k * a_width:(k + 1) * a_width] for k in range(n)]
                return (encode_onehot(m, hot, f"{tag}_w_pos"),
                        select_onehot(m, hot, a_words, f"{tag}_a_pos"))
            pos = encode_onehot(m, hot, f"{tag}_pos")
            return pos[shift:], (pos[:shift] if shift else C(0, 1))

        # The next beat, from the block taken (its first beat) or from the
        # matches left after the beat on offer: built twice and chosen after,
        # so that the choice (from o.ready) does not lengthen the selection.
        nexts = []
        for sets, a_pool, tag in ((split, incoming_a, "first"), (pending, a_of, "next")):
            fields = {"valid": Cat(*(bits.any() for bits in sets))}
            for s, bits in enumerate(sets):
                rest, _ = drop_lowest(m, bits, f"{tag}{s}")
                hot = Signal(width, name=f"{tag}{s}_hot")
                m.d.comb += hot.eq(bits & ~rest)
                fields[f"pending{s}"] = rest
                if s == 0:
                    # Slot 0 holds the most matches: the block ends when it has
                    # none left. Registered with the beat, so o.last (and with it
                    # i.ready and the beat register's choice) starts at a flip-flop.
                    fields["more"] = several_set(m, bits, f"{tag}{s}_more")
                if onehot_cut:
                    fields[f"hot{s}"] = hot
                else:
                    fields[f"w{s}"], fields[f"a{s}"] = positions(hot, a_pool, f"{tag}{s}")
            nexts.append(fields)
        first, following = nexts
        values = {key: Mux(take, first[key], following[key]) for key in first}
        beat = register_stage(m, advance, "beat", busy=Mux(take, src_valid, 1),
                              a_of=Mux(take, incoming_a, a_of), **values)
        if onehot_cut:
            # The selected matches held one-hot; positions decoded after.
            pos = [positions(beat[f"hot{s}"], beat.a_of, f"out{s}") for s in range(p.pairs)]
        else:
            pos = [(beat[f"w{s}"], beat[f"a{s}"]) for s in range(p.pairs)]
        m.d.comb += [a_of.eq(beat.a_of), self.o.valid.eq(beat.busy),
                     self.o.payload.last.eq(~beat.more),
                     self.o.payload.valid.eq(beat.valid)]
        m.d.comb += [pending[s].eq(beat[f"pending{s}"]) for s in range(p.pairs)]
        for s, (w_pos, a_pos) in enumerate(pos):
            m.d.comb += [self.o.payload.w_pos[s].eq(w_pos), self.o.payload.a_pos[s].eq(a_pos)]
        return m
