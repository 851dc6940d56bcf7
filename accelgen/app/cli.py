# SPDX-License-Identifier: BSD-2-Clause
"""The ``accelgen`` command line: list, generate, synth, sweep, accuracy, hdl, lint, docs.

Contract relied on by scripts: errors print one line ``accelgen: error: ...``
on stderr and exit with status 2; no traceback reaches the user. When stdout is
closed early (``accelgen list | head -1``) the command stops quietly with status
141 (128 + SIGPIPE, what a shell reports for a tool killed by a closed pipe), so
``set -o pipefail`` scripts still see that the output was cut short.
"""

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

from accelgen import __version__
from accelgen.errors import AccelgenError
from accelgen.app.tables import format_table
from accelgen.params import parse_value
from accelgen.registry import UNITS, PRESET_NAMES, get_unit, module_name

__all__ = ["main", "BROKEN_PIPE_STATUS"]


class UsageError(Exception):
    """A user error: printed as one line, exit status 2."""


# What str.splitlines breaks at, as escapes: argparse quotes some arguments raw
# ("unrecognized arguments: ..."), and an error must stay on one line.
_LINE_BREAKS = {ord(c): repr(c)[1:-1] for c in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"}


def _one_line(error):
    return str(error).translate(_LINE_BREAKS)


_DECIMAL = re.compile(r"-?[0-9]+", re.ASCII)

#: Exit status when stdout is closed before the output is written.
BROKEN_PIPE_STATUS = 141


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


class _Once(argparse.Action):
    """``store``, but giving the option twice is an error naming it."""

    def __call__(self, parser, namespace, values, option_string=None):
        seen = namespace.__dict__.setdefault("_given_once", set())
        if self.dest in seen:
            raise UsageError(f"{'/'.join(self.option_strings)} given more than once")
        seen.add(self.dest)
        setattr(namespace, self.dest, values)


def _decimal(text):
    """``--seed`` and the like: ASCII decimal digits with an optional leading ``-``."""
    if _DECIMAL.fullmatch(text) is None:
        raise argparse.ArgumentTypeError(f"must be a decimal integer, not {text!r}")
    return int(text)


def _seconds(text):
    """``--timeout``: a decimal number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, not {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds, not {text!r}")
    return value


def _unit(name):
    try:
        return get_unit(name)
    except KeyError as e:
        raise UsageError(e.args[0]) from None


def _params(unit, preset, assignments):
    overrides = {}
    for text in assignments:
        name, sep, value = text.partition("=")
        if not sep or not name:
            raise UsageError(f"-p expects NAME=VALUE, not {text!r}")
        if name in overrides:
            raise UsageError(f"-p/--param {name} given more than once")
        try:
            overrides[name] = parse_value(unit.params_cls, name, value)
        except KeyError:
            names = ", ".join(unit.params_cls.describe()) or "(none)"
            raise UsageError(f"unit {unit.name} has no parameter {name!r}; "
                             f"parameters are {names}") from None
        except ValueError as e:
            raise UsageError(str(e)) from None
    try:
        return unit.params(preset, **overrides)
    except (TypeError, ValueError) as e:
        raise UsageError(str(e)) from None


def _port_summary(manifest):
    """``clk rst i[17] o[32]``: clock/reset, then one entry per interface."""
    groups = {}
    for port in manifest["ports"]:
        group, _, member = port["name"].partition("__")
        if member in ("valid", "ready"):
            groups.setdefault(group, 0)
        else:
            groups[group] = groups.get(group, 0) + port["width"]
    return " ".join(name if width == 1 else f"{name}[{width}]" for name, width in groups.items())


def _param_specs(unit):
    """``{name: {name, type, default, range, doc}}`` of ``unit``'s parameters
    (``range``: see :meth:`accelgen.params.UnitParams.ranges`)."""
    ranges = unit.params_cls.ranges()
    return {name: {"name": name, "type": spec["type"], "default": spec["default"],
                   "range": ranges[name], "doc": spec["doc"]}
            for name, spec in unit.params_cls.describe().items()}


def _short_range(spec, limit=24):
    """``1..32``, ``>=2``, ``ws|os`` (a derived bound: its expression), or ``""``
    when there is none or it is longer than ``limit`` characters."""
    r = spec["range"]
    if r is None:
        return ""
    if "choices" in r:
        text = "|".join(r["choices"])
    else:
        low = r.get("min_expr", r["min"])
        if r["min"] is None and r["max"] is None:
            return ""
        text = f"{low}..{r['max']}" if r["min"] is not None and r["max"] is not None \
            else f">={low}" if r["max"] is None else f"<={r['max']}"
    return text if len(text) <= limit else ""


def _value_text(value):
    return str(value).lower() if isinstance(value, bool) else str(value)


def cmd_list(args):
    if args.json:
        print(json.dumps([{"name": u.name, "summary": u.summary,
                           "params": _param_specs(u),
                           "presets": {k: dict(v) for k, v in u.presets.items()}}
                          for u in UNITS.values()], indent=2))
        return
    rows = []
    for u in UNITS.values():
        specs = _param_specs(u).values()
        shown = []
        for spec in specs:
            text = f"{spec['name']}={_value_text(spec['default'])}"
            extent = _short_range(spec)
            shown.append(f"{text} ({extent})" if extent else text)
        rows.append((u.name, ", ".join(shown) or "-", u.summary))
    print(format_table(rows, ("unit", "parameters (default, range)", "summary")))


#: The ``generate`` target that composes units from ``--spec`` (docs/compose.md).
PIPELINE = "pipeline"


def _generate_pipeline(args):
    """``accelgen generate pipeline --spec FILE``: the composed module's files."""
    from accelgen.compose.rtl import emit_pipeline
    from accelgen.compose.spec import load
    from accelgen.flow.corefiles import generate
    if args.spec is None:
        raise UsageError("generate pipeline needs --spec FILE (a .toml or .json "
                         "description, see docs/compose.md)")
    if args.param or getattr(args, "_given_once", set()) & {"preset"}:
        raise UsageError("generate pipeline takes its parameters from --spec, not "
                         "-p/--preset")
    try:
        emitted = emit_pipeline(load(args.spec))
        return generate(emitted, args.output, ports=args.ports)
    except FileNotFoundError:
        raise UsageError(f"pipeline spec {args.spec} does not exist") from None
    except (TypeError, ValueError) as e:
        raise UsageError(f"{args.spec}: {e}") from None


#: The ``generate`` target of the integer encoder layer (docs/encoder_layer.md).
ENCODER = "encoder_layer"
#: Its parameters besides :class:`~accelgen.transformer.layer.EncoderConfig`'s.
ENCODER_EXTRA = {"seed": 0, "pipeline": 0}


def encoder_arguments(assignments):
    """``(EncoderConfig, seed, pipeline)`` of ``generate encoder_layer``'s ``-p
    NAME=VALUE`` assignments (the configuration's fields, ``seed`` of the
    calibration data, the array's ``pipeline``); ``UsageError`` naming the
    parameter for anything else."""
    import dataclasses
    from accelgen.params import BOOL_WORDS
    from accelgen.transformer.layer import EncoderConfig
    fields = {f.name: f.default for f in dataclasses.fields(EncoderConfig)}
    known = {**fields, **ENCODER_EXTRA}
    values = {}
    for text in assignments:
        name, sep, value = text.partition("=")
        if not sep:
            raise UsageError(f"-p expects NAME=VALUE, not {text!r}")
        if name not in known:
            raise UsageError(f"encoder_layer has no parameter {name!r} (parameters: "
                             f"{', '.join(known)})")
        if name in values:
            raise UsageError(f"-p/--param {name} given more than once")
        kind = type(known[name])
        try:
            if kind is bool:
                values[name] = BOOL_WORDS[value]
            elif kind in (int, float):
                values[name] = kind(value)
            else:
                values[name] = value
        except (KeyError, ValueError):
            raise UsageError(f"encoder_layer {name} must be a {kind.__name__}, not "
                             f"{value!r}") from None
    extra = {k: values.pop(k, v) for k, v in ENCODER_EXTRA.items()}
    values.setdefault("dataflow", "os")
    try:
        config = EncoderConfig(**values)
    except (TypeError, ValueError) as e:
        raise UsageError(str(e)) from None
    return config, extra["seed"], extra["pipeline"]


def _generate_encoder(args):
    """``accelgen generate encoder_layer [-p NAME=VALUE]...``: the layer's files,
    calibrated on the package's seeded data."""
    from accelgen.flow.corefiles import generate
    from accelgen.transformer.plan import check_buildable
    from accelgen.transformer.quantize import calibrate_seeded
    from accelgen.transformer.rtl import emit_encoder
    if args.spec is not None or getattr(args, "_given_once", set()) & {"preset"}:
        raise UsageError("generate encoder_layer takes -p NAME=VALUE, not --spec/--preset")
    if args.ports != "native":
        raise UsageError("generate encoder_layer has native ports only (its weight, "
                         "token and output streams)")
    config, seed, pipeline = encoder_arguments(args.param)
    try:
        check_buildable(config)
        if seed < 0:
            raise ValueError(f"encoder_layer seed must be at least 0, not {seed}")
        emitted = emit_encoder(calibrate_seeded(config, seed), pipeline)
    except (TypeError, ValueError) as e:
        raise UsageError(str(e)) from None
    return generate(emitted, args.output, ports="native")


def cmd_generate(args):
    """Write the Verilog, manifest, FuseSoC core and filelist of one configuration
    (``--ports axis``: also its AXI4-Stream wrapper, see :mod:`accelgen.flow.corefiles`),
    or, for ``pipeline --spec FILE``, of the composed pipeline the file describes."""
    from accelgen.flow.emit import emit
    from accelgen.flow.corefiles import generate
    if args.unit in (PIPELINE, ENCODER):
        make = _generate_pipeline if args.unit == PIPELINE else _generate_encoder
        for path in make(args):
            print(path)
        return
    if args.spec is not None:
        raise UsageError(f"--spec applies to 'generate pipeline', not to unit {args.unit}")
    unit = _unit(args.unit)
    params = _params(unit, args.preset, args.param)
    try:
        paths = generate(emit(unit.name, params), args.output, ports=args.ports)
    except ValueError as e:
        raise UsageError(str(e)) from None
    for path in paths:
        print(path)


def cmd_hdl(args):
    """Emit the default preset of every unit into ``hdl/`` and print the summary."""
    from accelgen.flow.emit import emit, write
    rows, stale = [], []
    for unit in UNITS.values():
        emitted = emit(unit.name)
        if args.check:
            for suffix, text in ((".v", emitted.verilog), (".json", emitted.manifest_text)):
                path = Path(args.output) / f"{emitted.module}{suffix}"
                if not path.exists() or path.read_text() != text:
                    stale.append(str(path))
        else:
            write(emitted, args.output)
        m = emitted.manifest
        rows.append((unit.name, m["module"], _port_summary(m), m["latency"], m["throughput"]))
    if stale:
        raise UsageError(f"stale or missing in {args.output}: {', '.join(stale)} "
                         f"(run 'accelgen hdl' to regenerate)")
    print(format_table(rows, ("unit", "module", "ports", "latency", "beats/cycle")))


def cmd_lint(args):
    from accelgen.flow.emit import emit
    from accelgen.flow.lint import lint
    units = [_unit(n) for n in args.units] or list(UNITS.values())
    count = 0
    for unit in units:
        configs = unit.configurations() if args.all else \
            [(p, unit.params(p)) for p in PRESET_NAMES]
        done = set()
        for label, params in configs:
            if module_name(params) in done:
                continue
            done.add(module_name(params))
            start = time.monotonic()
            lint(emit(unit.name, params), args.work)
            count += 1
            print(f"lint ok  {module_name(params):40s} ({label}, "
                  f"{time.monotonic() - start:.1f} s)", flush=True)
    print(f"{count} modules lint clean (verilator -Wall with accelgen waivers; yosys check)")


def cmd_synth(args):
    from accelgen.flow.emit import emit
    from accelgen.flow.synth import synthesize, fmax, DEVICES, TARGETS
    unit = _unit(args.unit)
    params = _params(unit, args.preset, args.param)
    if args.pnr and TARGETS[args.target][1] is None:
        raise UsageError(f"--pnr needs --target ice40 or ecp5, not {args.target}")
    emitted = emit(unit.name, params)
    # A work folder that cannot be made fails here, before a component exists
    # (Amaranth warns about components that are built but never used).
    Path(args.work).mkdir(parents=True, exist_ok=True)
    work = Path(args.work) / f"{emitted.module}.{args.target}"
    # The cell counts are of the emitted Verilog, the file users get.
    cells = synthesize(emitted, None, args.target, work, source="verilog")
    result = {"unit": unit.name, "module": emitted.module, "target": args.target,
              "device": DEVICES[args.target], "source": f"{emitted.module}.v", **cells}
    if args.pnr:
        result["fmax_mhz"] = round(fmax(unit.build(params), args.target, work / "pnr"), 2)
        result["fmax_of"] = ("the unit inside the Fmax harness: inputs from an LFSR, "
                             "outputs into a MISR, register to register")
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        notes = ("device", "source", "fmax_of")
        keys = [k for k in result if k not in ("unit", *notes)]
        print(format_table([[result[k] for k in keys]], keys))
        for k in notes:
            if k in result:
                print(f"{k}: {result[k]}")


def _sweep_table(rows):
    """The rows of ``accelgen sweep`` as a text table (one line per configuration)."""
    axes = list(rows[0]["params"]) if rows else []
    keys = ["LUT", "FF", "carry", "DSP", "BRAM"]
    body = []
    for r in rows:
        res = r["resources"] or {}
        body.append([*(_value_text(r["params"][a]) for a in axes), r["status"],
                     *(res.get(k, "-") for k in keys),
                     "-" if r["fmax"] is None else f"{r['fmax']:.1f}",
                     r["figure"]["text"] if r["figure"] else r.get("reason", "-"),
                     f"{r['seconds']:.1f}" + (" (cached)" if r["cached"] else "")])
    header = [*axes, "status", *keys, "Fmax MHz", "figure / reason", "seconds"]
    return format_table(body, header, right=set(range(len(axes) + 1, len(axes) + 7)))


def cmd_sweep(args):
    """Synthesize every combination of the ``-p`` values on the Dask engine
    (:mod:`accelgen.flow.sweep`); a table, or JSON lines, on stdout; progress on
    stderr."""
    from accelgen.flow import sweep
    from accelgen.flow.report import figures
    from accelgen.flow.report.jobs import scheduler_address
    unit = _unit(args.unit)
    axes = sweep.parse_axes(unit, args.param)
    if args.workers < 1:
        raise UsageError(f"--workers must be at least 1, not {args.workers}")
    if not args.timeout > 0:
        raise UsageError(f"--timeout must be positive seconds, not {args.timeout:g}")
    if args.pnr and args.target not in sweep.PNR_TARGETS:
        raise UsageError(f"--pnr needs --target {' or '.join(sweep.PNR_TARGETS)}, "
                         f"not {args.target}")
    if args.accuracy and not figures.has_figure(unit.name):
        raise UsageError(f"unit {unit.name} has no figure for --accuracy; units with one "
                         f"are {', '.join(figures.FIGURES)}")
    if args.scheduler is not None:
        scheduler_address(args.scheduler)
    plot_axes = sweep.plot_axes(unit.name, figure=args.accuracy, pnr=args.pnr)
    if args.plot is not None and plot_axes is None:
        raise UsageError("--plot needs --pnr (LUT x Fmax) or --accuracy on a unit with a "
                         "plotted figure (LUT x figure)")
    valid, invalid = sweep.expand(unit, axes, args.preset)
    for point, reason in invalid:
        print(f"invalid: {' '.join(f'{k}={_value_text(v)}' for k, v in point.items())}: "
              f"{reason}", file=sys.stderr)
    print(f"sweep {unit.name}: {len(valid) + len(invalid)} configurations "
          f"({len(invalid)} invalid) on {args.target}, "
          + (f"scheduler {args.scheduler}" if args.scheduler else
             f"{args.workers} local workers") + f", limit {args.timeout:g} s per job",
          file=sys.stderr, flush=True)

    def on_done(job, result, done, total, elapsed):
        print(sweep.progress_line(job, result, done, total, elapsed), file=sys.stderr,
              flush=True)

    try:
        rows = sweep.run_sweep(unit, axes, args.target, preset=args.preset, pnr=args.pnr,
                               figure=args.accuracy, work_dir=args.work,
                               cache_dir=None if args.cache == "" else args.cache,
                               workers=args.workers, scheduler=args.scheduler,
                               timeout=args.timeout, on_done=on_done)
    except ValueError as e:
        raise UsageError(str(e)) from None
    if args.json:
        for r in rows:
            print(json.dumps(r))
    else:
        print(_sweep_table(rows))
    if args.plot is not None:
        best = sweep.plot(rows, args.plot, plot_axes,
                          f"{unit.name} on {args.target}: LUTs vs {plot_axes[1]}")
        print(f"wrote {args.plot}: {len(best)} Pareto-optimal of "
              f"{sum(r['status'] == 'ok' for r in rows)} configurations", file=sys.stderr)


def cmd_accuracy(args):
    from accelgen.app import accuracy
    unit = _unit(args.unit)
    if unit.name not in accuracy.UNITS:
        raise UsageError(f"unit {unit.name} has no float64 reference to measure accuracy "
                         f"against; units with one are {', '.join(accuracy.UNITS)}")
    params = _params(unit, args.preset, args.param)
    if args.seed < 0:
        raise UsageError(f"--seed must be a non-negative integer, not {args.seed}")
    result = accuracy.evaluate(unit.name, params, seed=args.seed)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(accuracy.format_report(result))


def cmd_docs(args):
    """Write ``docs/units.md`` and the README's unit table from the registry
    (``--check``: only fail when either is stale)."""
    from accelgen.app.catalogue import update
    try:
        changed = update(args.docs, args.readme, check=args.check)
    except (OSError, ValueError) as e:
        raise UsageError(str(e)) from None
    if args.check and changed:
        raise UsageError(f"the unit catalogue is stale in {', '.join(changed)}; "
                         f"run 'accelgen docs'")
    for path in changed:
        print(f"{path}: rewritten")
    if not changed:
        print(f"unit catalogue up to date ({args.docs}, {args.readme})")


def _parser():
    parser = _Parser(prog="accelgen", description="Verified RTL building blocks "
                     "for AI accelerators.")
    parser.add_argument("--version", action="version", version=f"accelgen {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("list", help="list the registered units")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_list)

    def unit_args(p):
        p.add_argument("unit", help="unit name (see 'accelgen list')")
        p.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE",
                       help="set a generator parameter (repeatable)")
        p.add_argument("--preset", default="default", choices=PRESET_NAMES, action=_Once,
                       help="start from this preset (default: default)")

    p = sub.add_parser("generate", help="emit Verilog, manifest, FuseSoC core and filelist "
                       "of one configuration (or of a pipeline: generate pipeline --spec "
                       "FILE; or of the integer encoder layer: generate encoder_layer "
                       "[-p NAME=VALUE]...)")
    unit_args(p)
    p.add_argument("-o", "--output", default="hdl", help="output folder (default: hdl)")
    p.add_argument("--ports", default="native", choices=["native", "axis"], action=_Once,
                   help="native: the unit's own ports; axis: also an AXI4-Stream wrapper "
                   "<module>_axis (default: native)")
    p.add_argument("--spec", action=_Once, metavar="FILE",
                   help="with the unit name 'pipeline': a .toml or .json description of "
                   "units joined stream to stream (docs/compose.md)")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("synth", help="synthesize one configuration with Yosys")
    unit_args(p)
    p.add_argument("--target", default="generic", choices=["generic", "ice40", "ecp5", "xilinx"])
    p.add_argument("--pnr", action="store_true", help="also place and route for Fmax")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--work", default=os.path.join("build", "synth"),
                   help="work folder (default: build/synth)")
    p.set_defaults(func=cmd_synth)

    p = sub.add_parser("sweep", help="synthesize every combination of parameter values "
                       "(-p NAME=V1,V2,... or NAME=LO..HI) on Dask")
    unit_args(p)
    p.add_argument("--target", default="ecp5", choices=["generic", "ice40", "ecp5", "xilinx"],
                   action=_Once, help="synthesis target (default: ecp5)")
    p.add_argument("--pnr", action="store_true", help="also place and route for Fmax")
    p.add_argument("--accuracy", action="store_true", help="also the unit's own figure "
                   "(accuracy against float64, utilization, pairs or products per cycle)")
    p.add_argument("--json", action="store_true", help="one JSON object per configuration "
                   "per line")
    p.add_argument("--plot", action=_Once, metavar="FILE", help="write a Pareto plot (PNG): "
                   "LUTs against the figure with --accuracy, else against Fmax")
    p.add_argument("--scheduler", action=_Once, metavar="tcp://HOST:PORT",
                   help="run on this Dask scheduler's cluster (default: a local cluster)")
    p.add_argument("--workers", type=_decimal, default=2, action=_Once,
                   help="worker processes of the local cluster (default: 2)")
    p.add_argument("--timeout", type=_seconds, default=900, action=_Once,
                   help="per-job time limit in seconds (default: 900)")
    p.add_argument("--cache", default=os.path.join("build", "sweep", "cache"), action=_Once,
                   metavar="DIR", help="results cache (default: build/sweep/cache; '' for "
                   "none)")
    p.add_argument("--work", default=os.path.join("build", "sweep", "work"), action=_Once,
                   help="work folder of the jobs (default: build/sweep/work)")
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser("accuracy", help="measure a nonlinear unit's golden model against "
                       "float64 (max/mean |error| in output LSBs)")
    unit_args(p)
    p.add_argument("--seed", type=_decimal, default=0, help="seed of the random vectors "
                   "(default: 0)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_accuracy)

    p = sub.add_parser("hdl", help="emit every unit's default preset and print a summary")
    p.add_argument("-o", "--output", default="hdl", help="output folder (default: hdl)")
    p.add_argument("--check", action="store_true",
                   help="only check that the folder is up to date")
    p.set_defaults(func=cmd_hdl)

    p = sub.add_parser("lint", help="lint every unit's presets (Verilator -Wall, Yosys)")
    p.add_argument("units", nargs="*", help="units to lint (default: all)")
    p.add_argument("--all", action="store_true",
                   help="also the fastest settings and the CI sweep configurations")
    p.add_argument("--work", default=os.path.join("build", "lint"),
                   help="work folder (default: build/lint)")
    p.set_defaults(func=cmd_lint)

    p = sub.add_parser("docs", help="write the unit catalogue (docs/units.md) and the "
                       "README's unit table from the registry")
    p.add_argument("--docs", default="docs", help="docs folder (default: docs)")
    p.add_argument("--readme", default="README.md", help="README holding the unit table "
                   "(default: README.md)")
    p.add_argument("--check", action="store_true", help="only check that both are up to date")
    p.set_defaults(func=cmd_docs)
    return parser


def _os_error(e):
    """One line for an ``OSError``: the path and the reason, without ``[Errno n]``."""
    reason = e.strerror or str(e)
    if e.filename is None:
        return reason
    return f"cannot write {e.filename}: {reason}" if e.filename2 is None else \
        f"cannot move {e.filename} to {e.filename2}: {reason}"


def _stdout_closed():
    """Point stdout at ``/dev/null`` so that the interpreter's final flush of what is
    still buffered does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass  # stdout has no file descriptor (captured): nothing will flush to it
    return BROKEN_PIPE_STATUS


def main(argv=None):
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); return the exit
    status: 0, 2 on an error (one line on stderr) or :data:`BROKEN_PIPE_STATUS`."""
    try:
        args = _parser().parse_args(argv)
        args.func(args)
        sys.stdout.flush()
    except BrokenPipeError:
        return _stdout_closed()
    except (UsageError, AccelgenError) as e:
        print(f"accelgen: error: {_one_line(e)}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"accelgen: error: {_one_line(_os_error(e))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("accelgen: error: interrupted", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
