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


def _pack_field(shape, value):
    if isinstance(shape, data.ArrayLayout):
        values = list(value) if not isinstance(value, int) else [value] * shape.length
        if len(values) != shape.length:
            raise ValueError(f"{len(values)} values for an array of {shape.length}")
        width = Shape.cast(shape.elem_shape).width
        return sum(to_bits(v, width) << (k * width) for k, v in enumerate(values))
    return to_bits(value, Shape.cast(shape).width)


def _unpack_field(shape, bits):
    if isinstance(shape, data.ArrayLayout):
        width = Shape.cast(shape.elem_shape).width
        return [from_bits(bits >> (k * width), shape.elem_shape) for k in range(shape.length)]
    return from_bits(bits, shape)


def pack(layout, **values):
    """Bit pattern of a ``StructLayout`` payload from field values (missing fields: 0).

    An ``ArrayLayout`` field (or payload) takes a sequence of element values
    (element 0 in the low bits); a payload that is not a struct takes one keyword."""
    if not isinstance(layout, data.StructLayout):
        (value,) = values.values()
        return _pack_field(layout, value)
    unknown = set(values) - {name for name, _ in layout}
    if unknown:
        raise KeyError(f"no fields {sorted(unknown)} in {layout!r}")
    bits = 0
    for name, field in layout:
        bits |= _pack_field(field.shape, values.get(name, 0)) << field.offset
    return bits


def unpack(layout, bits):
    """``{field: value}`` of a ``StructLayout`` payload, or the value of a plain shape;
    ``ArrayLayout`` payloads and fields become lists."""
    if not isinstance(layout, data.StructLayout):
        return _unpack_field(layout, bits)
    mask = lambda f: (1 << Shape.cast(f.shape).width) - 1
    return {name: _unpack_field(field.shape, (bits >> field.offset) & mask(field))
            for name, field in layout}
