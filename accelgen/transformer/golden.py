# SPDX-License-Identifier: BSD-2-Clause
"""Golden model of the integer encoder layer: the units' golden models composed, bit-exact.

Every stage is one unit's golden model called with that unit's ``Params`` (from
:class:`accelgen.transformer.layer.IntegerEncoder`'s ``units``, built by
:mod:`accelgen.transformer.quantize`); nothing here re-implements a unit. The
stages, for int8 input codes ``x`` (``seq x d_model``, scale ``2**-in_frac``;
leading batch axes allowed), are those of
:data:`accelgen.transformer.layer.STAGES` (docs/encoder_layer.md):

1. ``q/k/v_gemm``: ``x @ W + b`` -- ``systolic_array``'s result, the exact
   product reduced modulo ``2**acc_width`` (two's complement), with the int32
   bias added to the accumulator and the sum wrapped the same way;
   ``q/k/v_requant``: ``requant`` to int8 (per channel when the weights are).
2. per head ``h``: ``scores_gemm`` ``Q_h @ K_h^T``; ``scores_requant`` to
   Softmax's signed input codes (the ``1/sqrt(d_head)`` folded into the scale);
   ``softmax`` over each row (``seq`` codes) to unsigned probability codes;
   ``context_gemm`` ``P_h @ V_h``; ``context_requant`` to int8; heads
   concatenated along the channels.
3. ``out_gemm`` ``ctx @ Wo + bo``; ``out_requant`` and ``skip1_requant`` take the
   attention output and the input ``x`` to the same residual scale
   (``residual_bits`` signed); ``residual1`` adds them, saturating to
   ``residual_bits``; ``layernorm1`` (affine) gives int8 ``x1``.
4. ``ffn1_gemm`` ``x1 @ W1 + b1``; ``ffn1_requant`` to GELU's input codes;
   ``gelu`` to int8; ``ffn2_gemm`` ``g @ W2 + b2``; ``ffn2_requant`` and
   ``skip2_requant`` (``x1``) to the second residual scale; ``residual2`` adds,
   saturating; ``layernorm2`` (affine) gives the int8 output, scale
   ``2**-out_frac``.

NumPy only (with the golden models and :mod:`accelgen.num`): no Amaranth, no
generators.
"""

import numpy as np

from accelgen.golden.gelu import gelu
from accelgen.golden.int_mac import wrap
from accelgen.golden.layernorm import layernorm
from accelgen.golden.requant import requant
from accelgen.golden.softmax import softmax
from accelgen.num.fixed import saturate
from accelgen.num.numeric import check_range

__all__ = ["encoder_layer", "encoder_stages", "gemm", "split_heads", "merge_heads"]


def gemm(params, a, w, bias=None):
    """``systolic_array``'s GEMM ``a @ w`` (any leading axes on ``a``, or on both):
    the exact products summed and reduced modulo ``2**acc_width`` (two's
    complement when ``params.acc_signed``), which is what the array's tiled
    schedule computes (:func:`accelgen.golden.systolic_array.gemm`); ``bias``
    (int32, broadcast over rows) is added to the accumulator and the sum reduced
    the same way. Operands are checked against the array's widths and
    signedness (``ValueError``). int64 result."""
    a, w = np.asarray(a, dtype=np.int64), np.asarray(w, dtype=np.int64)
    check_range("activation", a, params.a_width, params.a_signed)
    check_range("weight", w, params.w_width, params.w_signed)
    acc = np.matmul(a, w)
    if bias is not None:
        acc = acc + np.asarray(bias, dtype=np.int64)
    return wrap(acc, params.acc_width, params.acc_signed).astype(np.int64)


def split_heads(t, heads):
    """``(..., seq, heads*d_head)`` to ``(..., heads, seq, d_head)``."""
    *lead, s, d = t.shape
    return np.moveaxis(t.reshape(*lead, s, heads, d // heads), -2, -3)


def merge_heads(t):
    """``(..., heads, seq, d_head)`` to ``(..., seq, heads*d_head)``."""
    *lead, h, s, dh = t.shape
    return np.moveaxis(t, -3, -2).reshape(*lead, s, h * dh)


def _requant(model, stage, x):
    """``requant`` of ``x`` at ``stage``: per tensor from its ``Params``, per
    channel with the stage's ``m``/``shift``/``shift2`` along the last axis."""
    params = model.units[stage]
    if params.per_channel:
        fields = model.channel_scales[stage]
        return requant(params, x, **{k: fields[k] for k in params.stream_fields()})
    return requant(params, x)


def encoder_stages(model, x):
    """Every intermediate of the integer layer for int8 input codes ``x``
    (``(..., seq, d_model)``): ``{name: int64 codes}`` with the names of
    :attr:`accelgen.transformer.layer.EncoderConfig.shapes` (``scores`` and
    ``probs`` per head) plus the accumulators ``*_acc``; ``y`` is the output.
    ``model`` is an :class:`accelgen.transformer.layer.IntegerEncoder`.
    ``ValueError`` when ``x`` has the wrong shape or values outside int8."""
    cfg, u, w = model.config, model.units, model.weights
    x = np.asarray(x, dtype=np.int64)
    if x.ndim < 2 or x.shape[-2:] != (cfg.seq, cfg.d_model):
        raise ValueError(f"encoder_layer input must have shape (..., {cfg.seq}, "
                         f"{cfg.d_model}), not {x.shape}")
    out = {"x": x}
    for name in ("q", "k", "v"):
        acc = gemm(u[f"{name}_gemm"], x, w[f"w{name}"], w[f"b{name}"])
        out[f"{name}_acc"] = acc
        out[name] = _requant(model, f"{name}_requant", acc)
    heads = cfg.heads
    qh, kh, vh = (split_heads(out[n], heads) for n in ("q", "k", "v"))
    out["scores_acc"] = gemm(u["scores_gemm"], qh, np.swapaxes(kh, -1, -2))
    out["scores"] = _requant(model, "scores_requant", out["scores_acc"])
    out["probs"] = softmax(u["softmax"], out["scores"])
    ctx_acc = gemm(u["context_gemm"], out["probs"], vh)
    out["context_acc"] = merge_heads(ctx_acc)
    out["context"] = _requant(model, "context_requant", out["context_acc"])
    out["attention_acc"] = gemm(u["out_gemm"], out["context"], w["wo"], w["bo"])
    out["attention"] = _requant(model, "out_requant", out["attention_acc"])
    out["skip1"] = _requant(model, "skip1_requant", x)
    out["residual1"] = saturate(out["attention"] + out["skip1"], cfg.residual_bits, True)
    out["x1"] = layernorm(u["layernorm1"], out["residual1"], w["gamma1"], w["beta1"])
    out["ffn1_acc"] = gemm(u["ffn1_gemm"], out["x1"], w["w1"], w["b1"])
    out["ffn1"] = _requant(model, "ffn1_requant", out["ffn1_acc"])
    out["gelu"] = gelu(u["gelu"], out["ffn1"])
    out["ffn2_acc"] = gemm(u["ffn2_gemm"], out["gelu"], w["w2"], w["b2"])
    out["ffn2"] = _requant(model, "ffn2_requant", out["ffn2_acc"])
    out["skip2"] = _requant(model, "skip2_requant", out["x1"])
    out["residual2"] = saturate(out["ffn2"] + out["skip2"], cfg.residual_bits, True)
    out["y"] = layernorm(u["layernorm2"], out["residual2"], w["gamma2"], w["beta2"])
    return {k: np.asarray(v, dtype=np.int64) for k, v in out.items()}


def encoder_layer(model, x):
    """Output codes (int8 values, int64 array, scale ``2**-model.out_frac``) of the
    integer layer for int8 input codes ``x`` (``(..., seq, d_model)``, scale
    ``2**-model.in_frac``): :func:`encoder_stages`' ``y``."""
    return encoder_stages(model, x)["y"]
