# SPDX-License-Identifier: BSD-2-Clause
"""Accuracy of the nonlinear units' golden models against float64 (docs/nonlinear.md).

:func:`evaluate` runs a unit's bit-exact golden model (so, equally, its RTL) and
its float64 ``reference`` on the same inputs and reports ``|golden -
reference|`` in output LSBs (the reference is clipped to the output range, so
saturation at the range's ends is not counted as error).

The units measured, and how, are the registry's :class:`accelgen.registry.Accuracy`
facts (:data:`UNITS` lists them in registry order). Inputs:

element-wise units (``length=None``: ``gelu``)
    every input code (all ``2**in_bits``): the figures are exact, not sampled.
vector units (``softmax``, ``layernorm``)
    random vectors of the unit's ``families`` (:data:`FAMILIES`) from a NumPy
    generator seeded with ``seed`` (reported): Gaussians of spread 0.5, 1, 2
    and 4 in real input units (clipped to the input range; centred, or with a
    random mean in ±1), uniform over all codes, Laplace (scale 1), and the
    adversarial vectors of docs/nonlinear.md (one dominant element at a random gap above the
    rest; one element above the rest at the minimum code, 255 gaps in order,
    every gap of 8-bit inputs; all equal, maximal spread of the minimum and
    maximum codes only,
    most-negative everywhere, saturating, one outlier, large and tiny
    variance); with ``affine``, random ``gamma``/``beta`` codes over their full
    ranges. :data:`DEFAULT_VECTORS` vectors for vectors of up to 262 elements,
    fewer for longer ones (an element budget of :data:`ELEMENT_BUDGET` = 2**19:
    512 vectors of 1024; at least :data:`MIN_VECTORS`).
"""

import importlib
import numbers

import numpy as np

from accelgen.num.fixed import codes
from accelgen.num.numeric import int_range
from accelgen.registry import UNITS as REGISTRY, get_unit, module_name

__all__ = ["UNITS", "FAMILIES", "evaluate", "default_vectors", "format_report",
           "DEFAULT_VECTORS", "ELEMENT_BUDGET", "MIN_VECTORS"]

#: Units with an accuracy report (an :class:`accelgen.registry.Accuracy` fact),
#: in registry order, the order reports list them.
UNITS = tuple(name for name, unit in REGISTRY.items() if unit.accuracy is not None)

DEFAULT_VECTORS = 2000
ELEMENT_BUDGET = 1 << 19
MIN_VECTORS = 250

_SIGMAS = (0.5, 1.0, 2.0, 4.0)


def default_vectors(length):
    """Vectors evaluated by default for vectors of ``length`` elements."""
    return min(DEFAULT_VECTORS, max(MIN_VECTORS, ELEMENT_BUDGET // length))


# --- stimulus families: name -> fn(rng, count, n, lo, hi, frac) -> (count, n) int64

def _real(rng, values, lo, hi, frac):
    return np.clip(np.round(values * 2.0 ** frac), lo, hi).astype(np.int64)


def _gauss(sigma, centred=True):
    def make(rng, count, n, lo, hi, frac):
        mean = 0.0 if centred else rng.uniform(-1.0, 1.0, (count, 1))
        return _real(rng, rng.normal(mean, sigma, (count, n)), lo, hi, frac)
    return make


def _uniform(rng, count, n, lo, hi, frac):
    return rng.integers(lo, hi + 1, (count, n), dtype=np.int64)


def _laplace(rng, count, n, lo, hi, frac):
    return _real(rng, rng.laplace(0.0, 1.0, (count, n)), lo, hi, frac)


def _random_positions(rng, count, n):
    return rng.integers(0, n, count)


def _dominant(rng, count, n, lo, hi, frac):
    """The rest equal to a code ``c``; one element ``d`` codes above it, ``d``
    uniform over every gap the input range allows (``1 .. hi - lo``)."""
    d = rng.integers(1, hi - lo + 1, count, dtype=np.int64)
    c = lo + np.floor(rng.random(count) * (hi - lo - d + 1)).astype(np.int64)
    q = np.repeat(c[:, None], n, axis=1)
    q[np.arange(count), _random_positions(rng, count, n)] += d
    return q


def _dominant_over_minimum(rng, count, n, lo, hi, frac):
    """The rest at the minimum code; one element ``d`` codes above it, ``d``
    sweeping the gaps ``1 .. hi - lo`` in order (every gap when ``count`` covers
    them, evenly spaced ones otherwise; cycled when ``count`` exceeds them).
    A vector whose non-maximum elements are equal depends only on ``d``, so the
    sweep is exhaustive over that shape when every gap is drawn."""
    gaps = hi - lo
    k = np.arange(count, dtype=np.int64)
    d = 1 + (k % gaps if count >= gaps else (k * gaps) // count)
    q = np.full((count, n), lo, dtype=np.int64)
    q[np.arange(count), _random_positions(rng, count, n)] += d
    return q


def _dominant_noisy(rng, count, n, lo, hi, frac):
    """Gaussian (spread 1) rest; one element a random gap above their maximum."""
    q = _real(rng, rng.normal(0.0, 1.0, (count, n)), lo, hi, frac)
    top = q.max(axis=1)
    gap = 1 + np.floor(rng.random(count) * np.maximum(hi - top, 1)).astype(np.int64)
    q[np.arange(count), _random_positions(rng, count, n)] = np.minimum(top + gap, hi)
    return q


def _outlier(rng, count, n, lo, hi, frac):
    """Gaussian (spread 0.5) rest; one element at the minimum or maximum code."""
    q = _real(rng, rng.normal(0.0, 0.5, (count, n)), lo, hi, frac)
    q[np.arange(count), _random_positions(rng, count, n)] = np.where(
        rng.random(count) < 0.5, lo, hi)
    return q


def _all_equal(rng, count, n, lo, hi, frac):
    return np.repeat(rng.integers(lo, hi + 1, (count, 1), dtype=np.int64), n, axis=1)


def _max_spread(rng, count, n, lo, hi, frac):
    """Minimum and maximum codes only, both present, in random proportions."""
    share = rng.random((count, 1))
    q = np.where(rng.random((count, n)) < share, hi, lo).astype(np.int64)
    rows = np.arange(count)
    first = _random_positions(rng, count, n)
    second = (first + 1 + rng.integers(0, n - 1, count)) % n
    q[rows, first], q[rows, second] = lo, hi
    return q


def _tiny_variance(rng, count, n, lo, hi, frac):
    """Codes ``c`` and ``c + 1`` only, both present (the smallest non-zero variance)."""
    q = _max_spread(rng, count, n, 0, 1, frac)
    return q + rng.integers(lo, hi, (count, 1), dtype=np.int64)


def _most_negative(rng, count, n, lo, hi, frac):
    return np.full((count, n), lo, dtype=np.int64)


def _saturating(rng, count, n, lo, hi, frac):
    """One element at the maximum code and the rest at the minimum (one output
    reaches the output's largest value), then all at the maximum code."""
    q = np.full((count, n), lo, dtype=np.int64)
    q[:, 0] = hi
    q[1::2] = hi
    return q


#: Stimulus families of random vectors, by the name the registry's
#: :attr:`accelgen.registry.Accuracy.families` and the reports use:
#: ``(make, count)`` with ``make(rng, count, n, lo, hi, frac) -> (count, n)``
#: int64 codes and ``count`` a fixed number of vectors, or ``None`` for an equal
#: share of the rest.
FAMILIES = {
    **{f"gauss {s:g}": (_gauss(s), None) for s in _SIGMAS},
    **{f"gauss {s:g}, mean ±1": (_gauss(s, centred=False), None) for s in _SIGMAS},
    "uniform": (_uniform, None),
    "laplace 1": (_laplace, None),
    "one dominant": (_dominant, None),
    "dominant over minimum": (_dominant_over_minimum, 255),
    "dominant + noise": (_dominant_noisy, None),
    "outlier": (_outlier, None),
    "all equal": (_all_equal, None),
    "max spread": (_max_spread, None),
    "large variance": (_max_spread, None),
    "tiny variance": (_tiny_variance, None),
    "most negative": (_most_negative, 1),
    "saturating": (_saturating, 2),
}


def _counts(families, vectors):
    """Vectors per family (names of :data:`FAMILIES`): the fixed counts first (as
    many as ``vectors`` allows), the rest shared evenly; the counts add up to
    ``vectors``."""
    counts, rest = [], vectors
    for name in families:
        counts.append(min(FAMILIES[name][1] or 0, rest))
        rest -= counts[-1]
    shared = [i for i, name in enumerate(families) if FAMILIES[name][1] is None]
    for k, i in enumerate(shared):
        counts[i] = rest // len(shared) + (k < rest % len(shared))
    return counts


def _stimulus(unit_name, params, rng, vectors, n):
    """``(codes, labels)``: ``vectors`` random vectors of ``n`` input codes, drawn
    family by family in the order of the unit's registered families."""
    families = get_unit(unit_name).accuracy.families
    lo, hi = int_range(params.in_bits, True)
    blocks, labels = [], []
    for name, count in zip(families, _counts(families, vectors)):
        if count:
            blocks.append(FAMILIES[name][0](rng, count, n, lo, hi, params.in_frac))
            labels += [name] * count
    return np.concatenate(blocks), np.array(labels)


def _errors(golden, reference):
    return np.abs(np.asarray(golden, dtype=np.float64) - reference)


def _summary(err):
    return {"max_abs_error_lsb": float(err.max()), "mean_abs_error_lsb": float(err.mean())}


def evaluate(unit_name, params=None, *, seed=0, vectors=None):
    """Measure one configuration's golden model against its float64 reference.

    Parameters
    ----------
    unit_name : str
        A unit with an accuracy report (:data:`UNITS`: ``gelu``, ``softmax``,
        ``layernorm``).
    params : Params or None
        The unit's ``Params``; ``None`` for its default preset.
    seed : int
        Seed of the random vectors (softmax, layernorm; recorded for gelu too).
    vectors : int or None
        Number of random vectors; ``None`` for :func:`default_vectors`. Ignored by
        ``gelu``, which always takes every input code.

    Returns
    -------
    dict
        ``unit``, ``module``, ``params``, ``seed``, ``stimulus`` (a sentence),
        ``vectors`` (``None`` for gelu), ``samples`` (output elements compared),
        ``max_abs_error_lsb``, ``mean_abs_error_lsb``, ``min_output``,
        ``max_output``, ``output_range`` (``[lo, hi]`` codes), ``in_range`` and
        ``families`` (the same figures per stimulus family). Units whose
        outputs sum to one (softmax) add
        ``max_sum_error_lsb`` (max over vectors of ``|sum(out) - 2**out_frac|``),
        ``max_sum_lsb_above_one`` (max of ``sum(out) - 2**out_frac``),
        ``sum_bound_lsb`` (``n``, the goal for the latter) and
        ``argmax_agreement`` (fraction of vectors whose output at the input's
        argmax is the output maximum).

    Raises
    ------
    KeyError
        Unknown unit.
    ValueError
        A unit without a float reference, a negative ``seed`` or ``vectors``
        below 1.
    TypeError
        ``params`` of another unit.
    """
    unit = get_unit(unit_name)
    spec = unit.accuracy
    if spec is None:
        raise ValueError(f"unit {unit.name} has no float64 reference; units with an "
                         f"accuracy report are {', '.join(UNITS)}")
    if params is None:
        params = unit.params()
    if not isinstance(params, unit.params_cls):
        raise TypeError(f"{unit.name} accuracy needs {unit.name} Params, not {params!r}")
    if not _is_int(seed) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, not {seed!r}")
    if vectors is not None and (not _is_int(vectors) or vectors < 1):
        raise ValueError(f"vectors must be a positive integer, not {vectors!r}")
    model = unit.golden_fn
    reference = importlib.import_module(f"accelgen.golden.{unit.name}").reference
    result = {"unit": unit.name, "module": module_name(params), "params": params.as_dict(),
              "seed": int(seed)}
    out_lo, out_hi = int_range(params.out_bits, not spec.sums_to_one)

    if spec.length is None:
        q = codes(params.in_bits, True)
        out = model(params, q)
        err = _errors(out, reference(params, q))
        result.update(vectors=None, samples=int(err.size),
                      stimulus=f"every input code ({q.size} codes, {q[0]}..{q[-1]})",
                      **_summary(err))
        families = [{"family": "every code", "vectors": None, "samples": int(err.size),
                     **_summary(err)}]
    else:
        n = getattr(params, spec.length)
        count = default_vectors(n) if vectors is None else int(vectors)
        rng = np.random.default_rng(seed)
        q, labels = _stimulus(unit.name, params, rng, count, n)
        note = "" if vectors is not None or count == DEFAULT_VECTORS else \
            f" (fewer than {DEFAULT_VECTORS} for n > {ELEMENT_BUDGET // DEFAULT_VECTORS}: " \
            f"a budget of {ELEMENT_BUDGET} elements)"
        affine, extra = (), ""
        if getattr(params, "affine", False):  # gamma and beta streamed with the input
            affine = (rng.integers(*int_range(params.gamma_bits, True), q.shape, endpoint=True),
                      rng.integers(*int_range(params.out_bits, True), q.shape, endpoint=True))
            extra = ", random gamma/beta codes over their full ranges"
        out = model(params, q, *affine)
        ref = reference(params, q, *affine)
        err = _errors(out, ref)
        result.update(vectors=int(q.shape[0]), samples=int(err.size),
                      stimulus=f"{q.shape[0]} random vectors of n={n}{note}, seed {seed}"
                               f"{extra}",
                      **_summary(err))
        families = []
        for label in dict.fromkeys(labels):
            rows = labels == label
            families.append({"family": str(label), "vectors": int(rows.sum()),
                             "samples": int(err[rows].size), **_summary(err[rows])})
        if spec.sums_to_one:
            one = 1 << params.out_frac
            above = out.sum(axis=-1) - one
            at_argmax = np.take_along_axis(out, q.argmax(axis=-1)[:, None], axis=-1)[:, 0]
            agree = at_argmax == out.max(axis=-1)
            result.update(max_sum_error_lsb=int(np.abs(above).max()),
                          max_sum_lsb_above_one=int(above.max()),
                          sum_bound_lsb=n,
                          argmax_agreement=float(agree.mean()))
            for f in families:
                rows = labels == f["family"]
                f.update(max_sum_lsb_above_one=int(above[rows].max()),
                         argmax_agreement=float(agree[rows].mean()))
    result.update(min_output=int(out.min()), max_output=int(out.max()),
                  output_range=[out_lo, out_hi],
                  in_range=bool(out_lo <= out.min() and out.max() <= out_hi),
                  families=families)
    return result


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)



def format_report(result):
    """The text form of :func:`evaluate`'s result: a heading and a table per family."""
    from accelgen.app.tables import format_table
    sums = "argmax_agreement" in result  # the figures of outputs that sum to one
    header = ["family", "vectors", "max |err| LSB", "mean |err| LSB"]
    if sums:
        header += ["max sum-1 LSB", "argmax agrees"]

    def row(name, r):
        cells = [name, "-" if r["vectors"] is None else r["vectors"],
                 f"{r['max_abs_error_lsb']:.3f}", f"{r['mean_abs_error_lsb']:.4f}"]
        if sums:
            cells += [r["max_sum_lsb_above_one"], f"{100 * r['argmax_agreement']:.1f}%"]
        return cells

    rows = [row(f["family"], f) for f in result["families"]]
    if len(rows) > 1:
        rows.append(row("all", result))
    lines = [f"{result['module']}: {result['stimulus']}; {result['samples']} outputs "
             f"against float64, in output LSBs",
             format_table(rows, header, right=tuple(range(1, len(header))))]
    lines.append(f"outputs {result['min_output']}..{result['max_output']} "
                 f"(range {result['output_range'][0]}..{result['output_range'][1]}: "
                 f"{'ok' if result['in_range'] else 'OUT OF RANGE'})")
    if sums:
        lines.append(f"sum of outputs: max |sum - 2**out_frac| {result['max_sum_error_lsb']} "
                     f"LSB, max above 2**out_frac {result['max_sum_lsb_above_one']} LSB "
                     f"(goal <= n = {result['sum_bound_lsb']})")
    return "\n".join(lines)
