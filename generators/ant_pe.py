# SPDX-License-Identifier: BSD-2-Clause
"""ANT processing element: decode two codes in their tensors' run-time types,
multiply, shift, accumulate (streaming)."""

import dataclasses
from types import SimpleNamespace

from amaranth.hdl import Module, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from accelgen.hw.accumulate import overflow_accumulator
from accelgen.hw.formats import decode_typed, shifted_product
from accelgen.hw.multiply import narrow_product
from accelgen.hw.pipeline import register_stage
from accelgen.hw.stream import PIPELINE, pipeline_handshake
from accelgen.num.formats import AntFormat, TYPE_CODE, parse_types, format_types, KINDS
from accelgen.params import UnitParams, param, check_int, check_bool, require

__all__ = ["Params", "AntPE", "check_types"]


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
    pipeline: int = param(3, "register stages (0..3): 1 registers the shifted product, "
                             "2 also the decoded operands, 3 also the mantissa product "
                             "and shift amount (between multiplier and shifter)", abbr="p")

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
        check_int(self, "pipeline", min=0, max=3)

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


class AntPE(wiring.Component):
    """ANT processing element (Guo et al., MICRO 2022; docs/formats.md).

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

    Pipeline: stage by stage, the type decoders of both codes and the type
    selection; (cut 2) the decoded ``(exp, mant)`` pairs; the mantissa product
    and the shift amount ``ea + ew``; (cut 3) both registered; the
    ``acc_width``-wide shifter, its range check beside it; (cut 1) the shifted product;
    the accumulator. As nextpnr reports it on the ECP5 (``accelgen synth ant_pe
    --target ecp5 --pnr``), the critical path at the default ``pipeline=3``
    runs from the decoded-operand register through the multiplier into the
    mantissa-product register; at 2, from the decoded-operand register through
    the multiplier and the shifter into the product register; at 1, from the
    input through the decoders as well. Mantissas of at most 6 bits multiply
    in partial-product logic (:func:`accelgen.hw.multiply.narrow_product`, no
    DSP block); wider ones through ``*``, which synthesis maps to a DSP block.

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
        ea, ma, a_err = decode_typed(m, i.a, i.a_type, p.formats(p.a_signed), "a_")
        ew, mw, w_err = decode_typed(m, i.w, i.w_type, p.formats(p.w_signed), "w_")
        s = SimpleNamespace(valid=self.i.valid, last=i.last, error=a_err | w_err,
                            ea=ea, ma=ma, ew=ew, mw=mw)
        if p.pipeline >= 2:
            s = register_stage(m, advance, "decoded", **vars(s))
        shift = Signal(max(len(s.ea), len(s.ew)) + 1, name="shift")
        mant = Signal(signed(len(s.ma) + len(s.mw)), name="mant")
        m.d.comb += [shift.eq(s.ea + s.ew), mant.eq(narrow_product(s.ma, s.mw))]
        s = SimpleNamespace(valid=s.valid, last=s.last, error=s.error, mant=mant, shift=shift)
        if p.pipeline >= 3:
            s = register_stage(m, advance, "multiplied", **vars(s))
        value, out = shifted_product(m, s.mant, s.shift, p.acc_width, "product_")
        s = SimpleNamespace(valid=s.valid, last=s.last, error=s.error, value=value, out=out)
        if p.pipeline >= 1:
            s = register_stage(m, advance, "product", **vars(s))
        overflow_accumulator(m, self.o, values=[s.value], outs=[s.out], error=s.error,
                             valid=s.valid, last=s.last, advance=advance,
                             width=p.acc_width, error_field="type_error")
        return m
