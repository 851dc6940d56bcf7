# SPDX-License-Identifier: BSD-2-Clause
"""Hypothesis strategies for every registered unit's ``Params``, derived from the
registry alone (``Params.describe()``, presets, sweeps), so a new unit is fuzzed
without editing the tests.

* :func:`param_kwargs` — keyword arguments for ``Params``: a preset or sweep
  configuration with some parameters replaced by values of the declared type
  around the interesting ranges, or by values of the wrong type.
* :func:`valid_kwargs` — the same with values of the declared type only, up to
  the configurations the regression runs (:func:`envelope`), so that they
  elaborate quickly.
* :func:`cli_value_text` — ``-p NAME=VALUE`` value text: the spellings of valid
  values and junk.

Integers run from -3 to ``2 * default + 64``, biased to small values; strings are
the values the registry uses (defaults, presets, sweeps), the words of the
parameter's documentation, comma-separated lists of both, and junk text.
"""

import re

import numpy as np
from hypothesis import strategies as st

from accelgen.registry import PRESET_NAMES

__all__ = ["specs", "known_values", "string_tokens", "right_type_values",
           "wrong_type_values", "param_kwargs", "valid_kwargs", "cli_value_text",
           "fuzz_limits", "envelope", "junk_text", "is_right_kind"]

KINDS = {"int": int, "bool": bool, "str": str}

#: Text Hypothesis draws for junk: any printable or control character except
#: surrogates, which a command line cannot carry.
junk_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)


def specs(unit):
    """``{name: (kind, default)}`` of ``unit``'s parameters (``kind``: int, bool, str)."""
    out = {}
    for name, spec in unit.params_cls.describe().items():
        if spec["type"] not in KINDS:
            raise TypeError(f"unit {unit.name} parameter {name} has type {spec['type']}; "
                            f"the fuzz strategies know {', '.join(KINDS)}")
        out[name] = (KINDS[spec["type"]], spec["default"])
    return out


def is_right_kind(kind, value):
    """``value`` is of the kind ``Params`` accepts for a ``kind`` parameter:
    an integer (``__index__``, not a bool), a bool, or a string."""
    if kind is int:
        return not isinstance(value, bool) and hasattr(type(value), "__index__")
    return isinstance(value, kind)


def known_values(unit, name, presets=PRESET_NAMES):
    """The values ``unit``'s default, ``presets`` and sweep give parameter ``name``."""
    configs = [unit.presets[p] for p in presets] + list(unit.sweep)
    values = [specs(unit)[name][1]] + [c[name] for c in configs if name in c]
    return sorted(set(values), key=repr)


def string_tokens(unit, name):
    """Words a string parameter is likely to accept: the items of its known values
    (split on commas) and the words of its documentation."""
    doc = unit.params_cls.describe()[name]["doc"]
    tokens = set(re.findall(r"[A-Za-z0-9_]+", doc))
    for value in known_values(unit, name):
        tokens.update(item.strip() for item in value.split(","))
    return sorted(tokens)


def fuzz_limits(default):
    """``(low, high)`` of the integers drawn to fuzz a parameter whose default is
    ``default``: -3 to ``2 * default + 64``."""
    return -3, 2 * default + 64


def envelope(unit, name, *, wide=False):
    """The largest value the ``small`` preset and the sweep give integer parameter
    ``name`` (the default when they leave it alone); ``wide``: of the default,
    ``small`` and the sweep. Valid configurations drawn up to it elaborate about as
    fast as the regression's own (the ``large`` presets take up to half a minute)."""
    configs = [unit.presets["small"], *unit.sweep]
    values = [c[name] for c in configs if name in c]
    if wide or not values:
        values.append(specs(unit)[name][1])
    return max(values)


def _ints(low, high):
    # Small values are drawn more often than the rest of the range.
    return st.one_of(st.integers(low, min(high, 16)), st.integers(low, high))


def _strings(unit, name, valid_only):
    tokens = string_tokens(unit, name)
    lists = st.lists(st.sampled_from(tokens), min_size=1, max_size=4).flatmap(
        lambda items: st.sampled_from([",".join(items), ", ".join(items),
                                       " " + ",".join(items) + " "]))
    known = st.sampled_from(known_values(unit, name))
    if valid_only:
        return st.one_of(known, known, lists)
    return st.one_of(known, lists, st.sampled_from(tokens), junk_text)


def right_type_values(unit, name, *, valid=None):
    """Values of the declared type for parameter ``name`` (integers and strings
    also as NumPy scalars, which ``Params`` must accept and store as ``int`` and
    ``str``): over the
    fuzz range, or with ``valid=False|True`` likely-valid values from 0 to the
    parameter's :func:`envelope` (``True``: the wide one)."""
    kind, default = specs(unit)[name]
    if kind is bool:
        return st.booleans()
    if kind is int:
        ints = (_ints(*fuzz_limits(default)) if valid is None
                else _ints(0, envelope(unit, name, wide=valid)))
        return st.one_of(ints, ints.map(np.int64))
    strings = _strings(unit, name, valid_only=valid is not None)
    return st.one_of(strings, strings.map(np.str_))


def wrong_type_values(unit, name):
    """Values ``Params`` must refuse with ``TypeError`` for parameter ``name``."""
    kind, default = specs(unit)[name]
    common = [st.none(), st.floats(allow_nan=True), st.just([default]),
              st.just({name: default}), st.builds(bytes, st.binary(max_size=4)),
              st.just(1j)]
    if kind is int:
        return st.one_of(*common, st.booleans(), st.integers(-3, 99).map(str),
                         st.just(float(default)), st.just(np.float64(default)),
                         st.just(np.bool_(True)), junk_text)
    if kind is bool:
        return st.one_of(*common, st.integers(-1, 2), st.sampled_from(
            ["true", "false", "0", "1", ""]), st.just(np.bool_(not default)))
    return st.one_of(*common, st.integers(-3, 99), st.booleans(),
                     st.lists(st.sampled_from(string_tokens(unit, name)), max_size=3),
                     st.just(tuple(default.split(","))))


def param_kwargs(unit):
    """Keyword arguments for ``unit.params_cls``: a preset or sweep configuration
    with some of its parameters replaced, mostly by values of the declared type
    (one replacement in ten has the wrong type)."""
    names = list(specs(unit))
    configs = st.sampled_from([dict(unit.presets[p]) for p in PRESET_NAMES]
                              + [dict(s) for s in unit.sweep])
    replaced = st.lists(st.sampled_from(names), unique=True, max_size=len(names)) \
        if names else st.just([])
    values = {name: (right_type_values(unit, name), wrong_type_values(unit, name))
              for name in names}
    wrong = st.integers(0, 9).map(lambda k: k == 0)

    @st.composite
    def kwargs(draw):
        out = dict(draw(configs))
        for name in draw(replaced):
            out[name] = draw(values[name][draw(wrong)])
        return out
    return kwargs()


def valid_kwargs(unit, *, wide=False):
    """Keyword arguments of the declared types, likely to be valid: the ``small``
    preset or a sweep configuration (``wide``: also the default) with one to three
    parameters replaced by values of the declared type up to their
    :func:`envelope` or values the registry uses. Some are still invalid
    (relations between parameters): filter with ``assume``."""
    names = list(specs(unit))
    presets = ("default", "small") if wide else ("small",)
    configs = st.sampled_from([dict(unit.presets[p]) for p in presets]
                              + [dict(s) for s in unit.sweep])
    if not names:
        return configs
    replaced = st.lists(st.sampled_from(names), unique=True, min_size=1, max_size=3)
    values = {}
    for name in names:
        choices = [right_type_values(unit, name, valid=wide)]
        if specs(unit)[name][0] is int:
            top = envelope(unit, name, wide=wide)
            choices.append(st.sampled_from(
                [v for v in known_values(unit, name, presets) if v <= top]))
        values[name] = st.one_of(*choices)

    @st.composite
    def kwargs(draw):
        out = dict(draw(configs))
        for name in draw(replaced):
            out[name] = draw(values[name])
        return out
    return kwargs()


def cli_value_text(unit, name):
    """Text for ``-p name=TEXT``: how users spell valid values, and junk."""
    kind, default = specs(unit)[name]
    if kind is int:
        ints = _ints(*fuzz_limits(default))
        spelled = st.one_of(ints.map(str), ints.map(hex), ints.map(lambda v: f" {v} "),
                            ints.map(lambda v: f"{v:_}"), ints.map(lambda v: f"{v}.0"))
    elif kind is bool:
        spelled = st.sampled_from(["true", "false", "True", "FALSE", "1", "0", "yes",
                                   "no", " true ", "2", "on"])
    else:
        spelled = _strings(unit, name, valid_only=False)
    return st.one_of(spelled, spelled, junk_text, st.just(""), st.just("="))
