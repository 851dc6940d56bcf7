# SPDX-License-Identifier: BSD-2-Clause
"""Balanced reduction trees of named signals (sums, maxima, bit counts), shared by the
generators."""

from amaranth.hdl import C, Cat, Signal

__all__ = ["reduce_tree", "reduce_levels", "several_set"]


def reduce_levels(m, values, op, name, levels=None, first=0):
    """The first ``levels`` levels (all of them when ``None``) of the balanced
    tree :func:`reduce_tree` builds, added to module ``m``; returns the list of
    values left (one once every level is built). ``first`` numbers the first
    level built, so a tree cut by a register continues its names
    (``reduce_levels(m, regs, op, name, first=k)`` after ``k`` levels)."""
    level = first
    values = list(values)
    while len(values) > 1 and (levels is None or level < first + levels):
        pairs = []
        for j in range(0, len(values) - 1, 2):
            expr = op(values[j], values[j + 1])
            node = Signal(expr.shape(), name=f"{name}{level}_{j // 2}")
            m.d.comb += node.eq(expr)
            pairs.append(node)
        values = pairs + values[len(values) - len(values) % 2:]
        level += 1
    return values


def reduce_tree(m, values, op, name):
    """A balanced tree of ``op(a, b)`` over ``values``, added to module ``m``;
    returns the root (``values[0]`` itself when there is one value).

    Level ``l`` pairs neighbours left to right into signals named
    ``<name><l>_<j>``, each exactly as wide as ``op``'s result (so a sum of two
    ``signed(n)`` terms is ``signed(n + 1)`` and nothing wraps); an odd value out
    moves up to the next level unchanged, at the end of the list. A tree of
    ``k`` values is ``ceil(log2(k))`` levels deep, all combinational
    (:func:`reduce_levels` builds some of the levels)."""
    return reduce_levels(m, values, op, name)[0]


def several_set(m, bits, name):
    """``1`` when two or more bits of ``bits`` are set, so that clearing the
    lowest set bit (``bits & (bits - 1)``) leaves some: a :func:`reduce_tree` of
    ``(any, several)`` pairs, ``several = several_lo | several_hi | (any_lo &
    any_hi)``, ``ceil(log2(len(bits)))`` levels deep, which runs beside that
    subtraction instead of testing its result for zero after its carry chain.
    Combinational; a constant 0 for a single bit."""
    def merge(lo, hi):
        return Cat(lo[0] | hi[0], lo[1] | hi[1] | (lo[0] & hi[0]))
    return reduce_tree(m, [Cat(bits[k], C(0, 1)) for k in range(len(bits))], merge, name)[1]
