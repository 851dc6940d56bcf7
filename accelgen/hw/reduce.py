# SPDX-License-Identifier: BSD-2-Clause
"""Balanced reduction trees of named signals (sums, maxima), shared by the generators."""

from amaranth.hdl import Signal

__all__ = ["reduce_tree"]


def reduce_tree(m, values, op, name):
    """A balanced tree of ``op(a, b)`` over ``values``, added to module ``m``;
    returns the root (``values[0]`` itself when there is one value).

    Level ``l`` pairs neighbours left to right into signals named
    ``<name><l>_<j>``, each exactly as wide as ``op``'s result (so a sum of two
    ``signed(n)`` terms is ``signed(n + 1)`` and nothing wraps); an odd value out
    moves up to the next level unchanged, at the end of the list. A tree of
    ``k`` values is ``ceil(log2(k))`` levels deep, all combinational."""
    level = 0
    values = list(values)
    while len(values) > 1:
        pairs = []
        for j in range(0, len(values) - 1, 2):
            expr = op(values[j], values[j + 1])
            node = Signal(expr.shape(), name=f"{name}{level}_{j // 2}")
            m.d.comb += node.eq(expr)
            pairs.append(node)
        values = pairs + values[len(values) - len(values) % 2:]
        level += 1
    return values[0]
