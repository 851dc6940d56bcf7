# SPDX-License-Identifier: BSD-2-Clause
"""AXI4-Stream wrapper of a streaming unit: ``accelgen generate --ports axis``.

:func:`wrap` turns the emitted core ``<module>`` into a second Verilog module,
``<module>_axis``, written to its own file ``<module>_axis.v`` (one module per
file, as Verilator's ``DECLFILENAME`` rule and vendor flows expect) and listed
after the core in ``<module>_axis.f`` / ``.core``. The wrapper is wiring only:
no register, so latency and throughput are the core's.

Contract:

- It applies to clocked units whose ports are ``clk``, ``rst`` and streams
  (``<stream>__payload`` / ``__valid`` / ``__ready``, Amaranth's ``lib.stream``):
  every unit except the combinational ``bitbrick``, ``ant_decoder`` and
  ``olive_decoder``. Any other unit raises ``ValueError`` naming it and why.
- ``aclk`` is the core's ``clk``. ``aresetn`` is active low and synchronous:
  the core's active-high ``rst`` is ``~aresetn``.
- Each stream becomes one AXI4-Stream interface: its ``payload`` / ``valid`` /
  ``ready`` are the interface's ``tdata`` / ``tvalid`` / ``tready``. A unit whose
  streams are exactly an input ``i`` and an output ``o`` has the interfaces
  ``s_axis_*`` (``i``) and ``m_axis_*`` (``o``). Any other unit has
  ``s_axis_<stream>_*`` for each input stream and ``m_axis_<stream>_*`` for each
  output stream (``systolic_array``: ``s_axis_a_*``, ``s_axis_w_*``,
  ``m_axis_o_*``), in the core's port order; each keeps its own handshake, as
  on the core.
- AXI4-Stream wants TDATA a whole number of bytes, so each TDATA is the payload
  rounded up to the next multiple of 8 bits. The payload sits in the low bits
  with its fields at the offsets of the core's manifest (first field at bit 0).
  Senders zero-extend: the wrapper ignores the pad bits of an input TDATA. The
  pad bits of an output TDATA are always zero; receivers drop them.
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
the core module's name and the rules above in words; for units with
per-stream names it also lists the ``interfaces`` (name, stream, direction and
ports of each).
"""

import copy

from accelgen.flow.emit import Emitted, _PORT_DECL, _top_module

__all__ = ["SUFFIX", "wrap", "check_streaming", "interface_name", "port_map", "padded_width"]

#: The wrapper module is the core module's name plus this.
SUFFIX = "_axis"

#: Streams (name -> direction) whose interfaces keep the unnumbered names
#: ``s_axis_*`` / ``m_axis_*``.
SINGLE_STREAMS = {"i": "in", "o": "out"}

_CLOCK_RESET = {"clk": "aclk", "rst": "aresetn"}
# stream member -> AXI4-Stream signal, in the wrapper's port order.
_SIGNALS = {"payload": "tdata", "valid": "tvalid", "ready": "tready"}
_NEED = ("--ports axis wraps a clocked unit whose only ports are clk, rst and streams "
         "(<stream>__payload, __valid, __ready)")


def padded_width(width):
    """``width`` rounded up to a whole number of bytes (AXI4-Stream TDATA)."""
    return -(-width // 8) * 8


def _member_dir(stream_dir, member):
    """A stream member's port direction: ``ready`` flows against the data."""
    return stream_dir if member != "ready" else {"in": "out", "out": "in"}[stream_dir]


def check_streaming(manifest):
    """The core's streams, ``{stream: "in" | "out"}`` in port order (the direction
    of its payload). Raises ``ValueError`` (one line, naming the unit and why)
    unless the ports are exactly ``clk`` and ``rst`` (inputs) and whole streams:
    ``<stream>__payload``, ``__valid`` (the stream's direction) and ``__ready``
    (the other one)."""
    ports = {p["name"]: p["dir"] for p in manifest["ports"]}
    unit = manifest["unit"]
    if not any(name.endswith("__valid") for name in ports):
        raise ValueError(f"unit {unit} has no stream ports (its ports are "
                         f"{', '.join(ports)}): {_NEED}")
    members = {}  # stream -> {member: dir}
    extra = []
    for name, direction in ports.items():
        stream, _, member = name.partition("__")
        if member in _SIGNALS:
            members.setdefault(stream, {})[member] = direction
        elif name not in _CLOCK_RESET:
            extra.append(name)
    missing = [name for name in _CLOCK_RESET if name not in ports]
    wrong = [name for name in _CLOCK_RESET if name in ports and ports[name] != "in"]
    streams = {}
    for stream, found in members.items():
        missing += [f"{stream}__{m}" for m in _SIGNALS if m not in found]
        stream_dir = found.get("payload", found.get("valid", "in"))
        if stream_dir not in ("in", "out"):
            wrong.append(f"{stream}__payload")
            continue
        wrong += [f"{stream}__{m}" for m, d in found.items() if d != _member_dir(stream_dir, m)]
        streams[stream] = stream_dir
    problems = ([f"extra ports {', '.join(extra)}"] if extra else []) + \
        ([f"no {', '.join(missing)}"] if missing else []) + \
        ([f"{', '.join(wrong)} in the wrong direction"] if wrong else [])
    if problems:
        raise ValueError(f"unit {unit} has {'; '.join(problems)}: {_NEED}")
    return streams


def interface_name(stream, direction, streams):
    """The AXI4-Stream interface of ``stream`` (``"in"`` or ``"out"``) among the
    core's ``streams`` (``{stream: direction}``): ``s_axis`` / ``m_axis`` when the
    streams are exactly ``i`` in and ``o`` out, else ``s_axis_<stream>`` (input)
    or ``m_axis_<stream>`` (output)."""
    prefix = {"in": "s_axis", "out": "m_axis"}[direction]
    return prefix if streams == SINGLE_STREAMS else f"{prefix}_{stream}"


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


def _names(streams):
    """``{core port: wrapper port}`` in the wrapper's port order."""
    names = dict(_CLOCK_RESET)
    for stream, direction in streams.items():
        interface = interface_name(stream, direction, streams)
        names.update({f"{stream}__{member}": f"{interface}_{signal}"
                      for member, signal in _SIGNALS.items()})
    return names


def _ports(core_ports, streams):
    ports = []
    for core_name, name in _names(streams).items():
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


def _tdata_ports(ports):
    return [p for p in ports if "payload_width" in p]


def _declare(port):
    vector = f"[{port['width'] - 1}:0] " if port["width"] > 1 else ""
    direction = {"in": "input", "out": "output"}[port["dir"]]
    return f"  {direction} {vector}{port['name']};\n  wire {vector}{port['name']};\n"


def _verilog(core_module, module, ports, header):
    connect = {p["core_port"]: p["name"] for p in ports}
    connect["rst"] = "rst"
    body = ["  wire rst;\n  assign rst = ~aresetn;\n"]
    for port in _tdata_ports(ports):
        name, width, payload = port["name"], port["width"], port["payload_width"]
        if width == payload:
            continue
        if port["dir"] == "in":
            body.append(f"  wire [{width - 1 - payload}:0] unused_{name}_pad;\n"
                        f"  assign unused_{name}_pad = {name}[{width - 1}:{payload}];\n")
            connect[port["core_port"]] = f"{name}[{payload - 1}:0]"
        else:
            wire = port["core_port"].replace("__", "_")
            body.append(f"  wire [{payload - 1}:0] {wire};\n"
                        f"  assign {name} = {{{width - payload}'h0, {wire}}};\n")
            connect[port["core_port"]] = wire
    pins = ",\n".join(f"    .{core}({wire})" for core, wire in connect.items())
    return (header
            + f"module {module}({', '.join(p['name'] for p in ports)});\n"
            + "".join(_declare(p) for p in ports)
            + "".join(body)
            + f"  {core_module} core (\n{pins}\n  );\n"
            + "endmodule\n")


def _header(manifest, module, ports):
    lines = [f"Generated by accelgen {manifest['accelgen_version']}: AXI4-Stream wrapper "
             f"{module} of module {manifest['module']} (unit {manifest['unit']}).",
             "aresetn is active low and synchronous: the core's rst is ~aresetn."]
    for port in _tdata_ports(ports):
        w = port["payload_width"]
        rule = "ignored (send zeros)" if port["dir"] == "in" else "always zero"
        pad = (f"; bits [{port['width'] - 1}:{w}] are padding, {rule}"
               if port["width"] > w else "")
        lines.append(f"{port['name']}[{w - 1}:0] is the core's {port['core_port']}{pad}.")
    lines.append(f"Ports and TDATA fields: {module}.json. Do not edit.")
    return "".join(f"// {line}\n" for line in lines)


def _axis_entry(core_module, streams):
    """The manifest's ``axis`` entry: the core's name and the rules in words."""
    if streams == SINGLE_STREAMS:
        s_tdata, m_tdata = "s_axis_tdata", "m_axis_tdata"
    else:
        s_tdata, m_tdata = "s_axis_<stream>_tdata", "m_axis_<stream>_tdata"
    entry = {
        "core_module": core_module,
        "reset": "aresetn is active low and synchronous; the core's rst is ~aresetn",
        "tdata": "each TDATA is its payload rounded up to whole bytes: the payload in bits "
                 "[payload_width-1:0] with the fields at their offsets; senders zero the pad "
                 f"bits of {s_tdata} (ignored), the pad bits of {m_tdata} are zero",
        "tlast": "not used: packets close on the payload's own 'last' field, inside TDATA, "
                 "where the unit has one",
    }
    if streams != SINGLE_STREAMS:
        entry["naming"] = ("one AXI4-Stream interface per stream of the core, each with its "
                           "own handshake: s_axis_<stream>_tdata/tvalid/tready for an input "
                           "stream, m_axis_<stream>_tdata/tvalid/tready for an output stream")
        entry["interfaces"] = []
        for stream, direction in streams.items():
            name = interface_name(stream, direction, streams)
            entry["interfaces"].append({"name": name, "stream": stream, "dir": direction,
                                        "ports": [f"{name}_{s}" for s in _SIGNALS.values()]})
    return entry


def wrap(emitted):
    """The AXI4-Stream wrapper of ``emitted`` (an :class:`~accelgen.flow.emit.Emitted`
    core) as an ``Emitted``: ``module`` ``<core>_axis``, ``verilog`` the wrapper
    module alone (it instantiates the core, which stays in its own file) and its
    ``manifest``. Raises ``ValueError`` for a unit it does not apply to."""
    core = emitted.manifest
    streams = check_streaming(core)
    if "axis" in core:
        raise RuntimeError(f"unit {core['unit']} manifest_extra already has an 'axis' entry")
    module = emitted.module + SUFFIX
    ports = _ports({p["name"]: p for p in core["ports"]}, streams)
    text = _verilog(emitted.module, module, ports, _header(core, module, ports))
    declared = {name: int(msb) + 1 if msb else 1
                for _d, msb, name in _PORT_DECL.findall(_top_module(text, module))}
    if declared != {p["name"]: p["width"] for p in ports}:
        raise RuntimeError(f"{module}: declared ports {declared} disagree with the manifest")
    manifest = copy.deepcopy(core)
    manifest["module"] = module
    manifest["ports"] = ports
    manifest["axis"] = _axis_entry(emitted.module, streams)
    return Emitted(module, text, manifest)
