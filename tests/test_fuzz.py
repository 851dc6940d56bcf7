# SPDX-License-Identifier: BSD-2-Clause
"""Fuzzing every unit's ``Params`` and the command line with Hypothesis.

The contract under test: any keyword arguments give either a valid ``Params``
that elaborates and emits Verilog, or a ``TypeError`` / ``ValueError`` whose one
line names the unit and a parameter (``"<unit> <parameter> ..."``) — never
another exception, never a silent wrong module. A ``TypeError`` names a
parameter given a value of the wrong kind and ends with ``not <repr(value)>``; a
``ValueError`` names a parameter given a value of the right kind. Valid
``Params`` hold values of the declared types, are canonical (rebuilding them from
``as_dict()`` gives the same ``Params``), spell every value so that ``-p`` reads
it back, and have distinct module names for distinct parameters (two
configurations with one name would overwrite each other's files).

The command line (``accelgen.app.cli.main``) exits with 0 or 2; on 2 stderr is one
line ``accelgen: error: ...`` and stdout is empty; ``generate`` succeeds exactly
when the parameters are valid, and then writes the files it prints, for exactly
those parameters.

Strategies come from the registry (``tests/strategies.py``), so a new unit is
fuzzed without editing this file. The default run is derandomized (the same
examples every run); ``ACCELGEN_STRESS=N`` multiplies the example counts by N,
and from 2 draws fresh examples from a seed it prints (``ACCELGEN_SEED=<seed>``
repeats it) and elaborates configurations up to the default preset's size.
The cases run per unit are printed at the end of the module without
pytest-xdist (``-n 0``); each test's own line is in its captured output (``-rP``)
and its ``fuzz_cases`` property (``--junitxml``).
"""

import collections
import dataclasses
import itertools
import json
import os
import random
import re
import tempfile
import types
from pathlib import Path

import numpy as np
import pytest
from amaranth.back import rtlil
from amaranth.lib import wiring
from hypothesis import HealthCheck, assume, given, seed, settings
from hypothesis import strategies as st

from accelgen.app import accuracy
from accelgen.app.cli import main
from accelgen.flow.emit import emit
from accelgen.params import UnitParams, param, check_int, check_choice, parse_value
from accelgen.registry import PRESET_NAMES, UNITS, module_name

from accelgen.verif.testing import STRESS
from strategies import (specs, is_right_kind, param_kwargs, valid_kwargs, cli_value_text,
                        junk_text, envelope)

UNIT_LIST = list(UNITS.values())
UNIT_IDS = list(UNITS)

#: Examples per unit and test in the default run; ``ACCELGEN_STRESS`` multiplies them.
BASE_EXAMPLES = {"construct": 150, "elaborate": 6, "emit": 2, "cli_generate": 60,
                 "cli_other": 60}
WIDE = STRESS >= 2  # wider valid configurations and fresh random examples
SEED = None if not WIDE else int(os.environ.get("ACCELGEN_SEED")
                                 or random.SystemRandom().randrange(1 << 31))

settings.register_profile(
    "accelgen-fuzz", derandomize=not WIDE, deadline=None, database=None, print_blob=True,
    # The CLI tests use capfd and a per-module folder across examples; they drain
    # and re-create what they use in every example. Valid configurations are
    # filtered (``assume``) out of a space where most are invalid.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much,
                           HealthCheck.too_slow, HealthCheck.data_too_large])
PROFILE = settings.get_profile("accelgen-fuzz")


def fuzz(kind):
    """The module's Hypothesis settings with ``kind``'s example count, and the
    stress seed when there is one."""
    count = max(1, int(BASE_EXAMPLES[kind] * STRESS))

    def decorate(test):
        test = settings(PROFILE, max_examples=count)(test)
        return test if SEED is None else seed(SEED)(test)
    return decorate


#: ``COUNTS[unit][outcome]``: fuzz cases per unit, printed at the end of the module.
COUNTS = collections.defaultdict(collections.Counter)
#: ``NAMES[unit][module name]``: the ``Params`` that had that name (injectivity).
NAMES = collections.defaultdict(dict)


def _setting_line():
    how = (f"seed {SEED} (repeat with ACCELGEN_SEED={SEED})" if SEED is not None
           else "derandomized")
    counts = ", ".join(f"{k} {max(1, int(v * STRESS))}" for k, v in BASE_EXAMPLES.items())
    return f"hypothesis fuzz: {how}, ACCELGEN_STRESS={STRESS:g}, max examples per unit: {counts}"


@pytest.fixture(scope="module", autouse=True)
def fuzz_summary(request):
    """Print the settings and the fuzz cases per unit once the module is done
    (not under pytest-xdist, whose workers' output is not shown: use ``-n 0``)."""
    yield
    if hasattr(request.config, "workerinput"):
        return  # a pytest-xdist worker: its output is not shown
    lines = [_setting_line(), "fuzz cases per unit:"]
    for unit, counter in COUNTS.items():
        lines.append(f"  {unit:16s} " + ", ".join(f"{k} {v}" for k, v in sorted(counter.items())))
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print("\n" + "\n".join(lines))


def _report(unit_name, test, record_property):
    line = f"{test} {unit_name}: " + ", ".join(
        f"{k} {v}" for k, v in sorted(COUNTS[unit_name].items()) if k.startswith(test))
    record_property("fuzz_cases", line)
    print(_setting_line())
    print(line)


# ---------------------------------------------------------------------------
# The rules


def check_refusal(unit, kwargs, error):
    """``error`` (raised by ``Params(**kwargs)``) is the documented refusal."""
    if type(error) not in (TypeError, ValueError):
        raise AssertionError(f"{unit.name} Params({kwargs!r}) raised "
                             f"{type(error).__name__}, not TypeError/ValueError") from error
    message = str(error)
    fields = specs(unit)
    match = re.match(rf"{re.escape(unit.name)} (\w+) ", message)
    assert match and match[1] in fields, \
        f"{type(error).__name__} does not start with '{unit.name} <parameter> ': {message!r}"
    assert len(message.splitlines()) == 1, f"message is not one line: {message!r}"
    name = match[1]
    kind, default = fields[name]
    value = kwargs.get(name, default)
    if isinstance(error, TypeError):
        assert not is_right_kind(kind, value), \
            f"TypeError names {name}, which has a {kind.__name__}: {message!r}"
        assert message.endswith(f"not {value!r}"), \
            f"TypeError does not end with the value given, not {value!r}: {message!r}"
    else:
        assert is_right_kind(kind, value), \
            f"ValueError names {name}, which is not a {kind.__name__} ({value!r}): {message!r}"


VERILOG_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
INT_PART = re.compile(r"(m?)(\d+)")  # an integer in a module name: m3 is -3


def check_valid(unit, params):
    """Everything a valid ``Params`` promises without elaborating it."""
    values = params.as_dict()
    for name, (kind, _default) in specs(unit).items():
        assert type(values[name]) is kind, \
            f"{unit.name} {name} stored {values[name]!r}, not a {kind.__name__}"
        spelled = str(values[name]).lower() if kind is bool else str(values[name])
        assert parse_value(type(params), name, spelled) == values[name], \
            f"-p {name}={spelled} does not read back as {values[name]!r}"
    assert type(params)(**values) == params, f"{params!r} is not canonical"
    hash(params)
    name = module_name(params)
    assert VERILOG_NAME.match(name) and (name == unit.name or name.startswith(unit.name + "__"))
    other = NAMES[unit.name].setdefault(name, params)
    assert other == params, f"{params!r} and {other!r} share the module name {name}"
    for other in same_name_params(unit, name):
        assert other == params, f"{params!r} and {other!r} share the module name {name}"
    latency, throughput = params.latency, params.throughput
    assert type(latency) is int and latency >= 0, f"latency {latency!r}"
    assert type(throughput) in (int, float) and 0 < throughput <= 1, \
        f"throughput {throughput!r}"
    json.dumps(params.manifest_extra())


def _name_parts(unit):
    """``[(name, kind, abbr)]`` of ``unit``'s parameters, in declaration order."""
    return [(f.name, specs(unit)[f.name][0], f.metadata.get("abbr") or f.name)
            for f in dataclasses.fields(unit.params_cls)]


def _part_values(kind, abbr, text, pos):
    """``(value, end)`` for every way a module-name part of a ``kind`` parameter
    with prefix ``abbr`` can start at ``text[pos:]`` (strings as written there)."""
    if kind is bool:
        for prefix, value in ((abbr, True), (f"no{abbr}", False)):
            if text.startswith(prefix, pos):
                yield value, pos + len(prefix)
    elif kind is int:
        if text.startswith(abbr, pos):
            match = INT_PART.match(text, pos + len(abbr))
            if match:
                yield (-1 if match[1] else 1) * int(match[2]), match.end()
    elif text.startswith(abbr + "_", pos):
        start = pos + len(abbr) + 1
        for end in range(start, len(text) + 1):
            if end == len(text) or text[end] == "_":
                yield text[start:end], end


def _parse_suffix(parts, text, pos=0, first=0):
    """Every ``{name: value}`` whose parts, in declaration order, spell ``text[pos:]``."""
    if pos == len(text):
        yield {}
    for index in range(first, len(parts)):
        name, kind, abbr = parts[index]
        for value, end in _part_values(kind, abbr, text, pos):
            if end == len(text):
                yield {name: value}
            elif text[end] == "_":
                for rest in _parse_suffix(parts, text, end + 1, index + 1):
                    yield {name: value, **rest}


def same_name_params(unit, name):
    """Every valid ``Params`` of ``unit`` whose module name is ``name``, found by
    reading the name back: each part is a parameter's prefix and value, and a
    string's ``_`` may stand for ``_`` or ``,`` (the separators the registry's
    list values use). Distinct parameters must give distinct names, or their
    files overwrite each other."""
    if name == unit.name:
        yield unit.params_cls()
        return
    for spelled in _parse_suffix(_name_parts(unit), name.removeprefix(unit.name + "__")):
        variants = [[(key, value)] if not isinstance(value, str) or value.count("_") > 8
                    else [(key, "".join(v)) for v in itertools.product(
                        *[[c] if c != "_" else ["_", ","] for c in value])]
                    for key, value in spelled.items()]
        for kwargs in itertools.product(*variants):
            try:
                other = unit.params_cls(**dict(kwargs))
            except (TypeError, ValueError):
                continue
            if module_name(other) == name:
                yield other


def build_valid(unit, kwargs):
    """``Params(**kwargs)``, or reject the example (``assume``) when refused; the
    refusal must still follow the rules."""
    try:
        params = unit.params_cls(**kwargs)
    except Exception as e:
        check_refusal(unit, kwargs, e)
        assume(False)
    check_valid(unit, params)
    return params


def within_envelope(unit, params):
    """No integer parameter above the limit the valid strategies draw from
    (:func:`strategies.envelope`): keeps the emitted configurations quick."""
    return all(getattr(params, name) <= envelope(unit, name, wide=WIDE)
               for name, (kind, _) in specs(unit).items() if kind is int)


# ---------------------------------------------------------------------------
# Params


@pytest.mark.parametrize("unit", UNIT_LIST, ids=UNIT_IDS)
def test_params_accept_or_name_the_parameter(unit, record_property):
    @fuzz("construct")
    @given(kwargs=param_kwargs(unit))
    def case(kwargs):
        try:
            params = unit.params_cls(**kwargs)
        except Exception as e:
            check_refusal(unit, kwargs, e)
            COUNTS[unit.name][f"construct {type(e).__name__}"] += 1
        else:
            check_valid(unit, params)
            COUNTS[unit.name]["construct valid"] += 1

    case()
    _report(unit.name, "construct", record_property)


@pytest.mark.parametrize("unit", UNIT_LIST, ids=UNIT_IDS)
def test_valid_params_elaborate(unit, record_property):
    @fuzz("elaborate")
    @given(kwargs=valid_kwargs(unit, wide=WIDE))
    def case(kwargs):
        params = build_valid(unit, kwargs)
        component = unit.build(params)
        assert isinstance(component, wiring.Component)
        rtlil.convert(component, name=module_name(params), emit_src=False)
        COUNTS[unit.name]["elaborate"] += 1

    case()
    _report(unit.name, "elaborate", record_property)


@pytest.mark.parametrize("unit", UNIT_LIST, ids=UNIT_IDS)
def test_valid_params_emit_verilog_and_manifest(unit, record_property):
    @fuzz("emit")
    @given(kwargs=valid_kwargs(unit, wide=WIDE))
    def case(kwargs):
        params = build_valid(unit, kwargs)
        emitted = emit(unit.name, params)
        manifest = json.loads(emitted.manifest_text)
        assert emitted.module == manifest["module"] == module_name(params)
        assert manifest["unit"] == unit.name
        assert manifest["params"] == params.as_dict()
        assert manifest["latency"] == params.latency
        assert manifest["throughput"] == params.throughput
        assert manifest["ports"] and all(p["width"] >= 1 for p in manifest["ports"])
        assert emitted.verilog.count("\nmodule ") == 1
        assert f"\nmodule {emitted.module}(" in emitted.verilog
        COUNTS[unit.name]["emit"] += 1

    case()
    _report(unit.name, "emit", record_property)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Demo(UnitParams):
    """Params whose module names collide: ``fanin`` is spelled like ``n``."""

    unit = "demo"
    n: int = param(16, "length")
    fanin: int = param(4, "tree fan-in", abbr="n")
    mode: str = param("ws", "dataflow", abbr="m")

    def __post_init__(self):
        check_int(self, "n", min=2, max=64)
        check_int(self, "fanin", min=2, max=8)
        check_choice(self, "mode", ("ws", "os"))

    latency = 0
    throughput = 1


DEMO = types.SimpleNamespace(name="demo", params_cls=Demo)


def test_module_name_reader_finds_collisions():
    """The injectivity check can fail: Demo(fanin=5) and Demo(n=5) are both
    ``demo__n5``."""
    assert set(same_name_params(DEMO, "demo__n5")) == {Demo(n=5), Demo(fanin=5)}
    assert set(same_name_params(DEMO, "demo__n5_m_os")) == {Demo(n=5, mode="os"),
                                                          Demo(fanin=5, mode="os")}
    with pytest.raises(AssertionError, match="share the module name demo__n5"):
        check_valid(DEMO, Demo(fanin=5))


@pytest.mark.parametrize("kwargs,error", [
    ({"n": 5}, IndexError("list index out of range")),  # not a refusal
    ({"n": 5}, ValueError("n must be larger")),  # does not name the unit
    ({"n": 5}, ValueError("demo size must be larger")),  # not a parameter
    ({"n": 5}, TypeError("demo n must be an integer, not 5")),  # 5 is an integer
    ({"n": "5"}, ValueError("demo n must be an integer, not '5'")),  # wrong kind: TypeError
    ({"n": "5"}, TypeError("demo n must be an integer")),  # no value quoted
    ({"mode": "x\ny"}, ValueError("demo mode must be 'ws', not 'x\ny'")),  # two lines
])
def test_refusal_rules_can_fail(kwargs, error):
    with pytest.raises(AssertionError):
        check_refusal(DEMO, kwargs, error)


@pytest.mark.parametrize("kwargs", [{"n": 1}, {"n": "5"}, {"fanin": 2.0}, {"mode": "x\ny"},
                                    {"mode": None}])
def test_refusal_rules_accept_the_helpers_messages(kwargs):
    with pytest.raises((TypeError, ValueError)) as info:
        Demo(**kwargs)
    check_refusal(DEMO, kwargs, info.value)


# Found by the fuzzing: check_choice kept a numpy.str_ as given (Params(fmt=
# np.str_('flint')) stored np.str_('flint')), while check_int stores NumPy
# integers as int. Every unit's int and str parameters, at their defaults.
NUMPY_SCALARS = [pytest.param(unit, name, id=f"{unit.name}-{name}")
                 for unit in UNIT_LIST for name, (kind, _) in specs(unit).items()
                 if kind is not bool]


@pytest.mark.parametrize("unit,name", NUMPY_SCALARS)
def test_numpy_scalars_are_stored_as_plain_values(unit, name):
    kind, default = specs(unit)[name]
    value = np.int64(default) if kind is int else np.str_(default)
    params = unit.params_cls(**{name: value})
    assert type(getattr(params, name)) is kind
    assert params == unit.params_cls() and repr(params) == repr(unit.params_cls())


# ---------------------------------------------------------------------------
# Command line

COMMANDS = ("list", "generate", "synth", "accuracy", "hdl", "lint", "docs")
#: Junk for positions argparse reads as values (never an option: "-h" would print help).
junk_word = junk_text.filter(lambda t: not t.startswith("-"))
#: What ``str.splitlines`` breaks lines at.
LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
#: Line breaks in the arguments argparse quotes raw in its messages ("unrecognized
#: arguments: ..."): the CLI escapes them, so the fuzz sends them too.
ARGV_LINE_BREAKS = True
extra_word = junk_word.filter(
    lambda t: ARGV_LINE_BREAKS or not any(c in LINE_BREAKS for c in t))


def run_cli(capfd, argv):
    """``(status, stdout, stderr)`` of ``main(argv)``."""
    capfd.readouterr()  # drain what earlier examples left
    status = main(list(argv))
    out, err = capfd.readouterr()
    return status, out, err


def check_status(status, out, err, argv):
    """Exit 0, or exit 2 with one ``accelgen: error:`` line on stderr, nothing on stdout."""
    assert status in (0, 2), f"{argv!r} exited with {status!r}"
    assert "Traceback" not in err, f"{argv!r} printed a traceback:\n{err}"
    if status == 2:
        assert err.startswith("accelgen: error: ") and err.endswith("\n") \
            and len(err.splitlines()) == 1, f"{argv!r}: stderr is not one error line: {err!r}"
        assert out == "", f"{argv!r} failed but printed {out!r}"


def expected_params(unit_name, preset, assignments):
    """The ``Params`` that ``generate <unit_name> --preset <preset> -p <assignments>``
    must write, or ``None`` when it must refuse them."""
    unit = UNITS.get(unit_name)
    if unit is None or preset not in PRESET_NAMES:
        return None
    overrides = {}
    for text in assignments:
        name, sep, value = text.partition("=")
        if not sep or name not in specs(unit) or name in overrides:
            return None  # not NAME=VALUE, an unknown name, or a name given twice
        try:
            overrides[name] = parse_value(unit.params_cls, name, value)
        except ValueError:
            return None
    try:
        return unit.params(preset, **overrides)
    except (TypeError, ValueError):
        return None


@st.composite
def assignments(draw, unit_name):
    """``-p`` arguments: ``NAME=VALUE`` with real or junk names and values, and
    text without ``=``."""
    unit = UNITS.get(unit_name)
    names = list(specs(unit)) if unit else []
    out = []
    for _ in range(draw(st.integers(0, 3))):
        name = draw(st.sampled_from(names) if names and draw(st.integers(0, 4)) else
                    junk_word)
        if unit and name in names:
            value = draw(cli_value_text(unit, name))
        else:
            value = draw(junk_text)
        out.append(draw(st.sampled_from([f"{name}={value}", f"{name}={value}",
                                         f"{name}={value}", name, value])))
    return out


def _p_options(texts, draw):
    """``-p TEXT`` spelled as two arguments, ``--param=TEXT`` or ``-pTEXT``."""
    out = []
    for text in texts:
        # argparse reads "-p=X" as "-p X": no glued form for text starting with "=".
        style = draw(st.integers(0, 1 if text.startswith("=") else 2))
        out += [["-p", text], [f"--param={text}"], [f"-p{text}"]][style]
    return out


unit_names = st.one_of(st.sampled_from(UNIT_IDS), st.sampled_from(UNIT_IDS), junk_word,
                       st.sampled_from(UNIT_IDS).map(str.upper))
presets = st.one_of(st.none(), st.sampled_from(PRESET_NAMES), junk_word)


def test_cli_generate(capfd, tmp_path_factory, record_property):
    base = tmp_path_factory.mktemp("fuzz_generate")

    @fuzz("cli_generate")
    @given(data=st.data())
    def case(data):
        unit_name = data.draw(unit_names, label="unit")
        texts = data.draw(assignments(unit_name), label="-p")
        preset = data.draw(presets, label="preset")
        expected = expected_params(unit_name, "default" if preset is None else preset, texts)
        if expected is not None:  # keep emission quick: no large configurations
            assume(within_envelope(UNITS[unit_name], expected))
        out_dir = Path(tempfile.mkdtemp(dir=base))
        argv = ["generate", unit_name, *_p_options(texts, data.draw),
                *(["--preset", preset] if preset is not None else []), "-o", str(out_dir)]
        status, out, err = run_cli(capfd, argv)
        check_status(status, out, err, argv)
        COUNTS["cli"][f"generate exit {status}"] += 1
        if expected is None:
            assert status == 2, f"{argv!r} accepted invalid parameters:\n{out}"
            assert not any(out_dir.iterdir()), f"{argv!r} failed but wrote files"
            return
        assert status == 0, f"{argv!r} refused {expected!r}: {err}"
        module = module_name(expected)
        printed = [Path(line) for line in out.splitlines()]
        assert out_dir / f"{module}.v" in printed and out_dir / f"{module}.json" in printed
        assert sorted(printed) == sorted(out_dir.iterdir()), "printed paths are not the files"
        manifest = json.loads((out_dir / f"{module}.json").read_text())
        assert manifest["params"] == expected.as_dict() and manifest["module"] == module

    case()
    _report("cli", "generate", record_property)


@st.composite
def other_argv(draw, folder):
    """Arguments of the commands other than ``generate`` and ``synth``, cheap to
    run: ``list``; ``hdl``, ``lint``, ``docs`` and ``accuracy`` always with an
    error that stops them before they emit or measure; junk commands."""
    command = draw(st.sampled_from(["list", "hdl", "lint", "docs", "accuracy", "junk"]))
    junk = st.lists(extra_word, max_size=3)
    if command == "list":
        return ["list", *draw(st.sampled_from([[], ["--json"]])), *draw(junk)]
    if command == "hdl":
        return ["hdl", *draw(st.sampled_from([[], ["--check"]])), "-o", str(folder),
                *draw(st.lists(extra_word, min_size=1, max_size=3))]
    if command == "lint":
        units = draw(st.lists(st.sampled_from(UNIT_IDS), max_size=2))
        units.insert(draw(st.integers(0, len(units))), draw(
            junk_word.filter(lambda t: t not in UNITS)))
        return ["lint", *units, *draw(st.sampled_from([[], ["--all"]]))]
    if command == "docs":
        readme = draw(st.sampled_from(["missing.md", "no_markers.md"]))
        return ["docs", *draw(st.sampled_from([[], ["--check"]])), "--readme",
                str(folder / readme)]
    if command == "accuracy":
        unit_name = draw(st.one_of(st.sampled_from(accuracy.UNITS), unit_names))
        texts = draw(assignments(unit_name))
        preset = draw(presets)
        seed_text = draw(st.one_of(st.none(), st.integers(-3, 3).map(str), junk_word))
        argv = ["accuracy", unit_name, *_p_options(texts, draw),
                *(["--preset", preset] if preset is not None else []),
                *(["--seed", seed_text] if seed_text is not None else [])]
        # Only invalid requests: a valid one measures for seconds.
        seed_value = 0 if seed_text is None else _int_or_none(seed_text)
        preset_name = "default" if preset is None else preset
        assume(unit_name not in accuracy.UNITS or seed_value is None or seed_value < 0
               or expected_params(unit_name, preset_name, texts) is None)
        return argv
    first = draw(junk_word.filter(lambda t: t not in COMMANDS))
    return [first, *draw(junk)]


def _int_or_none(text):
    """``--seed`` text as the CLI reads it: ASCII decimal digits, optional ``-``."""
    return int(text) if re.fullmatch(r"-?[0-9]+", text, re.ASCII) else None


def test_cli_other_commands(capfd, tmp_path_factory, record_property):
    folder = tmp_path_factory.mktemp("fuzz_cli")
    (folder / "no_markers.md").write_text("# a readme without the catalogue markers\n")

    @fuzz("cli_other")
    @given(argv=other_argv(folder))
    def case(argv):
        status, out, err = run_cli(capfd, argv)
        check_status(status, out, err, argv)
        COUNTS["cli"][f"{argv[0] if argv[0] in COMMANDS else 'junk'} exit {status}"] += 1
        if argv in (["list"], ["list", "--json"]):
            assert status == 0 and all(name in out for name in UNIT_IDS), out
        else:
            assert status == 2, f"{argv!r} should have failed"
        assert sorted(p.name for p in folder.iterdir()) == ["no_markers.md"], \
            f"{argv!r} wrote files"

    case()
    _report("cli", "", record_property)


@pytest.mark.parametrize("argv", [["list", "a\nb"], ["hdl", "x\ry"], ["list", "x\u2028y"]],
                         ids=["newline", "return", "line-separator"])
def test_cli_error_with_line_breaks_is_one_line(capfd, argv):
    status, out, err = run_cli(capfd, argv)
    assert status == 2
    check_status(status, out, err, argv)
