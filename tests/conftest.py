# SPDX-License-Identifier: BSD-2-Clause
"""Shared pytest fixtures and the registry-driven parametrization helpers."""

import pytest

from accelgen.registry import UNITS, module_name

__all__ = ["configurations", "all_configurations"]


def configurations(unit_name):
    """``pytest.param(params, id=module)`` for a unit's presets and CI sweep."""
    return [pytest.param(params, id=module_name(params))
            for _label, params in UNITS[unit_name].configurations()]


def all_configurations():
    """``pytest.param((unit, params), id=module)`` over every registered unit."""
    return [pytest.param((unit, params), id=module_name(params))
            for unit in UNITS.values() for _label, params in unit.configurations()]
