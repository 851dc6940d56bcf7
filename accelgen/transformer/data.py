# SPDX-License-Identifier: BSD-2-Clause
"""Seeded weights with a trained BERT's statistics, and token embeddings like BERT's.

Nothing is downloaded: every array comes from :func:`numpy.random.default_rng`
with a recorded seed. Values are float32 numbers (held in float64 arrays), so
the float64 NumPy layer and the float32 ONNX graph use the same weights.

* Weights (:func:`make_weights`): Gaussian, ``std`` (0.02 to 0.05 in trained
  BERT checkpoints), with a few *outlier channels*: whole output columns of the
  projections that write the residual stream (``wo``, ``w2``) scaled by 10 to
  20, and LayerNorm gains with a few large entries,
  as the hidden-state outliers reported for BERT (e.g. Kovaleva et al. 2021,
  "BERT Busters"; Bondarenko et al. 2021, "Understanding and Overcoming the
  Challenges of Efficient Transformer Quantization"). Biases ~ N(0, 0.02);
  LayerNorm gains ~ 1 + N(0, 0.05), offsets ~ N(0, 0.02).
* Inputs (:func:`embed`): BERT's embedding output: a word-embedding table
  (``vocab x d_model``, N(0, 0.05)) plus a position table (N(0, 0.02)), then
  LayerNorm with its own gains. Token ids come from a fixed text
  (:data:`TEXT`, each word hashed to an id with CRC-32) or from a seeded draw.
"""

import dataclasses
import zlib

import numpy as np

__all__ = ["FloatWeights", "make_weights", "make_embeddings", "embed", "text_ids",
           "random_ids", "make_classifier", "TEXT", "VOCAB", "LN_EPS"]

#: The fixed token sequence of the evaluation (its words, hashed; repeated to fill).
TEXT = ("the integer encoder layer computes attention and a feed forward network "
        "with eight bit weights and activations thirty two bit accumulators and "
        "requantization between the stages while layer normalization and softmax "
        "and gelu run on their own fixed point units")
#: Vocabulary size of the seeded embedding table.
VOCAB = 2048
#: LayerNorm's epsilon in the float layer (BERT's).
LN_EPS = 1e-12

_F32 = np.float32


def _f32(a):
    """``a`` rounded to float32 values, held as float64."""
    return np.asarray(a, dtype=_F32).astype(np.float64)


@dataclasses.dataclass(frozen=True)
class FloatWeights:
    """The float weights of one layer (float64 arrays of float32 values):
    ``wq, wk, wv, wo`` (``d_model x d_model``), ``w1`` (``d_model x d_ff``),
    ``w2`` (``d_ff x d_model``), each applied as ``x @ W``; biases ``bq, bk, bv,
    bo, b1, b2``; LayerNorm ``gamma1, beta1`` (after attention), ``gamma2,
    beta2`` (after the FFN); ``heads``; ``seed`` (how they were drawn)."""

    wq: np.ndarray
    bq: np.ndarray
    wk: np.ndarray
    bk: np.ndarray
    wv: np.ndarray
    bv: np.ndarray
    wo: np.ndarray
    bo: np.ndarray
    gamma1: np.ndarray
    beta1: np.ndarray
    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray
    gamma2: np.ndarray
    beta2: np.ndarray
    heads: int
    seed: int


def _outlier_columns(rng, w, count, scale):
    cols = rng.choice(w.shape[1], size=count, replace=False)
    w[:, cols] *= rng.uniform(*scale, size=count)
    return w


def _gain(rng, n, outliers):
    g = 1.0 + rng.normal(0.0, 0.05, n)
    idx = rng.choice(n, size=outliers, replace=False)
    g[idx] *= rng.uniform(3.0, 6.0, size=outliers)
    return g


def make_weights(d_model, d_ff, heads, seed, *, std=0.04, outliers=None,
                 outlier_scale=(10.0, 20.0), outlier_projections=("wo", "w2")):
    """Seeded weights of one layer (:class:`FloatWeights`): N(0, ``std``) with
    ``outliers`` output columns (default ``max(1, d_model // 64)``) of each
    projection in ``outlier_projections`` scaled by a factor drawn from
    ``outlier_scale``, and as many LayerNorm gains scaled by 3 to 6. The
    default puts the outlier columns in ``wo`` and ``w2``, the projections that
    write the residual stream, whose hidden dimensions carry BERT's outliers.
    ``ValueError`` for a non-positive ``std``, more outliers than columns or
    an unknown projection."""
    if not std > 0:
        raise ValueError(f"make_weights std must be positive, not {std!r}")
    count = max(1, d_model // 64) if outliers is None else int(outliers)
    if not 0 <= count <= min(d_model, d_ff):
        raise ValueError(f"make_weights outliers must be from 0 to {min(d_model, d_ff)}, "
                         f"not {count}")
    unknown = [p for p in outlier_projections if p not in ("wq", "wk", "wv", "wo", "w1", "w2")]
    if unknown:
        raise ValueError(f"make_weights outlier_projections must name wq, wk, wv, wo, w1 or "
                         f"w2, not {unknown[0]!r}")
    rng = np.random.default_rng(seed)

    def proj(name, k, n):
        w = rng.normal(0.0, std, (k, n))
        if name in outlier_projections:
            w = _outlier_columns(rng, w, count, outlier_scale)
        return _f32(w)

    def bias(n):
        return _f32(rng.normal(0.0, 0.02, n))

    w = {}
    for name in ("q", "k", "v", "o"):
        w[f"w{name}"], w[f"b{name}"] = proj(f"w{name}", d_model, d_model), bias(d_model)
    w["gamma1"], w["beta1"] = _f32(_gain(rng, d_model, count)), bias(d_model)
    w["w1"], w["b1"] = proj("w1", d_model, d_ff), bias(d_ff)
    w["w2"], w["b2"] = proj("w2", d_ff, d_model), bias(d_model)
    w["gamma2"], w["beta2"] = _f32(_gain(rng, d_model, count)), bias(d_model)
    return FloatWeights(**w, heads=heads, seed=seed)


def make_embeddings(d_model, max_positions, seed):
    """``(word table VOCAB x d_model, position table max_positions x d_model,
    LayerNorm gamma, beta)``, seeded."""
    rng = np.random.default_rng(seed)
    words = rng.normal(0.0, 0.05, (VOCAB, d_model))
    positions = rng.normal(0.0, 0.02, (max_positions, d_model))
    gamma = _gain(rng, d_model, max(1, d_model // 64))
    beta = rng.normal(0.0, 0.02, d_model)
    return words, positions, gamma, beta


def embed(ids, d_model, seed):
    """BERT's embedding output for token ids ``(..., seq)``: ``LayerNorm(word[id] +
    position[t])`` (epsilon :data:`LN_EPS`), float64 arrays of float32 values,
    shape ``(..., seq, d_model)``; the tables drawn with ``seed``."""
    ids = np.asarray(ids, dtype=np.int64)
    seq = ids.shape[-1]
    words, positions, gamma, beta = make_embeddings(d_model, seq, seed)
    e = words[ids] + positions
    mu = e.mean(axis=-1, keepdims=True)
    var = ((e - mu) ** 2).mean(axis=-1, keepdims=True)
    return _f32((e - mu) / np.sqrt(var + LN_EPS) * gamma + beta)


def text_ids(seq, offset=0):
    """``seq`` token ids of :data:`TEXT` from word ``offset`` on (wrapping): each
    word's CRC-32 modulo :data:`VOCAB`; id 0 first, as BERT's ``[CLS]``."""
    words = TEXT.split()
    ids = [zlib.crc32(words[(offset + i) % len(words)].encode()) % (VOCAB - 1) + 1
           for i in range(seq - 1)]
    return np.array([0, *ids], dtype=np.int64)


def random_ids(batch, seq, seed):
    """``(batch, seq)`` seeded random token ids, id 0 first in each sequence."""
    ids = np.random.default_rng(seed).integers(1, VOCAB, size=(batch, seq))
    ids[:, 0] = 0
    return ids


def make_classifier(d_model, classes, seed):
    """A seeded classifier head on the first token: ``(W d_model x classes, b)``,
    N(0, 1/sqrt(d_model)) and N(0, 0.02)."""
    rng = np.random.default_rng(seed)
    return rng.normal(0.0, d_model ** -0.5, (d_model, classes)), rng.normal(0.0, 0.02, classes)
