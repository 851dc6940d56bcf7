# SPDX-License-Identifier: BSD-2-Clause
"""ANT processing element: decode two codes in their tensors' run-time types,
multiply, shift, accumulate (streaming)."""

import dataclasses

from amaranth.hdl import Module, Signal, Mux, Cat, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from accelgen.num.formats import AntFormat, TYPE_CODE, parse_types, format_types, KINDS
from accelgen.generators.ant_decoder import decode_ant
from accelgen.params import UnitParams, param, check_int, check_bool, require
from accelgen.hw.pipeline import pipeline_stage

__all__ = ["Params", "AntPE", "decode_typed", "shifted_product", "Accumulator",
           "check_types"]


def check_types(params, name="types"):
    """Validate and canonicalize a ``types`` parameter (code order)."""
    text = getattr(params, name)
    if not isinstance(text, str):
        raise TypeError(f"{params.unit} {name} must be a string, not {text!r}")
    try:
        kinds = parse_types(text)
    except ValueError:
        raise ValueError(f"{params.unit} {name} must be a comma-separated list of "
                         f"{', '.join(KINDS)}, not {text!r}") from None
    params._set(name, format_types(kinds))


@dataclasses.dataclass(frozen=True, kw_only=True)
class Params(UnitParams):
    """Parameters of :class:`AntPE`."""

    unit = "ant_pe"

    bits: int = param(4, "code width of both operands (4..8)", abbr="n")
    a_signed: bool = param(False, "activation codes are signed (int: two's complement; "
                                  "others: sign-magnitude)", abbr="as")
    w_signed: bool = param(True, "weight codes are signed", abbr="ws")
    types: str = param("int,pot,float,flint", "types built, selectable per tensor at run "
                                              "time (codes: int 0, pot 1, float 2, flint 3)",
                       abbr="t")
    float_exp: int = param(3, "exponent bits of the float type (1 .. magnitude bits)",
                           abbr="fe")
    acc_width: int = param(32, "accumulator and result width, two's complement (16..48)",
                           abbr="acc")
    pipeline: int = param(1, "register stages (0..2): 1 registers the shifted product, "
                             "2 also the decoded operands", abbr="p")

    def __post_init__(self):
        check_int(self, "bits", min=4, max=8)
        check_bool(self, "a_signed")
        check_bool(self, "w_signed")
        check_types(self)
        magnitude = self.bits - 1 if (self.a_signed or self.w_signed) else self.bits
        if "float" in self.kinds:
            check_int(self, "float_exp", min=1, max=magnitude,
                      when=f"{self.bits}-bit {'signed' if magnitude < self.bits else 'unsigned'}"
                           f" floats ({magnitude} magnitude bits)")
        else:
            check_int(self, "float_exp", min=1)
            require(self, self.float_exp == 3,
                    f"float_exp applies only when types include float; leave it at 3, "
                    f"not {self.float_exp}")
        check_int(self, "acc_width", min=16, max=48)
        check_int(self, "pipeline", min=0, max=2)

    @property
    def kinds(self):
        return parse_types(self.types)

    def formats(self, signed):
        return [AntFormat(k, self.bits, signed, self.float_exp) for k in self.kinds]

    @property
    def latency(self):
        """Cycles from accepting a packet's last beat to its result on ``o``."""
        return 1 + self.pipeline

    @property
    def throughput(self):
        return 1

    def input_layout(self):
        return data.StructLayout({"a": self.bits, "w": self.bits, "a_type": 2,
                                  "w_type": 2, "last": 1})

    def output_layout(self):
        return data.StructLayout({"acc": signed(self.acc_width), "overflow": 1,
                                  "type_error": 1})

    def manifest_extra(self):
        return {"type_codes": {str(TYPE_CODE[k]): k for k in KINDS},
                "types": list(self.kinds),
                "a_formats": [f.name for f in self.formats(self.a_signed)],
                "w_formats": [f.name for f in self.formats(self.w_signed)]}


def decode_typed(m, code, type_code, formats, prefix):
    """Decoders for every format of ``formats`` and a selection by the run-time
    ``type_code``: ``(exp, mant, error)``; an unbuilt type gives 0 and ``error``."""
    exp = Signal(range(max(f.exp_max for f in formats) + 1), name=f"{prefix}exp")
    mant = Signal(signed(max(f.mant_width for f in formats)), name=f"{prefix}mant")
    error = Signal(name=f"{prefix}type_error")
    decoded = {f.kind: decode_ant(m, code, f, f"{prefix}{f.kind}_") for f in formats}
    with m.Switch(type_code):
        for kind, (e, v) in decoded.items():
            with m.Case(TYPE_CODE[kind]):
                m.d.comb += [exp.eq(e), mant.eq(v), error.eq(0)]
        with m.Default():
            m.d.comb += [exp.eq(0), mant.eq(0), error.eq(1)]
    return exp, mant, error


def shifted_product(m, mant, shift, width, prefix):
    """``(mant << shift)`` reduced to ``signed(width)`` and its out-of-range flag
    (the exact value does not fit ``width`` bits). Shifts of ``width`` or more
    give 0 (and the flag unless ``mant == 0``); the shifter is ``width`` wide."""
    value = Signal(signed(width), name=f"{prefix}value")
    out = Signal(name=f"{prefix}out_of_range")
    k = (width - 1).bit_length()
    amount = shift[:k] if len(shift) >= k else shift
    wide = Signal(signed(max(len(mant) + (1 << len(amount)) - 1, width + 1)),
                  name=f"{prefix}shifted")
    m.d.comb += wide.eq(mant << amount)
    top = wide[width - 1:]
    fits = (top == 0) | (top == (1 << len(top)) - 1)
    big = (shift >= width) if (1 << len(shift)) > width else 0
    m.d.comb += [value.eq(Mux(big, 0, wide[:width])),
                 out.eq(Mux(big, mant != 0, ~fits))]
    return value, out


class Accumulator:
    """The accumulator of ``ant_pe`` and ``olive_pe``, built inline: adds a beat's
    products (already reduced to ``width`` bits, with out-of-range flags) to a
    ``width``-bit two's-complement register, flags ``overflow`` when a product,
    the beat's sum or the running sum leaves the range, collects ``error``, and
    on ``last`` writes ``{acc, overflow, <error_field>}`` to stream ``o`` (no error
    field when ``error_field`` is ``None``)."""

    def __init__(self, m, o, *, values, outs, valid, last, advance, width, error=0,
                 error_field=None):
        acc = Signal(signed(width), name="acc")
        overflow = Signal(name="acc_overflow")
        step = Signal(signed(width + 1), name="step")
        step_w = Signal(signed(width), name="step_wrapped")
        total = Signal(signed(width + 1), name="total")
        beat_out = Signal(name="beat_out_of_range")
        result = Signal(signed(width), name="result")
        m.d.comb += [
            step.eq(sum(values[1:], values[0])),
            step_w.eq(step[:width]),
            total.eq(acc + step_w),
            result.eq(total[:width]),
            beat_out.eq(Cat(*outs).any() | (step[width] != step[width - 1]) |
                        (total[width] != total[width - 1])),
        ]
        clear, keep = [acc.eq(0), overflow.eq(0)], [acc.eq(result),
                                                   overflow.eq(overflow | beat_out)]
        final = [o.payload.acc.eq(result), o.payload.overflow.eq(overflow | beat_out)]
        if error_field is not None:
            flagged = Signal(name="acc_error")
            clear.append(flagged.eq(0))
            keep.append(flagged.eq(flagged | error))
            final.append(getattr(o.payload, error_field).eq(flagged | error))
        with m.If(advance):
            m.d.sync += o.valid.eq(valid & last)
            with m.If(valid & last):
                m.d.sync += final + clear
            with m.Elif(valid):
                m.d.sync += keep


class AntPE(wiring.Component):
    """ANT processing element (Guo et al., MICRO 2022; SPEC §2).

    Each beat on ``i`` carries an activation code ``a`` and a weight code ``w``
    (``bits`` each), their types ``a_type``/``w_type`` (0 int, 1 pot, 2 float, 3
    flint: ANT picks one type per tensor, so these normally stay fixed for a
    whole packet, but any beat may change them) and ``last``. Both codes are
    decoded to ``(exp, mant)`` (``ant_decoder``'s formats; signedness fixed by
    ``a_signed``/``w_signed``); the product ``(ma * mw) << (ea + ew)`` is added to
    an ``acc_width``-bit two's-complement accumulator.

    For every packet (beats up to one with ``last``) one beat leaves on ``o``:
    ``acc``, ``overflow`` (a product, a running sum, or — never with one product
    per beat — a beat sum, was outside the accumulator range; ``acc`` is then the
    exact sum modulo ``2**acc_width``) and ``type_error`` (some beat used a type
    not in ``types``; that beat added 0).

    Overflow: flagged and wrapped, never saturated. The product is formed by an
    ``acc_width``-wide shifter, so it is kept modulo ``2**acc_width`` (a shift of
    ``acc_width`` or more gives 0), and so are the beat sum and the running sum;
    ``overflow`` is set on the packet when the exact product (0 for a zero
    mantissa, whatever the shift), beat sum or running sum was outside
    ``-2**(acc_width-1) .. 2**(acc_width-1)-1``. ``acc`` is always the exact sum
    modulo ``2**acc_width``; a sum landing exactly on a bound does not set the
    flag.

    Timing: one beat per cycle; the result is valid ``latency = 1 + pipeline``
    cycles after the edge that accepts the last beat. The pipeline stalls as a
    whole while ``o.valid & ~o.ready``; ``i.ready = ~o.valid | o.ready``.
    Synchronous reset discards the accumulator and in-flight beats.

    Members
    -------
    i : In(stream.Signature(Params.input_layout()))
    o : Out(stream.Signature(Params.output_layout()))
    """

    def __init__(self, params=None):
        self.params = params = Params.ensure(params, self)
        super().__init__({
            "i": In(stream.Signature(params.input_layout())),
            "o": Out(stream.Signature(params.output_layout())),
        })

    def elaborate(self, platform):
        p = self.params
        m = Module()
        advance = Signal()
        m.d.comb += [advance.eq(~self.o.valid | self.o.ready), self.i.ready.eq(advance)]

        i = self.i.payload
        ea, ma, a_err = decode_typed(m, i.a, i.a_type, p.formats(p.a_signed), "a_")
        ew, mw, w_err = decode_typed(m, i.w, i.w_type, p.formats(p.w_signed), "w_")
        s = dict(valid=self.i.valid, last=i.last, error=a_err | w_err,
                 ea=ea, ma=ma, ew=ew, mw=mw)
        if p.pipeline >= 2:
            s = pipeline_stage(m, advance, "decoded", **s)
        shift = Signal(max(len(s["ea"]), len(s["ew"])) + 1, name="shift")
        m.d.comb += shift.eq(s["ea"] + s["ew"])
        value, out = shifted_product(m, s["ma"] * s["mw"], shift, p.acc_width, "product_")
        s = dict(valid=s["valid"], last=s["last"], error=s["error"], value=value, out=out)
        if p.pipeline >= 1:
            s = pipeline_stage(m, advance, "product", **s)
        Accumulator(m, self.o, values=[s["value"]], outs=[s["out"]], error=s["error"],
                    valid=s["valid"], last=s["last"], advance=advance,
                    width=p.acc_width, error_field="type_error")
        return m
