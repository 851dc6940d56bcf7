# SPDX-License-Identifier: BSD-2-Clause
"""Streaming floating-point multiply-accumulate: FP8 x FP8 and BF16/FP16 products into FP32 or an exact fixed-point sum."""

import dataclasses

from amaranth.hdl import Module, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from accelgen.params import UnitParams, param, check_int, check_choice, require
from accelgen.hw.accumulate import accumulate_packets
from accelgen.hw.adders import split_add
from accelgen.hw.fparith import (decode_pair, fp_product, product_to_fp32, fp32_add,
                                 align_exact, exact_lsb, exact_product_width, exact_to_fp32)
from accelgen.hw.fpround import ROUND_CUTS
from accelgen.hw.pipeline import register_stage, delay_chain
from accelgen.hw.stream import PIPELINE, pipeline_handshake
from accelgen.num.fpformats import get_format

__all__ = ["Params", "FpMAC", "OPERAND_FORMATS", "EXACT_FORMATS", "ACCUMULATORS", "OUTPUTS",
           "CUTS"]

#: The operand formats (accelgen.num.fpformats names).
OPERAND_FORMATS = ("e4m3", "e5m2", "bf16", "fp16")
#: The formats an exact fixed-point accumulator takes (its width grows with the exponent range).
EXACT_FORMATS = ("e4m3", "e5m2")
#: ``fp32``: IEEE FP32 accumulation, rounded at every beat; ``exact``: fixed point.
ACCUMULATORS = ("fp32", "exact")
#: Result forms: ``fp32`` (an FP32 code: the FP32 accumulator, or the exact sum
#: rounded once) and ``exact`` (the exact fixed-point sum with flags).
OUTPUTS = ("fp32", "exact")
#: The register cuts in the order ``pipeline`` adds them; ``result``,
#: ``magnitude``, ``normalize``, ``round`` and ``count`` are built only where the
#: exact sum is rounded (``acc='exact', out='fp32'``): the packet's exact sum
#: before the rounder, then the rounder's own cuts
#: (:data:`accelgen.hw.fpround.ROUND_CUTS`; ``count``, after its zero counts, and
#: ``shift``, halfway through its normalizing shift, come last so that the
#: settings before them keep their meaning).
CUTS = ("product", "align", "result", "magnitude", "normalize", "round", "decode", "count",
        "shift")
_FP32_ONLY = ("result",) + ROUND_CUTS


@dataclasses.dataclass(frozen=True, kw_only=True)
class Params(UnitParams):
    """Parameters of :class:`FpMAC`."""

    unit = "fp_mac"

    a_fmt: str = param("e4m3", "format of operand a: e4m3, e5m2 (OCP FP8), bf16 or fp16",
                       abbr="a")
    b_fmt: str = param("e4m3", "format of operand b: e4m3, e5m2, bf16 or fp16", abbr="b")
    acc: str = param("exact", "accumulator: exact (fixed point, FP8 operands only) or fp32 "
                              "(IEEE FP32, rounded to nearest even at every beat)",
                     abbr="acc")
    guard: int = param(16, "exact accumulator: guard bits above one product, so that "
                           "2**guard products cannot overflow (0..32; unused with fp32)",
                       abbr="g")
    out: str = param("fp32", "result form: 'fp32' (an FP32 code: acc='exact' rounds its "
                             "exact sum once, nearest even) or 'exact' (acc='exact' only: the "
                             "fixed-point sum with flags)", abbr="o")
    pipeline: int = param(9, "register cuts (0..9 when the exact sum is rounded, else 0..3), "
                             "added in the order product, align, result, magnitude, "
                             "normalize, round (rounding only), decode, count, shift "
                             "(rounding only)", abbr="p")

    def __post_init__(self):
        check_choice(self, "a_fmt", OPERAND_FORMATS)
        check_choice(self, "b_fmt", OPERAND_FORMATS)
        check_choice(self, "acc", ACCUMULATORS)
        check_int(self, "guard", min=0, max=32)
        check_choice(self, "out", OUTPUTS)
        require(self, self.out == "fp32" or self.acc == "exact",
                f"out 'exact' needs acc='exact', not {self.acc!r} (the FP32 accumulator's "
                f"result is an FP32 code: out='fp32')")
        when = "acc='exact', out='fp32'" if self.rounds else \
            ("acc='fp32'" if self.acc == "fp32" else "out='exact'")
        check_int(self, "pipeline", min=0, max=self.max_pipeline, when=when)
        if self.acc == "exact":
            for name in ("a_fmt", "b_fmt"):
                require(self, getattr(self, name) in EXACT_FORMATS,
                        f"{name} {getattr(self, name)!r} needs acc='fp32' (acc='exact' "
                        f"takes 'e4m3' or 'e5m2')")

    @property
    def max_pipeline(self):
        """The deepest ``pipeline``: every cut of :data:`CUTS` that applies to ``out``."""
        return len(CUTS) if self.rounds else len(CUTS) - len(_FP32_ONLY)

    @property
    def rounds(self):
        """The exact sum is rounded once to FP32 (``acc='exact', out='fp32'``)."""
        return self.acc == "exact" and self.out == "fp32"

    @property
    def a_format(self):
        return get_format(self.a_fmt)

    @property
    def b_format(self):
        return get_format(self.b_fmt)

    @property
    def cuts(self):
        """The register cuts present: the first ``pipeline`` of :data:`CUTS` that
        apply to ``out``, in the order ``pipeline`` adds them."""
        cuts = CUTS if self.rounds else tuple(c for c in CUTS if c not in _FP32_ONLY)
        return cuts[:self.pipeline]

    @property
    def latency(self):
        """Cycles from accepting a packet's last beat to its result on ``o``."""
        return 1 + self.pipeline

    @property
    def throughput(self):
        """Input beats accepted per cycle (without backpressure)."""
        return 1

    @property
    def lsb_exp(self):
        """``acc='exact'``: exponent of the accumulator's LSB, ``a.exp_min + b.exp_min``."""
        return exact_lsb(self.a_format, self.b_format)

    @property
    def product_bits(self):
        """``acc='exact'``: bits of the two's complement fixed-point product."""
        return exact_product_width(self.a_format, self.b_format)

    @property
    def acc_width(self):
        """Accumulator width: 32 (an FP32 code), or ``product_bits + guard`` (exact)."""
        return 32 if self.acc == "fp32" else self.product_bits + self.guard

    def input_layout(self):
        return data.StructLayout({"a": self.a_format.width, "b": self.b_format.width,
                                  "last": 1})

    def output_layout(self):
        if self.acc == "fp32":
            return data.StructLayout({"acc": 32})
        if self.rounds:
            return data.StructLayout({"acc": 32, "overflow": 1})
        return data.StructLayout({"acc": signed(self.acc_width), "overflow": 1, "nan": 1,
                                  "pos_inf": 1, "neg_inf": 1})

    def manifest_extra(self):
        extra = {"a_format": self.a_format.manifest(), "b_format": self.b_format.manifest(),
                 "cuts": list(self.cuts)}
        if self.acc == "fp32":
            extra["result"] = "FP32 code (IEEE binary32), canonical NaN 0x7fc00000"
        elif self.rounds:
            extra.update({"result": "FP32 code of the exact sum (rounded once, nearest even), "
                                    "canonical NaN 0x7fc00000; overflow: the exact "
                                    "accumulator wrapped", "lsb_exp": self.lsb_exp,
                          "acc_width": self.acc_width})
        else:
            extra.update({"result": "acc * 2**lsb_exp (two's complement), flags overflow, "
                                    "nan, pos_inf, neg_inf",
                          "lsb_exp": self.lsb_exp, "acc_width": self.acc_width})
        return extra


class FpMAC(wiring.Component):
    """Streaming floating-point multiply-accumulate.

    Each beat on ``i`` carries the codes ``a`` (format ``a_fmt``) and ``b``
    (``b_fmt``) and a ``last`` flag; a packet is the beats up to and including
    one with ``last = 1``, and gives one beat on ``o``. Operands are decoded
    exactly (OCP FP8 E4M3 without infinities, E5M2, BF16 and FP16 with IEEE
    specials; subnormals kept) and multiplied exactly.

    ``acc='fp32'``: each product is rounded to FP32 (exact for FP8 and FP16
    operands; a BF16 product may underflow or overflow), then ``acc =
    fp32(acc + product)``, IEEE 754 binary32 addition rounded to nearest, ties
    to even, at every beat, subnormals kept (no flush to zero), from ``acc =
    +0``. NaN (the canonical ``0x7fc00000``) when an operand is NaN, for
    ``inf * 0`` and for ``+inf + -inf``. A zero sum is ``+0`` (the accumulator
    starts at ``+0``, and IEEE's ``x + -x`` and ``+0 + -0`` are ``+0``), so no
    result is ``-0``. The golden model is NumPy's float32 arithmetic. ``o``
    carries ``acc``, the FP32 code.

    ``acc='exact'`` (E4M3/E5M2 only; the default): the accumulator is the
    exact sum of the finite products as a two's complement integer of
    ``acc_width = product_bits + guard`` bits with LSB ``2**lsb_exp``,
    ``lsb_exp = a.exp_min + b.exp_min`` (the manifest gives both). Its flags:
    ``nan`` when an operand is NaN or a product is ``inf * 0``;
    ``pos_inf``/``neg_inf`` when a product is ``+inf``/``-inf`` (E5M2); the sum
    is NaN if both are set.

    ``out='fp32'`` (the default) with ``acc='exact'``: ``o`` carries ``acc``,
    the FP32 code nearest to the packet's exact sum ``acc * 2**lsb_exp``
    (rounded once, ties to even; an exact zero gives ``+0``), the canonical NaN
    when ``nan`` or both infinity flags are set, else ``±inf`` when one is; and
    ``overflow``, set when the exact accumulator wrapped (its code then rounds
    the wrapped sum). ``out='exact'``: ``o`` carries the accumulator ``acc``
    and its four flags, no rounding.

    Overflow: flagged. ``fp32``: a sum or product beyond the largest finite
    FP32 value gives ``±inf`` (IEEE). ``exact``: one product always fits; the
    running sum wraps modulo ``2**acc_width`` and sets the sticky ``overflow``
    flag when it leaves the range (``2**guard`` products of the largest
    magnitude cannot).

    Timing: one beat per cycle when ``o`` is not stalled; the result is valid on
    ``o`` ``latency = 1 + pipeline`` cycles after the edge that accepts the last
    beat. Register cuts, added by ``pipeline`` in the order of :data:`CUTS`:
    after the exact product; after alignment (the product as an FP32 code, or
    shifted to the accumulator's fixed point); where the exact sum is rounded,
    after the packet's exact sum (before the rounder), then inside the
    rounder, before its leading-zero count, before its normalizing shift and
    before its increment; then after the decoders; last (rounding only), inside
    the rounder after its zero counts and halfway through its normalizing
    shift. The accumulation itself (the FP32 adder
    with its alignment, normalization and rounding, or the fixed-point adder)
    closes in one cycle, so one product is taken per cycle.
    The pipeline stalls as a whole while ``o.valid & ~o.ready``, and ``i.ready =
    ~o.valid | o.ready``. Synchronous reset clears the accumulator and every
    in-flight beat.

    Parameters
    ----------
    params : Params

    Members
    -------
    i : In(stream.Signature(StructLayout({"a", "b", "last"})))
        Operand beats; ``a`` in the low bits of the payload, then ``b``, then ``last``.
    o : Out(stream.Signature(Params.output_layout()))
        Packet results.
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
        fa, fb = p.a_format, p.b_format

        valid, last = self.i.valid, self.i.payload.last
        dec_a, dec_b = decode_pair(m, self.i.payload.a, self.i.payload.b, fa, fb)
        if "decode" in p.cuts:
            s = register_stage(m, advance, "dec", valid=valid, last=last,
                               ma=dec_a[0], ea=dec_a[1], na=dec_a[2], ia=dec_a[3],
                               mb=dec_b[0], eb=dec_b[1], nb=dec_b[2], ib=dec_b[3])
            valid, last = s.valid, s.last
            dec_a, dec_b = (s.ma, s.ea, s.na, s.ia), (s.mb, s.eb, s.nb, s.ib)
        product = fp_product(m, dec_a, dec_b, fa, fb, prefix="prod_")
        if "product" in p.cuts:
            s = register_stage(m, advance, "prod", valid=valid, last=last, mant=product[0],
                               exp=product[1], nan=product[2], inf=product[3])
            valid, last, product = s.valid, s.last, (s.mant, s.exp, s.nan, s.inf)

        if p.acc == "fp32":
            addend = product_to_fp32(m, product, prefix="prod_")
            if "align" in p.cuts:
                s = register_stage(m, advance, "aligned", valid=valid, last=last, code=addend)
                valid, last, addend = s.valid, s.last, s.code
            acc = Signal(32, name="acc")
            total = fp32_add(m, acc, addend, prefix="add_")
            accumulate_packets(m, self.o, advance=advance, valid=valid, last=last,
                               state=[(acc, total, self.o.payload.acc)])
            return m

        fixed = align_exact(m, product, fa, fb, prefix="prod_")
        nan, inf, negative = product[2], product[3], product[0][-1]
        pinf, ninf = Signal(name="prod_pos_inf"), Signal(name="prod_neg_inf")
        m.d.comb += [pinf.eq(inf & ~negative), ninf.eq(inf & negative)]
        if "align" in p.cuts:
            s = register_stage(m, advance, "aligned", valid=valid, last=last, fixed=fixed,
                               nan=nan, pinf=pinf, ninf=ninf)
            valid, last, fixed, nan, pinf, ninf = s.valid, s.last, s.fixed, s.nan, s.pinf, s.ninf
        w = p.acc_width
        acc = Signal(signed(w), name="acc")
        total = Signal(signed(w + 1), name="total")
        result = Signal(signed(w), name="result")
        out = Signal(name="out_of_range")
        # The running sum, a carry select: it closes the accumulator's one-cycle loop.
        m.d.comb += [total.eq(split_add(m, acc, fixed, w + 1, "acc_sum")), result.eq(total[:w]),
                     out.eq(total[w] != total[w - 1])]
        flags = {name: Signal(name=f"acc_{name}") for name in ("overflow", "nan", "pos_inf",
                                                               "neg_inf")}
        beat = {"overflow": out, "nan": nan, "pos_inf": pinf, "neg_inf": ninf}
        if not p.rounds:
            state = [(acc, result, self.o.payload.acc)]
            state += [(flags[k], flags[k] | beat[k], self.o.payload[k]) for k in flags]
            accumulate_packets(m, self.o, advance=advance, valid=valid, last=last, state=state)
            return m

        # Rounded (out='fp32'): the packet's exact sum and flags go to the rounder instead of o.
        total_flags = {k: flags[k] | beat[k] for k in flags}
        with m.If(advance & valid):
            with m.If(last):
                m.d.sync += [acc.eq(0), *(f.eq(0) for f in flags.values())]
            with m.Else():
                m.d.sync += [acc.eq(result), *(flags[k].eq(total_flags[k]) for k in flags)]
        res_nan = Signal(name="result_nan")
        res_inf = Signal(name="result_inf")
        both = total_flags["pos_inf"] & total_flags["neg_inf"]
        m.d.comb += [res_nan.eq(total_flags["nan"] | both),
                     res_inf.eq(~res_nan & (total_flags["pos_inf"] | total_flags["neg_inf"]))]
        r = dict(valid=valid & last, total=result, nan=res_nan, inf=res_inf,
                 neg=total_flags["neg_inf"], overflow=total_flags["overflow"])
        if "result" in p.cuts:
            r = register_stage(m, advance, "result", **r)
        cuts = [c for c in p.cuts if c in ROUND_CUTS]
        overflow = delay_chain(m, r["overflow"], "result_overflow", len(cuts), advance)[-1]
        valid_out, code = exact_to_fp32(m, advance, valid=r["valid"], total=r["total"],
                                        exp=p.lsb_exp, nan=r["nan"], inf=r["inf"],
                                        neg=r["neg"], cuts=cuts)
        with m.If(advance):
            m.d.sync += self.o.valid.eq(valid_out)
        with m.If(advance & valid_out):
            m.d.sync += [self.o.payload.acc.eq(code), self.o.payload.overflow.eq(overflow)]
        return m
