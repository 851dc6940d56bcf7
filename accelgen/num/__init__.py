# SPDX-License-Identifier: BSD-2-Clause
"""Number helpers: integer ranges, fixed-point arithmetic, number-format descriptions."""

__all__ = []
