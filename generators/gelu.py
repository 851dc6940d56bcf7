# SPDX-License-Identifier: BSD-2-Clause
"""Streaming GELU for Transformers: a lookup table, I-BERT's integer i-GELU, or
piecewise-linear segments."""

import dataclasses

from amaranth.hdl import Module, Signal, Mux, Array, Const, Cat, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from accelgen.params import UnitParams, param, check_int, check_choice, require, int_shape
from accelgen.hw.pipeline import register_stage
from accelgen.hw.stream import PIPELINE, pipeline_handshake
from accelgen.consts.gelu import (lut_table, pwl_coefficients, ibert_constants, PWL_FRAC,
                                  IBERT_SHIFT)

__all__ = ["Params", "GELU", "METHODS"]

METHODS = ("lut", "ibert", "pwl")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Params(UnitParams):
    """Parameters of :class:`GELU`."""

    unit = "gelu"

    method: str = param("lut", "'lut' (table over the input range), 'ibert' (I-BERT "
                               "i-GELU) or 'pwl' (piecewise linear)", abbr="m")
    in_bits: int = param(8, "input width (signed, 2..16)", abbr="i")
    in_frac: int = param(4, "input fraction bits (0..16): x = code / 2**in_frac", abbr="if")
    out_bits: int = param(8, "output width (signed, 2..16)", abbr="o")
    out_frac: int = param(4, "output fraction bits (0..16)", abbr="of")
    lut_bits: int = param(8, "lut: table index bits (1..in_bits): the table has "
                             "2**lut_bits entries over the input range", abbr="t")
    segments: int = param(16, "pwl: segments over [-4, 4) (or the input range if "
                              "smaller), a power of two from 2 to 256", abbr="s")
    lanes: int = param(1, "elements per beat (1..16)", abbr="l")
    pipeline: int = param(1, "register stages inside the datapath (0..2)", abbr="p")

    def __post_init__(self):
        check_choice(self, "method", METHODS)
        check_int(self, "in_bits", min=2, max=16)
        check_int(self, "in_frac", min=0, max=16)
        check_int(self, "out_bits", min=2, max=16)
        check_int(self, "out_frac", min=0, max=16)
        if self.method == "lut":
            check_int(self, "lut_bits", min=1, max=self.in_bits,
                      when=f"in_bits={self.in_bits}")
        else:
            check_int(self, "lut_bits", min=1, max=16)
        check_int(self, "segments", min=2, max=256)
        require(self, self.segments & (self.segments - 1) == 0,
                f"segments must be a power of two from 2 to 256, not {self.segments}")
        check_int(self, "lanes", min=1, max=16)
        check_int(self, "pipeline", min=0, max=2)
        if self.method == "pwl":
            span = 2 * self.pwl_half_range_codes
            require(self, self.segments <= span,
                    f"segments must be at most the {span} input codes of the pwl range "
                    f"for in_bits={self.in_bits}, in_frac={self.in_frac}, "
                    f"not {self.segments}")
        if self.method == "ibert":
            check_int(self, "in_frac", min=8, max=16, when="method='ibert' (I-BERT's "
                      "2**14 erf shift leaves too few bits below 8)")

    @property
    def pwl_half_range_codes(self):
        """pwl covers input codes ``[-h, h)``: ``h = min(4 * 2**in_frac, 2**(in_bits-1))``."""
        return min(4 << self.in_frac, 1 << (self.in_bits - 1))

    @property
    def latency(self):
        """Cycles from accepting a beat to its result on ``o``."""
        return 1 + self.pipeline

    @property
    def throughput(self):
        """Beats (``lanes`` elements) accepted per cycle."""
        return 1

    def in_shape(self):
        return int_shape(self.in_bits, True)

    def out_shape(self):
        return int_shape(self.out_bits, True)

    def input_layout(self):
        return data.StructLayout({"x": data.ArrayLayout(self.in_shape(), self.lanes)})

    def output_layout(self):
        return data.StructLayout({"y": data.ArrayLayout(self.out_shape(), self.lanes)})

    def manifest_extra(self):
        return {"input_scale": f"2**-{self.in_frac}", "output_scale": f"2**-{self.out_frac}",
                "overflow": "outputs saturate to the signed out_bits range"}


def _fit(lo, hi):
    """The narrowest signed shape holding every integer of ``[lo, hi]``."""
    return signed(1 + max((v if v >= 0 else ~v).bit_length() for v in (int(lo), int(hi))))


def _product_range(a, b):
    """``(min, max)`` of ``x * y`` for ``x`` in the range ``a``, ``y`` in ``b``."""
    corners = [x * y for x in a for y in b]
    return min(corners), max(corners)


def _shift_range(r, shift):
    """The range of :meth:`_Lane.round_shift` over values of the range ``r``."""
    if shift <= 0:
        return r[0] << -shift, r[1] << -shift
    half = 1 << (shift - 1)
    return (r[0] + half) >> shift, (r[1] + half) >> shift


class _Lane:
    """Named intermediates of one lane: every step is a ``Signal`` of the
    narrowest signed shape holding its range (interval bounds carried along by
    the builder), so no intermediate can wrap and no expression grows deep."""

    def __init__(self, m, lane):
        self.m, self.lane = m, lane

    def wire(self, name, value, r):
        sig = Signal(_fit(*r), name=f"lane{self.lane}_{name}")
        self.m.d.comb += sig.eq(value)
        return sig

    def round_shift(self, name, value, r, shift):
        """``floor(value / 2**shift + 1/2)`` (halves up); ``value * 2**-shift`` for
        ``shift <= 0``. Returns the signal and its range."""
        out = _shift_range(r, shift)
        if shift <= 0:
            return self.wire(name, value << -shift, out), out
        # floor(v / 2**s + 1/2) = floor(v / 2**s) + bit s-1 of v: a narrow adder
        floor = self.wire(f"{name}_floor", value >> shift,
                          (r[0] >> shift, r[1] >> shift))
        if shift - 1 < len(value):
            half = value[shift - 1]
        else:  # bit shift-1 lies in the sign extension
            half = value[-1] if value.shape().signed else 0
        return self.wire(name, floor + half, out), out

    def saturate(self, name, value, r, bits):
        """``value`` (range ``r``) clamped to the signed ``bits``-bit range."""
        lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        clamped = value
        if r[1] > hi:
            clamped = Mux(value > hi, hi, clamped)
        if r[0] < lo:
            clamped = Mux(value < lo, lo, clamped)
        return self.wire(name, clamped, (max(r[0], lo), min(r[1], hi)))


class GELU(wiring.Component):
    """Streaming GELU, ``lanes`` elements per beat (docs/nonlinear.md).

    Formats: input element ``x[k]`` is a signed ``in_bits`` code ``q`` standing
    for ``q * 2**-in_frac``; output element ``y[k]`` is a signed ``out_bits``
    code standing for ``y * 2**-out_frac``. ``y[k] = GELU(x[k])`` for each of
    the ``lanes`` elements (the per-lane logic is built ``lanes`` times), bit
    for bit equal to the golden model (``gelu`` in golden/gelu.py). The
    constants (table, segment coefficients, i-GELU constants) come from
    :mod:`accelgen.consts.gelu`, which the golden model reads too; the
    arithmetic is written independently.

    ``method='lut'``: a constant table of ``2**lut_bits`` output codes indexed
    by the top ``lut_bits`` bits of the offset code ``q + 2**(in_bits-1)`` (the
    input's top bits with the sign bit inverted); each entry is GELU at its
    bin's centre, rounded and saturated at elaboration (exact when ``lut_bits
    == in_bits``). Pipeline cuts: ``pipeline >= 1`` registers the index,
    ``pipeline == 2`` also the entry read.

    ``method='pwl'``: ``segments`` equal segments over codes ``[-h, h)``, ``h =
    min(4 * 2**in_frac, 2**(in_bits-1))``; the segment number is a bit field of
    ``q + h``, and selects a slope ``A`` (16 fraction bits) and intercept ``B``
    (``in_frac + 16``) from constant tables; ``A*q + B`` is rounded to the
    output scale. Codes below ``-h`` give 0, codes from ``h`` up give ``x``
    itself (rounded to the output scale). Pipeline cuts: ``pipeline >= 1``
    registers ``A*q + B``, ``pipeline == 2`` also the looked-up coefficients.

    ``method='ibert'``: I-BERT's integer i-GELU (Kim et al., 2021) with the
    constants: ``t = min(|q|, -b_int) + b_int``, ``y = floor(sgn(q) * (t*t +
    c_int) / 2**14)``, ``prod = q * (y + one)`` (scale ``S * S_erf / 2``),
    multiplied by the constant ``M`` (``out_bits + 8`` significant bits) and
    rounded by a shift of ``R`` to the output scale: within ``1/2 + 2**-9`` LSB
    of the exact ``prod * S * S_erf / 2``. Past the erf clip (``|q| >=
    -b_int``, ``|x| >= 2.50``) the result is ``lambda * x`` (I-BERT's clipped
    erf with floored constants: ``lambda`` is not exactly 0 or 1, so the error
    grows with ``|x|``; :func:`accelgen.consts.gelu.ibert_tail_slopes`).
    Built as ``u = max(-b_int - |q|, 0)`` (``t*t = u*u``), ``y + one`` with one
    adder after the square for each sign, and ``(q * M) * (y + one)``, ``q *
    M`` formed beside the polynomial.
    Pipeline cuts: ``pipeline >= 1`` registers ``y + one`` and ``q * M``
    (after the erf polynomial), ``pipeline == 2`` also their product.

    Rounding: every method rounds halves up (towards +inf) where it drops
    fraction bits (``floor(v / 2**s) + bit s-1 of v``).

    Overflow: saturates, with no flag. Every intermediate is sized by interval
    arithmetic over the whole input range, so nothing wraps; the rounded result
    is clamped to the signed ``out_bits`` range ``-2**(out_bits-1) ..
    2**(out_bits-1)-1`` (the ``lut`` entries are clamped at elaboration), at
    either end: GELU's minimum, about -0.17, is below the range when
    ``out_frac`` is large.

    Timing: one beat (``lanes`` elements) accepted per cycle; its result is on
    ``o`` ``latency = 1 + pipeline`` cycles after it is accepted (the result
    register is the last stage). The whole pipeline stalls while ``o.valid &
    ~o.ready``; ``i.ready = ~o.valid | o.ready``. The unit has no state besides
    the pipeline: synchronous reset clears ``o.valid`` and the stages' valid
    bits, discarding in-flight beats.

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
        lanes = []
        for k in range(p.lanes):
            x = Signal(p.in_shape(), name=f"lane{k}_x")
            m.d.comb += x.eq(self.i.payload.x[k])
            lanes.append(x)
        build = {"lut": self._lut, "pwl": self._pwl, "ibert": self._ibert}[p.method]
        valid, results = build(m, advance, self.i.valid, lanes)
        with m.If(advance):
            m.d.sync += self.o.valid.eq(valid)
            m.d.sync += [self.o.payload.y[k].eq(y) for k, y in enumerate(results)]
        return m

    @staticmethod
    def _stage(m, advance, name, valid, values):
        """A pipeline register stage of ``valid`` and the per-lane ``values``
        (a list of dicts); returns them registered, in the same form."""
        flat = {f"{key}{k}": v for k, lane in enumerate(values) for key, v in lane.items()}
        s = register_stage(m, advance, name, valid=valid, **flat)
        return s.valid, [{key: s[f"{key}{k}"] for key in lane}
                         for k, lane in enumerate(values)]

    def _lut(self, m, advance, valid, xs):
        p = self.params
        shift = p.in_bits - p.lut_bits
        table = Array(Const(int(v), p.out_shape()) for v in lut_table(p))
        s = []
        for k, x in enumerate(xs):
            index = Signal(p.lut_bits, name=f"lane{k}_index")
            # the top lut_bits of q + 2**(in_bits-1): the sign bit inverted
            m.d.comb += index.eq(Cat(x[shift:p.in_bits - 1], ~x[p.in_bits - 1]))
            s.append({"index": index})
        if p.pipeline >= 1:
            valid, s = self._stage(m, advance, "index", valid, s)
        entries = []
        for k, lane in enumerate(s):
            entry = Signal(p.out_shape(), name=f"lane{k}_entry")
            m.d.comb += entry.eq(table[lane["index"]])
            entries.append({"entry": entry})
        if p.pipeline >= 2:
            valid, entries = self._stage(m, advance, "entry", valid, entries)
        return valid, [lane["entry"] for lane in entries]

    def _pwl(self, m, advance, valid, xs):
        p = self.params
        h = p.pwl_half_range_codes
        seg_bits = p.segments.bit_length() - 1
        len_bits = (2 * h // p.segments).bit_length() - 1
        slopes, intercepts = (tuple(int(v) for v in c) for c in pwl_coefficients(p))
        a_range, b_range = (min(slopes), max(slopes)), (min(intercepts), max(intercepts))
        a_table = Array(Const(v, _fit(*a_range)) for v in slopes)
        b_table = Array(Const(v, _fit(*b_range)) for v in intercepts)
        x_range = (-(1 << (p.in_bits - 1)), (1 << (p.in_bits - 1)) - 1)
        s = []
        for k, x in enumerate(xs):
            lane = _Lane(m, k)
            offset = lane.wire("offset", x + h, (x_range[0] + h, x_range[1] + h))
            segment = Signal(seg_bits, name=f"lane{k}_segment")
            # (q + h) // length for q in [-h, h); other codes do not use it
            m.d.comb += segment.eq(offset[len_bits:len_bits + seg_bits])
            slope = lane.wire("slope", a_table[segment], a_range)
            intercept = lane.wire("intercept", b_table[segment], b_range)
            s.append({"x": x, "slope": slope, "intercept": intercept})
        if p.pipeline >= 2:
            valid, s = self._stage(m, advance, "coef", valid, s)
        line_range = _product_range(a_range, x_range)
        line_range = (line_range[0] + b_range[0], line_range[1] + b_range[1])
        t = []
        for k, lane_s in enumerate(s):
            lane = _Lane(m, k)
            product = lane.wire("product", lane_s["slope"] * lane_s["x"],
                                _product_range(a_range, x_range))
            line = lane.wire("line", product + lane_s["intercept"], line_range)
            t.append({"x": lane_s["x"], "line": line})
        if p.pipeline >= 1:
            valid, t = self._stage(m, advance, "line", valid, t)
        out = []
        for k, lane_t in enumerate(t):
            lane, x = _Lane(m, k), lane_t["x"]
            line, r_line = lane.round_shift("line_rounded", lane_t["line"], line_range,
                                            p.in_frac + PWL_FRAC - p.out_frac)
            if h < 1 << (p.in_bits - 1):  # codes outside [-h, h) exist
                ident, r_ident = lane.round_shift("identity", x, x_range,
                                                  p.in_frac - p.out_frac)
                value = Mux(x < -h, 0, Mux(x >= h, ident, line))
                r = (min(0, r_ident[0], r_line[0]), max(0, r_ident[1], r_line[1]))
                line, r_line = lane.wire("selected", value, r), r
            out.append(lane.saturate("y", line, r_line, p.out_bits))
        return valid, out

    def _ibert(self, m, advance, valid, xs):
        p = self.params
        c = ibert_constants(p)
        b_int, c_int, one, mult, shift = (c[k] for k in ("b_int", "c_int", "one", "mult",
                                                         "shift"))
        x_range = (-(1 << (p.in_bits - 1)), (1 << (p.in_bits - 1)) - 1)
        # t = min(|q|, clip) - clip with clip = -b_int, so t*t = u*u for
        # u = max(clip - |q|, 0): two adders side by side and a clamp on the sign
        clip = -b_int
        u_range = (clip + x_range[0], clip)
        if u_range[0] < 0:
            u_range = (0, clip)
        sq_range = (u_range[0] ** 2, u_range[1] ** 2)
        # y + one = floor((sgn(q) * (t*t + c_int) + one * 2**14) / 2**14): for q > 0
        # one adder then the shift; for q < 0, floor(-w / 2**14) = ~((w - 1) >> 14)
        pos_bias = c_int + (one << IBERT_SHIFT)
        neg_bias = c_int - (one << IBERT_SHIFT) - 1
        pos_range = ((sq_range[0] + pos_bias) >> IBERT_SHIFT,
                     (sq_range[1] + pos_bias) >> IBERT_SHIFT)
        neg_range = (~((sq_range[1] + neg_bias) >> IBERT_SHIFT),
                     ~((sq_range[0] + neg_bias) >> IBERT_SHIFT))
        e_range = (min(pos_range[0], neg_range[0]), max(pos_range[1], neg_range[1]))
        xm_range = _product_range(x_range, (mult, mult))
        scaled_range = _product_range(xm_range, e_range)
        s = []
        for k, x in enumerate(xs):
            lane = _Lane(m, k)
            u_plus = lane.wire("clip_plus_x", clip + x, (clip + x_range[0], clip + x_range[1]))
            u_minus = lane.wire("clip_minus_x", clip - x,
                                (clip - x_range[1], clip - x_range[0]))
            u = lane.wire("clip_minus_mag", Mux(x < 0, u_plus, u_minus),
                          (clip + x_range[0], clip))
            if clip + x_range[0] < 0:  # |q| can pass the clip: u = max(u, 0)
                u = lane.wire("u", Mux(u[-1], 0, u), u_range)
            sq = lane.wire("square", u * u, sq_range)
            pos = lane.wire("erf_pos_sum", sq + pos_bias,
                            (sq_range[0] + pos_bias, sq_range[1] + pos_bias))
            neg = lane.wire("erf_neg_sum", sq + neg_bias,
                            (sq_range[0] + neg_bias, sq_range[1] + neg_bias))
            e_pos = lane.wire("erf_one_pos", pos >> IBERT_SHIFT, pos_range)
            e_neg = lane.wire("erf_one_neg", ~(neg >> IBERT_SHIFT), neg_range)
            # q = 0 takes e_pos, not y + one (sgn(0) = 0), but q * M = 0 there
            e = lane.wire("erf_one", Mux(x < 0, e_neg, e_pos), e_range)
            # q * M beside the polynomial: q * (y + one) * M as (q * M) * (y + one)
            xm = lane.wire("x_mult", x * mult, xm_range)
            s.append({"x_mult": xm, "erf_one": e})
        if p.pipeline >= 1:
            valid, s = self._stage(m, advance, "erf", valid, s)
        t = []
        for k, lane_s in enumerate(s):
            lane = _Lane(m, k)
            t.append({"scaled": lane.wire("scaled", lane_s["x_mult"] * lane_s["erf_one"],
                                          scaled_range)})
        if p.pipeline >= 2:
            valid, t = self._stage(m, advance, "product", valid, t)
        out = []
        for k, lane_t in enumerate(t):
            lane = _Lane(m, k)
            scaled = lane_t["scaled"]
            rounded, r = lane.round_shift("rounded", scaled, scaled_range, shift)
            out.append(lane.saturate("y", rounded, r, p.out_bits))
        return valid, out
