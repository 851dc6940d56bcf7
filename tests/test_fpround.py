# SPDX-License-Identifier: BSD-2-Clause
"""accelgen.hw.fpround: the Amaranth rounder against accelgen.num.fp.encode (boundaries and seeded random)."""

import numpy as np
import pytest
from amaranth.hdl import Module, Signal, Fragment, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from accelgen.hw.fpround import round_to_float, ROUND_CUTS
from accelgen.hw.pipeline import Carry
from accelgen.num.fp import decode, encode
from accelgen.num.fpformats import get_format
from accelgen.verif.amaranth_sim import simulate, sweep_combinational


class _Rounder(wiring.Component):
    """``value`` (``signed(width)``) and ``exp`` (a port of ``signed(exp_width)``,
    or the constant ``exp``) to ``code``."""

    def __init__(self, fmt, width, exp=None, exp_width=10):
        self.fmt, self.const = fmt, exp
        ports = {"value": In(signed(width)), "code": Out(fmt.width)}
        if exp is None:
            ports["exp"] = In(signed(exp_width))
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        exp = self.exp if self.const is None else self.const
        m.d.comb += self.code.eq(round_to_float(m, self.value, exp, self.fmt, prefix="r_"))
        return m


class _PipelinedRounder(wiring.Component):
    """:func:`round_to_float` with every register cut: ``value``/``exp`` in,
    ``code`` ``len(ROUND_CUTS)`` cycles later (and ``valid`` carried beside it)."""

    def __init__(self, fmt, width, exp_width=10):
        self.fmt = fmt
        super().__init__({"value": In(signed(width)), "exp": In(signed(exp_width)),
                          "valid": In(1), "code": Out(fmt.width), "code_valid": Out(1)})

    def elaborate(self, platform):
        m = Module()
        carry = Carry(m, 1, "r", enabled=ROUND_CUTS, valid=self.valid)
        code = round_to_float(m, self.value, self.exp, self.fmt, prefix="r_", cut=carry.cut)
        m.d.comb += [self.code.eq(code), self.code_valid.eq(carry.side["valid"])]
        assert carry.stages == len(ROUND_CUTS)
        return m


def _code_values(fmt):
    """Exact ``(mant, exp)`` of boundary codes, the midpoints between neighbours
    (ties) and the midpoints nudged by a unit below their last place."""
    m, top = fmt.man_bits, (1 << fmt.exp_bits) - 1
    if fmt.width <= 8:
        codes = np.arange((1 << (fmt.width - 1)) - 1)
    else:
        fields = sorted({0, 1, 2, fmt.bias, top - 2, top - 1, top})
        codes = np.array([(e << m) | f for e in fields
                          for f in (0, 1, 2, (1 << m) - 2, (1 << m) - 1)])
    mant, exp, nan, inf = decode(fmt, codes)
    pairs = []
    for k in range(len(codes)):
        pairs.append((int(mant[k]), int(exp[k])))
        nxt = codes[k] + 1
        if nxt >> (fmt.width - 1):
            continue
        (m2,), (e2,), _n, _i = decode(fmt, [nxt])
        lo = min(int(exp[k]), int(e2))
        mid = (int(mant[k]) << (int(exp[k]) - lo)) + (int(m2) << (int(e2) - lo))
        pairs += [(mid, lo - 1), (2 * mid - 1, lo - 2), (2 * mid + 1, lo - 2)]
    return pairs


def _patterns(fmt, width, rng):
    """Values with few or many bits set, ties in the window and carries, at
    every leading-bit position, each paired with a leading exponent near a
    boundary: the subnormal range, the smallest normal, the largest finite."""
    m = fmt.man_bits
    leads = [fmt.exp_min - 2, fmt.exp_min - 1, fmt.exp_min, fmt.exp_min + 1,
             -fmt.bias, 1 - fmt.bias, 2 - fmt.bias, 0, fmt.emax - 1, fmt.emax, fmt.emax + 1]
    pairs = []
    for lead_bit in range(width - 1):
        values = {1 << lead_bit, (1 << lead_bit) + 1, (2 << lead_bit) - 1}
        if lead_bit > m + 1:
            low = lead_bit - m - 1  # the guard bit's position at a normal result
            base = (int(rng.integers(0, 1 << m)) | (1 << m)) << (low + 1)
            values |= {base | (1 << low), (base | (1 << low)) + 1, (base | (1 << low)) - 1,
                       base | (3 << low) if low else base}
        for v in values:
            for lead in rng.choice(leads, 1 if width > 16 else 2, replace=False):
                e = int(lead) - lead_bit
                pairs += [(v, e), (-v, e)]
    return pairs


def _run_pipelined(fmt, width, exp_width, pairs):
    """Codes of ``pairs`` through :class:`_PipelinedRounder`, one pair per cycle."""
    dut = _PipelinedRounder(fmt, width, exp_width)
    got = []

    async def bench(ctx):
        for cycle in range(len(pairs) + len(ROUND_CUTS)):
            if cycle < len(pairs):
                ctx.set(dut.value, pairs[cycle][0])
                ctx.set(dut.exp, pairs[cycle][1])
            ctx.set(dut.valid, cycle < len(pairs))
            await ctx.tick()
            if ctx.get(dut.code_valid):
                got.append(ctx.get(dut.code))

    simulate(dut, bench, max_cycles=len(pairs) + 10)
    return got


def _check(fmt, width, exp=None, exp_width=10, seed=0, randoms=200, pipelined=False):
    rng = np.random.default_rng(seed)
    print(f"{fmt.name} width {width} exp {exp if exp is not None else 'port'}: seed {seed}")
    pairs = _code_values(fmt) + [(-v, e) for v, e in _code_values(fmt)] \
        + _patterns(fmt, width, rng) + [(-(1 << (width - 1)), fmt.emax - width + 2), (0, 0)]
    lo_e, hi_e = -(1 << (exp_width - 1)), (1 << (exp_width - 1)) - 1
    rand_v = rng.integers(-(1 << (width - 1)), 1 << (width - 1), randoms, dtype=np.int64)
    rand_e = rng.integers(fmt.exp_min - width - 2, fmt.emax + 3, randoms)
    pairs += list(zip(rand_v.tolist(), rand_e.tolist()))
    if exp is not None:
        # A constant exponent: each pair's value scaled to it where it fits.
        pairs = [(v << (e - exp), exp) if e >= exp else (v >> (exp - e), exp)
                 for v, e in pairs]
    vmax = 1 << (width - 1)
    pairs = sorted({(v, e) for v, e in pairs if -vmax <= v < vmax and lo_e <= e <= hi_e})
    values = np.array([v for v, _ in pairs], dtype=np.int64)
    exps = np.array([e for _, e in pairs], dtype=np.int64)
    rows = [{"value": v} if exp is not None else {"value": v, "exp": e} for v, e in pairs]
    if pipelined:
        got = _run_pipelined(fmt, width, exp_width, pairs)
    else:
        got = [c for c, in sweep_combinational(_Rounder(fmt, width, exp, exp_width), rows,
                                               ("code",))]
    want = encode(fmt, values, exps).tolist()
    bad = [(v, e, g, w) for (v, e), g, w in zip(pairs, got, want) if g != w]
    assert not bad, f"{len(bad)} of {len(pairs)} differ (value, exp, rtl, encode): {bad[:5]}"
    return len(pairs)


@pytest.mark.sim
@pytest.mark.parametrize("name,width,exp,exp_width", [
    ("fp32", 28, None, 10),
    ("fp32", 8, None, 10),
    ("fp32", 48, -170, 10),
    ("e4m3", 12, None, 6),
    ("e4m3", 5, -12, 6),
])
def test_rounder_matches_encode(name, width, exp, exp_width):
    count = _check(get_format(name), width, exp, exp_width, seed=width * 7 + exp_width)
    assert count > (20 if exp is not None else 200)


@pytest.mark.sim
@pytest.mark.parametrize("name,width", [("fp32", 30), ("e4m3", 12)])
def test_pipelined_rounder_matches_encode(name, width):
    """Every register cut: the same codes, ``len(ROUND_CUTS)`` cycles later, one
    value per cycle."""
    count = _check(get_format(name), width, None, 10, seed=width, randoms=60, pipelined=True)
    assert count > 200


def test_carry_refuses_a_name_both_carried_and_cut():
    m = Module()
    carry = Carry(m, 1, "c", enabled=("a",), valid=Signal())
    assert carry.cut("b", x=Signal()).keys() == {"x"} and carry.stages == 0
    with pytest.raises(ValueError, match=r"^Carry c: \['valid'\] are both carried and cut$"):
        carry.cut("a", valid=Signal())
    Fragment.get(m, None)  # elaborated: no unused-elaboratable warning


def test_code_values_hold_ties():
    """The vectors include exact midpoints (a tie goes to the even code)."""
    fmt = get_format("e4m3")
    pairs = _code_values(fmt)
    assert (17, -4) in pairs                      # 1.0625: the tie between 1 and 1.125
    codes = encode(fmt, np.array([v for v, _ in pairs]), np.array([e for _, e in pairs]))
    assert {0x7E, 0x7F} <= set(codes.tolist())    # 448 and the NaN code of 464 (a tie to 480)


def test_rounder_refuses_formats_it_cannot_encode():
    m = Module()
    for name in ("e8m0", "int8"):
        with pytest.raises(ValueError, match=rf"^round_to_float fmt must be a signed "
                                             rf"floating-point format, not '{name}'$"):
            round_to_float(m, Signal(signed(8)), 0, name)
    Fragment.get(m, None)
