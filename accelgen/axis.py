# SPDX-License-Identifier: BSD-2-Clause
"""AXI4-Stream wrapper of a streaming unit: ``accelgen generate --ports axis``.

:func:`wrap` turns the emitted core ``<module>`` into a second Verilog module,
``<module>_axis``, written to its own file ``<module>_axis.v`` (one module per
file, as Verilator's ``DECLFILENAME`` rule and vendor flows expect) and listed
after the core in ``<module>_axis.f`` / ``.core``. The wrapper is wiring only:
no register, so latency and throughput are the core's.

Contract:

- It applies to units whose ports are exactly ``clk``, ``rst``, one input stream
  ``i`` and one output stream ``o`` (every unit except the combinational
  ``bitbrick``, ``ant_decoder`` and ``olive_decoder`` and the two-input
  ``systolic_array``); any other unit raises ``ValueError`` naming it and why.
- ``aclk`` is the core's ``clk``. ``aresetn`` is active low and synchronous:
  the core's active-high ``rst`` is ``~aresetn``.
- ``s_axis_tdata`` / ``tvalid`` / ``tready`` are ``i__payload`` / ``valid`` /
  ``ready``; ``m_axis_*`` are ``o__*``. AXI4-Stream wants TDATA a whole number of
  bytes, so each TDATA is the payload rounded up to the next multiple of 8 bits.
  The payload sits in the low bits with its fields at the offsets of the core's
  manifest (first field at bit 0). Senders zero-extend: the wrapper ignores the
  pad bits of ``s_axis_tdata``. The pad bits of ``m_axis_tdata`` are always zero;
  receivers drop them.
- There is no TLAST, TKEEP, TSTRB, TID, TDEST or TUSER. Packet boundaries stay
  where the unit defines them: a payload field ``last`` (``int_mac``,
  ``fusion_unit``, ...) travels inside TDATA at its manifest bit, and a system
  that needs TLAST connects it to that TDATA bit. One contract for every unit:
  units without a ``last`` field (``gelu``, ``bitfusion_array``) or with one on a
  single side (``softmax``'s output) need no special case.

The wrapper's manifest (``<module>_axis.json``) is the core's with ``module`` and
``ports`` replaced: each port names the core port it drives or reads
(``core_port``), ``aresetn`` has ``active_low: true``, and each TDATA port has
``payload_width`` plus the payload's ``fields`` (or ``signed``). ``axis`` holds
the core module's name and the rules above in words.
"""

import copy

from accelgen.emit import Emitted, _PORT_DECL, _top_module

__all__ = ["SUFFIX", "wrap", "check_streaming", "port_map", "padded_width"]

#: The wrapper module is the core module's name plus this.
SUFFIX = "_axis"

# core port -> wrapper port, in the wrapper's port order.
_NAMES = {
    "clk": "aclk", "rst": "aresetn",
    "i__payload": "s_axis_tdata", "i__valid": "s_axis_tvalid", "i__ready": "s_axis_tready",
    "o__payload": "m_axis_tdata", "o__valid": "m_axis_tvalid", "o__ready": "m_axis_tready",
}
_DIRS = {"clk": "in", "rst": "in", "i__payload": "in", "i__valid": "in", "i__ready": "out",
         "o__payload": "out", "o__valid": "out", "o__ready": "in"}


def padded_width(width):
    """``width`` rounded up to a whole number of bytes (AXI4-Stream TDATA)."""
    return -(-width // 8) * 8


def check_streaming(manifest):
    """Raise ``ValueError`` (one line, naming the unit and why) unless the core's
    ports are exactly ``clk``, ``rst`` and the streams ``i`` (in) and ``o`` (out)."""
    ports = {p["name"]: p["dir"] for p in manifest["ports"]}
    unit = manifest["unit"]
    need = ("--ports axis wraps a clocked unit whose only ports are clk, rst, one input "
            "stream i and one output stream o")
    if not any(name.endswith("__valid") for name in ports):
        raise ValueError(f"unit {unit} has no stream ports (its ports are "
                         f"{', '.join(ports)}): {need}")
    extra = [name for name in ports if name not in _NAMES]
    missing = [name for name in _NAMES if name not in ports]
    wrong = [name for name in _NAMES if name in ports and ports[name] != _DIRS[name]]
    problems = ([f"extra ports {', '.join(extra)}"] if extra else []) + \
        ([f"no {', '.join(missing)}"] if missing else []) + \
        ([f"{', '.join(wrong)} in the wrong direction"] if wrong else [])
    if problems:
        raise ValueError(f"unit {unit} has {'; '.join(problems)}: {need}")


def port_map(wrapper_manifest):
    """``{core port: {"port": wrapper port, "width": payload width (TDATA only),
    "invert": True (aresetn only)}}``: how the core's ports appear on the wrapper,
    read from the wrapper's manifest (the testbench's port naming)."""
    out = {}
    for port in wrapper_manifest["ports"]:
        entry = {"port": port["name"]}
        if "payload_width" in port:
            entry["width"] = port["payload_width"]
        if port.get("active_low"):
            entry["invert"] = True
        out[port["core_port"]] = entry
    return out


def _ports(core_ports):
    ports = []
    for core_name, name in _NAMES.items():
        core = core_ports[core_name]
        port = {"name": name, "dir": core["dir"], "width": core["width"], "core_port": core_name}
        if "role" in core:
            port["role"] = core["role"]
        if core_name == "rst":
            port["active_low"] = True
        if core_name.endswith("__payload"):
            port["width"] = padded_width(core["width"])
            port["payload_width"] = core["width"]
        port.update({k: copy.deepcopy(v) for k, v in core.items() if k in ("signed", "fields")})
        ports.append(port)
    return ports


def _declare(port):
    vector = f"[{port['width'] - 1}:0] " if port["width"] > 1 else ""
    direction = {"in": "input", "out": "output"}[port["dir"]]
    return f"  {direction} {vector}{port['name']};\n  wire {vector}{port['name']};\n"


def _verilog(core_module, module, ports, header):
    by_core = {p["core_port"]: p for p in ports}
    tin, tout = by_core["i__payload"], by_core["o__payload"]
    body, connect = [], {name: p["name"] for name, p in by_core.items()}
    connect["rst"] = "rst"
    body.append("  wire rst;\n  assign rst = ~aresetn;\n")
    if tin["width"] > tin["payload_width"]:
        lo, hi = tin["payload_width"], tin["width"] - 1
        body.append(f"  wire [{hi - lo}:0] unused_s_axis_tdata_pad;\n"
                    f"  assign unused_s_axis_tdata_pad = s_axis_tdata[{hi}:{lo}];\n")
        connect["i__payload"] = f"s_axis_tdata[{lo - 1}:0]"
    if tout["width"] > tout["payload_width"]:
        w, pad = tout["payload_width"], tout["width"] - tout["payload_width"]
        body.append(f"  wire [{w - 1}:0] o_payload;\n"
                    f"  assign m_axis_tdata = {{{pad}'h0, o_payload}};\n")
        connect["o__payload"] = "o_payload"
    pins = ",\n".join(f"    .{core}({wire})" for core, wire in connect.items())
    return (header
            + f"module {module}({', '.join(p['name'] for p in ports)});\n"
            + "".join(_declare(p) for p in ports)
            + "".join(body)
            + f"  {core_module} core (\n{pins}\n  );\n"
            + "endmodule\n")


def _header(manifest, module, ports):
    by_core = {p["core_port"]: p for p in ports}
    tin, tout = by_core["i__payload"], by_core["o__payload"]
    lines = [f"Generated by accelgen {manifest['accelgen_version']}: AXI4-Stream wrapper "
             f"{module} of module {manifest['module']} (unit {manifest['unit']}).",
             "aresetn is active low and synchronous: the core's rst is ~aresetn."]
    for port, rule in ((tin, "ignored (send zeros)"), (tout, "always zero")):
        w = port["payload_width"]
        pad = (f"; bits [{port['width'] - 1}:{w}] are padding, {rule}"
               if port["width"] > w else "")
        lines.append(f"{port['name']}[{w - 1}:0] is the core's {port['core_port']}{pad}.")
    lines.append(f"Ports and TDATA fields: {module}.json. Do not edit.")
    return "".join(f"// {line}\n" for line in lines)


def wrap(emitted):
    """The AXI4-Stream wrapper of ``emitted`` (an :class:`~accelgen.emit.Emitted`
    core) as an ``Emitted``: ``module`` ``<core>_axis``, ``verilog`` the wrapper
    module alone (it instantiates the core, which stays in its own file) and its
    ``manifest``. Raises ``ValueError`` for a unit it does not apply to."""
    core = emitted.manifest
    check_streaming(core)
    if "axis" in core:
        raise RuntimeError(f"unit {core['unit']} manifest_extra already has an 'axis' entry")
    module = emitted.module + SUFFIX
    ports = _ports({p["name"]: p for p in core["ports"]})
    text = _verilog(emitted.module, module, ports, _header(core, module, ports))
    declared = {name: int(msb) + 1 if msb else 1
                for _d, msb, name in _PORT_DECL.findall(_top_module(text, module))}
    if declared != {p["name"]: p["width"] for p in ports}:
        raise RuntimeError(f"{module}: declared ports {declared} disagree with the manifest")
    manifest = copy.deepcopy(core)
    manifest["module"] = module
    manifest["ports"] = ports
    manifest["axis"] = {
        "core_module": emitted.module,
        "reset": "aresetn is active low and synchronous; the core's rst is ~aresetn",
        "tdata": "each TDATA is its payload rounded up to whole bytes: the payload in bits "
                 "[payload_width-1:0] with the fields at their offsets; senders zero the pad "
                 "bits of s_axis_tdata (ignored), the pad bits of m_axis_tdata are zero",
        "tlast": "not used: packets close on the payload's own 'last' field, inside TDATA, "
                 "where the unit has one",
    }
    return Emitted(module, text, manifest)
