# SPDX-License-Identifier: BSD-2-Clause
"""Generator parameters: declaration, validation helpers and string parsing.

Every unit declares a frozen, keyword-only dataclass ``Params`` whose fields are
made with :func:`param`, and validates them in ``__post_init__`` with the
``check_*`` helpers below. The helpers coerce the value (``operator.index`` for
integers), store it back on the frozen instance and raise ``TypeError`` for the
wrong kind of value and ``ValueError`` for a wrong value, with a message that
names the unit, the parameter and the allowed range.
"""

import contextvars
import dataclasses
import operator
import re
import typing

from amaranth.hdl import Shape

__all__ = [
    "param", "UnitParams", "int_shape",
    "check_int", "check_bool", "check_choice", "require",
    "parse_value", "BOOL_WORDS",
]

# While UnitParams.ranges() validates a default instance, the check_* helpers
# record here what they allow: {name: {"min", "max", ...} or {"choices"}}.
_RECORDING = contextvars.ContextVar("accelgen_params_recording", default=None)
_RANGES = {}


def _record(name, entry):
    recorded = _RECORDING.get()
    if recorded is not None:
        recorded.setdefault(name, entry)


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

    @classmethod
    def ranges(cls):
        """``{name: range}`` for every parameter, as the default instance's
        validation declares it: ``{"min": int|None, "max": int|None}`` for an
        integer checked with :func:`check_int` (``min_expr``/``when`` added when the
        bound depends on other parameters: it is then the bound at their defaults),
        ``{"choices": [...]}`` for a string checked with :func:`check_choice`, and
        ``None`` for a bool or a parameter no ``check_int``/``check_choice`` call
        covers. Relations checked with :func:`require` are not ranges."""
        if cls not in _RANGES:
            recorded = {}
            token = _RECORDING.set(recorded)
            try:
                cls()
            finally:
                _RECORDING.reset(token)
            _RANGES[cls] = {f.name: recorded.get(f.name) for f in dataclasses.fields(cls)}
        return {name: None if entry is None else dict(entry)
                for name, entry in _RANGES[cls].items()}

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
    entry = {"min": min, "max": max}
    if min_expr is not None:
        entry["min_expr"] = min_expr
    if when is not None:
        entry["when"] = when
    _record(name, entry)
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
    _record(name, {"choices": list(choices)})
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


#: The words ``-p NAME=VALUE`` accepts for a bool parameter (exactly these,
#: lower case, no surrounding spaces).
BOOL_WORDS = {"true": True, "false": False, "1": True, "0": False}

_DECIMAL = re.compile(r"-?[0-9]+", re.ASCII)


def parse_value(params_cls, name, text):
    """Turn the command-line string ``text`` into a value for parameter ``name``.

    Integers are ASCII decimal digits with an optional leading ``-`` (no ``+``,
    no ``0x``, no ``_``, no spaces, no other scripts' digits); bools are exactly
    one of ``true``, ``false``, ``1``, ``0``; strings are taken as they are.
    Raises ``KeyError`` for an unknown parameter and ``ValueError`` for text that
    is not of the parameter's type.
    """
    hints = typing.get_type_hints(params_cls)
    if name not in {f.name for f in dataclasses.fields(params_cls)}:
        raise KeyError(name)
    kind = hints[name]
    if kind is bool:
        try:
            return BOOL_WORDS[text]
        except KeyError:
            raise ValueError(f"{params_cls.unit} {name} must be one of "
                             f"{', '.join(BOOL_WORDS)}, not {text!r}") from None
    if kind is int:
        if _DECIMAL.fullmatch(text) is None:
            raise ValueError(f"{params_cls.unit} {name} must be a decimal integer "
                             f"(digits 0-9, optional leading '-'), not {text!r}")
        return int(text)
    return text


def int_shape(width, is_signed):
    """The Amaranth shape of a ``width``-bit integer, two's complement when
    ``is_signed``: for ``Params`` shape helpers."""
    return Shape(width, signed=bool(is_signed))
