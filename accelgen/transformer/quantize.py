# SPDX-License-Identifier: BSD-2-Clause
"""Calibration of the integer encoder layer: every scale, multiplier and format from data.

:func:`calibrate` runs the float layer (:func:`accelgen.transformer.reference.forward`)
on a calibration batch and derives (docs/encoder_layer.md):

* weights: symmetric int8, ``s_w = max|W| / 127`` per tensor or per output
  channel (``config.per_channel``), codes ``round_half_even(W / s_w)``; biases
  int32 at their GEMM's accumulator scale ``s_in * s_w``;
* the range ``r`` of each activation: the ``config.percentile`` percentile of
  its magnitudes over the batch (100: the maximum);
* free int8 scales (``q, k, v, context``): ``s = r / 127``, then (per
  tensor) the scale the codes really get from the requantizer's realized
  multiplier (``pot``/``apot`` round it down, so the range only widens);
* fixed-point formats (the input ``x``, Softmax's input, GELU's input and
  output, LayerNorm's outputs): ``frac = floor(log2((2**(bits-1) - 1) / r))``
  clamped to the unit's range, scale ``2**-frac``; Softmax's probabilities are
  unsigned 8-bit at ``2**-8``;
* residual scales: ``s_r = max(r_a, r_b, r_sum) / (2**(residual_bits-1) - 1)``
  over both operands and their sum, so neither requantized operand saturates
  on the calibration data;
* each requantizer's real scale ``s_in / s_out`` (times ``s_w`` after a GEMM,
  ``1/sqrt(d_head)`` for the scores) as ``requant`` takes it: ``(M, shift)``
  from :func:`accelgen.consts.requant.quantize_multiplier` (dyadic modes),
  the nearest power of two in the log domain (``pot``), or the nearest sum of
  two powers of two (``apot``);
* LayerNorm's gamma as signed ``gamma_bits`` codes with the most fraction bits
  that hold ``max|gamma|``, beta as output codes.

Each unit's ``Params`` is built here, through the registry (which imports the
generators), so the golden model receives validated parameters and imports no
generator itself.
"""

import math

import numpy as np

from accelgen.consts.requant import DYADIC_MODES, dyadic_scale, quantize_multiplier
from accelgen.registry import get_unit
from accelgen.transformer.layer import (ACC_WIDTH, ACT_BITS, PROB_BITS, PROB_FRAC,
                                        EncoderConfig, IntegerEncoder)
from accelgen.transformer.reference import forward

__all__ = ["calibrate", "calibrate_seeded", "quantize_input", "dequantize", "quantize_weight",
           "frac_for", "magnitude", "requant_scale", "pot_shift", "apot_shifts"]

_INT8 = (1 << (ACT_BITS - 1)) - 1


def magnitude(values, percentile):
    """The ``percentile`` (50..100) of ``|values|``; 100 is the maximum."""
    a = np.abs(np.asarray(values, dtype=np.float64)).ravel()
    return float(a.max() if percentile >= 100 else np.percentile(a, percentile))


def frac_for(peak, bits, lo, hi):
    """Fraction bits of a signed ``bits``-bit format whose largest code holds
    ``peak``: ``floor(log2((2**(bits-1) - 1) / peak))`` clamped to ``lo..hi``
    (``hi`` for ``peak = 0``)."""
    if peak <= 0:
        return hi
    return int(min(hi, max(lo, math.floor(math.log2(((1 << (bits - 1)) - 1) / peak)))))


def quantize_weight(w, per_channel):
    """Symmetric int8 ``(codes, scale)`` of ``w`` (``K x N``): ``scale = max|w| /
    127`` over the tensor (a float) or per output column (an ``(N,)`` array);
    codes ``round_half_even(w / scale)`` in -127..127 (int64). A column of
    zeros gets scale 1."""
    w = np.asarray(w, dtype=np.float64)
    peak = np.abs(w).max(axis=0) if per_channel else np.abs(w).max()
    scale = np.where(peak > 0, peak / _INT8, 1.0)
    codes = np.clip(np.rint(w / scale), -_INT8, _INT8).astype(np.int64)
    return codes, (scale if per_channel else float(scale))


def pot_shift(scale, below=False):
    """``requant``'s ``pot`` shift for a positive real ``scale``: ``round(-log2
    scale)`` (the nearest power of two in the log domain); with ``below``,
    ``ceil(-log2 scale)`` (the largest power of two not above ``scale``)."""
    e = -math.log2(scale)
    return int(math.ceil(e) if below else round(e))


def apot_shifts(scale, lo, hi, below=False):
    """``(shift, shift2)`` in ``lo..hi`` with ``2**-shift + 2**-shift2`` nearest to
    the positive real ``scale`` (with ``below``: nearest among the sums not
    above it); ``shift <= shift2``, ties to the smaller shifts."""
    s = np.arange(lo, hi + 1)
    v = 2.0 ** -s[:, None] + 2.0 ** -s[None, :]
    ok = (s[:, None] <= s[None, :]) & ((v <= scale) if below else True)
    err = np.where(ok, np.abs(v - scale), np.inf)
    i, j = np.unravel_index(np.argmin(err), err.shape)
    return int(s[i]), int(s[j])


def _params(stage, unit, **kw):
    try:
        return get_unit(unit).params_cls(**kw)
    except (TypeError, ValueError) as e:
        raise type(e)(f"encoder_layer {stage} ({unit}) cannot be built: {e}") from e


def requant_scale(config, stage, scale, *, out_bits, out_signed=True, below=False):
    """``(requant Params, channel scales or None, realized scale)`` of a
    requantizer with the real ``scale`` (a float per tensor, an array per
    channel) from int32 accumulators to ``out_bits`` codes, in
    ``config.requant_mode``. Per channel, the ``m``/``shift``/``shift2`` arrays
    come back in a dict. The realized scale is the exact value ``requant``
    multiplies by (float or array); ``below`` makes ``pot``/``apot`` choose it
    not above ``scale`` (for an output whose scale follows from it, so that the
    output range is not narrowed). ``ValueError`` naming the stage when a
    scale needs a shift outside ``requant``'s range."""
    mode, mb = config.requant_mode, config.mult_bits
    shift_bits = (ACC_WIDTH - 1).bit_length() + 1
    lo, hi = -(1 << (shift_bits - 1)), (1 << (shift_bits - 1)) - 1
    scales = np.atleast_1d(np.asarray(scale, dtype=np.float64))
    if not np.all(scales > 0) or not np.all(np.isfinite(scales)):
        raise ValueError(f"encoder_layer {stage} scale must be positive and finite")
    m, s1, s2, real = [], [], [], []
    for v in scales:
        v = float(v)
        if mode in DYADIC_MODES:
            mult, shift = quantize_multiplier(v, mb)
            m.append(mult), s1.append(shift), s2.append(0)
            real.append(float(dyadic_scale(mult, shift, mb)))
        elif mode == "pot":
            m.append(0), s1.append(pot_shift(v, below)), s2.append(0)
            real.append(2.0 ** -s1[-1])
        else:
            a, b = apot_shifts(v, lo, hi, below)
            m.append(0), s1.append(a), s2.append(b)
            real.append(2.0 ** -a + 2.0 ** -b)
    for name, values in (("shift", s1), ("shift2", s2)):
        bad = [x for x in values if not lo <= x <= hi]
        if bad:
            raise ValueError(f"encoder_layer {stage} scale needs {name} {bad[0]}, outside "
                             f"requant's {lo}..{hi}")
    common = dict(mode=mode, in_bits=ACC_WIDTH, out_bits=out_bits, out_signed=out_signed,
                  mult_bits=mb)
    if np.ndim(scale) == 0:  # the fields the mode reads; the others keep their defaults
        fields = {"shift": s1[0]}
        if mode in DYADIC_MODES:
            fields["multiplier"] = m[0]
        if mode == "apot":
            fields["shift2"] = s2[0]
        return _params(stage, "requant", **common, **fields), None, real[0]
    params = _params(stage, "requant", **common, per_channel=True)
    arrays = {"m": np.array(m, dtype=np.int64), "shift": np.array(s1, dtype=np.int64),
              "shift2": np.array(s2, dtype=np.int64)}
    return params, arrays, np.array(real)


def quantize_input(model, x):
    """int8 codes of float inputs ``x`` at the layer's input scale
    ``2**-model.in_frac`` (halves to even, saturated)."""
    return np.clip(np.rint(np.asarray(x, dtype=np.float64) * 2.0 ** model.in_frac),
                   -_INT8 - 1, _INT8).astype(np.int64)


def dequantize(codes, frac):
    """``codes * 2**-frac`` (float64)."""
    return np.asarray(codes, dtype=np.float64) * 2.0 ** -frac


def calibrate_seeded(config, seed=0, calib_batch=32):
    """:func:`calibrate` on the package's seeded data: the weights of
    :func:`~accelgen.transformer.data.make_weights` (``seed``) and
    ``calib_batch`` sequences of seeded random tokens embedded with the tables of
    ``seed + 1`` (token ids ``seed + 2``), as
    :func:`~accelgen.transformer.reference.comparison_data` draws them. What
    ``accelgen generate encoder_layer`` builds the layer from."""
    from accelgen.transformer import data
    c = config
    weights = data.make_weights(c.d_model, c.d_ff, c.heads, seed)
    calib = data.embed(data.random_ids(calib_batch, c.seq, seed + 2), c.d_model, seed + 1)
    return calibrate(config, weights, calib)


def calibrate(config, weights, calib_x, float_ref=None):
    """The :class:`~accelgen.transformer.layer.IntegerEncoder` of ``config``
    (:class:`~accelgen.transformer.layer.EncoderConfig`) for float ``weights``
    (:class:`~accelgen.transformer.data.FloatWeights`) calibrated on
    ``calib_x`` (``(batch, seq, d_model)`` float inputs); ``float_ref`` may give
    :func:`~accelgen.transformer.reference.forward`'s result on them (to
    calibrate several configurations of one layer without recomputing it).
    ``ValueError`` when the weights do not match the configuration or a stage
    cannot be built."""
    if not isinstance(config, EncoderConfig):
        raise TypeError(f"calibrate config must be an EncoderConfig, not {config!r}")
    c = config
    if weights.wq.shape != (c.d_model, c.d_model) or weights.w1.shape != (c.d_model, c.d_ff):
        raise ValueError(f"calibrate weights are {weights.wq.shape[0]} x {weights.w1.shape[1]} "
                         f"(d_model x d_ff), the configuration {c.d_model} x {c.d_ff}")
    if weights.heads != c.heads:
        raise ValueError(f"calibrate weights have {weights.heads} heads, the configuration "
                         f"{c.heads}")
    calib_x = np.asarray(calib_x, dtype=np.float64)
    if calib_x.ndim != 3 or calib_x.shape[1:] != (c.seq, c.d_model):
        raise ValueError(f"calibrate calib_x must have shape (batch, {c.seq}, {c.d_model}), "
                         f"not {calib_x.shape}")
    ref = forward(weights, calib_x) if float_ref is None else float_ref

    def rng(*names):
        return max(magnitude(ref[n], c.percentile) for n in names)

    sw = {}
    qw = {}
    for n in ("q", "k", "v", "o", "1", "2"):
        qw[f"w{n}"], sw[n] = quantize_weight(getattr(weights, f"w{n}"), c.per_channel)

    units, chans, scales = {}, {}, {}
    in_frac = frac_for(rng("x"), ACT_BITS, 0, 16)
    scales["x"] = 2.0 ** -in_frac
    for n in ("q", "k", "v"):
        scales[n] = max(rng(n), 1e-30) / _INT8

    def gemm_params(stage, a_signed=True):
        units[stage] = _params(stage, "systolic_array", rows=c.rows, cols=c.cols,
                               dataflow=c.dataflow, a_width=ACT_BITS, w_width=ACT_BITS,
                               acc_width=ACC_WIDTH, a_signed=a_signed, w_signed=True)

    def requant_stage(stage, scale, out_bits, out_signed=True, below=False):
        units[stage], arrays, real = requant_scale(c, stage, scale, out_bits=out_bits,
                                                   out_signed=out_signed, below=below)
        if arrays is not None:
            chans[stage] = arrays
        return real

    def bias(b, acc_scale, stage):
        codes = np.rint(np.asarray(b, dtype=np.float64) / acc_scale).astype(np.int64)
        if np.abs(codes).max(initial=0) >= 1 << (ACC_WIDTH - 1):
            raise ValueError(f"encoder_layer {stage} bias does not fit int{ACC_WIDTH} at "
                             f"the accumulator scale")
        return codes

    for n in ("q", "k", "v"):
        gemm_params(f"{n}_gemm")
        acc = scales["x"] * sw[n]
        qw[f"b{n}"] = bias(getattr(weights, f"b{n}"), acc, f"{n}_gemm")
        real = requant_stage(f"{n}_requant", acc / scales[n], ACT_BITS, below=True)
        if np.ndim(real) == 0:  # the scale the codes really have
            scales[n] = acc / real

    # attention: scores into Softmax's format, probabilities, context
    sm_frac = frac_for(rng("scores"), c.softmax_in_bits, 0, 16)
    scales["scores"] = 2.0 ** -sm_frac
    gemm_params("scores_gemm")
    requant_stage("scores_requant",
                  scales["q"] * scales["k"] / math.sqrt(c.d_head) / scales["scores"],
                  c.softmax_in_bits)
    units["softmax"] = _params("softmax", "softmax", method=c.softmax_method, n=c.seq,
                               in_bits=c.softmax_in_bits, in_frac=sm_frac, out_bits=PROB_BITS,
                               out_frac=PROB_FRAC, lut_bits=c.softmax_lut_bits)
    scales["probs"] = 2.0 ** -PROB_FRAC
    gemm_params("context_gemm", a_signed=False)
    scales["context"] = max(rng("context"), 1e-30) / _INT8
    acc = scales["probs"] * scales["v"]
    scales["context"] = acc / requant_stage("context_requant", acc / scales["context"],
                                            ACT_BITS, below=True)

    # output projection and the first residual
    rmax = (1 << (c.residual_bits - 1)) - 1
    scales["residual1"] = rng("x", "attention", "residual1") / rmax
    gemm_params("out_gemm")
    acc = scales["context"] * sw["o"]
    qw["bo"] = bias(weights.bo, acc, "out_gemm")
    requant_stage("out_requant", acc / scales["residual1"], c.residual_bits)
    requant_stage("skip1_requant", scales["x"] / scales["residual1"], c.residual_bits)
    x1_frac = frac_for(rng("x1"), ACT_BITS, 0, 12)
    scales["x1"] = 2.0 ** -x1_frac
    units["layernorm1"], qw["gamma1"], qw["beta1"] = _layernorm(
        c, "layernorm1", weights.gamma1, weights.beta1, x1_frac, scales["residual1"])

    # FFN and the second residual
    gelu_lo = 8 if c.gelu_method == "ibert" else 0
    gin_frac = frac_for(rng("ffn1"), c.gelu_in_bits, gelu_lo, 16)
    gout_frac = frac_for(rng("gelu"), ACT_BITS, 0, 16)
    scales["ffn1"], scales["gelu"] = 2.0 ** -gin_frac, 2.0 ** -gout_frac
    gemm_params("ffn1_gemm")
    acc = scales["x1"] * sw["1"]
    qw["b1"] = bias(weights.b1, acc, "ffn1_gemm")
    requant_stage("ffn1_requant", acc / scales["ffn1"], c.gelu_in_bits)
    gelu_kw = {"lut_bits": min(c.gelu_lut_bits, c.gelu_in_bits)} \
        if c.gelu_method == "lut" else {}
    units["gelu"] = _params("gelu", "gelu", method=c.gelu_method, in_bits=c.gelu_in_bits,
                            in_frac=gin_frac, out_bits=ACT_BITS, out_frac=gout_frac,
                            segments=c.gelu_segments, **gelu_kw)
    scales["residual2"] = rng("x1", "ffn2", "residual2") / rmax
    gemm_params("ffn2_gemm")
    acc = scales["gelu"] * sw["2"]
    qw["b2"] = bias(weights.b2, acc, "ffn2_gemm")
    requant_stage("ffn2_requant", acc / scales["residual2"], c.residual_bits)
    requant_stage("skip2_requant", scales["x1"] / scales["residual2"], c.residual_bits)
    y_frac = frac_for(rng("y"), ACT_BITS, 0, 12)
    scales["y"] = 2.0 ** -y_frac
    units["layernorm2"], qw["gamma2"], qw["beta2"] = _layernorm(
        c, "layernorm2", weights.gamma2, weights.beta2, y_frac, scales["residual2"])
    scales.update({f"w{k}": v for k, v in sw.items()})
    return IntegerEncoder(config=c, units=units, weights=qw, channel_scales=chans,
                          in_frac=in_frac, out_frac=y_frac, scales=scales)


def _layernorm(c, stage, gamma, beta, out_frac, in_scale):
    """LayerNorm's ``Params`` (affine) and its gamma/beta codes."""
    gamma_frac = frac_for(np.abs(gamma).max(), c.gamma_bits, 0, 15)
    ghi = (1 << (c.gamma_bits - 1)) - 1
    g = np.clip(np.rint(np.asarray(gamma) * 2.0 ** gamma_frac), -ghi - 1, ghi).astype(np.int64)
    b = np.clip(np.rint(np.asarray(beta) * 2.0 ** out_frac), -_INT8 - 1, _INT8).astype(np.int64)
    # LayerNorm's in_frac cancels out of its result; it records the nominal scale.
    nominal = int(min(16, max(0, round(-math.log2(in_scale)))))
    params = _params(stage, "layernorm", method=c.layernorm_method, channels=c.d_model,
                     in_bits=c.residual_bits, in_frac=nominal, out_bits=ACT_BITS,
                     out_frac=out_frac, lut_bits=c.layernorm_lut_bits, affine=True,
                     gamma_bits=c.gamma_bits, gamma_frac=gamma_frac)
    return params, g, b
