# SPDX-License-Identifier: BSD-2-Clause
"""Shared pytest fixtures and the registry-driven parametrization helpers."""

import os

import pytest

from accelgen.registry import UNITS, module_name

__all__ = ["configurations", "regression_configurations", "all_configurations",
           "reference_packets", "STRESS", "HEAVY_REASON"]

#: Emissions are shared by the test workers through a disk cache keyed by the
#: configuration and a digest of the sources (see ``accelgen.flow.emit``).
os.environ.setdefault("ACCELGEN_EMIT_CACHE", os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "build", "emit-cache"))

#: ``ACCELGEN_STRESS`` (default 1): multiplies random traffic in the testbenches;
#: at 2 or more the suite also runs the heavy checks below.
STRESS = float(os.environ.get("ACCELGEN_STRESS", "1"))
HEAVY_REASON = "heavy check: runs with ACCELGEN_STRESS=2 (see README, Verification)"


def configurations(unit_name):
    """``pytest.param(params, id=module)`` for a unit's presets and CI sweep."""
    return [pytest.param(params, id=module_name(params))
            for _label, params in UNITS[unit_name].configurations()]


def regression_configurations(unit_name):
    """:func:`configurations` for the cocotb regression under Verilator. The
    ``large`` preset (the slowest Verilator builds: every other preset and the
    CI sweep cover its features) is skipped, with its reason shown, unless
    ``ACCELGEN_STRESS >= 2``."""
    out = []
    for label, params in UNITS[unit_name].configurations():
        marks = [pytest.mark.skipif(STRESS < 2, reason=HEAVY_REASON)] if label == "large" else []
        out.append(pytest.param(params, id=module_name(params), marks=marks))
    return out


def all_configurations():
    """``pytest.param((unit, params), id=module)`` over every registered unit."""
    return [pytest.param((unit, params), id=module_name(params))
            for unit in UNITS.values() for _label, params in unit.configurations()]


def reference_packets(beats, last, width):
    """Python-integer reading of the PE accumulator contract (``ant_pe`` and
    ``olive_pe``): ``beats`` holds each beat's exact products; every product, beat
    sum and running sum is reduced to ``width``-bit two's complement, and
    ``overflow`` records that one of them was out of range. Returns
    ``[(acc, overflow)]`` per packet."""
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1

    def reduce(v):
        return (v - lo) % (1 << width) + lo

    out, acc, flag = [], 0, False
    for products, end in zip(beats, last):
        step = sum(reduce(v) for v in products)
        flag |= any(not lo <= v <= hi for v in products) or not lo <= step <= hi
        total = acc + reduce(step)
        flag |= not lo <= total <= hi
        acc = reduce(total)
        if end:
            out.append((acc, flag))
            acc, flag = 0, False
    return out


def pytest_collection_modifyitems(config, items):
    """Order the run for two workers, longest kinds first (Verilator builds and
    cocotb runs, then synthesis and lint, then the rest), so that no long test
    starts last and leaves one worker idle."""
    def rank(item):
        if item.get_closest_marker("cocotb"):
            return 0
        if item.get_closest_marker("synth") or item.name.startswith("test_lint_clean"):
            return 1
        return 2
    items.sort(key=rank)
