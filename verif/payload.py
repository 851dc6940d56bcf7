# SPDX-License-Identifier: BSD-2-Clause
"""Packing and unpacking of stream payloads from their Amaranth shapes.

Offsets always come from the layout (first field in the low bits), never from
hard-coded bit positions.
"""

from amaranth.hdl import Shape
from amaranth.lib import data

__all__ = ["pack", "unpack", "to_bits", "from_bits"]


def to_bits(value, width):
    """Two's-complement bit pattern of ``value`` in ``width`` bits (range-checked)."""
    value = int(value)
    if not -(1 << max(width - 1, 0)) <= value < (1 << width):
        raise ValueError(f"{value} does not fit in {width} bits")
    return value & ((1 << width) - 1)


def from_bits(bits, shape):
    """Integer value of the bit pattern ``bits`` read as ``shape``."""
    shape = Shape.cast(shape)
    bits &= (1 << shape.width) - 1
    if shape.signed and bits >> (shape.width - 1):
        bits -= 1 << shape.width
    return bits


def pack(layout, **values):
    """Bit pattern of a ``StructLayout`` payload from field values (missing fields: 0)."""
    if not isinstance(layout, data.StructLayout):
        (value,) = values.values()
        return to_bits(value, Shape.cast(layout).width)
    unknown = set(values) - {name for name, _ in layout}
    if unknown:
        raise KeyError(f"no fields {sorted(unknown)} in {layout!r}")
    bits = 0
    for name, field in layout:
        width = Shape.cast(field.shape).width
        bits |= to_bits(values.get(name, 0), width) << field.offset
    return bits


def unpack(layout, bits):
    """``{field: value}`` of a ``StructLayout`` payload, or the value of a plain shape."""
    if not isinstance(layout, data.StructLayout):
        return from_bits(bits, layout)
    return {name: from_bits(bits >> field.offset, field.shape) for name, field in layout}
