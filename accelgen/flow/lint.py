# SPDX-License-Identifier: BSD-2-Clause
"""The lint gate: Verilator ``--lint-only -Wall`` (with the reviewed waiver file)
and a Yosys read (``hierarchy -check``, ``proc``, ``check -assert``)."""

import shutil
from pathlib import Path

from accelgen.flow import tools
from accelgen.flow.emit import write

__all__ = ["lint_verilator", "lint_yosys", "lint"]


def lint_verilator(verilog_path, module):
    """Run ``verilator --lint-only -Wall`` with accelgen's waivers; raise on any warning."""
    verilog_path = Path(verilog_path)
    tools.run("verilator", ["--lint-only", "-Wall", str(tools.WAIVER_FILE),
                            verilog_path.name, "--top-module", module],
              cwd=verilog_path.parent)


def lint_yosys(verilog_path, module):
    """Read the file in Yosys and run ``check -assert`` (no warnings allowed)."""
    verilog_path = Path(verilog_path)
    script = (f"read_verilog -noautowire {verilog_path.name}; hierarchy -check -top {module}; "
              f"proc; check -assert")
    tools.run("yosys", ["-q", "-p", script], cwd=verilog_path.parent)


def lint(emitted, work_dir):
    """Write ``emitted`` into ``work_dir/<module>/`` and run both linters on it."""
    out = Path(work_dir) / emitted.module
    if out.exists():
        shutil.rmtree(out)
    verilog_path, _ = write(emitted, out)
    lint_verilator(verilog_path, emitted.module)
    lint_yosys(verilog_path, emitted.module)
    return verilog_path
