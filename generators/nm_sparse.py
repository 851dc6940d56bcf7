# SPDX-License-Identifier: BSD-2-Clause
"""N:M structured-sparse dot product (NVIDIA Ampere 2:4): metadata selects the
dense activations that meet the kept weights."""

import dataclasses
from types import SimpleNamespace

from amaranth.hdl import Module, Signal, Cat, Mux, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from accelgen.hw.accumulate import accumulate_packets
from accelgen.hw.multiply import narrow_product
from accelgen.hw.pipeline import register_stage
from accelgen.hw.reduce import reduce_tree
from accelgen.hw.stream import PIPELINE, pipeline_handshake
from accelgen.params import UnitParams, param, check_int, check_bool, require, int_shape

__all__ = ["Params", "NMSparse"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class Params(UnitParams):
    """Parameters of :class:`NMSparse`."""

    unit = "nm_sparse"

    n: int = param(2, "weights kept per group (1 .. m - 1)")
    m: int = param(4, "group size: dense activations per group (2, 4, 8 or 16)")
    groups: int = param(2, "groups per beat (1..16)", abbr="g")
    a_width: int = param(8, "activation width in bits (1..32)", abbr="a")
    w_width: int = param(8, "weight width in bits (1..32)", abbr="w")
    a_signed: bool = param(True, "activations are two's complement (else unsigned)",
                           abbr="as")
    w_signed: bool = param(True, "weights are two's complement (else unsigned)", abbr="ws")
    acc_width: int = param(32, "accumulator and result width (a_width + w_width..64)",
                           abbr="acc")
    pipeline: int = param(3, "register stages (0..3): 1 registers the products, 2 also "
                             "the selected operands, 3 also the beat's sum", abbr="p")

    def __post_init__(self):
        check_int(self, "m", min=2, max=16)
        require(self, self.m in (2, 4, 8, 16), f"m must be 2, 4, 8 or 16, not {self.m}")
        check_int(self, "n", min=1, max=self.m - 1, when=f"m={self.m}")
        check_int(self, "groups", min=1, max=16)
        check_int(self, "a_width", min=1, max=32)
        check_int(self, "w_width", min=1, max=32)
        check_bool(self, "a_signed")
        check_bool(self, "w_signed")
        check_int(self, "acc_width", min=self.a_width + self.w_width, max=64,
                  min_expr="a_width + w_width")
        check_int(self, "pipeline", min=0, max=3)

    @property
    def index_bits(self):
        return (self.m - 1).bit_length()

    @property
    def acc_signed(self):
        return self.a_signed or self.w_signed

    @property
    def multipliers(self):
        """Multipliers built: ``groups * n`` (a dense unit needs ``groups * m``)."""
        return self.groups * self.n

    @property
    def latency(self):
        """Cycles from accepting a packet's last beat to its result on ``o``."""
        return 1 + self.pipeline

    @property
    def throughput(self):
        """Beats (``groups * m`` dense positions) accepted per cycle."""
        return 1

    def a_shape(self):
        return int_shape(self.a_width, self.a_signed)

    def w_shape(self):
        return int_shape(self.w_width, self.w_signed)

    def acc_shape(self):
        return int_shape(self.acc_width, self.acc_signed)

    def input_layout(self):
        return data.StructLayout({
            "a": data.ArrayLayout(self.a_shape(), self.groups * self.m),
            "w": data.ArrayLayout(self.w_shape(), self.groups * self.n),
            "meta": data.ArrayLayout(unsigned(self.index_bits), self.groups * self.n),
            "last": 1})

    def output_layout(self):
        return data.StructLayout({"acc": self.acc_shape(), "meta_error": 1})

    def manifest_extra(self):
        return {"metadata": f"meta[g*n + k] ({self.index_bits} bits, packed "
                            f"least-significant first) is the position in group g of kept "
                            f"weight w[g*n + k]; positions must increase within a group",
                "multipliers": self.multipliers,
                "dense_multipliers": self.groups * self.m}


class NMSparse(wiring.Component):
    """N:M structured-sparse dot product (NVIDIA Ampere sparse tensor core;
    docs/sparse.md).

    Each beat on ``i`` carries ``groups`` groups of ``m`` dense activations
    ``a``, the ``n`` kept weights of each group ``w`` and their positions
    ``meta`` (``log2(m)`` bits each, packed least-significant first: for 2:4,
    group ``g``'s nibble gives ``idx0 = meta & 3``, ``idx1 = meta >> 2``). Kept
    weight ``w[g*n + k]`` multiplies ``a[g*m + meta[g*n + k]]`` (a multiplexer
    per kept weight): ``groups * n`` multipliers instead of ``groups * m``.

    A group's metadata is valid when its positions strictly increase (2:4:
    nibbles 0b0100, 0b1000, 0b1001, 0b1100, 0b1101, 0b1110). An invalid group
    adds 0 and sets ``meta_error`` on its packet's result: invalid metadata is
    never used.

    A packet (beats up to one with ``last``) accumulates into one result,
    modulo ``2**acc_width`` (two's complement when either operand is signed).

    Overflow: wraps, with no saturation and no flag, like ``int_mac``
    (``meta_error`` flags metadata only). Products and their adder tree are
    exact; the beat's sum (``groups * n`` products, so one beat can already
    leave the range) and the running sum are kept modulo ``2**acc_width``.

    Multipliers: operands up to ``LOGIC_PRODUCT_MAX_BITS`` (6) bits wide
    multiply in partial-product logic (:func:`accelgen.hw.multiply.narrow_product`,
    no DSP block); wider ones through ``*``, which synthesis maps to a DSP block
    where the target has one.

    Timing: one beat per cycle; the result is valid ``latency = 1 + pipeline``
    cycles after the last beat is accepted. ``pipeline`` registers (1) the
    products, (2) also the selected operands, (3) also the beat's sum before the
    accumulator. The pipeline stalls as a whole while ``o.valid & ~o.ready``;
    ``i.ready = ~o.valid | o.ready``. Synchronous reset discards the accumulator
    and in-flight beats. As nextpnr reports it on the ECP5, the critical path at
    the default ``pipeline=3`` runs from the selected-operand register through
    a multiplier (a DSP block) into the product register, the same path as
    ``int_mac``'s; at 2, from the product register through the beat's sum into
    the accumulator's carry chain; on the iCE40 UP5K at 3, from the product
    register through the beat's adder tree into the sum register.

    Members
    -------
    i : In(stream.Signature(Params.input_layout()))
    o : Out(stream.Signature(Params.output_layout()))
    """

    ready_contract = PIPELINE

    def __init__(self, params=None):
        self.params = params = Params.ensure(params, self)
        super().__init__({
            "i": In(stream.Signature(params.input_layout())),
            "o": Out(stream.Signature(params.output_layout())),
        })

    def elaborate(self, platform):
        p = self.params
        m = Module()
        advance = pipeline_handshake(m, self.i, self.o)
        i = self.i.payload

        errors, operands = [], {}
        for g in range(p.groups):
            meta = [i.meta[g * p.n + k] for k in range(p.n)]
            bad = Signal(name=f"group{g}_meta_error")
            m.d.comb += bad.eq(Cat(*(meta[k] >= meta[k + 1] for k in range(p.n - 1))).any()
                               if p.n > 1 else 0)
            errors.append(bad)
            group = Cat(*(i.a[g * p.m + j] for j in range(p.m)))
            for k in range(p.n):
                selected = Signal(p.a_shape(), name=f"group{g}_a{k}")
                m.d.comb += selected.eq(group.word_select(meta[k], p.a_width))
                operands[f"a{g}_{k}"] = selected
                operands[f"w{g}_{k}"] = i.w[g * p.n + k]
        error = Signal(p.groups, name="meta_errors")
        m.d.comb += error.eq(Cat(*errors))
        s = SimpleNamespace(valid=self.i.valid, last=i.last, error=error, **operands)
        if p.pipeline >= 2:
            s = register_stage(m, advance, "selected", **vars(s))
        products = {}
        for g in range(p.groups):
            for k in range(p.n):
                product = Signal(signed(p.a_width + p.w_width + 1), name=f"product{g}_{k}")
                m.d.comb += product.eq(narrow_product(getattr(s, f"a{g}_{k}"),
                                                      getattr(s, f"w{g}_{k}")))
                products[f"p{g}_{k}"] = product
        s = SimpleNamespace(valid=s.valid, last=s.last, error=s.error, **products)
        if p.pipeline >= 1:
            s = register_stage(m, advance, "product", **vars(s))

        step = Signal(p.acc_shape(), name="step")
        terms = []
        for g in range(p.groups):
            for k in range(p.n):
                product = getattr(s, f"p{g}_{k}")
                term = Signal(product.shape(), name=f"term{g}_{k}")
                m.d.comb += term.eq(Mux(s.error[g], 0, product))
                terms.append(term)
        # a balanced adder tree: ceil(log2(groups * n)) levels, each sum one bit wider
        m.d.comb += step.eq(reduce_tree(m, terms, lambda x, y: x + y, "sum"))
        if p.pipeline >= 3:
            s = register_stage(m, advance, "summed", valid=s.valid, last=s.last,
                               error=s.error, step=step)
            step = s.step
        acc = Signal(p.acc_shape(), name="acc")
        flagged = Signal(name="acc_meta_error")
        accumulate_packets(m, self.o, advance=advance, valid=s.valid, last=s.last, state=[
            (acc, acc + step, self.o.payload.acc),
            (flagged, flagged | s.error.any(), self.o.payload.meta_error),
        ])
        return m
