# SPDX-License-Identifier: BSD-2-Clause
"""User-facing code on top of the registry: the command line, catalogue, accuracy reports."""

__all__ = []
