# SPDX-License-Identifier: BSD-2-Clause
"""pytest fixtures and hooks only: the emission cache and the test order.

The parametrization helpers the test files import by name live in
:mod:`accelgen.verif.testing`.
"""

import os

__all__ = []

#: Emissions are shared by the test workers through a disk cache keyed by the
#: configuration and a digest of the sources (see ``accelgen.flow.emit``).
os.environ.setdefault("ACCELGEN_EMIT_CACHE", os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "build", "emit-cache"))


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
