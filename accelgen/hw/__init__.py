# SPDX-License-Identifier: BSD-2-Clause
"""RTL builders shared by the generators (Amaranth; no NumPy, no golden models)."""

__all__ = []
