# SPDX-License-Identifier: BSD-2-Clause
"""Plain-text tables for the CLI and the benchmark scripts."""

__all__ = ["format_table"]


def format_table(rows, header, *, right=()):
    """A header, a rule and the rows, columns padded to fit; columns whose index
    is in ``right`` are right-aligned (numbers)."""
    rows = [[str(c) for c in row] for row in rows]
    header = [str(c) for c in header]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(row):
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(row, widths))).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])
