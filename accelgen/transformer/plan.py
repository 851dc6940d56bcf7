# SPDX-License-Identifier: BSD-2-Clause
"""The encoder layer's hardware plan: memories, their regions, the passes of one sequence.

Plain Python (no NumPy, no Amaranth): :class:`LayerPlan` turns a calibrated
:class:`~accelgen.transformer.layer.IntegerEncoder` into the facts the RTL
(:mod:`accelgen.transformer.rtl`), its cycle model
(:mod:`accelgen.transformer.cycles`) and its testbench share: the weight
stream's order, every buffer's regions, and the passes a sequence goes
through, each with its constants.

Buffers (element ``(token, channel)`` of a tensor; ``cols`` elements per word):

``act``
    ``rows`` banks of ``cols`` int8 codes: token ``t`` in bank ``t % rows`` at
    ``base + (t // rows) * cw + channel // cols`` (``cw`` words per token). A
    GEMM reads one channel of ``rows`` tokens (its activation column) in one
    cycle. Holds ``x``, ``q``, ``context``, ``x1``, ``gelu`` and ``probs``.
``kt``
    ``cols`` banks: channel ``c`` of the keys in bank ``c % cols`` at
    ``(c // cols) * sw + t // cols``, lane ``t % cols`` (``sw = seq / cols``):
    ``Kᵀ``'s rows, the weights of ``Q·Kᵀ``.
``row``
    one bank of ``cols`` 16-bit lanes, token-major (``base + t * cw + word``):
    ``v``, the scores and the residual sums.
``weights`` / ``bias`` / ``gamma`` / ``beta``
    what the weight stream loads (its order: :attr:`LayerPlan.load_order`).
``scales``
    a ROM of the requantizer's per-channel multiplier and shifts, per stage.
"""

import dataclasses

from accelgen.registry import get_unit
from accelgen.transformer.layer import ACC_WIDTH, ACT_BITS

__all__ = ["LayerPlan", "Pass", "REQUANT_ORDER", "check_buildable", "unit_params"]

#: The requantizer stages in the scale ROM's order.
REQUANT_ORDER = ("q_requant", "k_requant", "v_requant", "scores_requant",
                 "context_requant", "out_requant", "skip1_requant", "ffn1_requant",
                 "ffn2_requant", "skip2_requant")


def check_buildable(config):
    """``ValueError`` naming the parameter when the RTL cannot be built for
    ``config`` (an :class:`~accelgen.transformer.layer.EncoderConfig`)."""
    c, r = config.cols, config.rows
    for name, value in (("rows", r), ("cols", c)):
        if value & (value - 1):
            raise ValueError(f"encoder_layer {name} must be a power of two, not {value}")
    if c > 16:
        raise ValueError(f"encoder_layer cols must be from 1 to 16 (the units' lanes), "
                         f"not {c}")
    if config.seq % r or config.seq % c:
        raise ValueError(f"encoder_layer seq must be a multiple of rows = {r} and cols = "
                         f"{c}, not {config.seq}")
    if config.d_head % c:
        raise ValueError(f"encoder_layer d_model / heads must be a multiple of cols = {c}, "
                         f"not {config.d_head}")
    if config.d_ff % c:
        raise ValueError(f"encoder_layer d_ff must be a multiple of cols = {c}, not "
                         f"{config.d_ff}")
    if config.dataflow != "os":
        raise ValueError(f"encoder_layer dataflow must be 'os' (its GEMMs sum whole "
                         f"dot products in the array), not {config.dataflow!r}")


@dataclasses.dataclass(frozen=True)
class Pass:
    """One pass over a sequence. ``kind``: ``input`` (``i`` into ``act``),
    ``gemm``, ``skip`` (a buffer through the requantizer), ``softmax``,
    ``layernorm``. GEMM: ``k``/``n`` (``M = seq``), the activation operand at
    ``a_base`` of ``act`` (``a_cw`` words per token, ``a_unsigned`` for the
    probabilities), the weight operand (``b_kind``: ``weights``, ``kt`` or
    ``v``; address ``b_base + b_step * k + n_tile``, ``kt`` stepping per word of
    ``k``), ``bias`` (word base or ``None``), the requantizer ``stage`` and its
    scale ROM base, ``residual`` (add the ``row`` buffer's residual region,
    saturating) or ``gelu``. Vector passes: ``src`` buffer (``act`` or ``row``)
    at ``src_base`` with ``words`` per token. Every pass writes ``dst`` (``act``,
    ``kt``, ``row`` or ``out``) at ``dst_base`` (``dst_cw`` words per token,
    ``dst_off`` words into the token's row)."""

    name: str
    kind: str
    stage: str = None
    k: int = 0
    n: int = 0
    a_base: int = 0
    a_cw: int = 0
    a_unsigned: bool = False
    b_kind: str = None
    b_base: int = 0
    b_step: int = 0
    bias: int = None
    scale_base: int = 0
    residual: bool = False
    gelu: bool = False
    src: str = None
    src_base: int = 0
    words: int = 0
    ln: int = 0
    dst: str = None
    dst_base: int = 0
    dst_cw: int = 0
    dst_off: int = 0


class LayerPlan:
    """Memories, weight order and passes of the RTL for ``model`` (an
    :class:`~accelgen.transformer.layer.IntegerEncoder`), the systolic array's
    product register ``pipeline`` (0 or 1)."""

    def __init__(self, model, pipeline=0):
        cfg = self.config = model.config
        check_buildable(cfg)
        if pipeline not in (0, 1):
            raise ValueError(f"encoder_layer pipeline must be 0 or 1, not {pipeline!r}")
        self.model, self.pipeline = model, pipeline
        self._check_units()
        r, c = cfg.rows, cfg.cols
        s, d, f, h, dh = cfg.seq, cfg.d_model, cfg.d_ff, cfg.heads, cfg.d_head
        self.dw, self.fw, self.sw, self.hw = d // c, f // c, s // c, dh // c
        dw, fw, sw, hw = self.dw, self.fw, self.sw, self.hw
        tiles = s // r

        def regions(sizes):
            out, at = {}, 0
            for name, size in sizes:
                out[name] = at
                at += size
            return out, at

        self.act, self.act_depth = regions([(n, tiles * w) for n, w in (
            ("x", dw), ("q", dw), ("context", dw), ("x1", dw), ("gelu", fw), ("probs", sw))])
        self.act_cw = {"x": dw, "q": dw, "context": dw, "x1": dw, "gelu": fw, "probs": sw}
        self.kt_depth = dw * sw
        self.row, self.row_depth = regions([("v", s * dw), ("scores", s * sw),
                                            ("residual", s * dw)])
        self.weights, self.weight_depth = regions([
            ("wq", d * dw), ("wk", d * dw), ("wv", d * dw), ("wo", d * dw), ("w1", d * fw),
            ("w2", f * dw)])
        self.bias, self.bias_depth = regions([("bq", dw), ("bk", dw), ("bv", dw),
                                              ("bo", dw), ("b1", fw), ("b2", dw)])
        self.ln_depth = 2 * dw
        widths = {"q_requant": dw, "k_requant": dw, "v_requant": dw, "scores_requant": sw,
                  "context_requant": dw, "out_requant": dw, "skip1_requant": dw,
                  "ffn1_requant": fw, "ffn2_requant": dw, "skip2_requant": dw}
        self.scales, self.scale_depth = regions([(st, widths[st]) for st in REQUANT_ORDER])
        self.passes = self._passes()

    def _check_units(self):
        u = self.model.units
        mode = u["q_requant"].mode
        for stage in REQUANT_ORDER:
            p = u[stage]
            if (p.in_bits, p.zero_point, p.in_offset, p.out_signed, p.mode,
                    p.mult_bits) != (ACC_WIDTH, 0, 0, True, mode, u["q_requant"].mult_bits):
                raise ValueError(f"encoder_layer {stage} must take {ACC_WIDTH}-bit inputs "
                                 f"to signed outputs with no offsets, mode {mode!r}, like "
                                 f"the shared requantizer; not {p}")

    def _passes(self):
        cfg, u = self.config, self.model.units
        s, d, f, dh = cfg.seq, cfg.d_model, cfg.d_ff, cfg.d_head
        dw, fw, sw, hw = self.dw, self.fw, self.sw, self.hw
        A, W, B, R, S = self.act, self.weights, self.bias, self.row, self.scales

        def gemm(name, a, b, bias, stage, dst, dst_base, dst_cw, *, k=d, n=d, a_off=0,
                 b_kind="weights", b_base=None, b_step=None, dst_off=0, scale_off=0, **kw):
            return Pass(name, "gemm", stage=stage, k=k, n=n, a_base=A[a] + a_off,
                        a_cw=self.act_cw[a], b_kind=b_kind,
                        b_base=W[b] if b_base is None else b_base,
                        b_step=n // cfg.cols if b_step is None else b_step,
                        bias=None if bias is None else B[bias],
                        scale_base=S[stage] + scale_off, dst=dst, dst_base=dst_base,
                        dst_cw=dst_cw, dst_off=dst_off, **kw)

        passes = [Pass("input", "input", dst="act", dst_base=A["x"], dst_cw=dw, words=dw),
                  gemm("q", "x", "wq", "bq", "q_requant", "act", A["q"], dw),
                  gemm("k", "x", "wk", "bk", "k_requant", "kt", 0, dw),
                  gemm("v", "x", "wv", "bv", "v_requant", "row", R["v"], dw)]
        for h in range(cfg.heads):
            passes += [
                gemm(f"scores{h}", "q", None, None, "scores_requant", "row", R["scores"], sw,
                     k=dh, n=s, a_off=h * hw, b_kind="kt", b_base=h * hw * sw, b_step=sw),
                Pass(f"softmax{h}", "softmax", src="row", src_base=R["scores"], words=sw,
                     dst="act", dst_base=A["probs"], dst_cw=sw),
                gemm(f"context{h}", "probs", None, None, "context_requant", "act",
                     A["context"], dw, k=s, n=dh, a_unsigned=True, b_kind="v",
                     b_base=R["v"] + h * hw, b_step=dw, dst_off=h * hw, scale_off=h * hw)]
        passes += [
            Pass("skip1", "skip", stage="skip1_requant", scale_base=S["skip1_requant"],
                 src="act", src_base=A["x"], words=dw, dst="row", dst_base=R["residual"],
                 dst_cw=dw),
            gemm("out", "context", "wo", "bo", "out_requant", "row", R["residual"], dw,
                 residual=True),
            Pass("layernorm1", "layernorm", src="row", src_base=R["residual"], words=dw,
                 ln=0, dst="act", dst_base=A["x1"], dst_cw=dw),
            Pass("skip2", "skip", stage="skip2_requant", scale_base=S["skip2_requant"],
                 src="act", src_base=A["x1"], words=dw, dst="row", dst_base=R["residual"],
                 dst_cw=dw),
            gemm("ffn1", "x1", "w1", "b1", "ffn1_requant", "act", A["gelu"], fw, n=f,
                 gelu=True),
            gemm("ffn2", "gelu", "w2", "b2", "ffn2_requant", "row", R["residual"], dw, k=f,
                 residual=True),
            Pass("layernorm2", "layernorm", src="row", src_base=R["residual"], words=dw,
                 ln=1, dst="out", dst_cw=dw)]
        return passes

    # -- the weight stream -------------------------------------------------------

    @property
    def load_order(self):
        """``[(tensor, memory, words)]`` in the weight stream's order: the six
        weight matrices (``K x N``, row by row, ``cols`` values per word), the six
        biases, then ``gamma1, beta1, gamma2, beta2``."""
        dw, fw = self.dw, self.fw
        mats = [("wq", self.dw), ("wk", dw), ("wv", dw), ("wo", dw), ("w1", fw), ("w2", dw)]
        rows = {"wq": self.config.d_model, "wk": self.config.d_model,
                "wv": self.config.d_model, "wo": self.config.d_model,
                "w1": self.config.d_model, "w2": self.config.d_ff}
        out = [(name, "weights", rows[name] * w) for name, w in mats]
        out += [(name, "bias", w) for name, w in (("bq", dw), ("bk", dw), ("bv", dw),
                                                   ("bo", dw), ("b1", fw), ("b2", dw))]
        out += [(name, name[:-1], dw) for name in ("gamma1", "beta1", "gamma2", "beta2")]
        return out

    @property
    def load_words(self):
        """Beats of the weight stream."""
        return sum(words for _, _, words in self.load_order)

    def load_manifest(self):
        return {"beats": self.load_words, "lanes": self.config.cols,
                "order": [{"tensor": t, "beats": w} for t, _, w in self.load_order],
                "lane_bits": {"weights": ACT_BITS, "bias": ACC_WIDTH,
                              "gamma": self.model.units["layernorm1"].gamma_bits,
                              "beta": ACT_BITS}}

    def memory_manifest(self):
        c, r = self.config.cols, self.config.rows
        return {"act": {"banks": r, "depth": self.act_depth, "width": 8 * c},
                "kt": {"banks": c, "depth": self.kt_depth, "width": 8 * c},
                "row": {"banks": 1, "depth": self.row_depth, "width": 16 * c},
                "weights": {"banks": 1, "depth": self.weight_depth, "width": 8 * c},
                "bias": {"banks": 1, "depth": self.bias_depth, "width": 32 * c},
                "gamma": {"banks": 1, "depth": self.ln_depth,
                          "width": self.model.units["layernorm1"].gamma_bits * c},
                "beta": {"banks": 1, "depth": self.ln_depth, "width": 8 * c},
                "scales": {"banks": 1, "depth": self.scale_depth, "rom": True}}

    def scale_entries(self, stage):
        """``[{field: value per channel}]``: the requantizer fields of ``stage``'s
        channels (per tensor: the stage's own multiplier and shifts repeated)."""
        p = self.model.units[stage]
        n = self.config.seq if stage == "scores_requant" else \
            self.config.d_ff if stage == "ffn1_requant" else self.config.d_model
        if p.per_channel:
            fields = self.model.channel_scales[stage]
            return [{f: int(fields[f][ch]) if f in fields else 0
                     for f in ("m", "shift", "shift2")} for ch in range(n)]
        return [{"m": p.multiplier, "shift": p.shift, "shift2": p.shift2}] * n


def unit_params(plan):
    """``{name: Params}`` of the units inside the layer: ``array``,
    ``requant`` (shared, per channel, 16-bit outputs), ``softmax``, ``gelu``,
    ``layernorm1``/``layernorm2`` (lanes = ``cols``)."""
    cfg, u = plan.config, plan.model.units
    c = cfg.cols
    array = get_unit("systolic_array").params_cls(
        rows=cfg.rows, cols=c, dataflow="os", a_width=9, w_width=8, acc_width=32,
        a_signed=True, w_signed=True, pipeline=plan.pipeline)
    q = u["q_requant"]
    requant = get_unit("requant").params_cls(
        mode=q.mode, lanes=c, in_bits=32, out_bits=16, out_signed=True,
        mult_bits=q.mult_bits, per_channel=True, pipeline=3)
    return {"array": array, "requant": requant,
            "softmax": dataclasses.replace(u["softmax"], lanes=c),
            "gelu": dataclasses.replace(u["gelu"], lanes=c),
            "layernorm1": dataclasses.replace(u["layernorm1"], lanes=c),
            "layernorm2": dataclasses.replace(u["layernorm2"], lanes=c)}
