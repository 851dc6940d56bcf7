# SPDX-License-Identifier: BSD-2-Clause
"""The cocotb regression under Verilator of every unit with a testbench, driven by
the registry, and the test counting it relies on."""

import types

import cocotb
import pytest

from accelgen.registry import UNITS
from accelgen.verif.runner import RunResult
from accelgen.verif.testing import (check_run, cocotb_test_names, count_cocotb_tests,
                                    regression_cases)


@pytest.mark.cocotb
@pytest.mark.parametrize("unit,params", regression_cases())
def test_verilator_regression(unit, params):
    """Every regression configuration of every unit runs all the cocotb tests its
    testbench module ``accelgen.verif.<unit>`` defines, and none fails (the
    ``large`` preset only at ``ACCELGEN_STRESS>=2``)."""
    from accelgen.verif.runner import run_cocotb
    check_run(run_cocotb(unit.name, params), unit.testbench)


def test_regression_covers_every_unit():
    """Every registered unit has a testbench, so none is left out of the regression."""
    covered = {unit.name for unit, _params in (c.values for c in regression_cases())}
    assert covered == set(UNITS)


def _scratch_module():
    """A module holding two plain cocotb tests, one parametrized over three values
    and, not to be counted, an undecorated coroutine and a non-test object."""
    module = types.ModuleType("accelgen_scratch_bench")

    @cocotb.test
    async def plain(dut):
        pass

    @cocotb.test(timeout_time=1, timeout_unit="ms")
    async def with_options(dut):
        pass

    @cocotb.test
    @cocotb.parametrize(width=[1, 2, 3])
    async def swept(dut, width):
        pass

    async def helper(dut):
        pass

    module.plain, module.with_options, module.swept = plain, with_options, swept
    module.helper, module.CONSTANT = helper, 3
    return module


def test_count_follows_decorators():
    module = _scratch_module()
    assert count_cocotb_tests(module) == 5
    names = cocotb_test_names(module)
    assert sorted(n.split("/")[0] for n in names) == [
        "_scratch_module.<locals>.plain", "_scratch_module.<locals>.swept",
        "_scratch_module.<locals>.swept", "_scratch_module.<locals>.swept",
        "_scratch_module.<locals>.with_options"]
    del module.swept
    assert count_cocotb_tests(module) == 2


def test_count_of_testbench_by_name():
    """A dotted name is imported; a unit's count is that of its module object."""
    import importlib
    name = UNITS["int_mac"].testbench
    assert count_cocotb_tests(name) == count_cocotb_tests(importlib.import_module(name)) >= 1


def _result(tests, failed):
    return RunResult("scratch", 1, tests, failed, 0.0, 0.0, None)


def test_check_run_fails_on_a_missing_or_extra_test():
    module = _scratch_module()
    assert check_run(_result(5, 0), module).tests == 5
    for ran in (4, 6):
        with pytest.raises(AssertionError, match=rf"^scratch: {ran} cocotb tests ran, but "
                           r"accelgen_scratch_bench defines 5 \(seed 1\)$"):
            check_run(_result(ran, 0), module)


def test_check_run_fails_on_a_failed_test():
    with pytest.raises(AssertionError,
                       match=r"^scratch: 1 of 5 cocotb tests failed \(seed 1\)$"):
        check_run(_result(5, 1), _scratch_module())


def test_check_run_adds_modules():
    module = _scratch_module()
    check_run(_result(10, 0), module, module)
    with pytest.raises(AssertionError, match=r"define 10 "):
        check_run(_result(5, 0), module, module)
