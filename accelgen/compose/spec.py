# SPDX-License-Identifier: BSD-2-Clause
"""A pipeline description: the stages, their parameters and inserted requantizers.

A description is a mapping (from Python, a TOML file or a JSON file)::

    name = "mac_gelu"            # optional: the Verilog module name
    [[stages]]
    unit = "int_mac"
    params = { acc_width = 20 }
    requant = { in_bits = 20, mode = "pot", shift = 4, out_frac = 4 }
    [[stages]]
    unit = "gelu"
    params = { in_frac = 4 }

Each stage names a registered ``unit`` and its ``params`` (the unit's defaults
for the rest). ``requant`` inserts a ``requant`` stage after it: its keys are
``requant`` parameters plus ``out_frac`` (required) and ``in_frac`` (optional),
the fixed-point scales ``2**-out_frac`` of its output codes and ``2**-in_frac``
of its input codes, which ``requant``'s own parameters do not state. A ``requant``
stage written out as ``unit = "requant"`` takes ``out_frac``/``in_frac`` as keys
of the stage. Stages are numbered from 0 after insertion, which is how the
connection errors of :mod:`accelgen.compose.rtl` name them.
"""

import dataclasses
import json
import re
import tomllib
from pathlib import Path

from accelgen.registry import get_unit

__all__ = ["Stage", "PipelineSpec", "parse", "load", "REQUANT"]

#: The unit :func:`parse` inserts for a stage's ``requant`` key.
REQUANT = "requant"

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)
_STAGE_KEYS = ("unit", "params", "requant", "out_frac", "in_frac")
_FRAC_MAX = 32


@dataclasses.dataclass(frozen=True)
class Stage:
    """One stage: ``index`` (after insertion), ``unit`` name, validated ``params``,
    the declared scales ``out_frac``/``in_frac`` (``requant`` only, else
    ``None``) and whether it was ``inserted`` by a ``requant`` key."""

    index: int
    unit: str
    params: object
    out_frac: int = None
    in_frac: int = None
    inserted: bool = False

    @property
    def label(self):
        """``stage 1 (requant)``: how messages name the stage."""
        return f"stage {self.index} ({self.unit})"


@dataclasses.dataclass(frozen=True)
class PipelineSpec:
    """A validated description: the Verilog module ``name`` and the ``stages``."""

    name: str
    stages: tuple

    def as_dict(self):
        """The description with every stage expanded (inserted ``requant`` stages
        written out, each unit's parameters in full): what the manifest records."""
        out = []
        for s in self.stages:
            entry = {"unit": s.unit, "params": s.params.as_dict()}
            if s.out_frac is not None:
                entry["out_frac"] = s.out_frac
            if s.in_frac is not None:
                entry["in_frac"] = s.in_frac
            if s.inserted:
                entry["inserted"] = True
            out.append(entry)
        return {"name": self.name, "stages": out}


def _frac(where, key, value):
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{where} {key} must be an integer from 0 to {_FRAC_MAX}, "
                        f"not {value!r}")
    if not 0 <= value <= _FRAC_MAX:
        raise ValueError(f"{where} {key} must be an integer from 0 to {_FRAC_MAX}, "
                         f"not {value}")
    return value


def _params(where, unit, values):
    if not isinstance(values, dict):
        raise TypeError(f"{where} params must be a table (mapping), not {values!r}")
    known = unit.params_cls.describe()
    for key in values:
        if key not in known:
            raise ValueError(f"{where} has no parameter {key!r}; parameters are "
                             f"{', '.join(known) or '(none)'}")
    try:
        return unit.params(**values)
    except TypeError as e:
        raise TypeError(f"{where}: {e}") from e
    except ValueError as e:
        raise ValueError(f"{where}: {e}") from e


def _unit(where, name):
    if not isinstance(name, str):
        raise TypeError(f"{where} unit must be a unit name (string), not {name!r}")
    try:
        return get_unit(name)
    except KeyError as e:
        raise ValueError(f"{where}: {e.args[0]}") from None


def _requant(index, number, values, where):
    """The ``requant`` stage ``index`` from ``values`` (its parameters and scales)."""
    values = dict(values)
    fracs = {key: values.pop(key) for key in ("out_frac", "in_frac") if key in values}
    if "out_frac" not in fracs:
        raise ValueError(f"{where} needs out_frac, the scale 2**-out_frac of its "
                         f"output codes")
    fracs = {key: _frac(where, key, value) for key, value in fracs.items()}
    params = _params(where, get_unit(REQUANT), values)
    return Stage(index, REQUANT, params, fracs["out_frac"], fracs.get("in_frac"),
                 inserted=number is not None)


def parse(description):
    """The :class:`PipelineSpec` of ``description`` (a mapping, see the module
    docstring). ``TypeError``/``ValueError`` naming the stage (its position in
    the description, ``stages[k]``) and the key, e.g. ``stages[1] (gelu) has no
    parameter 'x'; parameters are ...``."""
    if not isinstance(description, dict):
        raise TypeError(f"a pipeline description must be a table (mapping), "
                        f"not {type(description).__name__}")
    unknown = sorted(set(description) - {"name", "stages"})
    if unknown:
        raise ValueError(f"a pipeline description takes the keys name and stages, "
                         f"not {', '.join(map(repr, unknown))}")
    raw = description.get("stages")
    if not isinstance(raw, list) or not raw:
        raise ValueError("a pipeline description needs stages, a non-empty list of "
                         "tables")
    stages = []
    for number, entry in enumerate(raw):
        where = f"stages[{number}]"
        if not isinstance(entry, dict):
            raise TypeError(f"{where} must be a table (mapping), not {entry!r}")
        unit = _unit(where, entry.get("unit"))
        where = f"stages[{number}] ({unit.name})"
        unknown = sorted(set(entry) - set(_STAGE_KEYS))
        if unknown:
            raise ValueError(f"{where} takes the keys {', '.join(_STAGE_KEYS)}, "
                             f"not {', '.join(map(repr, unknown))}")
        if unit.name == REQUANT:
            if "requant" in entry:
                raise ValueError(f"{where} is a requant stage: give its parameters in "
                                 f"params, not in requant")
            values = entry.get("params", {})
            if not isinstance(values, dict):
                raise TypeError(f"{where} params must be a table (mapping), "
                                f"not {values!r}")
            values = dict(values)
            for key in ("out_frac", "in_frac"):
                if key in values:
                    raise ValueError(f"{where} {key} is a key of the stage, not a "
                                     f"parameter of requant")
                if key in entry:
                    values[key] = entry[key]
            stages.append(_requant(len(stages), None, values, where))
        else:
            for key in ("out_frac", "in_frac"):
                if key in entry:
                    raise ValueError(f"{where} {key} is declared only for requant "
                                     f"stages; {unit.name} states its own scales")
            params = _params(where, unit, entry.get("params", {}))
            stages.append(Stage(len(stages), unit.name, params))
        if "requant" in entry:
            values = entry["requant"]
            if not isinstance(values, dict):
                raise TypeError(f"{where} requant must be a table (mapping), "
                                f"not {values!r}")
            stages.append(_requant(len(stages), number, values, f"{where} requant"))
    name = description.get("name", "pipeline__" + "__".join(s.unit for s in stages))
    if not isinstance(name, str) or _NAME.fullmatch(name) is None:
        raise ValueError(f"pipeline name must be a Verilog identifier (letters, digits, "
                         f"_; not starting with a digit), not {name!r}")
    return PipelineSpec(name, tuple(stages))


def load(path):
    """:func:`parse` the TOML (``.toml``) or JSON (``.json``) file at ``path``.
    ``ValueError`` for another suffix or a file that does not parse (naming the
    file); ``OSError`` when it cannot be read."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".toml":
        try:
            description = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise ValueError(f"{path}: not valid TOML: {e}") from e
    elif path.suffix == ".json":
        try:
            description = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: not valid JSON: {e}") from e
    else:
        raise ValueError(f"pipeline spec {path} must end in .toml or .json, "
                         f"not {path.suffix or '(no suffix)'}")
    return parse(description)
