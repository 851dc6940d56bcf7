# SPDX-License-Identifier: BSD-2-Clause
"""Composition: units connected stream to stream into one generated module.

:mod:`.spec` reads and validates a pipeline description, :mod:`.rtl` builds the
Amaranth component (and checks every connection), :mod:`.golden` is the NumPy
composition of the units' golden models, and :func:`.rtl.emit_pipeline` gives
the Verilog and manifest of the whole. The submodules are imported on demand:
the golden side loads no Amaranth (docs/compose.md).
"""

__all__ = []
