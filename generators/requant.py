# SPDX-License-Identifier: BSD-2-Clause
"""Streaming requantizer: wide integer accumulators back to narrow codes by a dyadic
multiply and shift (gemmlowp/TFLite), or by shifts alone."""

import dataclasses

from amaranth.hdl import Module, Signal, Const, Mux, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from accelgen.consts.requant import MODES, DYADIC_MODES, dyadic_scale
from accelgen.hw.pipeline import register_stage
from accelgen.hw.stream import PIPELINE, pipeline_handshake
from accelgen.params import (UnitParams, param, check_int, check_bool, check_choice,
                             int_shape)

__all__ = ["Params", "Requant", "MODES"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class Params(UnitParams):
    """Parameters of :class:`Requant`."""

    unit = "requant"

    mode: str = param("gemmlowp", "'gemmlowp' (TFLite's MultiplyByQuantizedMultiplier: two "
                                  "roundings), 'even' or 'floor' (one rounding of x*M), "
                                  "'pot' (shift only) or 'apot' (sum of two shifts)", abbr="m")
    lanes: int = param(1, "values per beat (1..16)", abbr="l")
    in_bits: int = param(32, "input width, two's complement (2..32)", abbr="i")
    out_bits: int = param(8, "output width (2..16)", abbr="o")
    out_signed: bool = param(True, "outputs are two's complement (else unsigned)", abbr="os")
    mult_bits: int = param(32, "multiplier width (2..32): M is signed Q0.(mult_bits-1)",
                           abbr="mb")
    per_channel: bool = param(False, "M and the shifts travel with each beat, one per lane "
                                     "(else the multiplier/shift/shift2 parameters)",
                              abbr="pc")
    multiplier: int = param(1431655765, "per-tensor M (gemmlowp/even/floor): "
                                        "-2**(mult_bits-1) .. 2**(mult_bits-1) - 1",
                            abbr="mul")
    shift: int = param(16, "per-tensor right shift (negative: left shift), within "
                           "-2**(shift_bits-1) .. 2**(shift_bits-1) - 1", abbr="s")
    shift2: int = param(18, "apot, per tensor: the second shift (same range as shift)",
                        abbr="t")
    in_offset: int = param(0, "added to x before the multiply (in_bits range; the sum "
                              "saturates to in_bits)", abbr="io")
    zero_point: int = param(0, "output zero point, within the output range", abbr="zp")
    pipeline: int = param(5, "register cuts inside the datapath (0..5): 1 after the partial "
                             "products, 2 also after the rounding, 3 also after their sum, "
                             "4 also before the multipliers, 5 also between gemmlowp's two "
                             "roundings (other modes: before the rounding's increment)",
                          abbr="p")

    def __post_init__(self):
        check_choice(self, "mode", MODES)
        check_int(self, "lanes", min=1, max=16)
        check_int(self, "in_bits", min=2, max=32)
        check_int(self, "out_bits", min=2, max=16)
        check_bool(self, "out_signed")
        check_int(self, "mult_bits", min=2, max=32)
        check_bool(self, "per_channel")
        tensor = not self.per_channel
        lo, hi = -(1 << (self.mult_bits - 1)), (1 << (self.mult_bits - 1)) - 1
        if tensor and self.mode in DYADIC_MODES:
            check_int(self, "multiplier", min=lo, max=hi, when=f"mult_bits={self.mult_bits}")
        else:
            check_int(self, "multiplier")
        lo, hi = self.shift_range
        for name in ("shift", "shift2"):
            if tensor and (name == "shift" or self.mode == "apot"):
                check_int(self, name, min=lo, max=hi, when=f"in_bits={self.in_bits}")
            else:
                check_int(self, name)
        check_int(self, "in_offset", min=-(1 << (self.in_bits - 1)),
                  max=(1 << (self.in_bits - 1)) - 1, when=f"in_bits={self.in_bits}")
        lo, hi = self.out_range
        check_int(self, "zero_point", min=lo, max=hi,
                  when=f"out_bits={self.out_bits}, out_signed={self.out_signed}")
        check_int(self, "pipeline", min=0, max=5)

    @property
    def shift_bits(self):
        """Width of a shift field: ``bit_length(in_bits - 1) + 1`` bits, signed."""
        return (self.in_bits - 1).bit_length() + 1

    @property
    def shift_range(self):
        """``(lo, hi)`` of a shift: the range of a signed ``shift_bits`` field."""
        return -(1 << (self.shift_bits - 1)), (1 << (self.shift_bits - 1)) - 1

    @property
    def out_range(self):
        """``(lo, hi)`` of an output code."""
        if self.out_signed:
            return -(1 << (self.out_bits - 1)), (1 << (self.out_bits - 1)) - 1
        return 0, (1 << self.out_bits) - 1

    @property
    def dyadic(self):
        """The mode multiplies by ``M``."""
        return self.mode in DYADIC_MODES

    @property
    def latency(self):
        """Cycles from accepting a beat to its result on ``o``."""
        return 1 + self.pipeline

    @property
    def throughput(self):
        """Beats (``lanes`` values) accepted per cycle."""
        return 1

    def in_shape(self):
        return int_shape(self.in_bits, True)

    def out_shape(self):
        return int_shape(self.out_bits, self.out_signed)

    def mult_shape(self):
        return int_shape(self.mult_bits, True)

    def shift_shape(self):
        return int_shape(self.shift_bits, True)

    def stream_fields(self):
        """The per-channel fields of a beat besides ``x``: ``m`` (dyadic modes),
        ``shift``, and ``shift2`` (apot); none per tensor."""
        if not self.per_channel:
            return ()
        return (("m",) if self.dyadic else ()) + ("shift",) + \
            (("shift2",) if self.mode == "apot" else ())

    def input_layout(self):
        shapes = {"m": self.mult_shape(), "shift": self.shift_shape(),
                  "shift2": self.shift_shape()}
        fields = {"x": data.ArrayLayout(self.in_shape(), self.lanes)}
        for name in self.stream_fields():
            fields[name] = data.ArrayLayout(shapes[name], self.lanes)
        fields["last"] = 1
        return data.StructLayout(fields)

    def output_layout(self):
        return data.StructLayout({"y": data.ArrayLayout(self.out_shape(), self.lanes),
                                  "last": 1})

    def manifest_extra(self):
        lo, hi = self.out_range
        extra = {"mode": self.mode, "in_bits": self.in_bits, "out_bits": self.out_bits,
                 "out_signed": self.out_signed, "out_range": [lo, hi],
                 "in_offset": self.in_offset, "zero_point": self.zero_point,
                 "shift_range": list(self.shift_range),
                 "overflow": "outputs saturate to the out_bits range"}
        if self.dyadic:
            extra["mult_bits"] = self.mult_bits
        if self.per_channel:
            kinds = {"m": "m[k] (signed mult_bits, Q0.(mult_bits-1))",
                     "shift": "shift[k] (signed shift_bits, > 0 shifts right)",
                     "shift2": "shift2[k] (signed shift_bits)"}
            extra["scale"] = ("per channel: lane k of a beat uses "
                              + ", ".join(kinds[f] for f in self.stream_fields())
                              + "; the arrays follow x in this order, before last, "
                                "lane 0 in the low bits of each")
            extra["shift_bits"] = self.shift_bits
        elif self.dyadic:
            value = dyadic_scale(self.multiplier, self.shift, self.mult_bits)
            extra["scale"] = {"multiplier": self.multiplier, "shift": self.shift,
                              "value": f"{self.multiplier} * 2**-{self.mult_bits - 1} "
                                       f"* 2**{-self.shift}",
                              "float": float(value)}
        elif self.mode == "pot":
            extra["scale"] = {"shift": self.shift, "value": f"2**{-self.shift}"}
        else:
            extra["scale"] = {"shift": self.shift, "shift2": self.shift2,
                              "value": f"2**{-self.shift} + 2**{-self.shift2}"}
        return extra


def _wire(m, name, value, shape):
    sig = Signal(shape, name=name)
    m.d.comb += sig.eq(value)
    return sig


def _clamp(m, name, value, lo, hi, width, is_signed=True):
    """``value`` clamped to ``[lo, hi]`` (constants) in a ``width``-bit signal."""
    return _wire(m, name, Mux(value < lo, lo, Mux(value > hi, hi, value)),
                 int_shape(width, is_signed))


#: Operands wider than this are split for the FPGA's 18x18 signed multipliers.
_DSP_BITS = 18
_SPLIT = _DSP_BITS - 1


def _pieces(width):
    """``[(lo, hi, weight)]``: bit ranges of a ``width``-bit signed operand, the
    whole when it fits a DSP operand, else the low ``_SPLIT`` bits (unsigned,
    a signed operand one bit wider) and the signed rest."""
    if width <= _DSP_BITS:
        return [(0, width, 0)]
    return [(0, _SPLIT, 0), (_SPLIT, width, _SPLIT)]


def _part(value, lo, hi):
    part = value[lo:hi]
    return part.as_signed() if hi == len(value) else part.as_unsigned()


def _partial_products(a, b):
    """``[(a part, b part, weight)]`` with ``a * b = sum(a part * b part <<
    weight)``; each product fits one 18x18 signed multiplier."""
    return [(_part(a, a0, a1), _part(b, b0, b1), wa + wb)
            for a0, a1, wa in _pieces(len(a)) for b0, b1, wb in _pieces(len(b))]


def _weights(a_bits, b_bits):
    """The weights of :func:`_partial_products` for operand widths."""
    return [wa + wb for _, _, wa in _pieces(a_bits) for _, _, wb in _pieces(b_bits)]


def _round(m, name, value, position, rule):
    """``value / 2**position`` rounded by ``rule`` (``floor``; ``even``: halves to
    even; ``up``: halves toward +infinity; ``away``: halves away from zero), for a
    constant ``position >= 0``. The result is a signed signal one bit wider than
    ``value >> position`` (the increment may carry)."""
    return _add_parts(m, name, _round_parts(m, name, value, position, rule))


def _round_parts(m, name, value, position, rule):
    """:func:`_round` before its sum: ``{"floor": value >> position, "inc": 0 or
    1}`` (the whole ``value`` and 0 when ``position == 0``)."""
    width = len(value)
    if position == 0:
        return {"floor": value, "inc": Const(0, 1)}
    if position >= width:
        # every bit is below the point: floor is 0 or -1
        value = _wire(m, f"{name}_ext", value, signed(position + 1))
        width = position + 1
    floor = _wire(m, f"{name}_floor", value[position:].as_signed(), signed(width - position))
    half = value[position - 1]
    rest = value[:position - 1].any() if position >= 2 else Const(0, 1)
    negative = floor[-1]
    inc = {"floor": Const(0, 1), "even": half & (rest | floor[0]), "up": half,
           "away": half & (rest | ~negative)}[rule]
    return {"floor": floor, "inc": _wire(m, f"{name}_inc", inc, unsigned(1))}


def _add_parts(m, name, parts):
    """``floor + inc`` of :func:`_round_parts`, one bit wider than ``floor``."""
    floor = parts["floor"]
    if isinstance(parts["inc"], Const) and parts["inc"].value == 0:
        return floor
    return _wire(m, f"{name}_rounded", floor + parts["inc"], signed(len(floor) + 1))


class Requant(wiring.Component):
    """Streaming requantizer (docs/requant.md): ``lanes`` values a beat,
    ``y = saturate(round(x' * M * 2**-(mult_bits-1) * 2**-shift) + zero_point)``
    with ``x' = saturate_in_bits(x + in_offset)``.

    Each beat on ``i`` carries ``lanes`` signed ``in_bits`` values ``x`` (lane 0
    in the low bits), per channel the scale fields of each lane (``m``, signed
    ``mult_bits``; ``shift`` and, for ``apot``, ``shift2``, signed
    ``shift_bits``), and ``last``, which comes out unchanged with the beat's
    results. Per tensor the scale is the ``multiplier``/``shift``/``shift2``
    parameters. A shift ``s > 0`` divides by ``2**s``, ``s < 0`` multiplies by
    ``2**-s``. Rounding by ``mode``:

    * ``gemmlowp``: TFLite's ``MultiplyByQuantizedMultiplier``:
      ``RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x' * 2**l, M), r)``
      with ``l = max(-shift, 0)``, ``r = max(shift, 0)``; the high multiply
      rounds ``x'' * M / 2**(mult_bits-1)`` with halves toward +infinity (its
      nudge) and saturates the single overflow ``x'' = M = min`` to the
      ``in_bits`` maximum; ``x' * 2**l`` saturates to ``in_bits``; the divide
      rounds halves away from zero. Two roundings.
    * ``even`` / ``floor``: one rounding of the exact ``x' * M *
      2**-(mult_bits-1+shift)``, halves to even / toward -infinity.
    * ``pot``: ``x' * 2**-shift``; ``apot``: ``x' * (2**-shift + 2**-shift2)``;
      one rounding, halves to even; ``M`` is not used.

    Overflow: saturates to the ``out_bits`` range (signed or unsigned) after
    the zero point is added; nothing inside wraps: every intermediate is as
    wide as its range, ``x + in_offset`` and gemmlowp's left shift saturate to
    ``in_bits`` and its high multiply saturates its one overflow case, as in
    gemmlowp.

    Timing: one beat per cycle when ``o`` is not stalled; results are valid
    ``latency = 1 + pipeline`` cycles after the beat is taken. Operands wider
    than 18 bits are split so that each partial product fits an 18x18 DSP
    multiplier. Register cuts: ``pipeline >= 1`` after the partial products
    (``pot``/``apot``: the shifted values), ``>= 2`` also after the rounding
    (before the zero point and saturation), ``>= 3`` also after the sum of the
    partial products, ``>= 4`` also before the multipliers (after the offset and
    the left shift), ``5`` (the default) also between the high multiply's
    rounding and the divide's (``gemmlowp``) or, in the modes that round once,
    between the rounding's floor and increment and their sum. The pipeline stalls as a whole while
    ``o.valid & ~o.ready``; ``i.ready = ~o.valid | o.ready``. Synchronous reset
    drops every beat in flight.

    Parameters
    ----------
    params : Params

    Members
    -------
    i : In(stream.Signature(Params.input_layout()))
    o : Out(stream.Signature(Params.output_layout()))
        ``y`` (``lanes`` codes of ``out_bits``) and ``last``.
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

        lanes = []
        for k in range(p.lanes):
            lane = {"x": self._offset(m, k, i.x[k])}
            for name in p.stream_fields():
                lane[name] = i[name][k]
            if p.mode == "gemmlowp":
                lane = self._left_shift(m, k, lane)
            lanes.append(lane)
        valid, last = self.i.valid, i.last
        if p.pipeline >= 4:
            valid, last, lanes = self._stage(m, advance, "operand", valid, last, lanes)
        lanes = [self._multiply(m, k, lane) for k, lane in enumerate(lanes)]
        if p.pipeline >= 1:
            valid, last, lanes = self._stage(m, advance, "partial", valid, last, lanes)
        lanes = [self._sum(m, k, lane) for k, lane in enumerate(lanes)]
        if p.pipeline >= 3:
            valid, last, lanes = self._stage(m, advance, "product", valid, last, lanes)
        if p.mode == "gemmlowp":
            lanes = [self._high_multiply(m, k, lane) for k, lane in enumerate(lanes)]
            if p.pipeline >= 5:
                valid, last, lanes = self._stage(m, advance, "high", valid, last, lanes)
        if p.mode == "gemmlowp" or p.pipeline < 5:
            lanes = [{"q": self._rounding(m, k, lane)} for k, lane in enumerate(lanes)]
        else:
            lanes = [self._rounding(m, k, lane, parts=True) for k, lane in enumerate(lanes)]
            valid, last, lanes = self._stage(m, advance, "halves", valid, last, lanes)
            lanes = [{"q": _add_parts(m, f"lane{k}", lane)} for k, lane in enumerate(lanes)]
        if p.pipeline >= 2:
            valid, last, lanes = self._stage(m, advance, "rounded", valid, last, lanes)
        lo, hi = p.out_range
        with m.If(advance):
            m.d.sync += [self.o.valid.eq(valid), self.o.payload.last.eq(last)]
            for k, lane in enumerate(lanes):
                q = lane["q"]
                z = _wire(m, f"lane{k}_z", q + p.zero_point,
                          signed(max(len(q), p.out_bits + 1) + 1))
                y = _clamp(m, f"lane{k}_y", z, lo, hi, p.out_bits + 1)
                m.d.sync += self.o.payload.y[k].eq(y)
        return m

    @staticmethod
    def _stage(m, advance, name, valid, last, lanes):
        """A register stage of ``valid``, ``last`` and the per-lane values."""
        flat = {f"{key}{k}": v for k, lane in enumerate(lanes) for key, v in lane.items()}
        s = register_stage(m, advance, name, valid=valid, last=last, **flat)
        return s.valid, s.last, [{key: s[f"{key}{k}"] for key in lane}
                                 for k, lane in enumerate(lanes)]

    def _offset(self, m, k, x):
        """``x + in_offset`` saturated to ``in_bits``."""
        p = self.params
        if p.in_offset == 0:
            return x
        total = _wire(m, f"lane{k}_biased", x + p.in_offset, signed(p.in_bits + 1))
        return _clamp(m, f"lane{k}_xo", total, -(1 << (p.in_bits - 1)),
                      (1 << (p.in_bits - 1)) - 1, p.in_bits)

    def _left_shift(self, m, k, lane):
        """gemmlowp: ``x' * 2**max(-shift, 0)`` saturated to ``in_bits``; the
        shift field is replaced by the right shift ``max(shift, 0)``."""
        p = self.params
        x, lo, hi = lane["x"], -(1 << (p.in_bits - 1)), (1 << (p.in_bits - 1)) - 1
        if not p.per_channel:
            left = max(-p.shift, 0)
            if left:
                wide = _wire(m, f"lane{k}_xl", x << left, signed(p.in_bits + left))
                lane["x"] = _clamp(m, f"lane{k}_xs", wide, lo, hi, p.in_bits)
            return lane
        s = lane["shift"]
        negative = s[-1]
        left = _wire(m, f"lane{k}_left", Mux(negative, -s, 0), unsigned(p.shift_bits))
        right = _wire(m, f"lane{k}_right", Mux(negative, 0, s), unsigned(p.shift_bits - 1))
        wide = _wire(m, f"lane{k}_xl", x << left, signed(p.in_bits + (1 << (p.shift_bits - 1))))
        lane["x"] = _clamp(m, f"lane{k}_xs", wide, lo, hi, p.in_bits)
        lane["shift"] = right
        return lane

    def _multiply(self, m, k, lane):
        """The product ``x' * M`` (dyadic modes; gemmlowp adds the overflow flag)
        or, for ``pot``/``apot``, the shifted value(s) over a common point."""
        p = self.params
        x = lane.pop("x")
        if p.dyadic:
            mult = lane.pop("m") if p.per_channel else Const(p.multiplier, p.mult_shape())
            if p.mode == "gemmlowp":
                lane["overflow"] = _wire(
                    m, f"lane{k}_overflow",
                    (x == -(1 << (p.in_bits - 1))) & (mult == -(1 << (p.mult_bits - 1))),
                    unsigned(1))
            for j, (a, b, _weight) in enumerate(_partial_products(x, mult)):
                # one bit more than the operands: the unsigned x unsigned product
                # of two low parts needs it as a signed value
                lane[f"pp{j}"] = _wire(m, f"lane{k}_pp{j}", a * b,
                                       signed(len(a) + len(b) + 1))
            return lane
        lo, hi = p.shift_range
        if not p.per_channel:
            shifts = [p.shift] + ([p.shift2] if p.mode == "apot" else [])
            point = max(0, *shifts)
            terms = [x << (point - s) for s in shifts]
            width = p.in_bits + point - min(shifts) + 1
        else:
            names = ["shift"] + (["shift2"] if p.mode == "apot" else [])
            terms = []
            for name in names:
                amount = _wire(m, f"lane{k}_{name}_up", hi - lane.pop(name),
                               unsigned(p.shift_bits))
                terms.append(x << amount)
            width = p.in_bits + hi - lo + 1
        total = terms[0] if len(terms) == 1 else terms[0] + terms[1]
        lane["sum"] = _wire(m, f"lane{k}_sum", total, signed(width))
        return lane

    def _sum(self, m, k, lane):
        """The product ``x' * M`` from its partial products (dyadic modes)."""
        p = self.params
        if not p.dyadic:
            return lane
        weights = _weights(p.in_bits, p.mult_bits)
        terms = [lane.pop(f"pp{j}") << w for j, w in enumerate(weights)]
        total = terms[0]
        for term in terms[1:]:
            total = total + term
        lane["product"] = _wire(m, f"lane{k}_product", total,
                                signed(p.in_bits + p.mult_bits))
        return lane

    def _high_multiply(self, m, k, lane):
        """gemmlowp's ``SaturatingRoundingDoublingHighMul``: the product rounded
        to its high half (halves toward +infinity), its one overflow saturated;
        the lane keeps ``high`` and, per channel, the right shift."""
        p = self.params
        high = _round(m, f"lane{k}_high", lane.pop("product"), p.mult_bits - 1, "up")
        lane["high"] = _wire(m, f"lane{k}_srdhm",
                             Mux(lane.pop("overflow"), (1 << (p.in_bits - 1)) - 1, high),
                             signed(p.in_bits))
        return lane

    def _rounding(self, m, k, lane, parts=False):
        """The rounded, unsaturated result (before the zero point); with ``parts``
        (the modes that round once), its floor and increment before their sum."""
        rnd = _round_parts if parts else _round
        p = self.params
        lo, hi = p.shift_range
        name = f"lane{k}"
        if p.mode == "gemmlowp":
            h = lane["high"]
            if not p.per_channel:
                return _round(m, f"{name}_div", h, max(p.shift, 0), "away")
            right = lane["shift"]
            up = _wire(m, f"{name}_div_up", hi - right, unsigned(p.shift_bits - 1))
            wide = _wire(m, f"{name}_div_in", h << up, signed(p.in_bits + hi))
            return _round(m, f"{name}_div", wide, hi, "away")
        if p.dyadic:
            product = lane["product"]
            if not p.per_channel:
                point = p.mult_bits - 1 + p.shift
                if point < 0:
                    up = _wire(m, f"{name}_up", product << -point,
                               signed(len(product) - point))
                    return {"floor": up, "inc": Const(0, 1)} if parts else up
                return rnd(m, name, product, point, p.mode)
            amount = _wire(m, f"{name}_up_by", hi - lane["shift"], unsigned(p.shift_bits))
            wide = _wire(m, f"{name}_aligned", product << amount,
                         signed(len(product) + hi - lo))
            return rnd(m, name, wide, p.mult_bits - 1 + hi, p.mode)
        if not p.per_channel:
            shifts = [p.shift] + ([p.shift2] if p.mode == "apot" else [])
            point = max(0, *shifts)
        else:
            point = hi
        return rnd(m, name, lane["sum"], point, "even")
