# SPDX-License-Identifier: BSD-2-Clause
"""BitFusion datapath builders: the BitBrick product, the Fusion Unit step, precision modes."""

import functools
import operator

from amaranth.hdl import Signal, Cat, Mux, signed
from amaranth.lib import enum

from accelgen.hw.pipeline import register_stage

__all__ = ["BRICKS", "OPERAND_BITS", "STEP_WIDTH", "GROUP_WIDTH", "Precision", "PRECISION_BITS", "ALL_MODES",
           "parse_modes", "format_modes", "check_modes", "brick_product", "brick_role",
           "brick_shifts",
           "PIPELINE_CUTS", "StepOperands", "FusionStep"]

BRICKS = 16
OPERAND_BITS = 32       # width of the packed activation word and of the weight word
STEP_WIDTH = 18         # holds every partial sum of one step: |sum| <= 9 * 85**2 = 65025
# Holds every sum inside a group of four bricks: a brick is -6..9 (brick_product),
# its local shift at most 4, so a group's sum is -6*25 .. 9*25 = -150 .. 225.
GROUP_WIDTH = 9


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
    """The canonical ``modes`` string of ``(wa, ww)`` pairs (``"all"`` for every pair)."""
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


def brick_product(x, y, sx, sy):
    """The BitBrick's product expression, ``signed(6)`` and exact: the 2-bit
    digits ``x``, ``y`` extend to 3 bits, ``{sx & x[1], x}`` (two's complement
    when the sign flag is 1, unsigned otherwise), and multiply. The ``bitbrick``
    component is this expression; every Fusion Unit step inlines 16 of them.

    The product is partial-product logic, with no multiplier cell (``$mul``), so
    no synthesis flow maps a BitBrick to a DSP block: with ``x3`` the extended
    ``x`` and ``n = sy & y[1]`` (the top bit of extended ``y``, weight -4),
    ``x3 * y3 = (x3 & y[0]) + 2 * ((x3 ^ n) & y[1]) + 2 * n``: each row is an AND
    of ``x3`` with one bit of ``y``, and since ``y3 = y[0] + 2 * y[1] - 4 * n``, the
    ``y[1]`` row weighs ``-2`` when ``n`` is 1, written ``2 * ~x3 + 2``.
    """
    x3 = Cat(x, sx & x[1]).as_signed()
    n = sy & y[1]
    row0 = Cat(*(x3[k] & y[0] for k in range(3))).as_signed()
    row1 = Cat(*((x3[k] ^ n) & y[1] for k in range(3))).as_signed()
    return (row0 + (row1 << 1) + (n << 1))[:6].as_signed()


# Tree layers: 0 is the shifted BitBrick products (16 terms), 1..4 the adder levels.
# -1 is the operand steering. fusion_unit builds 0..5; bitfusion_array also 6,
# a register after every layer, for a grid whose routing is longer than one unit's.
PIPELINE_CUTS = {0: (), 1: (2,), 2: (1, 4), 3: (0, 2, 4), 4: (-1, 0, 2, 4),
                 5: (-1, 0, 1, 3, 4), 6: (-1, 0, 1, 2, 3, 4)}


def brick_role(brick, wa, ww):
    """``(a_digit, w_digit, a_top, w_top, shift)`` of BitBrick ``brick`` in mode wa x ww.

    The bricks form four groups of four (hierarchical fusion): brick
    ``b = 8*gi + 4*gj + 2*li + lj`` is place ``(li, lj)`` of group ``(gi, gj)``. It
    multiplies digit ``i`` of activation ``k`` by digit ``j`` of weight ``k`` with
    ``i = 2*gi*[wa = 8] + li*[wa >= 4]`` and ``j = 2*gj*[ww = 8] + lj*[ww >= 4]``;
    the coordinates that no digit uses number the product ``k`` (first used
    lowest, in the order ``li, lj, gi, gj``: of the orders, the one that gives
    the bricks the fewest distinct digit sources over the nine modes, so the
    operand steering is smallest). ``a_digit = k*wa/2 + i`` and
    ``w_digit = k*ww/2 + j`` index the 2-bit digits of ``a`` and ``w``; the shift
    is ``2*(i + j)``, which :func:`brick_shifts` splits into the part shared by
    the group and the part inside it. ``a_top`` / ``w_top``: the digit is its
    operand's most significant one (signed when the operand is).
    """
    gi, gj, li, lj = (brick >> 3) & 1, (brick >> 2) & 1, (brick >> 1) & 1, brick & 1
    da, dw = wa // 2, ww // 2
    i = (2 * gi if da == 4 else 0) + (li if da >= 2 else 0)
    j = (2 * gj if dw == 4 else 0) + (lj if dw >= 2 else 0)
    free = [bit for bit, used in ((li, da >= 2), (lj, dw >= 2), (gi, da == 4), (gj, dw == 4))
            if not used]
    k = sum(bit << n for n, bit in enumerate(free))
    return k * da + i, k * dw + j, i == da - 1, j == dw - 1, 2 * (i + j)


def brick_shifts(brick, wa, ww):
    """``(group_shift, local_shift)`` of BitBrick ``brick`` in mode wa x ww: its
    shift (:func:`brick_role`) is their sum; ``local_shift`` (0, 2 or 4) is
    applied to the brick before its group's four are added, ``group_shift``
    (0, 4 or 8, the same for the four bricks of a group) to the group's sum."""
    gi, gj, li, lj = (brick >> 3) & 1, (brick >> 2) & 1, (brick >> 1) & 1, brick & 1
    return (4 * gi * (wa == 8) + 4 * gj * (ww == 8),
            2 * li * (wa >= 4) + 2 * lj * (ww >= 4))


class StepOperands:
    """The operand fields a :class:`FusionStep` reads (``a``, ``w``, ``a_prec``,
    ``w_prec``, ``a_signed``, ``w_signed``), gathered from separate values
    (for arrays, whose operands come from different registers)."""

    def __init__(self, *, a, w, a_prec, w_prec, a_signed, w_signed):
        self.a, self.w, self.a_prec, self.w_prec = a, w, a_prec, w_prec
        self.a_signed, self.w_signed = a_signed, w_signed


class FusionStep:
    """One step of a Fusion Unit, built inline into a module: the exact sum of a
    beat's products in ``signed(STEP_WIDTH)``, optionally pipelined.

    ``FusionStep(m, operands, modes=..., pipeline=..., en=..., side=..., prefix=...)``
    adds the logic to module ``m``; ``operands`` has the fields ``a``, ``w``,
    ``a_prec``, ``w_prec``, ``a_signed``, ``w_signed`` (an input payload view or a
    :class:`StepOperands`). Results: ``step``, ``mode_error`` (the precision pair
    is not in ``modes``, or code 3; ``step`` is then 0) and ``side``, a value that
    travels through the same ``pipeline`` registers as the operands so that it
    stays aligned with ``step`` (``None`` when none is given). ``pipeline``
    (0..6) places register stages as
    :data:`PIPELINE_CUTS` says (so the step comes ``pipeline`` cycles after its
    operands); registers load when ``en`` is high. Used by ``fusion_unit`` and by
    every processing element of ``bitfusion_array`` and of ``systolic_array``
    with ``pe="fusion_unit"``; inlining keeps each unit one Verilog module.
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
        error = Signal(name=f"{prefix}unsupported")
        m.d.comb += error.eq(~supported)
        # The shifts depend on four flags (brick_shifts): a / w at least 4 bits
        # (inside a group), a / w 8 bits (between groups).
        flags = Signal(4, name=f"{prefix}shift_flags")
        m.d.comb += flags.eq(Cat(*(
            Cat(*(sel for mode, sel in selected.items() if mode[n] >= bits), 0).any()
            for bits in (4, 8) for n in (0, 1))))
        # No side value, no side field (a 0-bit register field would emit a [-1:0] wire).
        stage = {**({} if side is None else {"side": side}), "unsupported": error, "flags": flags}
        for b in range(BRICKS):
            stage.update(self._steer(b, operands, selected))
        if -1 in cuts:
            stage = self._register("steer", stage)
        layer = [self._term(b, stage) for b in range(BRICKS)]
        for level in range(5):
            if level > 0:
                width = GROUP_WIDTH if level <= 2 else STEP_WIDTH
                layer = [self._add(x, y, f"sum{level}_{n}", width)
                         for n, (x, y) in enumerate(zip(layer[::2], layer[1::2]))]
            if level == 2:  # the four group sums, each shifted into place for the mode
                layer = [self._group_term(g, total, stage["flags"])
                         for g, total in enumerate(layer)]
            if level in cuts:
                kept = {key: stage[key] for key in ("side", "unsupported", "flags")
                        if key in stage}
                stage = {**kept, **{f"term{n}": v for n, v in enumerate(layer)}}
                stage = self._register(f"l{level}", stage)
                layer = [stage[f"term{n}"] for n in range(len(layer))]
        self.step, self.mode_error = layer[0], stage["unsupported"]
        self.side = stage.get("side")

    def _steer(self, b, operands, selected):
        """BitBrick ``b``'s inputs for the selected mode: ``{x<b>, y<b>, sx<b>, sy<b>}``.

        Each is an AND-OR selection over the distinct sources the built modes give
        it (modes are one-hot, so at most one term is live).
        """
        sources = {"x": {}, "y": {}, "sx": {}, "sy": {}}
        for mode, sel in selected.items():
            a_d, w_d, a_top, w_top, _ = brick_role(b, *mode)
            for key, source in (("x", a_d), ("y", w_d), ("sx", a_top), ("sy", w_top)):
                sources[key].setdefault(source, []).append(sel)
        value_of = {"x": lambda d: operands.a[2 * d:2 * d + 2],
                    "y": lambda d: operands.w[2 * d:2 * d + 2],
                    "sx": lambda top: operands.a_signed if top else 0,
                    "sy": lambda top: operands.w_signed if top else 0}
        out = {}
        for key in ("x", "y", "sx", "sy"):
            sig = out[f"{key}{b}"] = Signal(2 if key in "xy" else 1, name=f"{self.prefix}{key}{b}")
            terms = [Mux(Cat(*sels).any(), value_of[key](source), 0)
                     for source, sels in sources[key].items()]
            self.m.d.comb += sig.eq(functools.reduce(operator.or_, terms, 0))
        return out

    def _term(self, b, stage):
        """BitBrick ``b``'s product, shifted by its place in its group
        (:func:`brick_shifts`: ``2*li`` when a is at least 4 bits, plus ``2*lj``
        when w is)."""
        li, lj = (b >> 1) & 1, b & 1
        product = Signal(signed(6), name=f"{self.prefix}brick{b}")
        self.m.d.comb += product.eq(brick_product(stage[f"x{b}"], stage[f"y{b}"],
                                                  stage[f"sx{b}"], stage[f"sy{b}"]))
        flags = stage["flags"]
        shifted = product
        if li:
            shifted = Mux(flags[0], shifted << 2, shifted)
        if lj:
            shifted = Mux(flags[1], shifted << 2, shifted)
        term = Signal(signed(GROUP_WIDTH), name=f"{self.prefix}term{b}")
        self.m.d.comb += term.eq(shifted)
        return term

    def _group_term(self, g, total, flags):
        """Group ``g``'s sum shifted by ``4*gi`` when a is 8 bits plus ``4*gj`` when w
        is (:func:`brick_shifts`)."""
        gi, gj = g >> 1, g & 1
        term = Signal(signed(STEP_WIDTH), name=f"{self.prefix}group{g}")
        shifted = total
        if gi:
            shifted = Mux(flags[2], shifted << 4, shifted)
        if gj:
            shifted = Mux(flags[3], shifted << 4, shifted)
        self.m.d.comb += term.eq(shifted)
        return term

    def _add(self, x, y, name, width):
        total = Signal(signed(width), name=f"{self.prefix}{name}")
        self.m.d.comb += total.eq(x + y)
        return total

    def _register(self, name, stage):
        """A register stage of every value of ``stage`` (a dict), read back by key."""
        reg = register_stage(self.m, self.en, f"{self.prefix}{name}", **stage)
        return {key: reg[key] for key in stage}
