# SPDX-License-Identifier: BSD-2-Clause
"""Bounded model checking of the stream rules: the harness and its driver.

Two jobs, two modules:

:mod:`accelgen.flow.formal.harness`
    the Amaranth side: :class:`StreamHarness` wraps a streaming unit in
    ``Assume``/``Assert``/``Cover`` properties (the environment and the claims
    are listed there), :class:`FaultyOutput` breaks one rule on purpose
    (:data:`FAULTS`), and the configuration helpers read the registry's
    :class:`accelgen.registry.Formal` facts (:func:`formal_configurations`,
    :func:`formal_params`, :func:`bmc_depth`).
:mod:`accelgen.flow.formal.driver`
    the tool side: :func:`check` emits the harness as RTLIL, lowers it with
    Yosys to SMT2, finds ``yosys-smtbmc`` and ``z3`` and runs the bounded proof
    and the cover search, returning a :class:`Report` of :class:`Run` s.

The public names of both are available here (``from accelgen.flow import
formal; formal.check(...)``). ``docs/formal.md`` describes what is proven.
"""

from accelgen.flow.formal import driver, harness
from accelgen.flow.formal.driver import *  # noqa: F403 - the two modules' public names
from accelgen.flow.formal.harness import *  # noqa: F403

__all__ = ["driver", "harness", *harness.__all__, *driver.__all__]
