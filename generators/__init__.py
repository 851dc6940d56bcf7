# SPDX-License-Identifier: BSD-2-Clause
"""Amaranth generators, one module per registered unit (see ``accelgen.registry``)."""

__all__ = []
