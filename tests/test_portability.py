# SPDX-License-Identifier: BSD-2-Clause
"""Portability: the emitted Verilog of every configuration compiles in Icarus Verilog.

Every preset (default, small, large) and CI sweep configuration of every unit
(``accelgen.verif.testing.all_configurations()``; the ``large`` presets only
with ``ACCELGEN_STRESS=2``, see below) is emitted with ``accelgen.flow.emit.emit``,
written into the test's temporary folder and compiled by Icarus Verilog 11
twice, as plain Verilog-2005 (``-g2005``: no SystemVerilog construct slipped
in) and as SystemVerilog-2012 (``-g2012``: no identifier clashes with a
SystemVerilog keyword), with the root module named (``-s <module>``), the
output discarded (``-o /dev/null``) and these checks, the strictest set the
output passes::

    -Wall                    anachronisms, implicit nets, implicit dimensions,
                             macro replacement, port binding, select ranges,
                             timescale, sensitivity to entire arrays
    -Winfloop                always blocks that could loop without delay
    -gstrict-expr-width      the standard's expression width rules
    -gstrict-ca-eval         the standard's continuous-assignment evaluation
    -gno-shared-loop-index   loop indices kept in implicit sensitivity lists

A compile fails the test on a non-zero exit and on any output at all (a
warning is a failure). No warning is waived.

Not enabled: ``-Wsensitivity-entire-vector``. It is a performance note, not a
portability warning (``-Wall`` leaves it out): Amaranth's back end writes
combinational processes as ``always @*`` blocks that read part selects of
wider vectors, and the standard puts the whole vector in their sensitivity
list. All 83 configurations gave 2829 such notes and nothing else; the
simulated values do not depend on it.

Icarus is not a Python package: when ``iverilog`` is not on ``PATH`` the tests
are skipped with the command that installs it (``make install`` does so when
run as root), except under ``CI`` (the environment variable is set), where a
missing compiler fails them.

Not repeated here: Yosys's read of the same configurations (``hierarchy
-check; proc; check -assert``) and Verilator's ``--lint-only -Wall`` are the
lint gate, ``accelgen/flow/lint.py``, run over every configuration by
``tests/test_lint.py``.

Cost: emission (shared through the emission cache) and one ``iverilog`` call
per configuration and generation, a few hundredths of a second for most. The
``large`` presets are the heavy part: all 83 configurations took 82 s of CPU
with both generations, the 8x8 ``bitfusion_array`` (4.6 MB of Verilog) almost
half of it. The ``large`` presets, whose Verilog is their unit's other
configurations' constructs at a larger size, are therefore compiled as
SystemVerilog-2012 only, and only with ``ACCELGEN_STRESS=2`` (both generations
then), like their Verilator lint (``tests/test_lint.py``).
"""

import os
import subprocess

import pytest

from accelgen.flow.emit import emit, write
from accelgen.registry import UNITS, module_name
from accelgen.verif.testing import HEAVY_REASON, STRESS

GENERATIONS = ("-g2005", "-g2012")
FLAGS = ("-Wall", "-Winfloop", "-gstrict-expr-width", "-gstrict-ca-eval",
         "-gno-shared-loop-index")


def compile_verilog(exe, verilog_path, top, generation):
    """Compile ``verilog_path`` with root module ``top``; return (status, output)."""
    proc = subprocess.run([exe, generation, *FLAGS, "-s", top, "-o", os.devnull,
                           verilog_path.name], cwd=verilog_path.parent,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=600)
    return proc.returncode, proc.stdout


def assert_compiles_cleanly(exe, verilog_path, top, generations=GENERATIONS):
    for generation in generations:
        status, output = compile_verilog(exe, verilog_path, top, generation)
        lines = output.strip().splitlines()
        assert status == 0 and not lines, (
            f"iverilog {generation} {' '.join(FLAGS)} on {verilog_path.name}: exit {status}, "
            f"{len(lines)} line(s) of output:\n" + "\n".join(lines[:20]))


CONFIGURATIONS = [pytest.param(label, params, id=module_name(params),
                               marks=[pytest.mark.skipif(STRESS < 2, reason=HEAVY_REASON)]
                               if label == "large" else [])
                  for unit in UNITS.values() for label, params in unit.configurations()]


@pytest.mark.parametrize("label,params", CONFIGURATIONS)
def test_configuration_compiles_in_icarus(label, params, iverilog, tmp_path):
    verilog_path, _ = write(emit(params.unit, params), tmp_path)
    assert_compiles_cleanly(iverilog, verilog_path, verilog_path.stem)


@pytest.mark.parametrize("source,message", [
    # An undeclared net used in a continuous assignment: -Wall's "implicit".
    ("module bad(input a, output y);\n  assign n = a;\n  assign y = n;\nendmodule\n",
     "implicit"),
    # A constant part select past the end of the vector: -Wall's "select-range".
    ("module bad(input [3:0] a, output [1:0] y);\n  assign y = a[5:4];\nendmodule\n",
     "out of bound"),
], ids=["implicit-net", "select-range"])
def test_a_warning_fails_the_check(source, message, iverilog, tmp_path):
    path = tmp_path / "bad.v"
    path.write_text(source)
    with pytest.raises(AssertionError, match=message):
        assert_compiles_cleanly(iverilog, path, "bad")


def test_an_error_fails_the_check(iverilog, tmp_path):
    path = tmp_path / "bad.v"
    path.write_text("module bad(input a, output y);\n  assign y = b;\nendmodule\n")
    with pytest.raises(AssertionError, match=r"exit [1-9]"):
        assert_compiles_cleanly(iverilog, path, "bad")
