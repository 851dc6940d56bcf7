# SPDX-License-Identifier: BSD-2-Clause
"""The float encoder layer (NumPy float64, ONNX run by onnxruntime) and the deviation figures.

The layer is BERT's (Devlin et al. 2019; post-LayerNorm, no attention mask,
exact erf GELU, LayerNorm epsilon :data:`accelgen.transformer.data.LN_EPS`)::

    Q, K, V = x Wq + bq, x Wk + bk, x Wv + bv          (per head: d_head columns)
    P_h     = softmax(Q_h K_h^T / sqrt(d_head))         (over each row)
    A       = concat_h(P_h V_h) Wo + bo
    x1      = LayerNorm(x + A; gamma1, beta1)
    y       = LayerNorm(x1 + GELU(x1 W1 + b1) W2 + b2; gamma2, beta2)

:func:`forward` computes it in float64 with every intermediate;
:func:`onnx_model` builds the same layer as an ONNX graph (``MatMul``, ``Add``,
``Reshape``, ``Transpose``, ``Mul``, ``Softmax``, ``Gelu``,
``LayerNormalization``; opset :data:`OPSET`) with the weights as float32
initializers, and :func:`run_onnx` runs it with onnxruntime on the CPU. onnx
and onnxruntime are development dependencies, imported inside the functions.
:func:`deviation` gives the integer layer's figures against a float output.
"""

import math

import numpy as np

from accelgen.transformer.data import LN_EPS

__all__ = ["forward", "onnx_model", "run_onnx", "deviation", "comparison_data", "measure",
           "evaluate", "stage_errors",
           "gelu_erf", "OPSET", "STAGE_SCALES"]

#: ONNX opset of :func:`onnx_model`: 20 is the first with ``Gelu``
#: (``LayerNormalization`` is 17); onnxruntime 1.32 runs it.
OPSET = 20

_WEIGHTS = ("wq", "bq", "wk", "bk", "wv", "bv", "wo", "bo", "gamma1", "beta1",
            "w1", "b1", "w2", "b2", "gamma2", "beta2")

_erf = np.vectorize(math.erf, otypes=[np.float64])


def gelu_erf(x):
    """``x/2 * (1 + erf(x / sqrt 2))`` in float64."""
    x = np.asarray(x, dtype=np.float64)
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def _layernorm(x, gamma, beta):
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + LN_EPS) * gamma + beta


def _heads(t, heads):
    *lead, s, d = t.shape  # contiguous, so that the stacked products use BLAS
    return np.ascontiguousarray(np.moveaxis(t.reshape(*lead, s, heads, d // heads), -2, -3))


def forward(weights, x):
    """The float64 layer on ``x`` (``(..., seq, d_model)``) with ``weights``
    (:class:`accelgen.transformer.data.FloatWeights`): ``{name: array}`` with
    ``x, q, k, v, scores`` (scaled by ``1/sqrt(d_head)``, per head), ``probs``,
    ``context, attention, residual1, x1, ffn1, gelu, ffn2, residual2, y``."""
    w = weights
    x = np.asarray(x, dtype=np.float64)
    out = {"x": x, "q": x @ w.wq + w.bq, "k": x @ w.wk + w.bk, "v": x @ w.wv + w.bv}
    qh, kh, vh = (_heads(out[n], w.heads) for n in ("q", "k", "v"))
    out["scores"] = qh @ np.ascontiguousarray(np.swapaxes(kh, -1, -2)) / math.sqrt(qh.shape[-1])
    z = np.exp(out["scores"] - out["scores"].max(axis=-1, keepdims=True))
    out["probs"] = z / z.sum(axis=-1, keepdims=True)
    ctx = out["probs"] @ vh
    *lead, h, s, dh = ctx.shape
    out["context"] = np.moveaxis(ctx, -3, -2).reshape(*lead, s, h * dh)
    out["attention"] = out["context"] @ w.wo + w.bo
    out["residual1"] = x + out["attention"]
    out["x1"] = _layernorm(out["residual1"], w.gamma1, w.beta1)
    out["ffn1"] = out["x1"] @ w.w1 + w.b1
    out["gelu"] = gelu_erf(out["ffn1"])
    out["ffn2"] = out["gelu"] @ w.w2 + w.b2
    out["residual2"] = out["x1"] + out["ffn2"]
    out["y"] = _layernorm(out["residual2"], w.gamma2, w.beta2)
    return out


def onnx_model(weights, seq, d_model):
    """The layer as an ONNX ``ModelProto`` (checked): input ``x`` float32
    ``(batch, seq, d_model)`` (``batch`` symbolic), output ``y`` of the same
    shape; the weights are float32 initializers."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w, h = weights, weights.heads
    dh = d_model // h
    inits = [numpy_helper.from_array(np.asarray(getattr(w, n), dtype=np.float32), n)
             for n in _WEIGHTS]
    inits += [numpy_helper.from_array(np.array(v, dtype=np.int64), n) for n, v in (
        ("heads_shape", [0, seq, h, dh]), ("model_shape", [0, seq, d_model]))]
    inits.append(numpy_helper.from_array(np.array(1.0 / math.sqrt(dh), dtype=np.float32),
                                         "inv_sqrt_dh"))
    nodes = []

    def node(op, inputs, output, **attrs):
        nodes.append(helper.make_node(op, inputs, [output], **attrs))
        return output

    def linear(src, wname, bname, out):
        return node("Add", [node("MatMul", [src, wname], f"{out}_mm"), bname], out)

    def heads(src, perm, out):  # (b, s, d) -> (b, h, s, dh) or (b, h, dh, s)
        r = node("Reshape", [src, "heads_shape"], f"{out}_r")
        return node("Transpose", [r], out, perm=perm)

    q = heads(linear("x", "wq", "bq", "q"), [0, 2, 1, 3], "qh")
    k = heads(linear("x", "wk", "bk", "k"), [0, 2, 3, 1], "kt")
    v = heads(linear("x", "wv", "bv", "v"), [0, 2, 1, 3], "vh")
    s = node("Mul", [node("MatMul", [q, k], "qk"), "inv_sqrt_dh"], "scores")
    p = node("Softmax", [s], "probs", axis=-1)
    c = node("Transpose", [node("MatMul", [p, v], "ctx_h")], "ctx_t", perm=[0, 2, 1, 3])
    c = node("Reshape", [c, "model_shape"], "context")
    a = linear(c, "wo", "bo", "attention")
    x1 = node("LayerNormalization", [node("Add", ["x", a], "residual1"), "gamma1", "beta1"],
              "x1", axis=-1, epsilon=LN_EPS)
    g = node("Gelu", [linear(x1, "w1", "b1", "ffn1")], "gelu", approximate="none")
    f = linear(g, "w2", "b2", "ffn2")
    node("LayerNormalization", [node("Add", [x1, f], "residual2"), "gamma2", "beta2"],
         "y", axis=-1, epsilon=LN_EPS)
    io = [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["batch", seq, d_model])
          for n in ("x", "y")]
    graph = helper.make_graph(nodes, "encoder_layer", io[:1], io[1:], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 9
    onnx.checker.check_model(model, full_check=True)
    return model


def run_onnx(weights, x):
    """The ONNX layer run by onnxruntime (CPU) on ``x`` (``(batch, seq, d_model)``
    or ``(seq, d_model)``): float32 output of the same shape."""
    import onnxruntime as ort

    x = np.asarray(x, dtype=np.float32)
    single = x.ndim == 2
    batch = x[None] if single else x
    model = onnx_model(weights, batch.shape[1], batch.shape[2])
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(model.SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    y = session.run(["y"], {"x": batch})[0]
    return y[0] if single else y


def deviation(codes, frac, reference):
    """Figures of integer output ``codes`` (scale ``2**-frac``) against a float
    ``reference`` of the same shape: ``max_lsb`` and ``mean_lsb`` (``|codes *
    2**-frac - reference|`` in output LSBs), ``cosine`` (cosine similarity of
    the flattened vectors) and ``rel_rms`` (RMS error over the reference's
    RMS)."""
    y = np.asarray(codes, dtype=np.float64) * 2.0 ** -frac
    r = np.asarray(reference, dtype=np.float64)
    if y.shape != r.shape:
        raise ValueError(f"deviation shapes differ: {y.shape} and {r.shape}")
    err = np.abs(y - r) * 2.0 ** frac
    a, b = y.ravel(), r.ravel()
    cos = float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
    rel = float(np.sqrt(np.mean((a - b) ** 2)) / np.sqrt(np.mean(b ** 2)))
    return {"max_lsb": float(err.max()), "mean_lsb": float(err.mean()), "cosine": cos,
            "rel_rms": rel}


def comparison_data(config, seed=0, *, calib_batch=32, eval_batch=8, classes=4):
    """The weights, inputs and float results of a comparison of ``config``.

    Seeds (recorded under ``seeds``): weights ``seed``, embedding tables
    ``seed + 1``, calibration token ids ``seed + 2``, classifier head ``seed +
    3``. Calibration (``calib``): ``calib_batch`` sequences of seeded random
    tokens; evaluation (``x``): ``eval_batch`` windows of
    :data:`accelgen.transformer.data.TEXT` (word offsets ``0, 5, 10, ...``),
    distinct from the calibration data. ``onnx``: onnxruntime's output on ``x``;
    ``float64``: :func:`forward`'s intermediates on ``x`` (``calib_float64``: on
    ``calib``); ``head``: a
    classifier ``(W, b)`` with ``classes`` outputs on each sequence's first
    token."""
    from accelgen.transformer import data

    c = config
    weights = data.make_weights(c.d_model, c.d_ff, c.heads, seed)
    calib = data.embed(data.random_ids(calib_batch, c.seq, seed + 2), c.d_model, seed + 1)
    ids = np.stack([data.text_ids(c.seq, 5 * k) for k in range(eval_batch)])
    x = data.embed(ids, c.d_model, seed + 1)
    return {"config": c, "weights": weights, "calib": calib, "x": x,
            "onnx": run_onnx(weights, x), "float64": forward(weights, x),
            "calib_float64": forward(weights, calib),
            "head": data.make_classifier(c.d_model, classes, seed + 3),
            "seeds": {"weights": seed, "embeddings": seed + 1, "calibration": seed + 2,
                      "classifier": seed + 3}}


def measure(model, cmp):
    """Figures of the integer layer ``model`` (an
    :class:`~accelgen.transformer.layer.IntegerEncoder`) on the comparison
    ``cmp`` (:func:`comparison_data`): :func:`deviation`'s figures against
    onnxruntime, ``argmax`` (agreement of the classifier head's argmax),
    ``onnx_vs_float64`` (max difference of the two float layers over the
    largest output), ``stages`` (:func:`stage_errors`), ``model``, ``seeds``."""
    from accelgen.transformer import golden, quantize

    stages = golden.encoder_stages(model, quantize.quantize_input(model, cmp["x"]))
    y_onnx, ref = cmp["onnx"], cmp["float64"]
    out = deviation(stages["y"], model.out_frac, y_onnx)
    head_w, head_b = cmp["head"]
    want = np.argmax(y_onnx[:, 0] @ head_w + head_b, axis=-1)
    got = np.argmax(quantize.dequantize(stages["y"][:, 0], model.out_frac) @ head_w + head_b,
                    axis=-1)
    out["argmax"] = float(np.mean(want == got))
    out["onnx_vs_float64"] = float(np.abs(y_onnx - ref["y"]).max() / np.abs(ref["y"]).max())
    out["stages"] = stage_errors(model, stages, ref)
    out["model"] = model
    out["seeds"] = cmp["seeds"]
    return out


def evaluate(config, seed=0, **kwargs):
    """Calibrate ``config`` and :func:`measure` it on :func:`comparison_data`
    (``seed`` and ``kwargs`` go there)."""
    from accelgen.transformer import quantize

    cmp = comparison_data(config, seed, **kwargs)
    return measure(quantize.calibrate(config, cmp["weights"], cmp["calib"],
                                      cmp["calib_float64"]), cmp)


#: The activations :func:`stage_errors` compares, with the key of their scale in
#: :attr:`accelgen.transformer.layer.IntegerEncoder.scales`.
STAGE_SCALES = {"x": "x", "q": "q", "k": "k", "v": "v", "scores": "scores",
                "probs": "probs", "context": "context", "attention": "residual1",
                "residual1": "residual1", "x1": "x1", "ffn1": "ffn1", "gelu": "gelu",
                "ffn2": "residual2", "residual2": "residual2", "y": "y"}


def stage_errors(model, stages, ref):
    """``{tensor: RMS error / RMS of the float value}`` of each activation of
    :data:`STAGE_SCALES`: the integer layer's codes (``stages``, from
    :func:`accelgen.transformer.golden.encoder_stages`) at their scale against
    the float layer's value (``ref``, from :func:`forward` on the same float
    inputs)."""
    out = {}
    for name, key in STAGE_SCALES.items():
        a = np.asarray(stages[name], dtype=np.float64) * model.scales[key]
        b = np.asarray(ref[name], dtype=np.float64)
        out[name] = float(np.sqrt(np.mean((a - b) ** 2)) / np.sqrt(np.mean(b ** 2)))
    return out
