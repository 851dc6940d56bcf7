# SPDX-License-Identifier: BSD-2-Clause
"""Golden model of the BitFusion array: a stream of weight and activation beats in,
one result row per activation beat out (docs/bitfusion.md; Sharma et al., ISCA 2018).

Semantics (the contract of ``bitfusion_array``):

* weight beats load rows ``0, 1, ..., rows-1, 0, ...`` in turn: ``data[c]`` becomes
  the weight word of unit ``(row, c)``, with the beat's precision and signedness;
  after reset every weight word is 0 with precision code 0, unsigned;
* an activation beat gives ``acc[c] = sum_r step(data[r], W[r][c])``, the Fusion
  Unit step of :func:`accelgen.golden.fusion_unit.step` (exact), and
  ``mode_error`` when any row's precision pair is not built.

:func:`gemm_beats` / :func:`gemm_result` tile an ``M x K @ K x N`` product onto
the array (K in chunks of ``rows * P``, N in chunks of ``cols``); the result is the
exact integer ``A @ B``.
"""

import numpy as np

from accelgen.golden.fusion_unit import PREC_CODE, pack_lanes, products_per_beat, step

__all__ = ["ArrayModel", "bitfusion_array", "gemm_beats", "gemm_result"]


class ArrayModel:
    """The array's state (weights) and its response to one beat at a time."""

    def __init__(self, params):
        self.params = params
        self.reset()

    def reset(self):
        p = self.params
        self.weights = np.zeros((p.rows, p.cols), dtype=np.int64)
        self.w_prec = np.zeros(p.rows, dtype=np.int64)
        self.w_signed = np.zeros(p.rows, dtype=np.int64)
        self.row = 0

    def load(self, data, prec, signed):
        """A weight beat."""
        self.weights[self.row] = np.asarray(data, dtype=np.int64)[:self.params.cols]
        self.w_prec[self.row], self.w_signed[self.row] = prec, signed
        self.row = (self.row + 1) % self.params.rows

    def compute(self, data, prec, signed):
        """Activation beats (``data``: ``(n, >= rows)`` words; ``prec``, ``signed``:
        ``(n,)``) -> ``(acc (n, cols), mode_error (n,))``."""
        p = self.params
        data = np.asarray(data, dtype=np.int64)[:, :p.rows, None]
        prec = np.asarray(prec, dtype=np.int64)[:, None, None]
        signed = np.asarray(signed, dtype=np.int64)[:, None, None]
        steps, errors = step(p, data, self.weights[None], prec, self.w_prec[None, :, None],
                             signed, self.w_signed[None, :, None])
        return steps.sum(axis=1), errors.any(axis=(1, 2))

    def beat(self, beat):
        """One beat (a dict with ``data``, ``weights``, ``prec``, ``signed``): ``None``
        for a weight beat, else ``(acc list, mode_error)``."""
        if beat["weights"]:
            self.load(beat["data"], beat["prec"], beat["signed"])
            return None
        acc, error = self.compute([beat["data"]], [beat["prec"]], [beat["signed"]])
        return acc[0].tolist(), bool(error[0])


def bitfusion_array(params, beats, model=None):
    """Results ``[(acc list, mode_error)]`` of a sequence of beats (dicts), one per
    activation beat; runs of activation beats are computed together."""
    model = model or ArrayModel(params)
    out, run = [], []

    def flush():
        if run:
            acc, error = model.compute([b["data"] for b in run], [b["prec"] for b in run],
                                       [b["signed"] for b in run])
            out.extend(zip(acc.tolist(), error.tolist()))
            run.clear()

    for beat in beats:
        if beat["weights"]:
            flush()
            model.load(beat["data"], beat["prec"], beat["signed"])
        else:
            run.append(beat)
    flush()
    return out


def _tiles(params, m, k, n, wa, ww):
    depth = params.rows * products_per_beat(wa, ww)  # K elements per activation beat
    for n0 in range(0, n, params.cols):
        for k0 in range(0, max(k, 1), depth):
            yield n0, k0, depth


def gemm_beats(params, a, b, wa, ww, a_signed, w_signed):
    """The beats that compute ``a @ b`` (``M x K`` and ``K x N`` integer arrays) tile
    by tile: for each column tile and K tile, ``rows`` weight beats then ``M``
    activation beats. Zero padding fills partial tiles."""
    a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    (m, k), (k2, n) = a.shape, b.shape
    if k != k2:
        raise ValueError(f"inner dimensions differ: {a.shape} @ {b.shape}")
    p, per = params, products_per_beat(wa, ww)
    lanes = max(p.rows, p.cols)
    beats = []
    for n0, k0, depth in _tiles(p, m, k, n, wa, ww):
        a_tile = np.zeros((m, depth), dtype=np.int64)
        b_tile = np.zeros((depth, p.cols), dtype=np.int64)
        kk, nn = min(depth, k - k0), min(p.cols, n - n0)
        a_tile[:, :kk] = a[:, k0:k0 + kk]
        b_tile[:kk, :nn] = b[k0:k0 + kk, n0:n0 + nn]
        # Row r of the array holds K elements r*per .. r*per + per - 1 of the tile.
        w_words = pack_lanes(b_tile.reshape(p.rows, per, p.cols).transpose(0, 2, 1),
                             ww, w_signed)
        a_words = pack_lanes(a_tile.reshape(m, p.rows, per), wa, a_signed)
        for r in range(p.rows):
            data = np.zeros(lanes, dtype=np.int64)
            data[:p.cols] = w_words[r]
            beats.append({"data": data.tolist(), "weights": 1, "prec": PREC_CODE[ww],
                          "signed": int(w_signed)})
        for row in a_words:
            data = np.zeros(lanes, dtype=np.int64)
            data[:p.rows] = row
            beats.append({"data": data.tolist(), "weights": 0, "prec": PREC_CODE[wa],
                          "signed": int(a_signed)})
    return beats


def gemm_result(params, results, m, k, n, wa, ww):
    """Assemble the per-beat results of :func:`gemm_beats` into the ``M x N`` product
    (summing K tiles, dropping padded columns)."""
    out = np.zeros((m, n), dtype=np.int64)
    results = iter(results)
    for n0, _k0, _depth in _tiles(params, m, k, n, wa, ww):
        nn = min(params.cols, n - n0)
        for row in range(m):
            acc, _error = next(results)
            out[row, n0:n0 + nn] += np.asarray(acc[:nn], dtype=np.int64)
    return out
