# SPDX-License-Identifier: BSD-2-Clause
"""The lint gate over every registered configuration (presets, `fastest` and CI sweep).

The ``large`` presets, their unit's other configurations' constructs at a
larger size, are linted with ``ACCELGEN_STRESS=2`` only: the 8x8
``bitfusion_array`` alone takes Verilator about 35 s. The default presets
(what ``hdl/`` holds), the small presets and the CI sweep are linted in every
run."""

import pytest

from accelgen.flow.emit import emit
from accelgen.errors import ToolFailed
from accelgen.flow.lint import lint, lint_verilator
from accelgen.flow import tools
from accelgen.verif.testing import all_configurations


@pytest.mark.parametrize("config", all_configurations(defer_large=True))
def test_lint_clean(config, tmp_path):
    unit, params = config
    lint(emit(unit.name, params), tmp_path)


def test_waivers_leave_other_warnings_on(tmp_path):
    """A warning outside the waived rules (an undriven output) still fails the gate."""
    source = tmp_path / "bad.v"
    source.write_text("module bad(input a, output y, output z);\n  assign z = a;\nendmodule\n")
    with pytest.raises(ToolFailed, match="UNDRIVEN"):
        lint_verilator(source, "bad")


def test_waiver_file_lists_only_reviewed_rules():
    text = tools.WAIVER_FILE.read_text()
    rules = sorted(line.split("-rule")[1].split()[0] for line in text.splitlines()
                   if line.startswith("lint_off"))
    assert rules == ["PROCASSINIT", "UNUSEDSIGNAL", "WIDTHEXPAND", "WIDTHTRUNC"]
    assert "-Wno" not in text
