# SPDX-License-Identifier: BSD-2-Clause
"""The units' own figures (accuracy, utilization, throughput) for the QoR report and sweeps.

:func:`figure` returns, for a configuration of a unit listed in :data:`FIGURES`,
``(text, data)``: one line for a table, and the numbers behind it as a dict of
JSON values. Accuracy is :func:`accelgen.app.accuracy.evaluate` (seed 0) for
every unit with an :class:`accelgen.registry.Accuracy` fact; ``fusion_unit`` and
``bitfusion_array`` give products per cycle per precision mode;
``systolic_array`` its utilization on a 64x64x64 GEMM from the exact cycle
model; ``index_match`` pairs per cycle on random sorted blocks (seed 0);
``nm_sparse`` dense MACs per cycle. Every figure is deterministic.

:data:`AXES` names, per unit, the number a sweep plots against area: ``(key,
label, better)`` with ``better`` ``"min"`` or ``"max"``.
"""

import numpy as np

from accelgen.registry import UNITS

__all__ = ["FIGURES", "AXES", "figure", "has_figure", "axis_value"]


def _accuracy(params):
    from accelgen.app.accuracy import evaluate
    r = evaluate(params.unit, params)
    return (f"max {r['max_abs_error_lsb']:.2f} / mean {r['mean_abs_error_lsb']:.3f} LSB "
            f"vs float64", {key: r[key] for key in ("max_abs_error_lsb", "mean_abs_error_lsb",
                                                     "samples", "stimulus", "seed")})


def _modes(params, scale):
    from accelgen.golden.fusion_unit import products_per_beat
    per = {f"{wa}x{ww}": scale * products_per_beat(wa, ww) for wa, ww in params.mode_set}
    text = ", ".join(f"{m} {p}" for m, p in per.items())
    return f"products/cycle: {text}", {"products_per_cycle": per}


def _systolic(params, size=64):
    from accelgen.golden.systolic_array import utilization
    u = utilization(params, size, size, size)
    peak = params.rows * params.cols
    return (f"{peak} MACs/cycle peak; {100 * u:.1f}% utilized on a {size}³ GEMM",
            {"peak_macs_per_cycle": peak, "gemm": size, "utilization": u})


def _index_match(params, density=0.5, blocks=500):
    """Pairs per cycle on blocks of unique indices drawn from ``length / density``
    values (about ``density * length`` matches per block), seed 0."""
    from accelgen.golden.index_match import matches, beats_per_block
    rng = np.random.default_rng(0)
    space = min(1 << params.index_width, max(params.length, round(params.length / density)))
    found = cycles = 0
    ones = np.ones(params.length)
    for _ in range(blocks):
        w = np.sort(rng.choice(space, params.length, replace=False))
        a = np.sort(rng.choice(space, params.length, replace=False))
        k = len(matches(params, w, ones, a, ones))
        found, cycles = found + k, cycles + beats_per_block(params, k)
    per = found / cycles
    return (f"{per:.2f} pairs/cycle ({100 * per / params.pairs:.0f}% of {params.pairs}) "
            f"at density {density}", {"pairs_per_cycle": per, "density": density,
                                      "blocks": blocks, "seed": 0})


def _nm_sparse(params):
    dense = params.groups * params.m
    return (f"{dense} dense MACs/cycle from {params.multipliers} multipliers "
            f"({params.n}:{params.m})", {"dense_macs_per_cycle": dense,
                                         "multipliers": params.multipliers})


#: unit -> params -> (text, data): the unit's own figure.
FIGURES = {
    **{name: _accuracy for name, unit in UNITS.items() if unit.accuracy is not None},
    "fusion_unit": lambda p: _modes(p, 1),
    "bitfusion_array": lambda p: _modes(p, p.rows * p.cols),
    "systolic_array": _systolic,
    "index_match": _index_match,
    "nm_sparse": _nm_sparse,
}

#: unit -> (data key, axis label, "min" or "max"): the figure a sweep plots.
AXES = {
    **{name: ("max_abs_error_lsb", "max |error| (output LSB)", "min")
       for name, unit in UNITS.items() if unit.accuracy is not None},
    "systolic_array": ("utilization", "utilization on a 64³ GEMM", "max"),
    "index_match": ("pairs_per_cycle", "pairs/cycle", "max"),
    "nm_sparse": ("dense_macs_per_cycle", "dense MACs/cycle", "max"),
}


def has_figure(unit):
    """Whether unit ``unit`` (a name) has a figure."""
    return unit in FIGURES


def figure(params):
    """``(text, data)`` of the configuration ``params``; ``KeyError`` for a unit
    without a figure."""
    return FIGURES[params.unit](params)


def axis_value(unit, data):
    """The plotted number of a figure's ``data`` for unit ``unit``, or ``None``."""
    if unit not in AXES or data is None:
        return None
    return data.get(AXES[unit][0])
