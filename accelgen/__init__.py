# SPDX-License-Identifier: BSD-2-Clause
"""accelgen: verified, parameterized RTL building blocks for AI accelerators."""

__all__ = ["__version__"]

__version__ = "0.1.0"
