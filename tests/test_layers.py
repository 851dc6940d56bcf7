# SPDX-License-Identifier: BSD-2-Clause
"""The dependency rule: generators, golden models and shared constants load only what they may.

Generators (and the RTL helpers of ``accelgen.hw``) know Amaranth, never NumPy,
the golden models, the testbenches or cocotb; golden models know NumPy, never
Amaranth, the generators or cocotb; ``accelgen.consts`` knows neither NumPy nor
Amaranth. Each rule is checked twice: by importing the modules in a fresh
interpreter and listing what got loaded (which also catches a module pulled in
through a helper), and by reading every ``import`` statement of the source files,
including those inside functions, which an import alone does not run.
"""

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import accelgen.consts
import accelgen.hw
from accelgen.registry import UNITS

__all__ = []

ROOT = Path(__file__).resolve().parents[1]

#: Run in a fresh interpreter: import the modules named in ``argv[1]`` (JSON) in
#: order and print, as JSON, the modules loaded at startup and by each import.
_PROBE = """
import importlib, json, sys
loaded = {"<startup>": sorted(sys.modules)}
for name in json.loads(sys.argv[1]):
    before = set(sys.modules)
    importlib.import_module(name)
    loaded[name] = sorted(set(sys.modules) - before)
print(json.dumps(loaded))
"""

GENERATOR_FORBIDDEN = ("accelgen.golden", "accelgen.verif", "numpy", "cocotb")
GOLDEN_FORBIDDEN = ("amaranth", "accelgen.generators", "accelgen.hw", "cocotb")
CONSTS_FORBIDDEN = ("numpy", "amaranth", "cocotb")

#: What the source files may not name in an ``import`` (at any depth), beyond the
#: above: the NumPy-based number helpers, and for constants the Amaranth-based
#: parameter helpers and every other layer.
GENERATOR_SOURCE_FORBIDDEN = GENERATOR_FORBIDDEN + ("accelgen.num.fixed",
                                                    "accelgen.num.numeric")
GOLDEN_SOURCE_FORBIDDEN = GOLDEN_FORBIDDEN + ("accelgen.params", "accelgen.verif")
CONSTS_SOURCE_FORBIDDEN = CONSTS_FORBIDDEN + (
    "accelgen.num.fixed", "accelgen.num.numeric", "accelgen.params", "accelgen.golden",
    "accelgen.generators", "accelgen.hw", "accelgen.verif")


def _within(name, packages):
    """``name`` is one of ``packages`` or inside one of them."""
    return any(name == p or name.startswith(p + ".") for p in packages)


def load_in_fresh_interpreter(modules):
    """``{importer: [modules it loaded]}`` for ``modules`` imported in order by a
    new interpreter (``"<startup>"``: what was loaded before the first)."""
    result = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(modules)],
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, f"importing {modules} failed:\n{result.stderr}"
    return json.loads(result.stdout.splitlines()[-1])


def offences(loaded, forbidden):
    """``{importer: [forbidden modules it was first to load]}``, importers that
    loaded none left out."""
    out = {}
    for importer, names in loaded.items():
        bad = [n for n in names if _within(n, forbidden)]
        if bad:
            out[importer] = bad
    return out


def describe(found):
    """One line per importer: ``importer -> offending, modules`` (accelgen's own
    modules by full name, other packages by their top-level name)."""
    lines = []
    for importer, names in found.items():
        shown = dict.fromkeys(n if n.startswith("accelgen.") else n.split(".")[0] for n in names)
        lines.append(f"  {importer} -> {', '.join(shown)}")
    return "\n".join(lines)


def _submodules(package):
    return sorted(info.name for info in pkgutil.iter_modules(package.__path__,
                                                             package.__name__ + "."))


GENERATORS = [f"accelgen.generators.{name}" for name in UNITS]
GOLDEN = [f"accelgen.golden.{name}" for name in UNITS]
HW = _submodules(accelgen.hw)
CONSTS = _submodules(accelgen.consts)


def test_generators_load_no_golden_numpy_verif_or_cocotb():
    found = offences(load_in_fresh_interpreter(["accelgen.hw", *HW, *GENERATORS]),
                     GENERATOR_FORBIDDEN)
    assert not found, ("importing the generators and accelgen.hw loaded modules of "
                       f"{', '.join(GENERATOR_FORBIDDEN)}:\n{describe(found)}")


def test_golden_models_load_no_amaranth_generators_or_cocotb():
    found = offences(load_in_fresh_interpreter(GOLDEN), GOLDEN_FORBIDDEN)
    assert not found, ("importing the golden models loaded modules of "
                       f"{', '.join(GOLDEN_FORBIDDEN)}:\n{describe(found)}")


def test_consts_load_neither_numpy_nor_amaranth():
    assert CONSTS, "accelgen.consts has no modules"
    found = offences(load_in_fresh_interpreter(["accelgen.consts", *CONSTS]), CONSTS_FORBIDDEN)
    assert not found, ("importing accelgen.consts loaded modules of "
                       f"{', '.join(CONSTS_FORBIDDEN)}:\n{describe(found)}")


def test_the_probe_sees_what_an_import_loads():
    """The check can fail: a golden model's import is reported as loading NumPy."""
    found = offences(load_in_fresh_interpreter(["accelgen.golden.int_mac"]), ("numpy",))
    assert "numpy" in found.get("accelgen.golden.int_mac", [])


def imported_names(path, package):
    """``[(line, module)]`` of every ``import`` statement in the file at ``path``,
    at any depth (inside functions too); relative imports resolved against
    ``package``, and ``from a import b`` counted as both ``a`` and ``a.b``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            out.append((node.lineno, base))
            out += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return out


def source_offences(files, package, forbidden):
    """``["file:line imports module"]`` for every import statement of ``files``
    naming a module within ``forbidden`` (the shortest such name per statement)."""
    found = {}
    for path in files:
        for line, name in imported_names(path, package):
            key = (str(path.relative_to(ROOT)), line)
            if _within(name, forbidden) and (key not in found or len(name) < len(found[key])):
                found[key] = name
    return [f"{where}:{line} imports {name}" for (where, line), name in found.items()]


def _files(folder):
    return sorted((ROOT / folder).glob("*.py"))


@pytest.mark.parametrize("folder, package, forbidden", [
    ("generators", "accelgen.generators", GENERATOR_SOURCE_FORBIDDEN),
    ("accelgen/hw", "accelgen.hw", GENERATOR_SOURCE_FORBIDDEN),
    ("golden", "accelgen.golden", GOLDEN_SOURCE_FORBIDDEN),
    ("accelgen/consts", "accelgen.consts", CONSTS_SOURCE_FORBIDDEN),
])
def test_sources_import_only_their_layer(folder, package, forbidden):
    files = _files(folder)
    assert files, f"{folder} has no Python files"
    found = source_offences(files, package, forbidden)
    assert not found, (f"{folder} may not import {', '.join(forbidden)}:\n  "
                       + "\n  ".join(found))


@pytest.mark.parametrize("name", sorted(UNITS))
def test_generator_imports_no_other_unit(name):
    """A generator builds on ``accelgen.hw``, never on another unit's generator."""
    others = tuple(f"accelgen.generators.{other}" for other in UNITS if other != name)
    found = source_offences([ROOT / "generators" / f"{name}.py"], "accelgen.generators",
                            others)
    assert not found, (f"generators/{name}.py imports other units' generators:\n  "
                       + "\n  ".join(found))


def test_the_source_reader_sees_nested_and_relative_imports(tmp_path):
    """The source check can fail: imports inside a function, relative ones and
    ``from package import module`` are all read."""
    path = tmp_path / "probe.py"
    path.write_text("def f():\n    from accelgen import golden\n"
                    "    from ..golden.gelu import gelu\n    import numpy.linalg\n")
    names = [name for _, name in imported_names(path, "accelgen.generators")]
    assert "accelgen.golden" in names
    assert "accelgen.golden.gelu" in names
    assert "numpy.linalg" in names


# --- accelgen.compose: the composed golden model and the composed RTL ---------------

#: The composed golden model is a golden model; the composed RTL is a generator
#: (it builds units through the registry, never from their golden models).
COMPOSE_GOLDEN_FORBIDDEN = GOLDEN_FORBIDDEN
COMPOSE_RTL_FORBIDDEN = ("numpy", "accelgen.golden", "accelgen.compose.golden",
                         "accelgen.verif", "cocotb")


@pytest.mark.parametrize("module, forbidden", [
    ("accelgen.compose.golden", COMPOSE_GOLDEN_FORBIDDEN),
    ("accelgen.compose.rtl", COMPOSE_RTL_FORBIDDEN),
])
def test_compose_modules_load_only_their_layer(module, forbidden):
    found = offences(load_in_fresh_interpreter([module]), forbidden)
    assert not found, (f"importing {module} loaded modules of {', '.join(forbidden)}:\n"
                       f"{describe(found)}")


@pytest.mark.parametrize("name, forbidden", [
    ("golden.py", GOLDEN_SOURCE_FORBIDDEN),
    ("rtl.py", COMPOSE_RTL_FORBIDDEN + ("accelgen.num.fixed", "accelgen.num.numeric")),
])
def test_compose_sources_import_only_their_layer(name, forbidden):
    found = source_offences([ROOT / "accelgen" / "compose" / name], "accelgen.compose",
                            forbidden)
    assert not found, (f"accelgen/compose/{name} may not import {', '.join(forbidden)}:\n  "
                       + "\n  ".join(found))


# --- accelgen.transformer: the encoder layer's golden side and its calibration --------

#: The layer's configuration, golden model, data and float reference are golden
#: models (onnx and onnxruntime, development dependencies, only inside the
#: reference's functions, so importing them loads neither); ``quantize``, which
#: builds the units' ``Params`` through the registry, is the one module that may
#: reach the generators.
TRANSFORMER_GOLDEN = ["accelgen.transformer.layer", "accelgen.transformer.golden",
                      "accelgen.transformer.data", "accelgen.transformer.reference"]
TRANSFORMER_FORBIDDEN = GOLDEN_FORBIDDEN + ("accelgen.params", "accelgen.verif")


def test_transformer_golden_side_loads_only_its_layer():
    forbidden = TRANSFORMER_FORBIDDEN + ("onnx", "onnxruntime")
    found = offences(load_in_fresh_interpreter(TRANSFORMER_GOLDEN), forbidden)
    assert not found, (f"importing the encoder layer's golden side loaded modules of "
                       f"{', '.join(forbidden)}:\n{describe(found)}")


@pytest.mark.parametrize("name", [m.rsplit(".", 1)[1] for m in TRANSFORMER_GOLDEN])
def test_transformer_golden_sources_import_only_their_layer(name):
    forbidden = TRANSFORMER_FORBIDDEN + (("accelgen.transformer.quantize",)
                                         if name != "reference" else ())
    found = source_offences([ROOT / "accelgen" / "transformer" / f"{name}.py"],
                            "accelgen.transformer", forbidden)
    assert not found, (f"accelgen/transformer/{name}.py may not import "
                       f"{', '.join(forbidden)}:\n  " + "\n  ".join(found))


#: The layer's RTL is a generator (Amaranth, the units through the registry, no
#: NumPy: the model it is built from is calibrated beforehand); its plan is plain
#: Python; its cycle model reads the systolic array's golden cycle model.
TRANSFORMER_RTL_FORBIDDEN = ("numpy", "accelgen.golden", "accelgen.verif", "cocotb",
                             "accelgen.transformer.golden", "accelgen.transformer.quantize",
                             "accelgen.transformer.reference", "accelgen.transformer.data")


@pytest.mark.parametrize("module", ["accelgen.transformer.rtl", "accelgen.transformer.plan"])
def test_transformer_rtl_loads_only_its_layer(module):
    found = offences(load_in_fresh_interpreter([module]), TRANSFORMER_RTL_FORBIDDEN)
    assert not found, (f"importing {module} loaded modules of "
                       f"{', '.join(TRANSFORMER_RTL_FORBIDDEN)}:\n{describe(found)}")


@pytest.mark.parametrize("name, forbidden", [
    ("rtl", TRANSFORMER_RTL_FORBIDDEN + ("accelgen.num.fixed", "accelgen.num.numeric")),
    ("plan", TRANSFORMER_RTL_FORBIDDEN + ("amaranth",)),
    ("cycles", ("amaranth", "accelgen.verif", "cocotb", "accelgen.transformer.rtl")),
])
def test_transformer_rtl_sources_import_only_their_layer(name, forbidden):
    found = source_offences([ROOT / "accelgen" / "transformer" / f"{name}.py"],
                            "accelgen.transformer", forbidden)
    assert not found, (f"accelgen/transformer/{name}.py may not import "
                       f"{', '.join(forbidden)}:\n  " + "\n  ".join(found))
