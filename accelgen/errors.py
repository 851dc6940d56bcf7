# SPDX-License-Identifier: BSD-2-Clause
"""Exceptions that accelgen reports to users as one line."""

__all__ = ["AccelgenError", "ToolNotFound", "ToolFailed"]


class AccelgenError(Exception):
    """An error with a message meant for the user (the CLI prints it as one line)."""


class ToolNotFound(AccelgenError):
    """An external tool (Verilator, Yosys, nextpnr) could not be found."""


class ToolFailed(AccelgenError):
    """An external tool ran and failed; the message holds the tail of its output."""
