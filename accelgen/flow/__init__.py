# SPDX-License-Identifier: BSD-2-Clause
"""Flows around the generators: emission, lint, synthesis, formal checks, reports, tools."""

__all__ = []
