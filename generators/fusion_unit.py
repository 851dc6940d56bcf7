# SPDX-License-Identifier: BSD-2-Clause
"""BitFusion Fusion Unit: 16 BitBricks and a shift-add tree with run-time precision."""

import dataclasses
import functools
import operator

from amaranth.hdl import Module, Signal, Cat, Mux, signed, unsigned
from amaranth.lib import data, enum, stream, wiring
from amaranth.lib.wiring import In, Out

from accelgen.generators.bitbrick import brick_product
from accelgen.params import UnitParams, param, check_int, check_bool

__all__ = ["Precision", "PRECISION_BITS", "ALL_MODES", "parse_modes", "check_modes", "Params",
           "FusionStep", "FusionUnit", "STEP_WIDTH", "OPERAND_BITS", "BRICKS"]

BRICKS = 16
OPERAND_BITS = 32       # width of the packed activation word and of the weight word
STEP_WIDTH = 18         # holds every partial sum of one step: |sum| <= 9 * 85**2 = 65025


class Precision(enum.Enum, shape=2):
    """Run-time operand width code. Code 3 is not a precision (the step reads 0 and
    the result's ``mode_error`` flag is set)."""
    W2 = 0
    W4 = 1
    W8 = 2


PRECISION_BITS = {Precision.W2: 2, Precision.W4: 4, Precision.W8: 8}
_CODE = {bits: code for code, bits in PRECISION_BITS.items()}
ALL_MODES = tuple((wa, ww) for wa in (8, 4, 2) for ww in (8, 4, 2))


def parse_modes(text):
    """``(wa, ww)`` pairs of a ``modes`` string (``"all"`` or ``"8x8,4x4"``), canonical
    order (wider first); ``ValueError`` for anything else."""
    if text == "all":
        return ALL_MODES
    pairs = set()
    for item in text.split(","):
        wa, sep, ww = item.strip().partition("x")
        if not sep or wa not in ("2", "4", "8") or ww not in ("2", "4", "8"):
            raise ValueError(item)
        pairs.add((int(wa), int(ww)))
    return tuple(mode for mode in ALL_MODES if mode in pairs)


def format_modes(modes):
    return "all" if tuple(modes) == ALL_MODES else ",".join(f"{a}x{w}" for a, w in modes)


def check_modes(params, name="modes"):
    """Validate and canonicalize a ``modes`` parameter (``TypeError``/``ValueError``
    naming the unit and parameter), for every unit built from Fusion Units."""
    text = getattr(params, name)
    if not isinstance(text, str):
        raise TypeError(f"{params.unit} {name} must be a string, not {text!r}")
    try:
        modes = parse_modes(text)
    except ValueError:
        raise ValueError(f"{params.unit} {name} must be 'all' or a comma-separated list of "
                         f"AxW with A and W from 2, 4, 8 (e.g. '8x8,4x4'), "
                         f"not {text!r}") from None
    params._set(name, format_modes(modes))


@dataclasses.dataclass(frozen=True, kw_only=True)
class Params(UnitParams):
    """Parameters of :class:`FusionUnit`."""

    unit = "fusion_unit"

    acc_width: int = param(32, "accumulator and result width, two's complement (18..48)",
                           abbr="acc")
    pipeline: int = param(1, "register stages in the shift-add tree (0..3): 1 cuts after "
                             "the second adder level, 2 after the first and the last, 3 "
                             "after the BitBricks, the second and the last", abbr="p")
    modes: str = param("all", "run-time precision modes built, 'all' or a list of "
                              "AxW with A, W in 2, 4, 8 (e.g. '8x8,4x4')", abbr="m")
    saturate: bool = param(False, "clamp the accumulator at its range (else wrap)",
                           abbr="sat")

    def __post_init__(self):
        check_int(self, "acc_width", min=STEP_WIDTH, max=48)
        check_int(self, "pipeline", min=0, max=3)
        check_bool(self, "saturate")
        check_modes(self)

    @property
    def mode_set(self):
        """The ``(wa, ww)`` pairs built, wider first."""
        return parse_modes(self.modes)

    @property
    def latency(self):
        """Cycles from accepting a packet's last beat to its result on ``o``."""
        return 1 + self.pipeline

    @property
    def throughput(self):
        """Input beats accepted per cycle (without backpressure)."""
        return 1

    def input_layout(self):
        return data.StructLayout({
            "a": unsigned(OPERAND_BITS), "w": unsigned(OPERAND_BITS),
            "a_prec": Precision, "w_prec": Precision,
            "a_signed": 1, "w_signed": 1, "last": 1})

    def output_layout(self):
        return data.StructLayout({
            "acc": signed(self.acc_width), "overflow": 1, "mode_error": 1})

    def manifest_extra(self):
        return {
            "precision_codes": {str(c.value): bits for c, bits in PRECISION_BITS.items()},
            "modes": [f"{wa}x{ww}" for wa, ww in self.mode_set],
            "products_per_beat": {f"{wa}x{ww}": (8 // wa) * (8 // ww)
                                  for wa, ww in self.mode_set},
            "packing": "product k of a beat uses a[k*wa +: wa] and w[k*ww +: ww], "
                       "k = 0 .. (8/wa)*(8/ww) - 1; elements are two's complement "
                       "when the beat's a_signed / w_signed is set",
        }


# Tree layers: 0 is the shifted BitBrick products (16 terms), 1..4 the adder levels.
PIPELINE_CUTS = {0: (), 1: (2,), 2: (1, 4), 3: (0, 2, 4)}


def brick_role(brick, wa, ww):
    """``(a_digit, w_digit, a_top, w_top, shift)`` of BitBrick ``brick`` in mode wa x ww.

    Product ``k`` uses bricks ``k*q .. k*q + q - 1`` with ``q = (wa/2)*(ww/2)``; brick
    ``k*q + i*(ww/2) + j`` multiplies digit ``i`` of activation ``k`` by digit ``j`` of
    weight ``k`` and is shifted by ``2*(i + j)``. ``a_top`` / ``w_top``: the digit is
    its operand's most significant one (signed when the operand is).
    """
    da, dw = wa // 2, ww // 2
    k, r = divmod(brick, da * dw)
    i, j = divmod(r, dw)
    return k * da + i, k * dw + j, i == da - 1, j == dw - 1, 2 * (i + j)


class FusionStep:
    """One step of a Fusion Unit, built inline into a module: the exact sum of a
    beat's products in ``signed(STEP_WIDTH)``, optionally pipelined.

    ``FusionStep(m, operands, modes=..., pipeline=..., en=..., side=..., prefix=...)``
    adds the logic to module ``m``; ``operands`` has the fields ``a``, ``w``,
    ``a_prec``, ``w_prec``, ``a_signed``, ``w_signed`` (an input payload view).
    Results: ``step``, ``mode_error`` (the precision pair is not in ``modes``, or
    code 3; ``step`` is then 0) and ``side``, a value that travels through the same
    ``pipeline`` registers as the operands so that it stays aligned with ``step``.
    Registers load when ``en`` is high. Used by :class:`FusionUnit` and by every
    processing element of ``bitfusion_array``; inlining keeps each unit one module.
    """

    def __init__(self, m, operands, *, modes=ALL_MODES, pipeline=0, en=1, side=None,
                 prefix=""):
        self.m, self.en, self.prefix = m, en, prefix
        cuts = PIPELINE_CUTS[pipeline]
        selected = {}
        for wa, ww in modes:
            sel = selected[wa, ww] = Signal(name=f"{prefix}mode_{wa}x{ww}")
            m.d.comb += sel.eq((operands.a_prec == _CODE[wa]) &
                               (operands.w_prec == _CODE[ww]))
        supported = Cat(*selected.values()).any() if selected else 0

        layer = [self._term(b, operands, selected) for b in range(BRICKS)]
        side = Signal(0) if side is None else side
        error = Signal(name=f"{prefix}unsupported")
        m.d.comb += error.eq(~supported)
        for level in range(5):
            if level > 0:
                layer = [self._add(x, y, f"sum{level}_{n}")
                         for n, (x, y) in enumerate(zip(layer[::2], layer[1::2]))]
            if level in cuts:
                layer, side, error = self._register(f"l{level}", layer, side, error)
        self.step, self.mode_error, self.side = layer[0], error, side

    def _term(self, b, operands, selected):
        """BitBrick ``b``'s product, shifted into place for the selected mode.

        Each input of the brick is an AND-OR selection over the distinct sources
        the built modes give it (modes are one-hot, so at most one term is live).
        """
        m, prefix = self.m, self.prefix
        sources = {"x": {}, "y": {}, "sx": {}, "sy": {}, "shift": {}}
        for mode, sel in selected.items():
            a_d, w_d, a_top, w_top, shift = brick_role(b, *mode)
            for key, source in (("x", a_d), ("y", w_d), ("sx", a_top), ("sy", w_top),
                                ("shift", shift)):
                sources[key].setdefault(source, []).append(sel)

        def pick(key, value_of, shape, name=None):
            out = Signal(shape, name=f"{prefix}{name or key}{b}")
            terms = [Mux(Cat(*sels).any(), value_of(source), 0)
                     for source, sels in sources[key].items()]
            m.d.comb += out.eq(functools.reduce(operator.or_, terms, 0))
            return out

        x = pick("x", lambda d: operands.a[2 * d:2 * d + 2], 2)
        y = pick("y", lambda d: operands.w[2 * d:2 * d + 2], 2)
        sx = pick("sx", lambda top: operands.a_signed if top else 0, 1)
        sy = pick("sy", lambda top: operands.w_signed if top else 0, 1)
        product = Signal(signed(6), name=f"{prefix}brick{b}")
        m.d.comb += product.eq(brick_product(x, y, sx, sy))
        return pick("shift", lambda shift: product << shift, signed(STEP_WIDTH), "term")

    def _add(self, x, y, name):
        total = Signal(signed(STEP_WIDTH), name=f"{self.prefix}{name}")
        self.m.d.comb += total.eq(x + y)
        return total

    def _register(self, name, layer, side, error):
        m, prefix = self.m, self.prefix
        regs = [Signal.like(v, name=f"{prefix}{name}_{n}") for n, v in enumerate(layer)]
        side_r = Signal.like(side, name=f"{prefix}{name}_side")
        error_r = Signal(name=f"{prefix}{name}_unsupported")
        with m.If(self.en):
            m.d.sync += [r.eq(v) for r, v in zip(regs, layer)]
            m.d.sync += [side_r.eq(side), error_r.eq(error)]
        return regs, side_r, error_r


class FusionUnit(wiring.Component):
    """BitFusion Fusion Unit (Sharma et al., ISCA 2018): a streaming dot-product
    accumulator whose operand precision is chosen per beat.

    Each beat on ``i`` carries a packed activation word ``a`` and weight word ``w``
    (32 bits each), their precision codes ``a_prec``/``w_prec`` (:class:`Precision`:
    0 = 2-bit, 1 = 4-bit, 2 = 8-bit), their signedness ``a_signed``/``w_signed`` and
    ``last``. In mode ``wa x ww`` the beat holds ``P = (8/wa)*(8/ww)`` products:

    * product ``k`` (``0 <= k < P``) multiplies ``a[k*wa +: wa]`` by ``w[k*ww +: ww]``,
      each two's complement when its ``*_signed`` bit is set, unsigned otherwise;
      bits above ``P*wa`` of ``a`` and ``P*ww`` of ``w`` are ignored;
    * digit ``i`` (bits ``2i+1:2i``) of activation ``k`` is BitBrick input
      ``a[2*(k*wa/2 + i) +: 2]``; see :func:`brick_role` for the BitBrick of each
      digit pair and its shift.

    The beat's step is the exact sum of its ``P`` products; a packet (beats up to
    one with ``last = 1``) accumulates its steps in a two's-complement accumulator
    of ``acc_width`` bits and emits one beat on ``o``: ``acc``, plus ``overflow``
    (some addition left the range: the result wrapped modulo ``2**acc_width``, or
    with ``saturate`` was clamped to ``-2**(acc_width-1) .. 2**(acc_width-1)-1``)
    and ``mode_error`` (some beat's precision pair was not built, see ``modes``, or
    used code 3; such a beat adds 0). Unsigned operands are accumulated in the
    same signed register.

    Overflow: flagged, then wrapped or (``saturate``) clamped. A step is exact
    (``|step| <= 9 * 85**2 = 65025``, held in ``signed(18)``) and fits the
    narrowest accumulator, so only the accumulator's additions can leave the
    range ``-2**(acc_width-1) .. 2**(acc_width-1)-1``. Each one that does sets
    the packet's ``overflow`` and wraps modulo ``2**acc_width``, or is clamped to
    the bound it crossed; later steps continue from that value and ``overflow``
    stays set until the packet's result. A sum landing exactly on a bound does
    not set it.

    Timing: one beat per cycle; the result is valid ``latency = 1 + pipeline``
    cycles after the edge that accepts the last beat. The whole pipeline stalls
    while ``o.valid & ~o.ready``; ``i.ready = ~o.valid | o.ready``. Synchronous
    reset discards the accumulator and in-flight beats.

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
        width = p.acc_width

        advance = Signal()
        m.d.comb += [advance.eq(~self.o.valid | self.o.ready), self.i.ready.eq(advance)]

        step = FusionStep(m, self.i.payload, modes=p.mode_set, pipeline=p.pipeline,
                          en=advance, side=Cat(self.i.valid, self.i.payload.last))
        valid, last = step.side[0], step.side[1]

        acc = Signal(signed(width))
        overflow = Signal()
        mode_error = Signal()
        total = Signal(signed(width + 1))
        out_of_range = Signal()
        result = Signal(signed(width))
        m.d.comb += [
            total.eq(acc + step.step),
            out_of_range.eq(total[width] != total[width - 1]),
            result.eq(total[:width]),
        ]
        if p.saturate:
            with m.If(out_of_range):
                m.d.comb += result.eq(Cat(~total[width].replicate(width - 1), total[width]))

        with m.If(advance):
            m.d.sync += self.o.valid.eq(valid & last)
            with m.If(valid & last):
                m.d.sync += [
                    self.o.payload.acc.eq(result),
                    self.o.payload.overflow.eq(overflow | out_of_range),
                    self.o.payload.mode_error.eq(mode_error | step.mode_error),
                    acc.eq(0), overflow.eq(0), mode_error.eq(0),
                ]
            with m.Elif(valid):
                m.d.sync += [acc.eq(result), overflow.eq(overflow | out_of_range),
                             mode_error.eq(mode_error | step.mode_error)]
        return m
