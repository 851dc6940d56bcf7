# SPDX-License-Identifier: BSD-2-Clause
"""Cycle model of the encoder layer's RTL: cycles per pass and per sequence, GEMM utilisation.

Exact for :class:`accelgen.transformer.rtl.EncoderLayer` when ``i`` is always
valid and ``o`` always ready (the testbench holds the RTL to it). Each pass
starts the cycle after the previous one's final write; its cycles, counted from
that first cycle to its final write inclusive:

``input``
    ``seq * d_model / cols``: one token word per cycle into ``act``.
``gemm``
    ``1 + cycles(array, seq, K, N) + 1 + 1 + requant.latency + 1`` (plus
    ``gelu.latency`` for ``ffn1``): the operand read, the output-stationary
    array's whole GEMM (:func:`accelgen.golden.systolic_array.cycles`), the bias
    register, the requantizer's operand register, the requantizer, the
    clamp/residual register.
``skip``
    ``seq * d_model / cols + 3 + requant.latency``.
``softmax``, ``layernorm``
    ``(V - 1) * vector_cycles + 2 * words + latency`` for ``V = seq`` vectors of
    ``words`` beats: the unit's steady-state interval, its first vector's beats
    in and out, and its latency (the unit's own figures).

A sequence takes the sum over its passes from the acceptance of its first
input beat to the transfer of its last output beat inclusive; sequences back to
back start one idle cycle apart (:func:`sequence_interval`). Utilisation of
the GEMM engine: MACs / (``rows * cols`` x cycles), per GEMM pass and for the
whole sequence, against the roofline bound ``total MACs / (rows * cols)``.
"""

from accelgen.golden.systolic_array import cycles as array_cycles
from accelgen.transformer.plan import LayerPlan, unit_params

__all__ = ["pass_cycles", "sequence_cycles", "sequence_interval", "utilisation"]


def _plan(plan):
    if not isinstance(plan, LayerPlan):
        raise TypeError(f"the cycle model takes a LayerPlan, not {plan!r}")
    return plan


def pass_cycles(plan):
    """``{pass name: cycles}`` in pass order (module docstring)."""
    plan = _plan(plan)
    cfg, u = plan.config, unit_params(plan)
    seq, lat_rq = cfg.seq, u["requant"].latency
    out = {}
    for p in plan.passes:
        if p.kind == "input":
            n = seq * p.words
        elif p.kind == "gemm":
            n = 4 + array_cycles(u["array"], seq, p.k, p.n) + lat_rq
            n += u["gelu"].latency if p.gelu else 0
        elif p.kind == "skip":
            n = seq * p.words + 3 + lat_rq
        else:
            unit = u["softmax"] if p.kind == "softmax" else u[f"layernorm{p.ln + 1}"]
            n = (seq - 1) * unit.vector_cycles + 2 * unit.words + unit.latency
        out[p.name] = n
    return out


def sequence_cycles(plan):
    """Cycles of one sequence: from the acceptance of its first ``i`` beat to the
    transfer of its last ``o`` beat, inclusive, with ``i`` always valid and ``o``
    always ready."""
    return sum(pass_cycles(plan).values())


def sequence_interval(plan):
    """Cycles between the first input beats of back-to-back sequences: one
    sequence plus the idle cycle in which the layer takes the next one."""
    return sequence_cycles(plan) + 1


def utilisation(plan):
    """``{"passes": {gemm pass: (macs, cycles, utilisation)}, "macs", "cycles",
    "bound", "utilisation", "gemm_cycles"}`` of one sequence: the GEMM engine's
    MACs over ``rows * cols`` per cycle, per GEMM pass and overall; ``bound`` is
    the roofline ``macs / (rows * cols)`` cycles."""
    plan = _plan(plan)
    cfg = plan.config
    pes = cfg.rows * cfg.cols
    cyc = pass_cycles(plan)
    passes = {}
    for p in plan.passes:
        if p.kind == "gemm":
            macs = cfg.seq * p.k * p.n
            passes[p.name] = (macs, cyc[p.name], macs / (pes * cyc[p.name]))
    macs = sum(v[0] for v in passes.values())
    total = sum(cyc.values())
    return {"passes": passes, "macs": macs, "cycles": total, "bound": macs / pes,
            "utilisation": macs / (pes * total),
            "gemm_cycles": sum(v[1] for v in passes.values())}
