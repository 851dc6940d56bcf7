# SPDX-License-Identifier: BSD-2-Clause
"""The encoder layer's configuration (dimensions, methods, formats) and the facts derived from it.

Plain Python: no NumPy, no Amaranth. :class:`EncoderConfig` validates on
construction against the limits of the units the layer is built from
(``softmax`` takes vectors of ``n = seq`` codes, 2..1024; ``layernorm`` vectors
of ``channels = d_model``, 2..1024; the widths of ``requant``, ``gelu``,
``softmax`` and ``layernorm``), so that a configuration that cannot be built
fails here, naming the layer's parameter. :data:`STAGES` lists the stages in
order with the unit each one is (docs/encoder_layer.md).
"""

import dataclasses
import numbers
import operator

from accelgen.consts.requant import MODES as REQUANT_MODES

__all__ = ["EncoderConfig", "IntegerEncoder", "STAGES", "GEMM_STAGES", "REQUANT_STAGES",
           "SOFTMAX_METHODS", "GELU_METHODS", "LAYERNORM_METHODS", "REQUANT_MODES",
           "ACT_BITS", "ACC_WIDTH", "PROB_BITS", "PROB_FRAC", "VECTOR_MAX"]

#: The methods of ``softmax``, ``gelu`` and ``layernorm`` (the generators'
#: ``METHODS``; a test checks that the lists agree).
SOFTMAX_METHODS = ("lut", "base2", "ibert")
GELU_METHODS = ("lut", "ibert", "pwl")
LAYERNORM_METHODS = ("isqrt", "rsqrt")

#: Activations and weights are int8, GEMM accumulators int32 (wrapping).
ACT_BITS = 8
ACC_WIDTH = 32
#: Softmax's output codes (unsigned ``PROB_BITS``, scale ``2**-PROB_FRAC``), the
#: activations of the ``P·V`` GEMM.
PROB_BITS = 8
PROB_FRAC = 8
#: The largest vector of ``softmax`` (``n``) and ``layernorm`` (``channels``).
VECTOR_MAX = 1024

#: ``(stage, unit)`` in dataflow order; ``residual1``/``residual2`` are the
#: saturating adds of the two requantized operands (no unit).
STAGES = (
    ("q_gemm", "systolic_array"), ("q_requant", "requant"),
    ("k_gemm", "systolic_array"), ("k_requant", "requant"),
    ("v_gemm", "systolic_array"), ("v_requant", "requant"),
    ("scores_gemm", "systolic_array"), ("scores_requant", "requant"),
    ("softmax", "softmax"),
    ("context_gemm", "systolic_array"), ("context_requant", "requant"),
    ("out_gemm", "systolic_array"), ("out_requant", "requant"),
    ("skip1_requant", "requant"), ("residual1", None),
    ("layernorm1", "layernorm"),
    ("ffn1_gemm", "systolic_array"), ("ffn1_requant", "requant"),
    ("gelu", "gelu"),
    ("ffn2_gemm", "systolic_array"), ("ffn2_requant", "requant"),
    ("skip2_requant", "requant"), ("residual2", None),
    ("layernorm2", "layernorm"),
)
GEMM_STAGES = tuple(s for s, u in STAGES if u == "systolic_array")
REQUANT_STAGES = tuple(s for s, u in STAGES if u == "requant")


def _int(name, value, lo, hi, why=""):
    if isinstance(value, bool):
        raise TypeError(f"encoder_layer {name} must be an integer, not {value!r}")
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"encoder_layer {name} must be an integer, not {value!r}") from None
    if not lo <= value <= hi:
        raise ValueError(f"encoder_layer {name} must be an integer from {lo} to {hi}{why}, "
                         f"not {value}")
    return value


def _choice(name, value, choices):
    if value not in choices:
        raise ValueError(f"encoder_layer {name} must be one of {', '.join(choices)}, "
                         f"not {value!r}")
    return value


@dataclasses.dataclass(frozen=True, kw_only=True)
class EncoderConfig:
    """An integer BERT-style (post-LayerNorm) encoder layer.

    Dimensions: ``d_model`` (hidden size, LayerNorm's ``channels``: 2..1024),
    ``heads`` (dividing ``d_model``), ``d_ff`` (FFN width, 1..32768: an int32
    accumulator of ``d_ff`` int8 products cannot wrap), ``seq`` (tokens per
    sequence, Softmax's ``n``: 2..1024). ``rows``/``cols``/``dataflow`` size the
    ``systolic_array`` of the GEMMs (the golden model's results do not depend on
    them). Methods: ``softmax_method``, ``gelu_method``, ``layernorm_method``
    (the units' choices), ``requant_mode`` (``requant``'s modes) with
    ``mult_bits``, and ``per_channel`` (per-output-channel weight scales, whose
    requantizers then take ``m``/``shift`` per channel). Formats:
    ``softmax_in_bits`` (signed scores into Softmax), ``gelu_in_bits`` (signed
    FFN pre-activations into GELU), ``residual_bits`` (the residual sums into
    LayerNorm), ``gamma_bits`` (LayerNorm's gamma), table sizes
    ``softmax_lut_bits`` (``lut``/``base2``), ``gelu_lut_bits`` (``lut``),
    ``gelu_segments`` (``pwl``), ``layernorm_lut_bits`` (``rsqrt``).
    Calibration: ``percentile`` (of ``|x|`` over the calibration batch, 50..100;
    100 is the maximum) sets every activation range.

    Raises
    ------
    TypeError, ValueError
        On construction, naming the parameter and its allowed range.
    """

    d_model: int = 32
    heads: int = 2
    d_ff: int = 64
    seq: int = 8
    rows: int = 8
    cols: int = 8
    dataflow: str = "ws"
    softmax_method: str = "lut"
    gelu_method: str = "lut"
    layernorm_method: str = "isqrt"
    requant_mode: str = "gemmlowp"
    mult_bits: int = 32
    per_channel: bool = False
    softmax_in_bits: int = 16
    softmax_lut_bits: int = 10
    gelu_in_bits: int = 16
    gelu_lut_bits: int = 10
    gelu_segments: int = 32
    layernorm_lut_bits: int = 8
    residual_bits: int = 16
    gamma_bits: int = 12
    percentile: float = 100.0

    def __post_init__(self):
        def put(name, value):
            object.__setattr__(self, name, value)

        put("d_model", _int("d_model", self.d_model, 2, VECTOR_MAX, " (layernorm channels)"))
        put("heads", _int("heads", self.heads, 1, self.d_model, f" (d_model = {self.d_model})"))
        if self.d_model % self.heads:
            raise ValueError(f"encoder_layer d_model must be a multiple of heads = "
                             f"{self.heads}, not {self.d_model}")
        put("d_ff", _int("d_ff", self.d_ff, 1, 1 << 15, " (int32 accumulators)"))
        put("seq", _int("seq", self.seq, 2, VECTOR_MAX, " (softmax n)"))
        put("rows", _int("rows", self.rows, 1, 32, " (systolic_array rows)"))
        put("cols", _int("cols", self.cols, 1, 32, " (systolic_array cols)"))
        _choice("dataflow", self.dataflow, ("ws", "os"))
        _choice("softmax_method", self.softmax_method, SOFTMAX_METHODS)
        _choice("gelu_method", self.gelu_method, GELU_METHODS)
        _choice("layernorm_method", self.layernorm_method, LAYERNORM_METHODS)
        _choice("requant_mode", self.requant_mode, REQUANT_MODES)
        put("mult_bits", _int("mult_bits", self.mult_bits, 2, 32, " (requant mult_bits)"))
        if not isinstance(self.per_channel, bool):
            raise TypeError(f"encoder_layer per_channel must be a bool, not "
                            f"{self.per_channel!r}")
        put("softmax_in_bits", _int("softmax_in_bits", self.softmax_in_bits, 2, 16,
                                    " (softmax in_bits)"))
        put("softmax_lut_bits", _int("softmax_lut_bits", self.softmax_lut_bits, 1, 12,
                                     " (softmax lut_bits)"))
        put("gelu_in_bits", _int("gelu_in_bits", self.gelu_in_bits, 2, 16, " (gelu in_bits)"))
        put("gelu_lut_bits", _int("gelu_lut_bits", self.gelu_lut_bits, 1,
                                  self.gelu_in_bits if self.gelu_method == "lut" else 16,
                                  " (gelu lut_bits)"))
        put("gelu_segments", _int("gelu_segments", self.gelu_segments, 2, 256,
                                  " (gelu segments)"))
        if self.gelu_segments & (self.gelu_segments - 1):
            raise ValueError(f"encoder_layer gelu_segments must be a power of two from 2 "
                             f"to 256, not {self.gelu_segments}")
        put("layernorm_lut_bits", _int("layernorm_lut_bits", self.layernorm_lut_bits, 4, 12,
                                       " (layernorm lut_bits)"))
        put("residual_bits", _int("residual_bits", self.residual_bits, ACT_BITS, 16,
                                  " (requant out_bits and layernorm in_bits)"))
        put("gamma_bits", _int("gamma_bits", self.gamma_bits, 2, 16,
                               " (layernorm gamma_bits)"))
        if isinstance(self.percentile, bool) or not isinstance(self.percentile, numbers.Real):
            raise TypeError(f"encoder_layer percentile must be a real number, not "
                            f"{self.percentile!r}")
        if not 50 <= self.percentile <= 100:
            raise ValueError(f"encoder_layer percentile must be from 50 to 100, not "
                             f"{self.percentile!r}")
        put("percentile", float(self.percentile))

    @property
    def d_head(self):
        """Head size: ``d_model / heads``."""
        return self.d_model // self.heads

    @property
    def gemms(self):
        """``{stage: (M, K, N, count)}``: each GEMM stage is ``count`` products of
        ``M x K`` activations by ``K x N`` weights (per head for the attention)."""
        s, d, h, dh, f = self.seq, self.d_model, self.heads, self.d_head, self.d_ff
        return {"q_gemm": (s, d, d, 1), "k_gemm": (s, d, d, 1), "v_gemm": (s, d, d, 1),
                "scores_gemm": (s, dh, s, h), "context_gemm": (s, s, dh, h),
                "out_gemm": (s, d, d, 1), "ffn1_gemm": (s, d, f, 1),
                "ffn2_gemm": (s, f, d, 1)}

    @property
    def macs(self):
        """``{stage: multiply-accumulates}`` of each GEMM stage for one sequence."""
        return {k: m * kk * n * c for k, (m, kk, n, c) in self.gemms.items()}

    @property
    def total_macs(self):
        """Multiply-accumulates of the whole layer for one sequence:
        ``seq * (4*d_model**2 + 2*seq*d_model + 2*d_model*d_ff)``."""
        return sum(self.macs.values())

    @property
    def shapes(self):
        """``{tensor: shape}`` of the activations of one sequence, in dataflow order."""
        s, d, h, f = self.seq, self.d_model, self.heads, self.d_ff
        return {"x": (s, d), "q": (s, d), "k": (s, d), "v": (s, d), "scores": (h, s, s),
                "probs": (h, s, s), "context": (s, d), "attention": (s, d),
                "residual1": (s, d), "x1": (s, d), "ffn1": (s, f), "gelu": (s, f),
                "ffn2": (s, d), "residual2": (s, d), "y": (s, d)}

    def as_dict(self):
        """The configuration as a plain dict (what the bench and reports record)."""
        return dataclasses.asdict(self)

    @property
    def label(self):
        """A short label: ``d32h2f64s8 lut/lut/isqrt gemmlowp``."""
        pc = " pc" if self.per_channel else ""
        return (f"d{self.d_model}h{self.heads}f{self.d_ff}s{self.seq} "
                f"{self.softmax_method}/{self.gelu_method}/{self.layernorm_method} "
                f"{self.requant_mode}{pc}")


@dataclasses.dataclass(frozen=True)
class IntegerEncoder:
    """Everything the integer layer computes with, as :mod:`.quantize` derives it.

    ``config``: the :class:`EncoderConfig`. ``units``: ``{stage: params}`` for
    every stage of :data:`STAGES` with a unit (each the unit's own ``Params``,
    validated). ``weights``: int8 ``wq, wk, wv, wo, w1, w2`` (``K x N``, applied
    as ``x @ W``), int32 biases ``bq, bk, bv, bo, b1, b2`` at their GEMM's
    accumulator scale, LayerNorm's ``gamma1, beta1, gamma2, beta2`` codes (gamma
    signed ``gamma_bits`` at ``2**-gamma_frac``, beta in the output format).
    ``channel_scales``: ``{stage: {"m", "shift", "shift2": int arrays}}`` of the
    per-channel requantizers (empty per tensor). ``in_frac``: the input codes'
    scale ``2**-in_frac``; ``out_frac``: the output codes' (``layernorm2``'s).
    ``scales``: the real scale of every tensor (float, for reports).
    """

    config: EncoderConfig
    units: dict
    weights: dict
    channel_scales: dict
    in_frac: int
    out_frac: int
    scales: dict

    def replace_unit(self, stage, **changes):
        """A copy with ``units[stage]`` rebuilt with ``changes`` (its ``Params``
        validate again): for experiments and for tests that break one stage."""
        params = dataclasses.replace(self.units[stage], **changes)
        return dataclasses.replace(self, units={**self.units, stage: params})

