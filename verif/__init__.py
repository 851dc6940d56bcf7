# SPDX-License-Identifier: BSD-2-Clause
"""Verification: shared cocotb machinery and one testbench module per unit.

Shared pieces: :mod:`.payload` (packing struct payloads from their layouts),
:mod:`.stream` (Source, Sink and Monitor for ``lib.stream`` ports),
:mod:`.scoreboard`, :mod:`.bench` (clock, reset, seeds, bounded waits),
:mod:`.runner` (build-once Verilator runs from pytest),
:mod:`.amaranth_sim` (the same stream helpers for Amaranth's simulator) and
:mod:`.selftest` (cocotb tests proving the monitor catches violations).
"""

__all__ = []
