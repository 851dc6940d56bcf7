# SPDX-License-Identifier: BSD-2-Clause
"""OCP Microscaling (MX) block dot product: two blocks of FP8/FP6/FP4/INT8 elements
with their E8M0 scales to one exact sum (or one FP32 code) per block."""

import dataclasses

from amaranth.hdl import Module, Signal, Mux, Const, Cat, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from accelgen.hw.fp import decode_fp
from accelgen.hw.fparith import exact_to_fp32
from accelgen.hw.fpround import ROUND_CUTS
from accelgen.hw.multiply import narrow_product
from accelgen.hw.pipeline import register_stage
from accelgen.hw.reduce import reduce_levels
from accelgen.hw.stream import PIPELINE, pipeline_handshake
from accelgen.num.fpformats import ELEMENT_FORMATS, get_format
from accelgen.params import UnitParams, param, check_int, check_choice, require

__all__ = ["Params", "MXDot", "OUTPUTS", "CUTS", "FP32_NAN", "FP32_INF"]

#: Result forms: ``exact`` (two's complement sum and exponent, with flags) and
#: ``fp32`` (rounded by :func:`accelgen.hw.fpround.round_to_float`).
OUTPUTS = ("exact", "fp32")

#: The register cuts in the order ``pipeline`` adds them; ``scale/round``,
#: ``normalize`` and ``round`` are built for ``out="fp32"`` only (the exact form
#: skips them): the rounder's own cuts (:data:`accelgen.hw.fpround.ROUND_CUTS`).
#: ``tree middle`` cuts the lanes' adder tree after ``ceil(levels / 2)`` of its
#: ``levels = ceil(log2(lanes))`` levels; the rounder's ``count`` cut (after its
#: zero counts) comes last, so that the settings before it keep their meaning.
CUTS = ("products", "adder tree", "scale/round", "multiplier", "decode", "magnitude",
        "normalize", "round", "tree middle", "count")
_FP32_ONLY = tuple(c for c in ("scale/round",) + ROUND_CUTS if c in CUTS)

#: The FP32 code of a NaN result (the canonical quiet NaN, sign clear).
FP32_NAN = 0x7FC00000
#: The FP32 code of ``+inf``; ``-inf`` also has the sign bit (``1 << 31``).
FP32_INF = 0x7F800000

#: The bias of the E8M0 scale: ``X = 2**(code - 127)``.
SCALE_BIAS = 127


def _magnitude(fmt):
    """The largest ``|mant| * 2**(exp - exp_min)`` of a finite code of ``fmt``: its
    largest magnitude in units of its smallest step."""
    if fmt.kind == "int":
        return 1 << (fmt.width - 1)  # the most negative code
    return int(fmt.max_value * 2.0 ** -fmt.exp_min)  # a power-of-two multiple: exact


def _signed_bits(magnitude):
    """Bits of the two's complement type holding ``-magnitude .. magnitude``."""
    return magnitude.bit_length() + 1


@dataclasses.dataclass(frozen=True, kw_only=True)
class Params(UnitParams):
    """Parameters of :class:`MXDot`."""

    unit = "mx_dot"

    a_fmt: str = param("e4m3", "element format of block A: e4m3, e5m2 (OCP FP8), e3m2, "
                               "e2m3 (MX FP6), e2m1 (MX FP4), int8 (MXINT8)", abbr="a")
    b_fmt: str = param("e4m3", "element format of block B (any of a_fmt's; mixed allowed)",
                       abbr="b")
    block: int = param(32, "elements per block (1..1024), a multiple of lanes; OCP MX "
                           "v1.0 fixes 32", abbr="k")
    lanes: int = param(8, "element pairs per beat (1..32)", abbr="l")
    out: str = param("exact", "result form: 'exact' (sum * 2**exp with nan/inf flags) or "
                              "'fp32' (rounded to nearest even)", abbr="o")
    pipeline: int = param(5, "register cuts (0..5; 0..10 for out='fp32'), added in the "
                             "order products, adder tree, scale/round (fp32 only), "
                             "multiplier, decode, magnitude, normalize and round (fp32 only), "
                             "tree middle, count (fp32 only)", abbr="p")

    def __post_init__(self):
        check_choice(self, "a_fmt", ELEMENT_FORMATS)
        check_choice(self, "b_fmt", ELEMENT_FORMATS)
        check_int(self, "block", min=1, max=1024)
        check_int(self, "lanes", min=1, max=32)
        require(self, self.block % self.lanes == 0,
                f"lanes = {self.lanes} must divide block = {self.block}")
        check_choice(self, "out", OUTPUTS)
        check_int(self, "pipeline", min=0, max=self.max_pipeline, when=f"out={self.out!r}")

    @property
    def max_pipeline(self):
        """The deepest ``pipeline``: every cut of :data:`CUTS` that applies to ``out``."""
        return len(CUTS) if self.out == "fp32" else len(CUTS) - len(_FP32_ONLY)

    @property
    def a_format(self):
        return get_format(self.a_fmt)

    @property
    def b_format(self):
        return get_format(self.b_fmt)

    @property
    def tree_levels(self):
        """Levels of the lanes' adder tree: ``ceil(log2(lanes))``."""
        return (self.lanes - 1).bit_length()

    @property
    def words(self):
        """Beats per block: ``block / lanes``."""
        return self.block // self.lanes

    @property
    def lsb_exp(self):
        """Exponent of the products' fixed LSB: ``a.exp_min + b.exp_min``."""
        return self.a_format.exp_min + self.b_format.exp_min

    @property
    def max_product(self):
        """The largest ``|product|`` in units of ``2**lsb_exp``."""
        return _magnitude(self.a_format) * _magnitude(self.b_format)

    @property
    def product_width(self):
        """Width of an aligned product: two's complement, ``±max_product``."""
        return _signed_bits(self.max_product)

    @property
    def beat_width(self):
        """Width of a beat's sum of ``lanes`` aligned products."""
        return _signed_bits(self.lanes * self.max_product)

    @property
    def sum_width(self):
        """Width of the block's exact sum (``sum``): ``block`` products of the
        largest magnitude, two's complement; it cannot wrap."""
        return _signed_bits(self.block * self.max_product)

    @property
    def exp_range(self):
        """``(lowest, highest)`` result exponent: ``scale_a + scale_b - 254 + lsb_exp``
        over every pair of scale codes (0 .. 255)."""
        return (-2 * SCALE_BIAS + self.lsb_exp, 2 * (255 - SCALE_BIAS) + self.lsb_exp)

    @property
    def exp_width(self):
        """Width of the result exponent ``exp`` (two's complement)."""
        lo, hi = self.exp_range
        return max((-lo - 1).bit_length(), hi.bit_length()) + 1

    @property
    def cuts(self):
        """The names of the register cuts built: the first ``pipeline`` of
        :data:`CUTS` that apply to ``out``."""
        cuts = CUTS if self.out == "fp32" else tuple(c for c in CUTS if c not in _FP32_ONLY)
        return cuts[:self.pipeline]

    @property
    def latency(self):
        """Cycles from accepting a block's last beat to its result on ``o``: ``1 + pipeline``."""
        return 1 + self.pipeline

    @property
    def throughput(self):
        """Beats (``lanes`` element pairs) accepted per cycle: 1; a block every ``words`` cycles."""
        return 1

    def input_layout(self):
        return data.StructLayout({
            "a": data.ArrayLayout(unsigned(self.a_format.width), self.lanes),
            "b": data.ArrayLayout(unsigned(self.b_format.width), self.lanes),
            "scale_a": unsigned(8),
            "scale_b": unsigned(8)})

    def output_layout(self):
        if self.out == "fp32":
            return data.StructLayout({"c": unsigned(32)})
        return data.StructLayout({"sum": signed(self.sum_width), "exp": signed(self.exp_width),
                                  "nan": 1, "inf": 1})

    def manifest_extra(self):
        extra = {
            "a_format": self.a_format.manifest(), "b_format": self.b_format.manifest(),
            "scale_format": get_format("e8m0").manifest(),
            "block": f"{self.words} beats of {self.lanes} element pairs in (element k of "
                     f"beat j is element j*lanes + k), one result beat out",
            "scales": "scale_a and scale_b (E8M0) are read on a block's first beat and "
                      "ignored on its other beats",
            "lsb_exp": self.lsb_exp, "cuts": list(self.cuts),
        }
        if self.out == "exact":
            extra["result"] = (f"sum * 2**exp, sum signed({self.sum_width}) exact, "
                               f"exp = scale_a + scale_b - 254 + ({self.lsb_exp}); nan: sum = 0;"
                               f" inf: sum = +1 or -1 (its sign)")
        else:
            extra["result"] = ("c: FP32 code of the exact dot product, rounded to nearest "
                               "even (subnormals; overflow to ±inf; zero is +0); NaN is "
                               f"0x{FP32_NAN:08X}")
        return extra


class MXDot(wiring.Component):
    """OCP Microscaling block dot product (OCP MX v1.0, section 6; docs/mx_dot.md).

    ``C = 2**(scale_a - 127) * 2**(scale_b - 127) * sum_i a_i * b_i`` over a block of
    ``block`` element pairs. A block arrives as ``words = block / lanes`` beats on
    ``i`` (element ``k`` of beat ``j`` is element ``j*lanes + k``): ``lanes`` codes
    of ``a_fmt`` in ``a``, of ``b_fmt`` in ``b``, and the two E8M0 scale codes,
    read on the block's first beat (ignored on the others). One beat leaves on
    ``o`` per block.

    Every element pair's product ``mant_a * mant_b * 2**(exp_a + exp_b)`` is exact,
    aligned to the fixed LSB ``2**lsb_exp`` (``lsb_exp = a.exp_min + b.exp_min``),
    and summed exactly over the block; the block's scales add once to the
    exponent. ``out="exact"``: ``o.sum`` (``signed(sum_width)``) and ``o.exp``
    (``signed(exp_width)``), value ``sum * 2**exp``, ``exp = scale_a + scale_b -
    254 + lsb_exp``; ``out="fp32"``: ``o.c``, the FP32 code nearest to it (ties
    to even, subnormals, overflow to ``±inf``, an exact zero gives ``+0``).

    Specials (IEEE rules): a NaN scale (``0xFF``), a NaN element (e4m3, e5m2),
    ``inf * 0`` or infinite products of both signs make the block NaN; otherwise
    an infinite product (e5m2) makes it an infinity of that sign. Exact form:
    ``nan`` (``sum = 0``) or ``inf`` (``sum = ±1``, the sign), ``exp`` as always;
    FP32 form: ``0x7FC00000`` or ``±inf``.

    Overflow: cannot overflow in the exact form: ``sum_width`` holds ``block``
    products of the largest magnitude and ``exp_width`` every pair of scale
    codes. The FP32 form rounds a value beyond FP32's range to ``±inf``
    (flagged by the code) and one below half its smallest subnormal to the
    zero of its sign.

    Timing: one beat per cycle, a block every ``words`` cycles; the result is
    valid ``latency = 1 + pipeline`` cycles after the block's last beat is
    accepted. ``pipeline`` adds register cuts in the order of :data:`CUTS`:
    after the aligned products, after the lanes' adder tree, (fp32 only)
    between the exact block result and the rounder, between the multipliers
    and the alignment shifters, after the element decoders, (fp32 only)
    inside the rounder: before its leading-zero count, before its
    normalizing shift and before its increment
    (:data:`accelgen.hw.fpround.ROUND_CUTS`), in the middle of the lanes'
    adder tree (after ``ceil(tree_levels / 2)`` of its levels), and (fp32
    only) inside the rounder after its zero counts. The
    pipeline stalls as a whole while ``o.valid & ~o.ready``;
    ``i.ready = ~o.valid | o.ready``. Synchronous reset discards the block in
    progress and the results in flight.

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
        fa, fb = p.a_format, p.b_format
        m = Module()
        advance = pipeline_handshake(m, self.i, self.o)
        i = self.i.payload
        take = Signal(name="take")
        m.d.comb += take.eq(self.i.valid & self.i.ready)

        # The beat counter: first and last beat of a block.
        first, last = Signal(name="first"), Signal(name="last")
        if p.words > 1:
            count = Signal(range(p.words), name="count")
            with m.If(take):
                m.d.sync += count.eq(Mux(last, 0, count + 1))
            m.d.comb += [first.eq(count == 0), last.eq(count == p.words - 1)]
        else:
            m.d.comb += [first.eq(1), last.eq(1)]

        # The block exponent and NaN-scale flag, from the first beat's scales; held
        # for the block's other beats and carried down the pipeline with each beat.
        _, exp_sa, nan_sa, _ = decode_fp(m, i.scale_a, "e8m0", prefix="scale_a_")
        _, exp_sb, nan_sb, _ = decode_fp(m, i.scale_b, "e8m0", prefix="scale_b_")
        bexp_now = Signal(signed(p.exp_width), name="block_exp_now")
        m.d.comb += bexp_now.eq(exp_sa + exp_sb + p.lsb_exp)
        bexp_held = Signal(signed(p.exp_width), name="block_exp_held")
        bnan_held = Signal(name="block_nan_held")
        with m.If(take & first):
            m.d.sync += [bexp_held.eq(bexp_now), bnan_held.eq(nan_sa | nan_sb)]
        bexp = Signal(signed(p.exp_width), name="block_exp")
        bnan = Signal(name="block_nan")
        m.d.comb += [bexp.eq(Mux(first, bexp_now, bexp_held)),
                     bnan.eq(Mux(first, nan_sa | nan_sb, bnan_held))]

        # Decode: masked mantissas (0 for the special codes), alignment shifts and
        # the beat's special flags.
        lane_nan, lane_pinf, lane_ninf, decoded = [], [], [], {}
        shift_a_bits = (fa.exp_max - fa.exp_min).bit_length()
        shift_b_bits = (fb.exp_max - fb.exp_min).bit_length()
        for k in range(p.lanes):
            ma, ea, na, ia = decode_fp(m, i.a[k], fa, prefix=f"a{k}_")
            mb, eb, nb, ib = decode_fp(m, i.b[k], fb, prefix=f"b{k}_")
            va = Signal(signed(fa.mant_width), name=f"a{k}_value")
            vb = Signal(signed(fb.mant_width), name=f"b{k}_value")
            m.d.comb += [va.eq(Mux(na | ia, 0, ma)), vb.eq(Mux(nb | ib, 0, mb))]
            sa = Signal(max(1, shift_a_bits), name=f"a{k}_shift")
            sb = Signal(max(1, shift_b_bits), name=f"b{k}_shift")
            m.d.comb += [sa.eq(ea - fa.exp_min), sb.eq(eb - fb.exp_min)]
            nan, inf, neg = (Signal(name=f"lane{k}_{n}") for n in ("nan", "inf", "neg"))
            m.d.comb += [
                nan.eq(na | nb | (ia & (mb == 0)) | (ib & (ma == 0))),
                inf.eq(ia | ib),
                neg.eq(ma[-1] ^ mb[-1]),
            ]
            lane_nan.append(nan)
            lane_pinf.append(inf & ~neg)
            lane_ninf.append(inf & neg)
            decoded.update({f"a{k}": va, f"b{k}": vb, f"sa{k}": sa, f"sb{k}": sb})
        beat = dict(valid=self.i.valid, last=last, bexp=bexp, bnan=bnan,
                    nan=Cat(*lane_nan).any(), pinf=Cat(*lane_pinf).any(),
                    ninf=Cat(*lane_ninf).any())
        flags = ("valid", "last", "bexp", "bnan", "nan", "pinf", "ninf")
        s = {**beat, **decoded}
        if "decode" in p.cuts:
            s = register_stage(m, advance, "decoded", **s)

        # Products: exact, then shifted to the fixed LSB 2**lsb_exp.
        products = {}
        for k in range(p.lanes):
            prod = Signal(signed(fa.mant_width + fb.mant_width), name=f"product{k}")
            m.d.comb += prod.eq(narrow_product(s[f"a{k}"], s[f"b{k}"]))
            shift = Signal(max(1, shift_a_bits, shift_b_bits) + 1, name=f"shift{k}")
            m.d.comb += shift.eq(s[f"sa{k}"] + s[f"sb{k}"])
            products.update({f"m{k}": prod, f"s{k}": shift})
        s = {**{f: s[f] for f in flags}, **products}
        if "multiplier" in p.cuts:
            s = register_stage(m, advance, "multiplied", **s)
        aligned = []
        for k in range(p.lanes):
            al = Signal(signed(p.product_width), name=f"aligned{k}")
            m.d.comb += al.eq(s[f"m{k}"] << s[f"s{k}"])
            aligned.append(al)
        s = {**{f: s[f] for f in flags}, **{f"p{k}": v for k, v in enumerate(aligned)}}
        if "products" in p.cuts:
            s = register_stage(m, advance, "products", **s)

        # The lanes' adder tree: ceil(log2(lanes)) levels, each sum one bit wider.
        def add(x, y):
            return x + y
        step = Signal(signed(p.beat_width), name="step")
        terms, first = [s[f"p{k}"] for k in range(p.lanes)], 0
        if "tree middle" in p.cuts:
            first = (p.tree_levels + 1) // 2
            terms = reduce_levels(m, terms, add, "sum", first)
            middle = register_stage(m, advance, "tree_middle", **{f: s[f] for f in flags},
                                    **{f"t{k}": t for k, t in enumerate(terms)})
            s = {f: middle[f] for f in flags}
            terms = [middle[f"t{k}"] for k in range(len(terms))]
        m.d.comb += step.eq(reduce_levels(m, terms, add, "sum", first=first)[0])
        s = {**{f: s[f] for f in flags}, "step": step}
        if "adder tree" in p.cuts:
            s = register_stage(m, advance, "tree", **s)

        # The block accumulator: exact, cleared after the block's last beat.
        acc = Signal(signed(p.sum_width), name="acc")
        acc_nan, acc_pinf, acc_ninf = (Signal(name=f"acc_{n}") for n in ("nan", "pinf", "ninf"))
        total = Signal(signed(p.sum_width), name="total")
        t_nan, t_pinf, t_ninf = (Signal(name=f"total_{n}") for n in ("nan", "pinf", "ninf"))
        m.d.comb += [total.eq(acc + s["step"]), t_nan.eq(acc_nan | s["nan"]),
                     t_pinf.eq(acc_pinf | s["pinf"]), t_ninf.eq(acc_ninf | s["ninf"])]
        with m.If(advance & s["valid"]):
            with m.If(s["last"]):
                m.d.sync += [acc.eq(0), acc_nan.eq(0), acc_pinf.eq(0), acc_ninf.eq(0)]
            with m.Else():
                m.d.sync += [acc.eq(total), acc_nan.eq(t_nan), acc_pinf.eq(t_pinf),
                             acc_ninf.eq(t_ninf)]
        res_nan, res_inf, res_neg = (Signal(name=f"result_{n}") for n in ("nan", "inf", "neg"))
        m.d.comb += [res_nan.eq(s["bnan"] | t_nan | (t_pinf & t_ninf)),
                     res_inf.eq(~res_nan & (t_pinf | t_ninf)),
                     res_neg.eq(t_ninf)]
        r = dict(valid=s["valid"] & s["last"], total=total, exp=s["bexp"], nan=res_nan,
                 inf=res_inf, neg=res_neg)
        if "scale/round" in p.cuts:
            r = register_stage(m, advance, "result", **r)

        o = self.o.payload
        if p.out == "exact":
            with m.If(advance):
                m.d.sync += self.o.valid.eq(r["valid"])
            value = Mux(r["nan"], 0, Mux(r["inf"], Mux(r["neg"], -1, 1), r["total"]))
            with m.If(advance & r["valid"]):
                m.d.sync += [o.sum.eq(value), o.exp.eq(r["exp"]), o.nan.eq(r["nan"]),
                             o.inf.eq(r["inf"])]
        else:
            valid, code = exact_to_fp32(
                m, advance, valid=r["valid"], total=r["total"], exp=r["exp"], nan=r["nan"],
                inf=r["inf"], neg=r["neg"], cuts=[c for c in p.cuts if c in ROUND_CUTS])
            with m.If(advance):
                m.d.sync += self.o.valid.eq(valid)
            with m.If(advance & valid):
                m.d.sync += o.c.eq(code)
        return m
