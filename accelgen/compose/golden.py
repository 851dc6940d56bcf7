# SPDX-License-Identifier: BSD-2-Clause
"""Golden model of a composed pipeline: the units' golden models applied in turn.

Between stages the values travel as a :class:`Flow`: a ``(beats, lanes)`` array
of codes and, when the stream has it, each beat's ``last``. The join rules of
:class:`accelgen.compose.rtl.Pipeline` are followed: ``last`` passes, is
dropped where the next stage has none, and is 1 on every beat where only the
next stage has it; vector units group the values into their own vectors.
"""

import dataclasses

import numpy as np

from accelgen.golden.gelu import gelu
from accelgen.golden.int_mac import int_mac
from accelgen.golden.layernorm import layernorm
from accelgen.golden.requant import requant
from accelgen.golden.softmax import softmax
from accelgen.golden.systolic_array import os_tile, ws_tile

__all__ = ["Flow", "pipeline", "first_stage", "STAGES", "FIRST_STAGES"]


@dataclasses.dataclass(frozen=True)
class Flow:
    """Beats of a stream: ``values`` (``(beats, lanes)`` integer codes) and
    ``last`` (a ``(beats,)`` bool array, or ``None`` when the stream has none)."""

    values: np.ndarray
    last: np.ndarray = None


def _codes(values):
    """Integer codes as int64 (unsigned 64-bit values keep their bits)."""
    values = np.asarray(values)
    return values.astype(np.int64) if values.dtype != object else values


def _first_int_mac(params, a, b, last):
    """``int_mac``: one result per packet (a beat of one lane, no ``last``)."""
    return Flow(_codes(int_mac(params, a, b, last)).reshape(-1, 1))


def _tiles(last):
    """``[(start, stop)]`` of the packets closed by ``last`` (an unfinished tail
    gives nothing)."""
    ends = np.flatnonzero(np.asarray(last, dtype=bool))
    starts = np.concatenate([[0], ends[:-1] + 1]).astype(int)
    return list(zip(starts, ends + 1))


def _first_systolic_array(params, a, w, last):
    """``systolic_array`` (``int_mac`` PEs): WS, weight tile ``t`` is ``w`` beats
    ``t*rows .. t*rows+rows-1`` and activation tile ``t`` the ``a`` beats up to the
    ``t``-th ``last``, one result row per activation beat; OS, tile ``t`` is the
    ``a``/``w`` beats (consumed together) up to the ``t``-th ``last``, result rows
    ``0..rows-1``. ``last`` on each tile's final result row."""
    if params.pe != "int_mac":
        raise ValueError(f"the composed golden model takes systolic_array with int_mac "
                         f"PEs first, not pe={params.pe!r}")
    a, w = np.asarray(a, dtype=np.int64), np.asarray(w, dtype=np.int64)
    rows, outs, lasts = params.rows, [], []
    for t, (start, stop) in enumerate(_tiles(last)):
        if params.dataflow == "ws":
            weights = w[t * rows:(t + 1) * rows]
            if len(weights) < rows:
                raise ValueError(f"systolic_array tile {t} needs {rows} weight beats on w, "
                                 f"only {len(weights)} given")
            values, _errors = ws_tile(params, weights, a[start:stop])
        else:
            values, _errors = os_tile(params, a[start:stop].T, w[start:stop])
        outs.append(_codes(values))
        lasts += [False] * (len(values) - 1) + [True]
    if not outs:
        return Flow(np.zeros((0, params.cols), dtype=np.int64), np.zeros(0, dtype=bool))
    return Flow(np.concatenate(outs), np.array(lasts, dtype=bool))


def _requant(params, flow):
    last = flow.last if flow.last is not None else np.ones(len(flow.values), dtype=bool)
    return Flow(requant(params, flow.values), last)


def _gelu(params, flow):
    return Flow(gelu(params, flow.values))


def _vectors(model, length):
    """A vector unit: the values regrouped into vectors of ``length`` elements
    (an unfinished tail gives nothing), ``last`` on each vector's final beat."""
    def run(params, flow):
        flat = flow.values.reshape(-1)
        count = len(flat) // length
        y = model(params, flat[:count * length].reshape(count, length))
        words = length // params.lanes
        last = np.tile(np.arange(words) == words - 1, count)
        return Flow(np.asarray(y, dtype=np.int64).reshape(-1, params.lanes), last)
    return run


#: How each unit transforms the :class:`Flow` it receives (stages after the first).
STAGES = {
    "requant": _requant,
    "gelu": _gelu,
    "softmax": lambda p, flow: _vectors(softmax, p.n)(p, flow),
    "layernorm": lambda p, flow: _vectors(layernorm, p.channels)(p, flow),
}

#: First stages with their own inputs: ``{unit: function(params, **inputs)}``.
FIRST_STAGES = {
    "int_mac": _first_int_mac,
    "systolic_array": _first_systolic_array,
}


def first_stage(stage, inputs):
    """The :class:`Flow` out of the first ``stage`` for ``inputs`` (a dict):
    ``int_mac``: ``a``, ``b``, ``last`` (beats); ``systolic_array``: ``a``
    (``(beats, rows)``), ``w`` (``(beats, cols)``), ``last`` (per ``a`` beat); any
    unit of :data:`STAGES`: ``x`` (``(beats, lanes)``) and optionally ``last``."""
    if stage.unit in FIRST_STAGES:
        return FIRST_STAGES[stage.unit](stage.params, **inputs)
    if stage.unit in STAGES:
        x = np.asarray(inputs["x"], dtype=np.int64)
        last = inputs.get("last")
        return STAGES[stage.unit](stage.params, Flow(
            x.reshape(len(x), -1), None if last is None else np.asarray(last, dtype=bool)))
    raise ValueError(f"{stage.label} has no golden rule in a pipeline; units are "
                     f"{', '.join([*FIRST_STAGES, *STAGES])}")


def pipeline(spec, inputs):
    """The :class:`Flow` out of the last stage of ``spec`` (a
    :class:`~accelgen.compose.spec.PipelineSpec`) for the first stage's
    ``inputs`` (see :func:`first_stage`): each stage's golden model applied to
    the previous one's output, bit for bit what the composed RTL emits.
    ``ValueError`` for a stage after the first that has no rule in
    :data:`STAGES`."""
    flow = first_stage(spec.stages[0], inputs)
    for stage in spec.stages[1:]:
        if stage.unit not in STAGES:
            raise ValueError(f"{stage.label} has no golden rule after the first stage; "
                             f"units are {', '.join(STAGES)}")
        flow = STAGES[stage.unit](stage.params, flow)
    return flow
