# SPDX-License-Identifier: BSD-2-Clause
"""The one table of accelgen's units, with every per-unit fact.

The CLI, the Makefile (through the CLI), the test parametrization, lint,
synthesis and QoR reports, the formal checks and the accuracy report all
enumerate :data:`UNITS`; adding a unit is adding one :class:`Unit` entry here
plus its four files::

    generators/<name>.py   Params (frozen dataclass) + the wiring.Component
    golden/<name>.py       the bit-exact NumPy model
    verif/<name>.py        the cocotb testbench
    tests/test_<name>.py   pytest: errors, elaboration, simulators

Besides its presets and sweep, an entry declares four facts that other tools
would otherwise keep in lists of their own; each must be given, ``None`` being
the explicit "none" (a :class:`Unit` that leaves one out is an error):

``formal``
    :class:`Formal`: the configurations whose stream rules are proven by
    default and the beats of one packet (the bound); ``None`` for a unit
    without stream ports.
``accuracy``
    :class:`Accuracy`: how ``accelgen accuracy`` measures the golden model
    against its float64 reference; ``None`` for an exact unit.
``axis``
    :class:`Axis`: how the tests cover the AXI4-Stream wrapper; ``None`` for a
    unit without stream ports (the wrapper refuses it).
``heavy``
    :class:`Heavy`: the unit's checks that run only with ``ACCELGEN_STRESS=2``.

:meth:`Unit.check_facts` holds the declarations against the component (a
streaming unit must have ``formal``, ``axis`` and a ``ready_contract``);
``tests/test_registry.py`` runs it for every unit.

Modules are imported lazily, so listing units costs nothing.
"""

import dataclasses
import importlib
import re
from collections.abc import Callable, Mapping
from types import MappingProxyType

__all__ = ["Unit", "Formal", "Accuracy", "Axis", "Heavy", "HEAVY_CHECKS", "UNITS",
           "get_unit", "module_name", "PRESET_NAMES"]

PRESET_NAMES = ("default", "small", "large")


class _Undeclared:
    """The default of a per-unit fact that the entry did not give."""

    def __repr__(self):
        return "<undeclared>"


_UNDECLARED = _Undeclared()


def _frozen(overrides, what):
    """``overrides`` (a mapping of parameter names) as a read-only copy."""
    if not isinstance(overrides, Mapping) or not all(isinstance(k, str) for k in overrides):
        raise TypeError(f"{what} must be a mapping of parameter names to values, "
                        f"not {overrides!r}")
    return MappingProxyType(dict(overrides))


def _preset(preset, what):
    if preset not in PRESET_NAMES:
        raise ValueError(f"{what} must be one of {', '.join(PRESET_NAMES)}, not {preset!r}")
    return preset


def _names(values, what):
    """``values`` as a tuple of strings (a lone string is refused: it would be
    read as its characters)."""
    if isinstance(values, str) or not all(isinstance(v, str) for v in values):
        raise TypeError(f"{what} must be a sequence of names, not {values!r}")
    return tuple(values)


@dataclasses.dataclass(frozen=True)
class Formal:
    """The bounded proof of a streaming unit's stream rules (:mod:`accelgen.flow.formal`).

    Attributes
    ----------
    configs : tuple of (preset, overrides)
        The configurations proven by default (``tests/test_formal.py``): a
        preset name and parameter overrides of it, usually the ``small`` preset
        cut down where its packet would make the bound too deep. The first is
        the unit's formal configuration (:func:`accelgen.flow.formal.formal_params`).
    beats : callable
        ``beats(params) -> (input beats, output beats)`` of one whole packet
        (vector, block, tile); the default bound is
        ``1 + input beats + latency + output beats + 1``.
    faults : tuple of str
        Names of the fault wrappers (:data:`accelgen.flow.formal.FAULTS`) that
        must give a counterexample; by default unless :class:`Heavy` lists
        ``"formal_faults"``.
    """

    configs: tuple
    beats: Callable
    faults: tuple = ("drop_valid",)

    def __post_init__(self):
        configs = tuple(self.configs)
        if not configs:
            raise ValueError("Formal configs must name at least one configuration")
        frozen = []
        for i, config in enumerate(configs):
            if not isinstance(config, tuple) or len(config) != 2:
                raise TypeError(f"Formal configs[{i}] must be a (preset, overrides) tuple, "
                                f"not {config!r}")
            preset, overrides = config
            frozen.append((_preset(preset, f"Formal configs[{i}] preset"),
                           _frozen(overrides, f"Formal configs[{i}] overrides")))
        object.__setattr__(self, "configs", tuple(frozen))
        if not callable(self.beats):
            raise TypeError(f"Formal beats must be a function of the unit's Params, "
                            f"not {self.beats!r}")
        object.__setattr__(self, "faults", _names(self.faults, "Formal faults"))


@dataclasses.dataclass(frozen=True)
class Accuracy:
    """How ``accelgen accuracy`` (:mod:`accelgen.app.accuracy`) measures the
    golden model against the float64 ``reference`` of ``golden/<unit>.py``.

    Attributes
    ----------
    length : str or None
        ``None`` for an element-wise unit: every input code is measured, so the
        figures are exact. Otherwise the ``Params`` attribute holding the vector
        length: random vectors of ``families`` are measured.
    families : tuple of str
        The stimulus families of the random vectors, in the order they are
        drawn (names of :data:`accelgen.app.accuracy.FAMILIES`); empty for an
        element-wise unit.
    sums_to_one : bool
        The outputs of a vector are probabilities (unsigned output codes); the
        report adds the error of their sum and the agreement of the argmax.
    """

    length: str = None
    families: tuple = ()
    sums_to_one: bool = False

    def __post_init__(self):
        object.__setattr__(self, "families", _names(self.families, "Accuracy families"))
        if self.length is None and self.families:
            raise ValueError("Accuracy families need a vector length: an element-wise "
                             "unit (length=None) is measured on every input code")
        if self.length is not None and not (isinstance(self.length, str) and self.families):
            raise ValueError(f"Accuracy of vectors needs length as a Params attribute name "
                             f"and at least one family, not length={self.length!r}, "
                             f"families={self.families!r}")
        if not isinstance(self.sums_to_one, bool):
            raise TypeError(f"Accuracy sums_to_one must be a bool, not {self.sums_to_one!r}")


@dataclasses.dataclass(frozen=True)
class Axis:
    """How ``tests/test_axis.py`` covers the unit's AXI4-Stream wrapper
    (``accelgen generate --ports axis``): ports, manifest and lint of the
    default preset's wrapper, and the unit's own cocotb testbench run through
    the wrapper on ``regression`` (by default unless :class:`Heavy` lists
    ``"axis_regression"``).

    Attributes
    ----------
    regression : str
        The preset run through the wrapper.
    """

    regression: str = "small"

    def __post_init__(self):
        _preset(self.regression, "Axis regression")


#: The per-unit checks that :class:`Heavy` can move behind ``ACCELGEN_STRESS=2``.
HEAVY_CHECKS = MappingProxyType({
    "formal_rules": "the stream-rule proof under a rule-keeping source (the proof under "
                    "a free source, which contains every rule-keeping one, runs by default)",
    "formal_faults": "the fault wrappers of Formal.faults",
    "axis_lint": "Verilator -Wall on the AXI4-Stream wrapper with the waivers confined "
                 "to the core",
    "axis_regression": "the cocotb testbench through the AXI4-Stream wrapper",
    "synth_more_targets": "synthesis of the small preset on the generic and Xilinx flows "
                          "(iCE40 and ECP5 run by default)",
    "protocol_default": "the protocol stress of the default preset (the small preset's "
                        "runs by default instead: the same stall and reset logic, smaller)",
})


@dataclasses.dataclass(frozen=True)
class Heavy:
    """What of a unit runs only with ``ACCELGEN_STRESS=2``, besides what every
    unit defers (the ``large`` preset's cocotb regression, the ``small``
    presets' protocol stress).

    Attributes
    ----------
    checks : frozenset of str
        Names of :data:`HEAVY_CHECKS` deferred for this unit; the others that
        apply to it run by default.
    proofs : tuple of (preset, overrides, scale)
        Deeper stream-rule proofs: a configuration proven to ``scale`` times its
        default bound.
    sweeps : frozenset of int
        Indices into the unit's ``sweep`` whose cocotb regression under
        Verilator runs only at ``ACCELGEN_STRESS=2``: the slow configurations
        whose features another configuration's regression, or the Amaranth
        tier, already covers by default (say which in a comment at the entry).
        Every other check (lint, emission, portability) still takes them.
    """

    checks: frozenset = frozenset()
    proofs: tuple = ()
    sweeps: frozenset = frozenset()

    def __post_init__(self):
        checks = frozenset(_names(self.checks, "Heavy checks"))
        unknown = sorted(checks - set(HEAVY_CHECKS))
        if unknown:
            raise ValueError(f"Heavy checks must be among {', '.join(HEAVY_CHECKS)}, "
                             f"not {', '.join(unknown)}")
        object.__setattr__(self, "checks", checks)
        proofs = []
        for i, proof in enumerate(tuple(self.proofs)):
            if not isinstance(proof, tuple) or len(proof) != 3:
                raise TypeError(f"Heavy proofs[{i}] must be a (preset, overrides, scale) "
                                f"tuple, not {proof!r}")
            preset, overrides, scale = proof
            if not isinstance(scale, int) or isinstance(scale, bool) or scale < 1:
                raise ValueError(f"Heavy proofs[{i}] scale must be a positive integer, "
                                 f"not {scale!r}")
            proofs.append((_preset(preset, f"Heavy proofs[{i}] preset"),
                           _frozen(overrides, f"Heavy proofs[{i}] overrides"), scale))
        object.__setattr__(self, "proofs", tuple(proofs))
        sweeps = tuple(self.sweeps)
        if not all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in sweeps):
            raise TypeError(f"Heavy sweeps must be indices into the unit's sweep "
                            f"(non-negative integers), not {self.sweeps!r}")
        object.__setattr__(self, "sweeps", frozenset(sweeps))


#: What each per-unit fact means, for the message of an entry that leaves one out.
_FACTS = {
    "formal": (Formal, "Formal(configs, beats), or None for a unit without stream ports"),
    "accuracy": (Accuracy, "Accuracy(...), or None for a unit without a float64 reference"),
    "axis": (Axis, "Axis(regression), or None for a unit without stream ports"),
    "heavy": (Heavy, "Heavy(checks, proofs, sweeps), or None when nothing of the unit waits for "
                     "ACCELGEN_STRESS=2"),
}


@dataclasses.dataclass(frozen=True)
class Unit:
    """A registered unit.

    Attributes
    ----------
    name : str
        Registry name; also the module name of its generator, golden model and
        testbench, and the Verilog module name of its default configuration.
    summary : str
        One line for ``accelgen list``.
    component : str
        Name of the ``wiring.Component`` class in ``accelgen.generators.<name>``;
        it is constructed as ``Component(params)``.
    golden : str
        Name of the model function in ``accelgen.golden.<name>``.
    presets : mapping
        ``default``, ``small`` and ``large``: parameter overrides of ``Params()``.
    sweep : tuple of mapping
        Parameter overrides of the configurations CI runs the cocotb regression on.
    fastest : mapping or None
        Parameter overrides of the ``default`` preset that give the unit's
        timing-oriented setting (deepest pipeline, at a size that places at
        speed on the small iCE40), placed and timed beside the presets in the
        QoR report's timing table and verified with them (it is one of
        :meth:`configurations`); ``None``: no setting is faster than the presets.
    formal : Formal or None
        The stream-rule proofs run by default; ``None``: no stream ports.
    accuracy : Accuracy or None
        How the accuracy report measures the unit; ``None``: no float64 reference.
    axis : Axis or None
        The AXI4-Stream wrapper's coverage; ``None``: no stream ports.
    heavy : Heavy
        The unit's checks deferred to ``ACCELGEN_STRESS=2``; ``None`` in an
        entry is read as ``Heavy()``, nothing deferred.

    The four facts have no default: an entry that leaves one out raises
    ``ValueError`` naming the unit and the fact.
    """

    name: str
    summary: str
    component: str
    golden: str
    presets: dict
    sweep: tuple = ()
    fastest: dict = None
    formal: Formal = _UNDECLARED
    accuracy: Accuracy = _UNDECLARED
    axis: Axis = _UNDECLARED
    heavy: Heavy = _UNDECLARED

    def __post_init__(self):
        if set(self.presets) != set(PRESET_NAMES):
            raise ValueError(f"unit {self.name} presets must be exactly {PRESET_NAMES}")
        object.__setattr__(self, "presets", MappingProxyType(
            {k: MappingProxyType(dict(v)) for k, v in self.presets.items()}))
        if self.fastest is not None:
            object.__setattr__(self, "fastest", _frozen(self.fastest,
                                                        f"unit {self.name} fastest"))
        for fact, (kind, how) in _FACTS.items():
            value = getattr(self, fact)
            if value is _UNDECLARED:
                raise ValueError(f"unit {self.name} declares no {fact}: give {how}")
            if value is not None and not isinstance(value, kind):
                raise TypeError(f"unit {self.name} {fact} must be a {kind.__name__} or None, "
                                f"not {value!r}")
        if self.heavy is None:
            object.__setattr__(self, "heavy", Heavy())
        needs = {"formal": {c for c in self.heavy.checks if c.startswith("formal_")}
                 | ({"proofs"} if self.heavy.proofs else set()),
                 "axis": {c for c in self.heavy.checks if c.startswith("axis_")}}
        for fact, uses in needs.items():
            if uses and getattr(self, fact) is None:
                raise ValueError(f"unit {self.name} heavy names {', '.join(sorted(uses))}, "
                                 f"but its {fact} is None")
        beyond = sorted(i for i in self.heavy.sweeps if i >= len(self.sweep))
        if beyond:
            raise ValueError(f"unit {self.name} heavy sweeps must be in range(0, "
                             f"{len(self.sweep)}) (its sweep's indices), not "
                             f"{', '.join(map(str, beyond))}")

    def _import(self, package):
        return importlib.import_module(f"accelgen.{package}.{self.name}")

    @property
    def params_cls(self):
        return self._import("generators").Params

    @property
    def component_cls(self):
        return getattr(self._import("generators"), self.component)

    @property
    def golden_fn(self):
        return getattr(self._import("golden"), self.golden)

    @property
    def testbench(self):
        """Dotted name of the cocotb test module."""
        return f"accelgen.verif.{self.name}"

    def params(self, preset="default", **overrides):
        """Construct (and so validate) ``Params`` from a preset plus overrides."""
        if preset not in self.presets:
            raise ValueError(f"unit {self.name} has no preset {preset!r}; "
                             f"presets are {', '.join(PRESET_NAMES)}")
        return self.params_cls(**{**self.presets[preset], **overrides})

    def build(self, params):
        """Construct the component for ``params``."""
        return self.component_cls(params)

    def configurations(self):
        """``[(label, params)]``: the presets, the ``fastest`` setting (label
        ``"fastest"``), then the sweep, without repeats. Every check that
        enumerates them (regression, lint, emission) verifies each row of the
        QoR report's timing table."""
        seen, out = set(), []
        fastest = [] if self.fastest is None else [("fastest", self.fastest_params())]
        for label, p in [*((p, self.params(p)) for p in PRESET_NAMES), *fastest,
                         *((f"sweep{i}", self.params_cls(**s))
                           for i, s in enumerate(self.sweep))]:
            key = module_name(p)
            if key not in seen:
                seen.add(key)
                out.append((label, p))
        return out

    def fastest_params(self):
        """``Params`` of the :attr:`fastest` setting (the ``default`` preset with its
        overrides), or ``None`` when the unit declares none."""
        return None if self.fastest is None else self.params(**self.fastest)

    def formal_configurations(self):
        """``[Params]`` of :attr:`formal`'s configurations (empty when ``formal`` is ``None``)."""
        return [] if self.formal is None else \
            [self.params(preset, **overrides) for preset, overrides in self.formal.configs]

    def stream_ports(self, params=None):
        """``{member name: "in" or "out"}`` of the component's ``lib.stream``
        ports for ``params`` (default: the default preset); empty for a unit
        without stream ports. Builds the component (Amaranth) without
        elaborating it."""
        from amaranth.lib import stream
        from amaranth.lib.wiring import Flow
        component = self.build(self.params() if params is None else params)
        component._MustUse__silence = True  # built only to read its signature
        return {name: "in" if member.flow == Flow.In else "out"
                for name, member in component.signature.members.items()
                if member.is_signature and isinstance(member.signature, stream.Signature)}

    def check_facts(self):
        """Hold the declared facts against the unit's modules; ``ValueError``
        naming the unit and the fact on the first disagreement:

        * a unit with stream ports needs ``formal`` and ``axis``, and its
          component class a ``ready_contract`` attribute (an
          :class:`accelgen.hw.stream.ReadyContract`, or ``None`` when ``i.ready``
          follows no fixed formula); a unit without stream ports has neither
          ``formal`` nor ``axis``;
        * ``accuracy`` needs a ``reference`` function in ``golden/<unit>.py`` and,
          for vectors, the ``Params`` attribute it names.
        """
        streams = self.stream_ports()
        if streams:
            for fact in ("formal", "axis"):
                if getattr(self, fact) is None:
                    raise ValueError(f"unit {self.name} has stream ports "
                                     f"({', '.join(streams)}) but declares {fact}=None: "
                                     f"give its {_FACTS[fact][0].__name__}(...)")
            from accelgen.hw.stream import ReadyContract
            cls = self.component_cls
            if not hasattr(cls, "ready_contract"):
                raise ValueError(f"unit {self.name} has stream ports but {cls.__name__} has "
                                 f"no ready_contract class attribute: declare an "
                                 f"accelgen.hw.stream.ReadyContract, or None when i.ready "
                                 f"follows no fixed formula")
            if not isinstance(cls.ready_contract, (ReadyContract, type(None))):
                raise ValueError(f"unit {self.name}: {cls.__name__}.ready_contract must be an "
                                 f"accelgen.hw.stream.ReadyContract or None, not "
                                 f"{cls.ready_contract!r}")
        else:
            for fact in ("formal", "axis"):
                if getattr(self, fact) is not None:
                    raise ValueError(f"unit {self.name} has no stream ports, so its {fact} "
                                     f"must be None")
        if self.accuracy is not None:
            if not callable(getattr(self._import("golden"), "reference", None)):
                raise ValueError(f"unit {self.name} declares accuracy, but golden/{self.name}.py "
                                 f"has no float64 reference function")
            length = self.accuracy.length
            if length is not None and not hasattr(self.params(), length):
                raise ValueError(f"unit {self.name} accuracy length names {length!r}, which "
                                 f"its Params does not have")


def module_name(params):
    """The Verilog module name of a configuration: unit + non-default parameters.

    ``int_mac`` with ``acc_width=24`` is ``int_mac__acc_width24``; a ``True``
    flag is its name, a ``False`` flag ``no<name>``; a string is ``<name>_<value>``.
    The same string names the build directory, the pytest id and report keys.
    """
    fields = {f.name: f for f in dataclasses.fields(params)}
    parts = []
    for name, value in params.nondefault().items():
        abbr = fields[name].metadata.get("abbr") or name
        if isinstance(value, bool):
            parts.append(abbr if value else f"no{abbr}")
        elif isinstance(value, int):
            parts.append(f"{abbr}{value}" if value >= 0 else f"{abbr}m{-value}")
        else:
            parts.append(f"{abbr}_{value}")
    name = params.unit if not parts else f"{params.unit}__{'_'.join(parts)}"
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


# --- the facts shared by several entries ------------------------------------------

def _packet_of_two(p):
    """A two-beat packet in, one result out (the accumulating PEs)."""
    return 2, 1


def _one_beat(p):
    """One beat in, one beat out (element-wise)."""
    return 1, 1


def _vector(p):
    """A whole vector: ``words`` beats in and out."""
    return p.words, p.words


#: Every fault wrapper of :data:`accelgen.flow.formal.FAULTS`.
_ALL_FAULTS = ("drop_valid", "payload_glitch", "valid_after_reset", "ready_from_valid")
#: The heavy tier of most streaming units: the rule-keeping source, the fault
#: wrappers, the AXI4-Stream wrapper's strict lint and its cocotb run, and
#: synthesis on the generic and Xilinx flows.
_DEFERRED = frozenset({"formal_rules", "formal_faults", "axis_lint", "axis_regression",
                       "synth_more_targets"})
#: The heavy tier of a unit without stream ports.
_COMBINATIONAL = Heavy(checks={"synth_more_targets"})
#: Deeper proofs of most streaming units: the small preset at twice the bound,
#: the default preset at its bound.
_DEEPER = (("small", {}, 2), ("default", {}, 1))
_SOFTMAX_FORMAL = {"n": 2, "in_bits": 3, "in_frac": 1, "out_bits": 3, "out_frac": 2,
                   "exp_bits": 8, "lut_bits": 2, "recip_steps": 4}
_LAYERNORM_FORMAL = {"method": "rsqrt", "channels": 2, "in_bits": 3, "in_frac": 1,
                     "out_bits": 3, "out_frac": 1, "lut_bits": 4}
_GAUSS = ("gauss 0.5", "gauss 1", "gauss 2", "gauss 4")


UNITS = MappingProxyType({u.name: u for u in [
    Unit(
        name="bitbrick",
        summary="BitFusion BitBrick: 2-bit x 2-bit signed/unsigned multiplier (combinational)",
        component="BitBrick",
        golden="bitbrick",
        presets={"default": {}, "small": {}, "large": {}},
        formal=None,
        accuracy=None,
        axis=None,
        heavy=_COMBINATIONAL,
    ),
    Unit(
        name="int_mac",
        summary="Streaming integer multiply-accumulate, one dot product per packet",
        component="IntMAC",
        golden="int_mac",
        presets={
            "default": {},
            "small": {"a_width": 4, "b_width": 4, "acc_width": 12, "pipeline": 0},
            "large": {"a_width": 16, "b_width": 16, "acc_width": 48, "pipeline": 3},
        },
        sweep=(
            {"a_signed": False, "b_signed": False, "acc_width": 20},
            {"a_signed": False, "b_width": 5, "pipeline": 2},
            {"a_width": 3, "b_width": 2, "acc_width": 7, "pipeline": 4},
            {"a_width": 32, "b_width": 32, "acc_width": 64, "pipeline": 2},
        ),
        formal=Formal(configs=(("small", {}),), beats=_packet_of_two, faults=_ALL_FAULTS),
        accuracy=None,
        axis=Axis(regression="default"),
        heavy=Heavy(proofs=_DEEPER),    # the reference unit: every check by default
    ),
    Unit(
        name="fusion_unit",
        summary="BitFusion Fusion Unit: 16 BitBricks, 2/4/8-bit operands chosen per beat, "
                "1 to 16 products per cycle into an accumulator",
        component="FusionUnit",
        golden="fusion_unit",
        presets={
            "default": {},
            "small": {"modes": "8x8,4x4", "acc_width": 24, "pipeline": 0},
            "large": {"acc_width": 48, "pipeline": 3, "saturate": True},
        },
        # With the presets, every pipeline depth but 4 runs under Verilator (small 0,
        # default 5, large 3, the sweep 2 and 1); 4 runs in the Amaranth tier.
        sweep=(
            {"saturate": True, "acc_width": 20, "pipeline": 2},
            {"modes": "8x2,2x8,2x2", "acc_width": 18, "pipeline": 1},
        ),
        formal=Formal(configs=(("small", {}),), beats=_packet_of_two),
        accuracy=None,
        axis=Axis(),
        heavy=Heavy(checks=_DEFERRED - {"axis_lint"}, proofs=_DEEPER),
    ),
    Unit(
        name="bitfusion_array",
        summary="BitFusion array: weight-stationary systolic grid of Fusion Units, "
                "integer matrix products at a run-time precision",
        component="BitFusionArray",
        golden="bitfusion_array",
        presets={
            "default": {},
            "small": {"rows": 2, "cols": 2, "modes": "8x8,4x4", "acc_width": 24},
            "large": {"rows": 8, "cols": 8, "acc_width": 40},
        },
        # Verilator runs pipeline 5 (the presets), 0 and 1 (the sweep); the
        # Amaranth tier every other depth (tests/test_bitfusion_array.py).
        sweep=(
            {"rows": 1, "cols": 1, "acc_width": 18, "pipeline": 0},
            {"rows": 3, "cols": 2, "modes": "4x4,8x2,2x2", "pipeline": 1},
        ),
        # A 2x1 grid still has the weight/activation interlock; a weight tile
        # (rows + 1 beats) and one activation make a packet.
        formal=Formal(configs=(("small", {"cols": 1}),), beats=lambda p: (p.rows + 1, 1)),
        accuracy=None,
        axis=Axis(),
        # sweep1's mode subset is the small preset's kind; its 3x2 shape the
        # Amaranth tier's (tests/test_bitfusion_array.py, under stalls); sweep0's
        # narrowest accumulator the overflow extremes (tests/test_overflow.py).
        heavy=Heavy(checks=_DEFERRED | {"protocol_default"}, proofs=(("small", {}, 2),),
                    sweeps={0, 1}),
    ),
    Unit(
        name="ant_decoder",
        summary="ANT number-format decoder: int / PoT / float / flint code to an "
                "exponent-integer pair (combinational)",
        component="AntDecoder",
        golden="ant_decoder",
        presets={
            "default": {},
            "small": {"bits": 3},
            "large": {"bits": 8, "signed": True},
        },
        # Every format up to 8 bits is also checked exhaustively in Amaranth's
        # simulator (tests/test_ant_decoder.py); Verilator takes one of each kind.
        sweep=(
            {"fmt": "int", "bits": 8},
            {"fmt": "pot", "bits": 8, "signed": True},
            {"fmt": "float", "bits": 8, "exp_bits": 4},
            {"fmt": "flint", "bits": 16},
        ),
        formal=None,
        accuracy=None,
        axis=None,
        heavy=_COMBINATIONAL,
    ),
    Unit(
        name="ant_pe",
        summary="ANT processing element: both operands decoded in a run-time type per "
                "tensor, multiply, shift, accumulate",
        component="AntPE",
        golden="ant_pe",
        presets={
            "default": {},
            "small": {"types": "int,flint", "acc_width": 16, "pipeline": 0},
            "large": {"bits": 8, "a_signed": True, "acc_width": 48, "pipeline": 2},
        },
        sweep=(
            {"bits": 8, "float_exp": 4, "acc_width": 24},
            {"a_signed": True, "w_signed": False, "types": "pot,float", "float_exp": 2},
        ),
        formal=Formal(configs=(("small", {}),), beats=_packet_of_two),
        accuracy=None,
        axis=Axis(),
        heavy=Heavy(checks=_DEFERRED, proofs=_DEEPER),
    ),
    Unit(
        name="olive_decoder",
        summary="OliVe outlier-victim pair decoder: int4/flint4 normals, abfloat "
                "outliers, 4- or 8-bit elements (combinational)",
        component="OliveDecoder",
        golden="olive_decoder",
        presets={
            "default": {},
            "small": {"normal": "flint", "bias": 3},
            "large": {"bits": 8, "exp_bits": 4, "man_bits": 3, "bias": 4},
        },
        sweep=(
            {"bits": 8, "exp_bits": 2, "man_bits": 5, "bias": 2},
            {"bits": 8, "normal": "flint", "exp_bits": 4, "man_bits": 3, "bias": 9},
        ),
        formal=None,
        accuracy=None,
        axis=None,
        heavy=_COMBINATIONAL,
    ),
    Unit(
        name="olive_pe",
        summary="OliVe processing element: streaming MAC over outlier-victim pairs, "
                "two products per beat",
        component="OlivePE",
        golden="olive_pe",
        presets={
            "default": {},
            "small": {"normal": "flint", "bias": 3, "acc_width": 16, "pipeline": 0},
            "large": {"bits": 8, "exp_bits": 4, "man_bits": 3, "bias": 4,
                      "acc_width": 48, "pipeline": 2},
        },
        sweep=(
            {"bits": 8, "exp_bits": 2, "man_bits": 5, "bias": 2, "acc_width": 24},
            {"bits": 8, "normal": "flint", "exp_bits": 4, "man_bits": 3, "bias": 9,
             "acc_width": 26, "pipeline": 0},
        ),
        formal=Formal(configs=(("small", {}),), beats=_packet_of_two),
        accuracy=None,
        axis=Axis(),
        # Both sweeps are 8-bit elements, run in the Amaranth tier
        # (tests/test_olive_pe.py: n8 flint at pipeline 2 and at acc 26, under
        # stalls); flint and pipeline 0 are the small preset's.
        heavy=Heavy(checks=_DEFERRED, proofs=_DEEPER, sweeps={0, 1}),
    ),
    Unit(
        name="index_match",
        summary="SNAP index matching: comparator array and match selection by rank, up to "
                "P matched (w_pos, a_pos) pairs per cycle",
        component="IndexMatch",
        golden="index_match",
        presets={
            "default": {},
            "small": {"length": 4, "index_width": 3, "pairs": 1, "pipeline": 0},
            "large": {"length": 16, "index_width": 12, "pairs": 4},
        },
        sweep=(
            {"sorted": True},
            {"length": 4, "index_width": 2, "pairs": 3, "pipeline": 1},
            {"length": 16, "index_width": 5, "pairs": 4, "sorted": True},
        ),
        # Four-element blocks, one pair a cycle, every cut: the UP5K's setting.
        fastest={"length": 4, "pairs": 1},
        # A 2-element block; one input beat, every pair of it matched at most;
        # then the same block through every register cut, two slots.
        formal=Formal(configs=(("small", {"length": 2, "index_width": 2}),
                               ("small", {"length": 2, "index_width": 2, "pairs": 2,
                                          "pipeline": 4})),
                      beats=lambda p: (1, -(-(p.length if p.sorted else p.length ** 2)
                                            // p.pairs))),
        accuracy=None,
        axis=Axis(),
        # sweep2's sorted inputs are sweep0's, its 4 pairs of 16 sweep1's shape.
        # The protocol stress takes the small preset (pipeline 0); the default's
        # pipelined path has stalls and resets in its own regression and the
        # second formal configuration.
        heavy=Heavy(checks=_DEFERRED | {"protocol_default"}, proofs=(("small", {}, 2),),
                    sweeps={2}),
    ),
    Unit(
        name="lnzd",
        summary="EIE leading non-zero detection: the (index, value) of each non-zero "
                "of a vector, one per cycle",
        component="LNZD",
        golden="lnzd",
        presets={
            "default": {},
            "small": {"n": 4, "width": 4},
            "large": {"n": 64, "width": 16},
        },
        sweep=(
            {"n": 5, "fanin": 2, "signed": False},
            {"n": 17, "fanin": 3, "width": 1, "signed": False},
        ),
        # One vector in; every entry non-zero, so n beats out.
        formal=Formal(configs=(("small", {}),), beats=lambda p: (1, p.n), faults=_ALL_FAULTS),
        accuracy=None,
        axis=Axis(),
        heavy=Heavy(checks=_DEFERRED - {"formal_rules", "formal_faults"}, proofs=_DEEPER),
    ),
    Unit(
        name="nm_sparse",
        summary="N:M structured-sparse dot product (2:4): metadata selects the "
                "activations for the kept weights",
        component="NMSparse",
        golden="nm_sparse",
        presets={
            "default": {},
            "small": {"groups": 1, "a_width": 4, "w_width": 4, "acc_width": 12,
                      "pipeline": 0},
            "large": {"groups": 8, "acc_width": 40},
        },
        # With the presets, Verilator runs pipeline 0, 1 (sweep0), 2 (sweep1) and 3.
        sweep=(
            {"n": 1, "m": 2, "groups": 3, "a_signed": False, "pipeline": 1},
            {"n": 3, "m": 8, "groups": 2, "w_signed": False, "acc_width": 20, "pipeline": 2},
            {"n": 5, "m": 16, "groups": 1, "a_width": 3, "w_width": 2, "acc_width": 5},
        ),
        # One 2:4 group a beat, every cut.
        fastest={"groups": 1},
        formal=Formal(configs=(("small", {}),), beats=_packet_of_two),
        accuracy=None,
        axis=Axis(),
        heavy=Heavy(checks=_DEFERRED, proofs=_DEEPER),
    ),
    Unit(
        name="gelu",
        summary="Streaming GELU: lookup table, I-BERT integer i-GELU or piecewise linear",
        component="GELU",
        golden="gelu",
        presets={
            "default": {},
            "small": {"in_bits": 6, "in_frac": 3, "out_bits": 6, "out_frac": 3,
                      "lut_bits": 5, "pipeline": 0},
            "large": {"method": "pwl", "in_bits": 16, "in_frac": 12, "segments": 64,
                      "lanes": 4, "pipeline": 2},
        },
        sweep=(
            {"method": "ibert", "in_bits": 16, "in_frac": 12, "lanes": 2, "pipeline": 2},
            {"method": "ibert", "in_bits": 16, "in_frac": 10, "out_bits": 12, "out_frac": 8,
             "pipeline": 0},
            {"method": "pwl", "in_bits": 12, "in_frac": 8, "segments": 32, "lanes": 2,
             "pipeline": 2},
        ),
        formal=Formal(configs=(("small", {}),), beats=_one_beat),
        accuracy=Accuracy(),
        axis=Axis(),
        # sweep0's ibert method is sweep1's, its 2 lanes and 2 stages sweep2's.
        heavy=Heavy(checks=_DEFERRED - {"axis_lint"}, proofs=_DEEPER, sweeps={0}),
    ),
    Unit(
        name="softmax",
        summary="Streaming Softmax over n-element vectors: exp by LUT, base-2 or I-BERT "
                "i-exp; exact reciprocal; four vectors in flight",
        component="Softmax",
        golden="softmax",
        presets={
            "default": {},
            "small": {"n": 8, "in_bits": 6, "in_frac": 3, "exp_bits": 10, "lut_bits": 5},
            "large": {"method": "base2", "n": 256, "lanes": 4, "in_bits": 16,
                      "in_frac": 10},
        },
        sweep=(
            # Under Verilator: pipeline 4 in the presets, 1 and 0 here (2 and 3 in the
            # Amaranth tier, tests/test_softmax.py).
            {"method": "ibert", "n": 15, "lanes": 3, "in_bits": 16, "in_frac": 10,
             "recip_steps": 3, "out_bits": 10, "out_frac": 9, "pipeline": 1},
            {"method": "base2", "n": 12, "lanes": 2, "in_bits": 12, "in_frac": 7,
             "lut_bits": 6, "pipeline": 0},
        ),
        # Vectors of 2 elements and pipeline 2 keep the bound within the default
        # run; the deeper tier proves the default pipeline too.
        formal=Formal(configs=(("small", {**_SOFTMAX_FORMAL, "pipeline": 2}),), beats=_vector),
        accuracy=Accuracy(length="n", sums_to_one=True, families=(
            *_GAUSS, "uniform", "laplace 1", "one dominant", "dominant over minimum",
            "dominant + noise", "all equal", "max spread", "most negative", "saturating")),
        axis=Axis(),
        heavy=Heavy(checks=_DEFERRED - {"axis_lint", "axis_regression"},
                    proofs=(("small", {**_SOFTMAX_FORMAL, "pipeline": 2}, 2),
                            ("small", _SOFTMAX_FORMAL, 1))),
    ),
    Unit(
        name="layernorm",
        summary="Streaming LayerNorm over C channels: exact sums, exact integer sqrt or "
                "rsqrt table, optional streamed gamma/beta; three vectors in flight",
        component="LayerNorm",
        golden="layernorm",
        presets={
            "default": {},
            "small": {"channels": 8, "in_bits": 6, "in_frac": 3, "out_bits": 6,
                      "out_frac": 3, "pipeline": 1},
            "large": {"channels": 768, "lanes": 4, "in_bits": 16, "in_frac": 10,
                      "out_bits": 16, "out_frac": 12, "affine": True, "gamma_bits": 16,
                      "gamma_frac": 14},
        },
        sweep=(
            # pipeline: 4 in the default preset, 1 in the small one, 0 here (2 and 3
            # in the Amaranth tier, tests/test_layernorm.py).
            {"method": "rsqrt", "channels": 12, "lanes": 3, "affine": True, "pipeline": 0},
            {"channels": 16, "lanes": 4, "in_bits": 16, "in_frac": 10, "out_bits": 16,
             "out_frac": 12, "affine": True, "gamma_bits": 16, "gamma_frac": 14,
             "stats_steps": 4},
        ),
        # Eight channels a vector, every cut.
        fastest={"channels": 8},
        # Vectors of 2 elements keep the bound within the default run; the deeper
        # tier adds the isqrt datapath.
        formal=Formal(configs=(("small", _LAYERNORM_FORMAL),), beats=_vector),
        accuracy=Accuracy(length="channels", families=(
            *(f"{g}, mean ±1" for g in _GAUSS), "uniform", "laplace 1", "outlier",
            "large variance", "tiny variance", "all equal", "most negative", "saturating")),
        axis=Axis(),
        # sweep1's 16-bit affine statistics with stats_steps=4 run in the Amaranth
        # tier (tests/test_layernorm.py), its 4 lanes the large preset's.
        heavy=Heavy(checks=_DEFERRED - {"formal_faults"}, sweeps={1}, proofs=(
            ("small", _LAYERNORM_FORMAL, 2),
            ("small", {"channels": 2, "in_bits": 3, "in_frac": 1, "out_bits": 3,
                       "out_frac": 1, "stats_steps": 4}, 2))),
    ),
    Unit(
        name="systolic_array",
        summary="Systolic GEMM array (TPU/Gemmini-like): WS with double-buffered weights "
                "or OS, skew inside, exact cycle model",
        component="SystolicArray",
        golden="gemm",
        presets={
            "default": {},
            "small": {"rows": 2, "cols": 2, "a_width": 4, "w_width": 4, "acc_width": 12,
                      "pipeline": 0},
            "large": {"rows": 16, "cols": 16},
        },
        sweep=(
            {"dataflow": "os", "pipeline": 0},
            {"rows": 1, "cols": 1, "dataflow": "os"},
            {"rows": 3, "cols": 2, "a_width": 4, "w_width": 4, "acc_width": 8,
             "a_signed": False, "pipeline": 0},
            {"rows": 2, "cols": 3, "dataflow": "os", "a_width": 4, "w_width": 3,
             "acc_width": 7, "w_signed": False, "pipeline": 1},
            {"pe": "fusion_unit", "rows": 3, "cols": 2, "dataflow": "os", "pipeline": 1,
             "acc_width": 20},
            # The Amaranth tier runs all four format PE cases and more
            # (tests/test_systolic_array.py); Verilator takes one per dataflow.
            {"pe": "ant_pe", "rows": 3, "cols": 2, "a_width": 4, "w_width": 4,
             "a_signed": False, "acc_width": 24, "pipeline": 0},
            {"pe": "olive_pe", "rows": 3, "cols": 2, "dataflow": "os", "a_width": 8,
             "w_width": 8, "pipeline": 1, "acc_width": 40},
            # FP8 PEs: E5M2 activations with infinities, WS (the Amaranth tier takes OS).
            {"pe": "fp_mac", "rows": 3, "cols": 2, "a_fmt": "e5m2", "acc_width": 52,
             "pipeline": 0},
            # int8 products in partial-product logic, their carry-save rows registered.
            {"rows": 3, "cols": 3, "multiplier": "logic"},
        ),
        # int8 at 2x2 with the product register: four DSP blocks, so it also
        # places on the UP5K (the default's 16 do not fit its 8).
        fastest={"rows": 2, "cols": 2},
        # WS: a weight tile (rows + 1 beats) and one activation row in, one
        # output row; OS: one beat in, rows output rows.
        formal=Formal(configs=(("small", {}), ("small", {"dataflow": "os"})),
                      beats=lambda p: (p.rows + 1, 1) if p.dataflow == "ws" else (1, p.rows),
                      faults=("drop_valid", "payload_glitch")),
        accuracy=None,
        axis=Axis(),
        # sweep4's fusion_unit PEs (3x2, os, pipelined) run in the Amaranth tier
        # (tests/test_systolic_array.py, cycles and results, ws and os).
        heavy=Heavy(checks={"synth_more_targets"}, sweeps={4}, proofs=(
            ("small", {}, 2), ("small", {"dataflow": "os"}, 2), ("default", {}, 1))),
    ),
    Unit(
        name="requant",
        summary="Streaming requantizer: int32 accumulators to int8/int16 codes by a dyadic "
                "multiply and shift (gemmlowp/TFLite, half-even, floor) or by shifts alone",
        component="Requant",
        golden="requant",
        presets={
            "default": {},
            "small": {"per_channel": True, "in_bits": 10, "mult_bits": 6, "out_bits": 5,
                      "lanes": 2, "in_offset": 3, "zero_point": -2, "pipeline": 0},
            "large": {"per_channel": True, "lanes": 4, "pipeline": 3},
        },
        # No sweep: the Amaranth tier runs every mode per tensor and per channel,
        # unsigned outputs and every pipeline depth (tests/test_requant.py);
        # Verilator takes the presets (per tensor and per channel gemmlowp); the
        # default has every cut.
        # A 16-bit multiplier (the same 1/3 as the default's), every cut.
        fastest={"mult_bits": 16, "multiplier": 21845},
        formal=Formal(configs=(("small", {"lanes": 1}),), beats=_one_beat),
        accuracy=None,
        axis=Axis(),
        heavy=Heavy(checks=_DEFERRED, proofs=_DEEPER),
    ),
    Unit(
        name="fp_decoder",
        summary="Floating-point decoder: FP8 / FP6 / FP4 / BF16 / FP16 / FP32 / E8M0 / MXINT8 "
                "code to an exact (mant, exp) pair with NaN and inf flags (combinational)",
        component="FpDecoder",
        golden="fp_decoder",
        presets={
            "default": {},
            "small": {"fmt": "e2m1"},
            "large": {"fmt": "bf16"},
        },
        # Every other format. By default the Amaranth tier drives every format's
        # component against the golden model and an Icarus run checks every
        # format's emitted Verilog against ml_dtypes (tests/test_fp_decoder.py);
        # Verilator takes the e4m3 and e2m1 presets, the other formats with
        # ACCELGEN_STRESS=2.
        sweep=(
            {"fmt": "e5m2"},
            {"fmt": "e3m2"},
            {"fmt": "e2m3"},
            {"fmt": "fp16"},
            {"fmt": "fp32"},
            {"fmt": "e8m0"},
            {"fmt": "int8"},
        ),
        formal=None,
        accuracy=None,
        axis=None,
        heavy=Heavy(checks={"synth_more_targets"}, sweeps={0, 1, 2, 3, 4, 5, 6}),
    ),
    Unit(
        name="mx_dot",
        summary="OCP Microscaling (MX) block dot product: FP8/FP6/FP4/INT8 element pairs "
                "summed exactly, E8M0 scales added once per block; exact or FP32 result",
        component="MXDot",
        golden="mx_dot",
        presets={
            "default": {},
            "small": {"a_fmt": "e2m1", "b_fmt": "e2m1", "block": 4, "lanes": 2,
                      "pipeline": 0},
            "large": {"a_fmt": "e5m2", "b_fmt": "e5m2", "lanes": 16, "out": "fp32",
                      "pipeline": 5},
        },
        # Mixed formats (IEEE specials against MXINT8, FP6 pairs), an odd lane
        # count, two cuts; the fp32 form with every cut (the large preset's
        # waits for ACCELGEN_STRESS=2).
        sweep=(
            {"a_fmt": "e5m2", "b_fmt": "int8", "block": 12, "lanes": 3, "pipeline": 2},
            {"a_fmt": "e3m2", "b_fmt": "e2m3", "block": 16, "lanes": 4, "out": "fp32",
             "pipeline": 5},
        ),
        # MXFP4 (E2M1 elements) at the default block and lanes, every cut.
        fastest={"a_fmt": "e2m1", "b_fmt": "e2m1"},
        # One block of two beats in, one result out.
        formal=Formal(configs=(("small", {}),), beats=lambda p: (p.words, 1)),
        accuracy=None,
        axis=Axis(),
        # sweep0 runs in the Amaranth tier (tests/test_mx_dot.py, with fp32 at
        # pipeline 0 and 3); the protocol stress takes the small preset, whose
        # Verilator build the regression already has.
        heavy=Heavy(checks=_DEFERRED | {"protocol_default"}, proofs=_DEEPER, sweeps={0}),
    ),
    Unit(
        name="fp_mac",
        summary="Streaming floating-point multiply-accumulate: E4M3/E5M2 products summed "
                "exactly and rounded once to FP32, or BF16/FP16 into FP32 at every beat",
        component="FpMAC",
        golden="fp_mac",
        presets={
            "default": {},
            # Every FP8 x FP8 pair runs through the RTL: E4M3 x E4M3 in the default
            # preset, E5M2 x E5M2 in the small one, the mix in sweep0 (stress 2).
            "small": {"a_fmt": "e5m2", "b_fmt": "e5m2", "out": "exact", "guard": 4,
                      "pipeline": 0},
            "large": {"a_fmt": "bf16", "b_fmt": "bf16", "acc": "fp32", "pipeline": 3},
        },
        # The Amaranth tier adds the FP32 accumulator with FP8 and FP16 operands
        # (tests/test_fp_mac.py).
        sweep=(
            {"a_fmt": "e5m2", "out": "exact", "pipeline": 3},
            {"a_fmt": "bf16", "b_fmt": "bf16", "acc": "fp32", "pipeline": 1},
        ),
        # The exact fixed-point sum without its rounder, every cut, 8 guard bits
        # (256 products before it can wrap): the fast setting (the FP32
        # accumulator's one-cycle add loop is the slow one).
        fastest={"out": "exact", "pipeline": 3, "guard": 8},
        formal=Formal(configs=(("small", {}),), beats=_packet_of_two),
        accuracy=None,
        axis=Axis(),
        # sweep0 (E5M2 x E4M3, exact, every cut) runs in the Amaranth tier as its
        # parts (tests/test_fp_mac.py: exact_p3, e5m2_exact_g1_p1); the protocol stress
        # takes the small preset, whose Verilator build the regression already has.
        heavy=Heavy(checks=_DEFERRED | {"protocol_default"}, proofs=_DEEPER, sweeps={0}),
    ),
]})


def get_unit(name):
    """The registered :class:`Unit` called ``name``; ``KeyError`` with the known names."""
    try:
        return UNITS[name]
    except KeyError:
        raise KeyError(f"unknown unit {name!r}; units are {', '.join(UNITS)}") from None
