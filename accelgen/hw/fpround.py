# SPDX-License-Identifier: BSD-2-Clause
"""Floating-point rounding RTL builder: an exact ``value * 2**exp`` to the nearest code of a format."""

from amaranth.hdl import Signal, Mux, Cat, Const, Value, signed

from accelgen.hw.adders import split_negate
from accelgen.num.fpformats import get_format

__all__ = ["round_to_float", "shift_left_window", "count_leading_zeros", "ROUND_CUTS"]


def count_leading_zeros(m, r, name):
    """``LZD(r)``: leading zeros of the field ``r``, ``len(r)`` when it is all
    zero, as ``unsigned(ceil_log2(len(r) + 1))``. A balanced tree (depth
    ``ceil_log2(len(r))`` of 2:1 merges), unlike the priority chain of
    :func:`accelgen.hw.formats.leading_zeros`, so it stays shallow for the wide
    fields of floating-point normalization. Combinational."""
    width = len(r)
    size = 1 << max(width - 1, 0).bit_length()
    padded = Cat(Const(0, size - width), r) if size > width else r
    # Level 0: per bit, (all zero, count) with a 0-bit count.
    nodes = [(~padded[i], None) for i in reversed(range(size))]  # MSB first
    level = 0
    while len(nodes) > 1:
        level += 1
        merged = []
        for k in range(0, len(nodes), 2):
            (zh, ch), (zl, cl) = nodes[k], nodes[k + 1]
            z = Signal(name=f"{name}_z{level}_{k // 2}")
            c = Signal(level, name=f"{name}_c{level}_{k // 2}")
            m.d.comb += z.eq(zh & zl)
            if ch is None:
                m.d.comb += c.eq(zh)
            else:
                m.d.comb += c.eq(Mux(zh, Cat(cl, 1), Cat(ch, 0)))
            merged.append((z, c))
        nodes = merged
    zero, count = nodes[0]
    lz = Signal(range(width + 1), name=name)
    m.d.comb += lz.eq(Mux(zero, width, count if count is not None else 0))
    return lz


def shift_left_window(m, x, amount, name, *, weight=0):
    """``(x << (amount << weight))`` truncated to ``len(x)`` bits, as a
    logarithmic shifter of ``len(amount)`` stages each ``len(x)`` wide (no wider
    intermediate). ``amount`` is unsigned; bits shifted past the top are lost.
    ``weight`` lets a shift be split into stages of low and high amount bits.
    Combinational."""
    width = len(x)
    cur = x
    for k in range(len(amount)):
        step = 1 << (k + weight)
        nxt = Signal(width, name=f"{name}_s{k}")
        shifted = Cat(Const(0, step), cur[:width - step]) if step < width else Const(0, width)
        m.d.comb += nxt.eq(Mux(amount[k], shifted, cur))
        cur = nxt
    return cur


#: The register cuts :func:`round_to_float` can take, in pipeline order: after
#: the magnitude (a negation's carry chain), after its leading-zero count, after
#: the shift amount, halfway through the normalizing shift, and after it.
ROUND_CUTS = ("magnitude", "count", "normalize", "shift", "round")


def round_to_float(m, value, exp, fmt, *, prefix="", negative=None, cut=None):
    """Add to ``m`` a combinational rounder: the ``fmt.width``-bit code (a
    ``Signal``) of the signed floating-point format ``fmt`` (an
    :mod:`accelgen.num.fpformats` format or its name: ``fp32``, ``bf16``,
    ``fp16``, ``e4m3``, ``e5m2``, ``e3m2``, ``e2m3``, ``e2m1``) nearest to the
    exact ``value * 2**exp``, ties to even.

    ``value`` is an Amaranth value of any width (two's complement when its shape
    is signed, else non-negative), an exact integer; ``exp`` a signed Amaranth
    value or a Python ``int``. Subnormals are produced; a non-zero value that
    rounds to zero gives the zero of its sign; ``value == 0`` gives ``+0``.
    With ``negative`` (a 1-bit value) given, ``value`` is read as an unsigned
    magnitude and ``negative`` as its sign (no negation is built).
    Overflow (the rounded magnitude exceeds the largest finite value): ``±inf``
    for ``"ieee"`` formats, the NaN code of its sign for ``"fn"`` formats (e4m3,
    as OCP FP8's non-saturating conversion) and the largest finite value of its
    sign for formats without specials, exactly as
    :func:`accelgen.num.fp.encode` (its reference).

    Structure: magnitude, leading-zero count, one left shift into a window of
    ``len(value) + man_bits + 2`` bits (normalizing, or stopping at the
    subnormal exponent), guard and sticky bits, and an increment of the packed
    exponent-and-mantissa field (a carry moves into the next binade).

    Registers: none unless ``cut`` is given. ``cut(name, **values)`` is called
    at each point of :data:`ROUND_CUTS` (``"magnitude"``: before the
    leading-zero count, ``"count"``: after the leading- and trailing-zero
    counts, before the comparisons and small adders that turn them into the
    shift amount, the exponent and the sticky position, ``"normalize"``: after
    the shift amount, before the shift, ``"round"``: before the increment)
    with the rounder's values crossing that
    point, and returns their registered copies (a mapping); the caller's
    :class:`accelgen.hw.pipeline.Carry` registers them with its own signals.
    A ``cut`` that returns its arguments builds the combinational rounder.
    """
    if cut is None:
        cut = lambda _name, **values: values
    fmt = get_format(fmt) if isinstance(fmt, str) else fmt
    if getattr(fmt, "kind", None) != "float" or not fmt.signed:
        raise ValueError(f"round_to_float fmt must be a signed floating-point format, "
                         f"not {getattr(fmt, 'name', fmt)!r}")
    value = Value.cast(value)
    exp = Const(exp, signed(max(exp.bit_length() + 1, 2))) if isinstance(exp, int) \
        else Value.cast(exp)
    width = len(value)
    man, ebits, bias = fmt.man_bits, fmt.exp_bits, fmt.bias
    pad = man + 2                     # window bits below the value: kept + guard
    win = width + pad

    # Magnitude and sign.
    mag = Signal(width, name=f"{prefix}mag")
    if negative is not None:
        negative = Value.cast(negative)
        m.d.comb += mag.eq(value.as_unsigned())
    elif value.shape().signed:
        negative = value[-1]
        m.d.comb += mag.eq(Mux(negative, split_negate(m, value, f"{prefix}neg"), value))
    else:
        negative = Const(0, 1)
        m.d.comb += mag.eq(value)
    # Exponent arithmetic, wide enough never to wrap.
    ew = max(len(exp), (win + bias + 4).bit_length()) + 3
    # s = min(lz, limit): the left shift that normalizes, or stops at the
    # smallest exponent (subnormal results); limit = width - 2 + bias + exp.
    limit = Signal(signed(ew), name=f"{prefix}limit")
    m.d.comb += limit.eq(exp + (width - 2 + bias))
    tiny = Signal(name=f"{prefix}tiny")        # below a quarter of the smallest subnormal
    m.d.comb += tiny.eq(limit < -pad)
    limit_shift = Signal(range(win), name=f"{prefix}limit_shift")
    m.d.comb += limit_shift.eq(limit + pad)
    v = cut("magnitude", mag=mag, negative=negative, limit=limit, tiny=tiny,
            limit_shift=limit_shift)
    mag, negative, limit, tiny = v["mag"], v["negative"], v["limit"], v["tiny"]
    limit_shift = v["limit_shift"]
    lz = count_leading_zeros(m, mag, f"{prefix}lz")
    # The sticky bit without waiting for the shift: the window holds mag << shift,
    # so a bit below the guard is set iff the lowest set bit, at tz + shift, lands
    # below it, i.e. shift < (win - 2 - man) - tz.
    tz = count_leading_zeros(m, Cat(*reversed(list(mag))), f"{prefix}tz")
    v = cut("count", mag=mag, negative=negative, limit=limit, tiny=tiny,
            limit_shift=limit_shift, lz=lz, tz=tz)
    mag, negative, limit, tiny = v["mag"], v["negative"], v["limit"], v["tiny"]
    limit_shift, lz, tz = v["limit_shift"], v["lz"], v["tz"]
    # The shift's two candidates and the choice, each one small adder or
    # comparator after the count (in parallel); the choice is made after the cut.
    clamp = Signal(name=f"{prefix}clamp")
    m.d.comb += clamp.eq(limit < lz)
    lz_shift = Signal(range(win), name=f"{prefix}lz_shift")
    m.d.comb += lz_shift.eq(lz + pad)
    # Biased exponent of a normal result (lead + bias) = limit + 1 - lz.
    top = (1 << ebits) - 1
    biased = Signal(signed(ew), name=f"{prefix}biased")
    m.d.comb += biased.eq(limit + 1 - lz)
    zero = Signal(name=f"{prefix}zero")
    m.d.comb += zero.eq(mag == 0)
    sticky_at = Signal(signed(len(tz) + 2 + (win + 2).bit_length()), name=f"{prefix}sticky_at")
    m.d.comb += sticky_at.eq((win - 2 - man) - tz)
    v = cut("normalize", mag=mag, negative=negative, clamp=clamp, limit_shift=limit_shift,
            lz_shift=lz_shift, tiny=tiny, biased=biased, zero=zero, sticky_at=sticky_at)
    mag, negative, tiny = v["mag"], v["negative"], v["tiny"]
    biased, zero, sticky_at = v["biased"], v["zero"], v["sticky_at"]
    shift = Signal(range(win), name=f"{prefix}shift")
    m.d.comb += shift.eq(Mux(v["clamp"], v["limit_shift"], v["lz_shift"]))
    sticky = Signal(name=f"{prefix}sticky")
    m.d.comb += sticky.eq(~zero & (shift < sticky_at))
    low = len(shift) // 2
    partial = shift_left_window(m, Cat(mag, Const(0, pad)), shift[:low], f"{prefix}win_lo")
    v = cut("shift", partial=partial, high=shift[low:], sticky=sticky, biased=biased,
            tiny=tiny, zero=zero, negative=negative)
    sticky, biased, tiny, zero, negative = (v["sticky"], v["biased"], v["tiny"], v["zero"],
                                            v["negative"])
    window = shift_left_window(m, v["partial"], v["high"], f"{prefix}win", weight=low)

    kept = window[win - 1 - man:win]          # man + 1 bits, the hidden bit on top
    guard = window[win - 2 - man]
    v = cut("round", kept=kept, guard=guard, sticky=sticky, biased=biased, tiny=tiny,
            zero=zero, negative=negative)
    kept, guard, sticky, biased = v["kept"], v["guard"], v["sticky"], v["biased"]
    tiny, zero, negative = v["tiny"], v["zero"], v["negative"]
    field = Signal(ebits + 1, name=f"{prefix}field")
    m.d.comb += field.eq(Mux(kept[man], Mux(biased > top, top + 1, biased), 0))
    body = Signal(ebits + 1 + man, name=f"{prefix}body")
    m.d.comb += body.eq(Cat(kept[:man], field) if man else field)
    up = Signal(name=f"{prefix}round_up")
    m.d.comb += up.eq(guard & (sticky | kept[0]))
    rounded = Signal(ebits + 2 + man, name=f"{prefix}rounded")
    m.d.comb += rounded.eq(body + up)

    ones = (top << man) | ((1 << man) - 1)    # every bit below the sign set
    if fmt.specials == "ieee":
        largest, special = ones - (1 << man), top << man
    elif fmt.specials == "fn":
        largest, special = ones - 1, ones
    else:
        largest = special = ones
    # rounded > largest, decided from ``body`` beside the increment rather than
    # after its carry: body > largest, or body == largest and rounding up.
    above = Signal(name=f"{prefix}above_largest")
    at_largest = Signal(name=f"{prefix}at_largest")
    m.d.comb += [above.eq(body > largest), at_largest.eq(body == largest)]
    overflow = Signal(name=f"{prefix}overflow")
    m.d.comb += overflow.eq(above | (at_largest & up))
    code = Signal(fmt.width, name=f"{prefix}code")
    low = Mux(tiny, 0, Mux(overflow, special, rounded[:fmt.width - 1]))
    m.d.comb += code.eq(Mux(zero, 0, Cat(low, negative)))
    return code
