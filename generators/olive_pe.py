# SPDX-License-Identifier: BSD-2-Clause
"""OliVe processing element: a streaming MAC over outlier-victim pairs."""

import dataclasses

from amaranth.hdl import Module, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from accelgen.hw.accumulate import beat_sum, overflow_accumulator
from accelgen.hw.formats import FormatParams, decode_pair, pair_multiply, pair_shift
from accelgen.hw.pipeline import register_stage
from accelgen.hw.stream import PIPELINE, pipeline_handshake
from accelgen.params import param, check_int

__all__ = ["Params", "OlivePE"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class Params(FormatParams):
    """Parameters of :class:`OlivePE` (the format parameters are ``olive_decoder``'s,
    :class:`accelgen.hw.formats.FormatParams`)."""

    unit = "olive_pe"

    acc_width: int = param(32, "accumulator and result width, two's complement (16..48)",
                           abbr="acc")
    pipeline: int = param(4, "register stages (0..4): 1 registers the shifted products, "
                             "2 also the decoded pairs, 3 also the mantissa products and "
                             "shift amounts (between multipliers and shifters), 4 also "
                             "the beat's sum (before the accumulator)", abbr="p")

    def __post_init__(self):
        super().__post_init__()
        check_int(self, "acc_width", min=16, max=48)
        check_int(self, "pipeline", min=0, max=4)

    @property
    def latency(self):
        """Cycles from accepting a packet's last beat to its result on ``o``."""
        return 1 + self.pipeline

    @property
    def throughput(self):
        """Input beats (pairs, so two products) accepted per cycle."""
        return 1

    def input_layout(self):
        return data.StructLayout({"a": 2 * self.bits, "w": 2 * self.bits, "last": 1})

    def output_layout(self):
        return data.StructLayout({"acc": signed(self.acc_width), "overflow": 1})

    def manifest_extra(self):
        return {**self.format_manifest(), "products_per_beat": 2}


class OlivePE(wiring.Component):
    """OliVe processing element (Guo et al., ISCA 2023; docs/formats.md).

    Each beat on ``i`` carries an activation pair word ``a`` and a weight pair
    word ``w`` (``2 * bits`` each, element 0 in the low bits) in OliVe's
    outlier-victim encoding (see ``olive_decoder``) and ``last``. Both pairs are
    decoded to ``(exp, mant)`` and the beat adds ``a_0 w_0 + a_1 w_1``, each
    product ``(ma * mw) << (ea + ew)``, to an ``acc_width``-bit two's-complement
    accumulator. A packet of ``n`` beats is a dot product of ``2n`` elements.

    For every packet (beats up to one with ``last``) one beat leaves on ``o``:
    ``acc`` and ``overflow`` (a product, a beat's sum or a running sum was outside
    the accumulator range; ``acc`` is then the exact sum modulo
    ``2**acc_width``).

    Overflow: flagged and wrapped, never saturated, as in ``ant_pe``: each
    product (from an ``acc_width``-wide shifter), the beat's sum of two products
    and the running sum are kept modulo ``2**acc_width``, and ``overflow`` is set
    when any of them, exactly, was outside ``-2**(acc_width-1) ..
    2**(acc_width-1)-1``; two products that fit can still sum past the range.

    Timing: one beat (two products) per cycle; the result is valid ``latency = 1 +
    pipeline`` cycles after the edge that accepts the last beat. The pipeline
    stalls as a whole while ``o.valid & ~o.ready``; ``i.ready = ~o.valid |
    o.ready``. Synchronous reset discards the accumulator and in-flight beats.

    Pipeline: stage by stage, the pair decoders (identifier test, abfloat
    outlier and normal decoders, the victim's zero); (cut 2) the decoded ``(exp,
    mant)`` of both pairs; the two mantissa products and shift amounts ``ea +
    ew``; (cut 3) all registered; the two ``acc_width``-wide shifters, their
    range checks beside them; (cut 1) the shifted products; the beat's sum and
    its range check; (cut 4) the beat's sum and flag; the accumulator. As
    nextpnr reports it on the ECP5 (``accelgen synth olive_pe --target ecp5
    --pnr``), the critical path at the default ``pipeline=4`` runs from the
    decoded-pair register through a multiplier into the mantissa-product
    register, and on the iCE40 UP5K through the accumulator's carry chain; at 3,
    from the shifted-product register through the beat's sum and the
    accumulator's carry chain; at 2, from the decoded-pair register through a
    multiplier and a shifter into the product register; at 1, from the input
    through the pair decoders as well. Mantissas of at most 6 bits multiply in
    partial-product logic (:func:`accelgen.hw.multiply.narrow_product`, no DSP
    block); wider ones through ``*``, which synthesis maps to a DSP block.

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

        a_pairs = decode_pair(m, self.i.payload.a, p.format, "a_")
        w_pairs = decode_pair(m, self.i.payload.w, p.format, "w_")
        valid, last = self.i.valid, self.i.payload.last
        if p.pipeline >= 2:
            fields = {f"{side}{k}_{part}": value
                      for side, pairs in (("a", a_pairs), ("w", w_pairs))
                      for k, pair in enumerate(pairs) for part, value in zip("em", pair)}
            s = register_stage(m, advance, "decoded", valid=valid, last=last, **fields)
            valid, last = s.valid, s.last
            a_pairs = [(s[f"a{k}_e"], s[f"a{k}_m"]) for k in range(2)]
            w_pairs = [(s[f"w{k}_e"], s[f"w{k}_m"]) for k in range(2)]
        multiplied = pair_multiply(m, a_pairs, w_pairs)
        if p.pipeline >= 3:
            s = register_stage(m, advance, "multiplied", valid=valid, last=last,
                               **{f"{part}{k}": value for k, pair in enumerate(multiplied)
                                  for part, value in zip("ms", pair)})
            valid, last = s.valid, s.last
            multiplied = [(s[f"m{k}"], s[f"s{k}"]) for k in range(2)]
        values, outs = pair_shift(m, multiplied, p.acc_width)
        if p.pipeline >= 1:
            s = register_stage(m, advance, "product", valid=valid, last=last,
                               v0=values[0], v1=values[1], o0=outs[0], o1=outs[1])
            valid, last = s.valid, s.last
            values, outs = [s.v0, s.v1], [s.o0, s.o1]
        if p.pipeline >= 4:
            step, step_out = beat_sum(m, values, outs, p.acc_width)
            s = register_stage(m, advance, "beat", valid=valid, last=last, step=step,
                               out=step_out)
            valid, last = s.valid, s.last
            values, outs = [s.step], [s.out]
        overflow_accumulator(m, self.o, values=values, outs=outs, valid=valid, last=last,
                             advance=advance, width=p.acc_width)
        return m
