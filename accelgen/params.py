# SPDX-License-Identifier: BSD-2-Clause
"""Generator parameters: declaration, validation helpers and string parsing.

Every unit declares a frozen, keyword-only dataclass ``Params`` whose fields are
made with :func:`param`, and validates them in ``__post_init__`` with the
``check_*`` helpers below. The helpers coerce the value (``operator.index`` for
integers), store it back on the frozen instance and raise ``TypeError`` for the
wrong kind of value and ``ValueError`` for a wrong value, with a message that
names the unit, the parameter and the allowed range.
"""

import dataclasses
import operator
import typing

from amaranth.hdl import Shape

__all__ = [
    "param", "UnitParams", "int_shape",
    "check_int", "check_bool", "check_choice", "require",
    "parse_value",
]


def param(default, doc, *, abbr=None):
    """Declare a generator parameter.

    ``doc`` is shown by ``accelgen list``; ``abbr`` is the prefix used for the
    parameter in module names (default: the parameter's own name).
    """
    return dataclasses.field(default=default, metadata={"doc": doc, "abbr": abbr})


class UnitParams:
    """Mixin for a unit's ``Params`` dataclass (``frozen=True, kw_only=True``).

    Subclasses set the class attribute ``unit`` to the unit's registry name.
    """

    unit: typing.ClassVar[str] = "unit"

    @classmethod
    def describe(cls):
        """``{name: {default, type, doc}}`` for every parameter, in declaration order."""
        hints = typing.get_type_hints(cls)
        return {
            f.name: {
                "default": f.default,
                "type": hints[f.name].__name__,
                "doc": f.metadata.get("doc", ""),
            }
            for f in dataclasses.fields(cls)
        }

    @classmethod
    def ensure(cls, params, owner=None):
        """``params`` itself, or ``cls()`` for ``None``; ``TypeError`` for anything else.

        For component constructors: ``self.params = Params.ensure(params, self)``.
        On error the half-built ``owner`` is marked so that Amaranth does not also
        warn that it was "created but never used".
        """
        if params is None:
            return cls()
        if not isinstance(params, cls):
            if owner is not None:
                owner._MustUse__silence = True
            raise TypeError(f"{cls.unit} params must be a {cls.unit} Params instance, "
                            f"not {params!r}")
        return params

    def manifest_extra(self):
        """Unit-specific manifest entries (encodings, packing rules); none by default."""
        return {}

    def as_dict(self):
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def nondefault(self):
        """The parameters whose value differs from the default, in declaration order."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if getattr(self, f.name) != f.default}

    def _set(self, name, value):
        object.__setattr__(self, name, value)


def check_int(params, name, *, min=None, max=None, min_expr=None, when=None):
    """Coerce ``params.<name>`` to ``int`` and check ``min <= value <= max``.

    ``min_expr`` names where a derived minimum comes from (``"a_width + b_width"``);
    the message then reads "from a_width + b_width = 16 to 64". ``when`` names the
    parameter a range depends on (``"fmt='flint'"``): "... to 16 for fmt='flint'".
    """
    value = getattr(params, name)
    if isinstance(value, bool):
        raise TypeError(f"{params.unit} {name} must be an integer, not {value!r}")
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"{params.unit} {name} must be an integer, not {value!r}") from None
    if (min is not None and value < min) or (max is not None and value > max):
        if min_expr is not None:
            min = f"{min_expr} = {min}"
        if max is None:
            allowed = f"an integer of at least {min}"
        elif min is None:
            allowed = f"an integer of at most {max}"
        else:
            allowed = f"an integer from {min} to {max}"
        if when is not None:
            allowed += f" for {when}"
        raise ValueError(f"{params.unit} {name} must be {allowed}, not {value}")
    params._set(name, value)
    return value


def check_bool(params, name):
    """Check that ``params.<name>`` is a ``bool``."""
    value = getattr(params, name)
    if not isinstance(value, bool):
        raise TypeError(f"{params.unit} {name} must be a bool, not {value!r}")
    return value


def check_choice(params, name, choices):
    """Check that ``params.<name>`` is one of the strings ``choices``; store it as a
    plain ``str`` (a ``numpy.str_`` or other subclass is converted)."""
    value = getattr(params, name)
    if not isinstance(value, str):
        raise TypeError(f"{params.unit} {name} must be a string, not {value!r}")
    value = str.__str__(value)
    if value not in choices:
        listed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{params.unit} {name} must be one of {listed}, not {value!r}")
    params._set(name, value)
    return value


def require(params, condition, message):
    """Raise ``ValueError('<unit> <message>')`` unless ``condition`` holds.

    For relations between parameters; the message quotes both sides with numbers,
    e.g. ``"acc_width must be at least a_width + b_width = 16, not 8"``.
    """
    if not condition:
        raise ValueError(f"{params.unit} {message}")


_TRUE = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def parse_value(params_cls, name, text):
    """Turn the command-line string ``text`` into a value for parameter ``name``.

    Raises ``KeyError`` for an unknown parameter and ``ValueError`` for text that
    is not of the parameter's type.
    """
    hints = typing.get_type_hints(params_cls)
    if name not in {f.name for f in dataclasses.fields(params_cls)}:
        raise KeyError(name)
    kind = hints[name]
    if kind is bool:
        try:
            return _TRUE[text.strip().lower()]
        except KeyError:
            raise ValueError(f"{params_cls.unit} {name} must be true/false/1/0, "
                             f"not {text!r}") from None
    if kind is int:
        try:
            return int(text, 0)
        except ValueError:
            raise ValueError(f"{params_cls.unit} {name} must be an integer, "
                             f"not {text!r}") from None
    return text


def int_shape(width, is_signed):
    """The Amaranth shape of a ``width``-bit integer, two's complement when
    ``is_signed``: for ``Params`` shape helpers."""
    return Shape(width, signed=bool(is_signed))
