# SPDX-License-Identifier: BSD-2-Clause
"""The one table of accelgen's units.

The CLI, the Makefile (through the CLI), the test parametrization, lint and
synthesis reports all enumerate :data:`UNITS`; adding a unit is adding one
:class:`Unit` entry here plus its four files::

    generators/<name>.py   Params (frozen dataclass) + the wiring.Component
    golden/<name>.py       the bit-exact NumPy model
    verif/<name>.py        the cocotb testbench
    tests/test_<name>.py   pytest: errors, elaboration, simulators

Modules are imported lazily, so listing units costs nothing.
"""

import dataclasses
import importlib
import re
from types import MappingProxyType

__all__ = ["Unit", "UNITS", "get_unit", "PRESET_NAMES"]

PRESET_NAMES = ("default", "small", "large")


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
    """

    name: str
    summary: str
    component: str
    golden: str
    presets: dict
    sweep: tuple = ()

    def __post_init__(self):
        if set(self.presets) != set(PRESET_NAMES):
            raise ValueError(f"unit {self.name} presets must be exactly {PRESET_NAMES}")
        object.__setattr__(self, "presets", MappingProxyType(
            {k: MappingProxyType(dict(v)) for k, v in self.presets.items()}))

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
        """``[(label, params)]``: the presets, then the sweep, without repeats."""
        seen, out = set(), []
        for label, overrides in [*((p, self.presets[p]) for p in PRESET_NAMES),
                                 *((f"sweep{i}", s) for i, s in enumerate(self.sweep))]:
            p = self.params_cls(**overrides)
            key = module_name(p)
            if key not in seen:
                seen.add(key)
                out.append((label, p))
        return out


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


UNITS = MappingProxyType({u.name: u for u in [
    Unit(
        name="bitbrick",
        summary="BitFusion BitBrick: 2-bit x 2-bit signed/unsigned multiplier (combinational)",
        component="BitBrick",
        golden="bitbrick",
        presets={"default": {}, "small": {}, "large": {}},
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
        sweep=(
            {"saturate": True, "acc_width": 20, "pipeline": 2},
            {"modes": "8x2,2x8,2x2", "acc_width": 18},
        ),
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
        sweep=(
            {"rows": 1, "cols": 1, "acc_width": 18},
            {"rows": 3, "cols": 2, "modes": "4x4,8x2,2x2"},
        ),
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
    ),
    Unit(
        name="index_match",
        summary="SNAP index matching: comparator array and priority encoders, up to P "
                "matched (w_pos, a_pos) pairs per cycle",
        component="IndexMatch",
        golden="index_match",
        presets={
            "default": {},
            "small": {"length": 4, "index_width": 3, "pairs": 1},
            "large": {"length": 16, "index_width": 12, "pairs": 4},
        },
        sweep=(
            {"sorted": True},
            {"length": 4, "index_width": 2, "pairs": 3},
            {"length": 16, "index_width": 5, "pairs": 4, "sorted": True},
        ),
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
            "large": {"groups": 8, "acc_width": 40, "pipeline": 2},
        },
        sweep=(
            {"n": 1, "m": 2, "groups": 3, "a_signed": False},
            {"n": 3, "m": 8, "groups": 2, "w_signed": False, "acc_width": 20},
            {"n": 5, "m": 16, "groups": 1, "a_width": 3, "w_width": 2, "acc_width": 5},
        ),
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
            {"method": "ibert", "n": 15, "lanes": 3, "in_bits": 16, "in_frac": 10,
             "recip_steps": 3, "out_bits": 10, "out_frac": 9},
            {"method": "base2", "n": 12, "lanes": 2, "in_bits": 12, "in_frac": 7,
             "lut_bits": 6},
        ),
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
                      "out_frac": 3},
            "large": {"channels": 768, "lanes": 4, "in_bits": 16, "in_frac": 10,
                      "out_bits": 16, "out_frac": 12, "affine": True, "gamma_bits": 16,
                      "gamma_frac": 14},
        },
        sweep=(
            {"method": "rsqrt", "channels": 12, "lanes": 3, "affine": True},
            {"channels": 16, "lanes": 4, "in_bits": 16, "in_frac": 10, "out_bits": 16,
             "out_frac": 12, "affine": True, "gamma_bits": 16, "gamma_frac": 14,
             "stats_steps": 4},
        ),
    ),
    Unit(
        name="systolic_array",
        summary="Systolic GEMM array (TPU/Gemmini-like): WS with double-buffered weights "
                "or OS, skew inside, exact cycle model",
        component="SystolicArray",
        golden="gemm",
        presets={
            "default": {},
            "small": {"rows": 2, "cols": 2, "a_width": 4, "w_width": 4, "acc_width": 12},
            "large": {"rows": 16, "cols": 16, "pipeline": 1},
        },
        sweep=(
            {"dataflow": "os"},
            {"rows": 1, "cols": 1, "dataflow": "os", "pipeline": 1},
            {"rows": 3, "cols": 2, "a_width": 4, "w_width": 4, "acc_width": 8,
             "a_signed": False},
            {"rows": 2, "cols": 3, "dataflow": "os", "a_width": 4, "w_width": 3,
             "acc_width": 7, "w_signed": False, "pipeline": 1},
            {"pe": "fusion_unit", "rows": 3, "cols": 2, "dataflow": "os", "pipeline": 1,
             "acc_width": 20},
            # The Amaranth tier runs all four format PE cases and more
            # (tests/test_systolic_array.py); Verilator takes one per dataflow.
            {"pe": "ant_pe", "rows": 3, "cols": 2, "a_width": 4, "w_width": 4,
             "a_signed": False, "acc_width": 24},
            {"pe": "olive_pe", "rows": 3, "cols": 2, "dataflow": "os", "a_width": 8,
             "w_width": 8, "pipeline": 1, "acc_width": 40},
        ),
    ),
]})


def get_unit(name):
    """The registered :class:`Unit` called ``name``; ``KeyError`` with the known names."""
    try:
        return UNITS[name]
    except KeyError:
        raise KeyError(f"unknown unit {name!r}; units are {', '.join(UNITS)}") from None
