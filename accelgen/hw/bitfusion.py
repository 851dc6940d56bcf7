# SPDX-License-Identifier: BSD-2-Clause
"""BitFusion datapath builders: the BitBrick product, the Fusion Unit step, precision modes."""

import functools
import operator

from amaranth.hdl import Signal, Cat, Mux, signed
from amaranth.lib import enum

from accelgen.hw.pipeline import register_stage

__all__ = ["BRICKS", "OPERAND_BITS", "STEP_WIDTH", "Precision", "PRECISION_BITS", "ALL_MODES",
           "parse_modes", "format_modes", "check_modes", "brick_product", "brick_role",
           "PIPELINE_CUTS", "StepOperands", "FusionStep"]

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
    stays aligned with ``step``. ``pipeline`` (0..3) places register stages as
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
        """A register stage of the tree ``layer``, ``side`` and the mode error."""
        terms = {f"term{n}": v for n, v in enumerate(layer)}
        s = register_stage(self.m, self.en, f"{self.prefix}{name}", **terms, side=side,
                           unsupported=error)
        return [s[key] for key in terms], s.side, s.unsupported
