# SPDX-License-Identifier: BSD-2-Clause
"""Bit-exact NumPy models, one module per registered unit; the units' specification."""

__all__ = []
