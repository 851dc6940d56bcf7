# SPDX-License-Identifier: BSD-2-Clause
"""Golden model of EIE's leading non-zero detection (Han et al., ISCA 2016; docs/sparse.md).

For each input vector ``x`` (``N`` values) the unit emits the ``(index, value)``
of every non-zero entry in increasing index order, one per beat, ``last`` on the
vector's final beat; an all-zero vector emits one end-of-vector beat alone
(``nz = 0``, ``last = 1``, index and value 0).
"""

import numpy as np

__all__ = ["lnzd", "nonzeros"]


def nonzeros(x):
    """``(indices, values)`` of the non-zeros of one vector, in index order."""
    x = np.asarray(x, dtype=np.int64)
    idx = np.flatnonzero(x)
    return idx, x[idx]


def lnzd(params, vectors):
    """Output beats ``[(index, value, nz, last)]`` for a sequence of vectors
    (``(V, N)`` array), concatenated in order."""
    out = []
    for x in np.asarray(vectors, dtype=np.int64).reshape(-1, params.n):
        idx, val = nonzeros(x)
        if idx.size == 0:
            out.append((0, 0, 0, 1))
            continue
        out += [(int(i), int(v), 1, int(k == idx.size - 1))
                for k, (i, v) in enumerate(zip(idx, val))]
    return out
