# SPDX-License-Identifier: BSD-2-Clause
"""Registry-driven pytest helpers shared by every test file (importable, unlike conftest).

``tests/conftest.py`` keeps only fixtures and hooks; everything a test file
imports by name lives here:

:data:`STRESS`, :data:`HEAVY_REASON`
    the ``ACCELGEN_STRESS`` level and the skip reason of heavy checks.
:func:`configurations`, :func:`regression_configurations`, :func:`all_configurations`
    ``pytest.param`` lists over the registry (ids = module names).
:func:`regression_cases`
    ``(unit, params)`` for the one cocotb regression test over every unit.
:func:`cocotb_test_names`, :func:`count_cocotb_tests`, :func:`check_run`
    the cocotb tests a testbench module defines, found by introspection the
    way cocotb's regression manager discovers them, and the check that a run
    executed all of them and none failed.
:func:`reference_packets`
    the Python-integer reading of the PE accumulator contract.

This module imports pytest (in the ``dev`` extra); the library itself never
imports it.
"""

import importlib
import importlib.util
import os

import pytest

from accelgen.registry import UNITS, module_name

__all__ = ["STRESS", "HEAVY_REASON", "configurations", "regression_configurations",
           "all_configurations", "regression_cases", "cocotb_test_names",
           "count_cocotb_tests", "check_run", "reference_packets"]

#: ``ACCELGEN_STRESS`` (default 1): multiplies random traffic in the testbenches;
#: at 2 or more the suite also runs the heavy checks.
STRESS = float(os.environ.get("ACCELGEN_STRESS", "1"))
HEAVY_REASON = "heavy check: runs with ACCELGEN_STRESS=2 (see docs/verification.md)"


def _heavy_marks(label, heavy_sweeps=frozenset()):
    """The skip mark, below ``ACCELGEN_STRESS=2``, of the ``large`` preset and of
    the sweep configurations whose indices are in ``heavy_sweeps``."""
    heavy = label == "large" or label in {f"sweep{i}" for i in heavy_sweeps}
    return [pytest.mark.skipif(STRESS < 2, reason=HEAVY_REASON)] if heavy else []


def configurations(unit_name):
    """``pytest.param(params, id=module)`` for a unit's presets, ``fastest``
    setting and CI sweep."""
    return [pytest.param(params, id=module_name(params))
            for _label, params in UNITS[unit_name].configurations()]


def regression_configurations(unit_name):
    """:func:`configurations` for the cocotb regression under Verilator. The
    ``large`` preset (the slowest Verilator builds: every other preset and the
    CI sweep cover its features) and the sweep configurations the unit's
    ``heavy.sweeps`` names are skipped, with their reason shown, unless
    ``ACCELGEN_STRESS >= 2``."""
    unit = UNITS[unit_name]
    return [pytest.param(params, id=module_name(params),
                         marks=_heavy_marks(label, unit.heavy.sweeps))
            for label, params in unit.configurations()]


def all_configurations(defer_large=False):
    """``pytest.param((unit, params), id=module)`` over every registered unit;
    with ``defer_large``, the ``large`` presets (their unit's other
    configurations' constructs at a larger size) are skipped unless
    ``ACCELGEN_STRESS >= 2``."""
    return [pytest.param((unit, params), id=module_name(params),
                         marks=_heavy_marks(label) if defer_large else [])
            for unit in UNITS.values() for label, params in unit.configurations()]


def _has_testbench(unit):
    """Whether ``verif/<unit>.py`` exists (checked without importing cocotb)."""
    return importlib.util.find_spec(unit.testbench) is not None


def regression_cases():
    """``pytest.param(unit, params, id=module)`` over every unit that has a
    cocotb testbench and each of its :func:`regression_configurations` (the
    ``large`` preset skipped unless ``ACCELGEN_STRESS >= 2``)."""
    return [pytest.param(unit, *case.values, id=case.id, marks=case.marks)
            for unit in UNITS.values() if _has_testbench(unit)
            for case in regression_configurations(unit.name)]


def cocotb_test_names(module):
    """The names of the cocotb tests ``module`` (a module or its dotted name) defines.

    Follows cocotb's own discovery (``RegressionManager.discover_tests``): every
    module attribute that is a ``cocotb.regression.Test`` counts once, every
    ``TestGenerator`` (what ``@cocotb.test`` returns, expanded by
    ``@cocotb.parametrize``) once per test it generates. Tests imported into
    the module from elsewhere count too, because cocotb runs them as well."""
    from cocotb.regression import Test, TestGenerator
    if isinstance(module, str):
        module = importlib.import_module(module)
    names = []
    for obj in vars(module).values():
        if isinstance(obj, Test):
            names.append(obj.name)
        elif isinstance(obj, TestGenerator):
            names.extend(test.name for test in obj.generate_tests())
    return names


def count_cocotb_tests(module):
    """``len(cocotb_test_names(module))``: how many tests a run of ``module`` executes."""
    return len(cocotb_test_names(module))


def check_run(result, *modules):
    """Fail unless the cocotb run ``result`` (a ``runner.RunResult``) executed
    exactly as many tests as ``modules`` (modules or dotted names) define
    together, and none of them failed. Returns ``result``."""
    want = sum(count_cocotb_tests(m) for m in modules)
    names = ", ".join(m if isinstance(m, str) else m.__name__ for m in modules)
    if result.tests != want:
        raise AssertionError(f"{result.module}: {result.tests} cocotb tests ran, but "
                             f"{names} define{'s' if len(modules) == 1 else ''} {want} "
                             f"(seed {result.seed})")
    if result.failed:
        raise AssertionError(f"{result.module}: {result.failed} of {result.tests} cocotb "
                             f"tests failed (seed {result.seed})")
    return result


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
