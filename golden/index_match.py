# SPDX-License-Identifier: BSD-2-Clause
"""Golden model of SNAP's index matching (Zhang et al., JSSC 2021; docs/sparse.md).

A block holds ``length`` weight indices and ``length`` activation indices, each
with a valid bit. The matches are the pairs ``(w_pos, a_pos)`` whose indices are
equal and both valid, in increasing ``w_pos`` then ``a_pos`` (with
``sorted=True``, indices are unique per side and only the lowest ``a_pos`` of
each ``w_pos`` counts). They leave ``pairs`` per beat, slot 0 first; a block
without matches gives one empty beat; ``last`` marks a block's final beat.
Also: CSR/CSC helpers for the sparse dot-product demonstration.
"""

import numpy as np

__all__ = ["matches", "index_match", "beats_per_block", "to_csr", "to_csc",
           "block_of", "sparse_dot"]


def matches(params, w_idx, w_valid, a_idx, a_valid):
    """``[(w_pos, a_pos)]`` of one block, in the unit's order."""
    w_idx, a_idx = np.asarray(w_idx), np.asarray(a_idx)
    w_valid, a_valid = np.asarray(w_valid, dtype=bool), np.asarray(a_valid, dtype=bool)
    equal = (w_idx[:, None] == a_idx[None, :]) & w_valid[:, None] & a_valid[None, :]
    if params.sorted:
        return [(int(r), int(np.argmax(row))) for r, row in enumerate(equal) if row.any()]
    return [(int(r), int(c)) for r, c in zip(*np.nonzero(equal))]


def beats_per_block(params, count):
    """Output beats of a block with ``count`` matches: ``max(1, ceil(count / pairs))``."""
    return max(1, -(-count // params.pairs))


def index_match(params, blocks):
    """Output beats ``[(w_pos tuple, a_pos tuple, valid tuple, last)]`` of a sequence
    of blocks, each a dict with ``w_idx``, ``w_valid``, ``a_idx``, ``a_valid``
    (arrays; valid as 0/1 per position). Unused slots read 0."""
    out = []
    for block in blocks:
        found = matches(params, block["w_idx"], block["w_valid"], block["a_idx"],
                        block["a_valid"])
        beats = beats_per_block(params, len(found))
        for b in range(beats):
            chunk = found[b * params.pairs:(b + 1) * params.pairs]
            pad = params.pairs - len(chunk)
            out.append((tuple([w for w, _ in chunk] + [0] * pad),
                        tuple([a for _, a in chunk] + [0] * pad),
                        tuple([1] * len(chunk) + [0] * pad), int(b == beats - 1)))
    return out


def to_csr(dense):
    """``(values, column indices, row pointers)`` of a 2-D array (non-zeros only)."""
    dense = np.asarray(dense)
    rows, cols = np.nonzero(dense)
    pointers = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=dense.shape[0]))])
    return dense[rows, cols], cols, pointers


def to_csc(dense):
    """``(values, row indices, column pointers)`` of a 2-D array."""
    values, rows, pointers = to_csr(np.asarray(dense).T)
    return values, rows, pointers


def block_of(params, indices, start=0):
    """Up to ``length`` indices from ``start`` as one side of a block:
    ``(idx array, valid array)``, zero-padded."""
    chunk = np.asarray(indices)[start:start + params.length]
    idx = np.zeros(params.length, dtype=np.int64)
    valid = np.zeros(params.length, dtype=np.int64)
    idx[:chunk.size], valid[:chunk.size] = chunk, 1
    return idx, valid


def sparse_dot(params, a_values, a_indices, w_values, w_indices):
    """The unstructured sparse dot product as ``index_match`` computes it: both
    index lists cut into blocks of ``length`` (:func:`block_of`), every pair of
    blocks matched, matched values multiplied and summed. Returns ``(dot, pairs)``
    with Python integers; equal to the dense dot product when each side's
    indices are unique."""
    a_indices, w_indices = np.asarray(a_indices), np.asarray(w_indices)
    dot, pairs = 0, 0
    for ws in range(0, max(1, w_indices.size), params.length):
        w_idx, w_valid = block_of(params, w_indices, ws)
        for as_ in range(0, max(1, a_indices.size), params.length):
            a_idx, a_valid = block_of(params, a_indices, as_)
            for wp, ap in matches(params, w_idx, w_valid, a_idx, a_valid):
                dot += int(w_values[ws + wp]) * int(a_values[as_ + ap])
                pairs += 1
    return dot, pairs
