# SPDX-License-Identifier: BSD-2-Clause
"""pytest fixtures and hooks only: the emission cache and the test order.

The parametrization helpers the test files import by name live in
:mod:`accelgen.verif.testing`.
"""

import os
import shutil
import sys

import pytest

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


@pytest.fixture
def fake_worker(monkeypatch):
    """Replace each synthesis job's process (``accelgen.flow.report.jobs``) by
    ``python -c CODE``, CODE chosen per job by the function given to the fixture's
    value; returns the list of jobs started."""
    from accelgen.flow.report import jobs
    calls = []

    def install(code_of):
        def command(job, work, max_kb):
            calls.append(job)
            return [sys.executable, "-c", code_of(job)]
        monkeypatch.setattr(jobs, "_worker_command", command)
        return calls
    return install


@pytest.fixture(scope="session")
def iverilog():
    """Path of Icarus Verilog's ``iverilog``: a test that needs it skips without
    it, and fails without it under ``CI`` (``make install`` installs it as root)."""
    exe = shutil.which("iverilog")
    if exe is None:
        hint = ("iverilog (Icarus Verilog 11) is not on PATH: install it with "
                "`apt-get install iverilog` (Debian/Ubuntu; `make install` does so as root)")
        if os.environ.get("CI"):
            pytest.fail(f"{hint}; CI must have it")
        pytest.skip(hint)
    return exe
