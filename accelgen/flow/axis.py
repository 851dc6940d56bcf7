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
- Each stream becomes one AXI4-Stream interface with ``tvalid`` / ``tready``
  (the stream's ``valid`` / ``ready``). A unit whose streams are exactly an
  input ``i`` and an output ``o`` has the interfaces ``s_axis_*`` (``i``) and
  ``m_axis_*`` (``o``). Any other unit has ``s_axis_<stream>_*`` for each input
  stream and ``m_axis_<stream>_*`` for each output stream (``systolic_array``:
  ``s_axis_a_*``, ``s_axis_w_*``, ``m_axis_o_*``), in the core's port order;
  each keeps its own handshake, as on the core.
- The payload is split by field. A one-bit field ``last`` is the interface's
  ``TLAST`` (``int_mac``'s input, ``softmax``'s output, ...); a one-bit field
  of an output named ``overflow`` or ``<something>_error`` is a bit of its
  ``TUSER`` (the side flags: ``olive_pe``'s ``overflow``, ``nm_sparse``'s
  ``meta_error``, ...), in the payload's field order, bit 0 first. The other
  fields, in their order, are packed from bit 0 of ``TDATA`` (a payload without
  fields is the whole TDATA data). An interface without such a field has no
  ``TLAST`` / ``TUSER``.
- ``TDATA`` is the data rounded up to 8, 16, 32, 64, 128, 256, 512 bits (the
  next power of two, at least 8: :func:`tdata_width`); the bits above the data
  are padding. Senders zero them and the wrapper ignores them; on an output
  they are zero, and when whole bytes of it are padding the interface has a
  constant ``TKEEP`` that marks them null bytes (so a byte-oriented receiver,
  such as a DMA writing memory, drops them): each beat then carries the data's
  ``ceil(data_width / 8)`` bytes, little-endian. Inputs have no ``TKEEP``.
- No ``TSTRB``, ``TID`` or ``TDEST``.

The wrapper's manifest (``<module>_axis.json``) is the core's with ``module`` and
``ports`` replaced: each port names the core port it drives or reads
(``core_port``; ``null`` for a constant ``TKEEP``, which gives its ``value``),
``aresetn`` has ``active_low: true``, each TDATA port has ``data_width`` and
its ``fields`` at their TDATA offsets (or ``signed`` for a payload without
fields), a TLAST port has ``core_field: "last"``, a TUSER port its ``fields``.
``axis`` holds the core module's name, the rules above in words and the
``interfaces`` (name, stream, direction, ports of each).
"""

import copy
import re

from accelgen.flow.emit import Emitted, _PORT_DECL, _top_module

__all__ = ["SUFFIX", "wrap", "check_streaming", "interface_name", "port_map", "tdata_width",
           "split_payload", "is_side_flag"]

#: The wrapper module is the core module's name plus this.
SUFFIX = "_axis"

#: Streams (name -> direction) whose interfaces keep the unnumbered names
#: ``s_axis_*`` / ``m_axis_*``.
SINGLE_STREAMS = {"i": "in", "o": "out"}

_CLOCK_RESET = {"clk": "aclk", "rst": "aresetn"}
# stream member -> AXI4-Stream signal.
_SIGNALS = {"payload": "tdata", "valid": "tvalid", "ready": "tready"}
_NEED = ("--ports axis wraps a clocked unit whose only ports are clk, rst and streams "
         "(<stream>__payload, __valid, __ready)")
_SIDE_FLAG = re.compile(r"overflow|\w+_error")


def tdata_width(width):
    """The TDATA width of ``width`` data bits: the next power of two, at least 8
    (8, 16, 32, 64, 128, 256, 512, ...). Raises ``ValueError`` unless ``width``
    is a positive integer."""
    if not isinstance(width, int) or isinstance(width, bool) or width < 1:
        raise ValueError(f"TDATA data width must be a positive integer, not {width!r}")
    return max(8, 1 << (width - 1).bit_length())


def is_side_flag(name, field, direction):
    """Whether the payload field ``name`` (its manifest entry ``field``) of a
    stream of ``direction`` travels in TUSER: a one-bit field of an output named
    ``overflow`` or ``<something>_error``."""
    return (direction == "out" and field["width"] == 1 and "array" not in field
            and _SIDE_FLAG.fullmatch(name) is not None)


def split_payload(port, direction):
    """Split a core payload port (its manifest entry) into ``(data, last, user)``:
    ``data`` the ``[(name, field)]`` packed into TDATA (``[(None, port)]`` for a
    payload without fields), ``last`` the ``last`` field or ``None``, ``user`` the
    side flags ``[(name, field)]`` (:func:`is_side_flag`). Raises ``RuntimeError``
    when the fields do not tile the payload or nothing is left for TDATA."""
    fields = port.get("fields")
    if not fields:
        return [(None, port)], None, []
    offset = 0
    for name, field in sorted(fields.items(), key=lambda item: item[1]["offset"]):
        if field["offset"] != offset:
            raise RuntimeError(f"{port['name']}: field {name} at bit {field['offset']}, "
                               f"not {offset}")
        offset += field["width"]
    if offset != port["width"]:
        raise RuntimeError(f"{port['name']}: fields cover {offset} of {port['width']} bits")
    data, last, user = [], None, []
    for name, field in fields.items():
        if name == "last" and field["width"] == 1 and "array" not in field:
            last = (name, field)
        elif is_side_flag(name, field, direction):
            user.append((name, field))
        else:
            data.append((name, field))
    if not data:
        raise RuntimeError(f"{port['name']}: no field left for TDATA")
    return data, last, user


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
    read from the wrapper's manifest, for :mod:`accelgen.verif.ports` (which
    presents one core port on one wrapper port). Raises ``ValueError`` when a
    payload is split over TDATA and TLAST or TUSER, or its fields moved: such a
    wrapper is tested through AXI4-Stream bus models instead
    (:mod:`accelgen.verif.axis_cocotb`)."""
    out = {}
    for port in wrapper_manifest["ports"]:
        if port["core_port"] is None:
            continue  # a constant TKEEP
        if port["core_port"] in out:
            raise ValueError(f"{port['core_port']} is split over {out[port['core_port']]['port']} "
                             f"and {port['name']}: no one-port map")
        entry = {"port": port["name"]}
        if "data_width" in port:
            entry["width"] = port["data_width"]
        if port.get("active_low"):
            entry["invert"] = True
        out[port["core_port"]] = entry
    return out


def _names(streams):
    """``{core port: wrapper port}`` of the clock, reset, valid and ready ports."""
    names = dict(_CLOCK_RESET)
    for stream, direction in streams.items():
        interface = interface_name(stream, direction, streams)
        names.update({f"{stream}__{member}": f"{interface}_{signal}"
                      for member, signal in _SIGNALS.items() if member != "payload"})
    return names


def _repack(items):
    """``{name: field}`` of ``items`` (``[(name, field)]``) packed from bit 0."""
    out, offset = {}, 0
    for name, field in items:
        out[name] = {**copy.deepcopy(field), "offset": offset}
        offset += field["width"]
    return out, offset


def _stream_ports(stream, direction, interface, core):
    """The TDATA, TKEEP, TUSER and TLAST ports of one stream's payload ``core``
    (its manifest entry), each with ``source``: ``[(offset, width)]`` of the core
    payload bits it carries, low bits first."""
    data, last, user = split_payload(core, direction)
    name = core["name"]
    ports = []
    if data[0][0] is None:
        width = core["width"]
        tdata = {"name": f"{interface}_tdata", "dir": direction, "width": tdata_width(width),
                 "core_port": name, "data_width": width, "signed": core["signed"],
                 "source": [(0, width)]}
    else:
        fields, width = _repack(data)
        tdata = {"name": f"{interface}_tdata", "dir": direction, "width": tdata_width(width),
                 "core_port": name, "data_width": width, "fields": fields,
                 "source": [(f["offset"], f["width"]) for _n, f in data]}
    ports.append(tdata)
    pad_bytes = tdata["width"] // 8 - -(-width // 8)
    if direction == "out" and pad_bytes:
        kept = -(-width // 8)
        ports.append({"name": f"{interface}_tkeep", "dir": "out", "width": tdata["width"] // 8,
                      "core_port": None, "value": (1 << kept) - 1})
    if user:
        fields, width = _repack(user)
        ports.append({"name": f"{interface}_tuser", "dir": direction, "width": width,
                      "core_port": name, "fields": fields,
                      "source": [(f["offset"], 1) for _n, f in user]})
    if last:
        ports.append({"name": f"{interface}_tlast", "dir": direction, "width": 1,
                      "core_port": name, "core_field": "last",
                      "source": [(last[1]["offset"], 1)]})
    return ports


def _ports(core_ports, streams):
    """The wrapper's ports in order (clock, reset, then each interface's TDATA,
    TKEEP, TUSER, TLAST, TVALID, TREADY), with ``source`` on the payload ports."""
    names = _names(streams)
    ports = []
    for core_name in _CLOCK_RESET:
        core = core_ports[core_name]
        port = {"name": names[core_name], "dir": "in", "width": 1, "core_port": core_name}
        if "role" in core:
            port["role"] = core["role"]
        if core_name == "rst":
            port["active_low"] = True
        ports.append(port)
    for stream, direction in streams.items():
        interface = interface_name(stream, direction, streams)
        ports += _stream_ports(stream, direction, interface, core_ports[f"{stream}__payload"])
        for member in ("valid", "ready"):
            core = core_ports[f"{stream}__{member}"]
            ports.append({"name": names[core["name"]], "dir": core["dir"], "width": 1,
                          "core_port": core["name"]})
    return ports


def _declare(port):
    vector = f"[{port['width'] - 1}:0] " if port["width"] > 1 else ""
    direction = {"in": "input", "out": "output"}[port["dir"]]
    return f"  {direction} {vector}{port['name']};\n  wire {vector}{port['name']};\n"


def _slice(name, offset, width):
    return f"{name}[{offset + width - 1}:{offset}]" if width > 1 else f"{name}[{offset}]"


def _verilog(core_module, module, ports, core_ports, header):
    connect = {p["core_port"]: p["name"] for p in ports
               if p["core_port"] and "source" not in p}
    connect["rst"] = "rst"
    body = ["  wire rst;\n  assign rst = ~aresetn;\n"]
    payloads = {}  # core payload -> [(core offset, width, wrapper expression)]
    for port in ports:
        if port["core_port"] is None:
            body.append(f"  assign {port['name']} = {port['width']}'h{port['value']:x};\n")
            continue
        if "source" not in port:
            continue
        parts = payloads.setdefault(port["core_port"], [])
        offset = 0
        for core_offset, width in port["source"]:
            parts.append((core_offset, width, port, offset))
            offset += width
        unused = port["width"] - offset
        if unused and port["dir"] == "in":
            body.append(f"  wire [{unused - 1}:0] unused_{port['name']}_pad;\n"
                        f"  assign unused_{port['name']}_pad = "
                        f"{_slice(port['name'], offset, unused)};\n")
    for core_name, parts in payloads.items():
        core = core_ports[core_name]
        wire = core_name.replace("__", "_")
        width = core["width"]
        body.append(f"  wire {f'[{width - 1}:0] ' if width > 1 else ''}{wire};\n")
        connect[core_name] = wire
        if core["dir"] == "in":
            pieces = [_slice(port["name"], at, w) if port["width"] > 1 else port["name"]
                      for _o, w, port, at in sorted(parts, key=lambda part: -part[0])]
            body.append(f"  assign {wire} = {{{', '.join(pieces)}}};\n")
        else:
            for port in {id(p): p for _o, _w, p, _a in parts}.values():
                pieces = [_slice(wire, o, w) if width > 1 else wire
                          for o, w, p, _a in sorted(parts, key=lambda part: -part[3])
                          if p is port]
                pad = port["width"] - sum(w for _o, w, p, _a in parts if p is port)
                if pad:
                    pieces.insert(0, f"{pad}'h0")
                value = pieces[0] if len(pieces) == 1 else f"{{{', '.join(pieces)}}}"
                body.append(f"  assign {port['name']} = {value};\n")
    order = ["clk", "rst"] + [p["name"] for p in core_ports.values()
                              if p["name"] not in ("clk", "rst")]
    pins = ",\n".join(f"    .{core}({connect[core]})" for core in order)
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
    for port in ports:
        if port["name"].endswith("_tdata"):
            w = port["data_width"]
            rule = "ignored (send zeros)" if port["dir"] == "in" else "always zero"
            pad = (f"; bits [{port['width'] - 1}:{w}] are padding, {rule}"
                   if port["width"] > w else "")
            what = (", ".join(port["fields"]) if "fields" in port else "the whole payload")
            lines.append(f"{port['name']}[{w - 1}:0]: {port['core_port']} fields {what}{pad}."
                         if "fields" in port else
                         f"{port['name']}[{w - 1}:0]: {port['core_port']}{pad}.")
        elif port["name"].endswith("_tuser"):
            lines.append(f"{port['name']}: {port['core_port']} side flags "
                         f"{', '.join(port['fields'])}, bit 0 first.")
        elif port["name"].endswith("_tlast"):
            lines.append(f"{port['name']}: {port['core_port']} field last.")
        elif port["name"].endswith("_tkeep"):
            lines.append(f"{port['name']}: constant, the padding bytes of the TDATA are null.")
    lines.append(f"Ports and TDATA fields: {module}.json. Do not edit.")
    return "".join(f"// {line}\n" for line in lines)


def _axis_entry(core_module, streams, ports):
    """The manifest's ``axis`` entry: the core's name, the rules in words, the
    interfaces."""
    entry = {
        "core_module": core_module,
        "reset": "aresetn is active low and synchronous; the core's rst is ~aresetn",
        "tdata": "each TDATA carries the payload's fields other than last and the side "
                 "flags, packed from bit 0 in the payload's order (data_width bits), "
                 "rounded up to the next power of two of at least 8 bits; senders zero "
                 "the padding (ignored), an output's padding is zero",
        "tkeep": "outputs whose TDATA has whole padding bytes have a constant TKEEP "
                 "marking them null; inputs have no TKEEP",
        "tlast": "a one-bit payload field 'last' is the interface's TLAST; interfaces "
                 "whose payload has none have no TLAST",
        "tuser": "one-bit output fields named overflow or *_error (side flags) are the "
                 "bits of TUSER, bit 0 first, in the payload's order",
        "naming": ("s_axis_* for the input stream i, m_axis_* for the output stream o"
                   if streams == SINGLE_STREAMS else
                   "one AXI4-Stream interface per stream of the core, each with its own "
                   "handshake: s_axis_<stream>_* for an input stream, m_axis_<stream>_* "
                   "for an output stream"),
        "interfaces": [],
    }
    for stream, direction in streams.items():
        name = interface_name(stream, direction, streams)
        entry["interfaces"].append({
            "name": name, "stream": stream, "dir": direction,
            "ports": [p["name"] for p in ports if p["name"].startswith(name + "_t")
                      and p["name"][len(name) + 1:] in ("tdata", "tkeep", "tuser", "tlast",
                                                        "tvalid", "tready")]})
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
    core_ports = {p["name"]: p for p in core["ports"]}
    ports = _ports(core_ports, streams)
    text = _verilog(emitted.module, module, ports, core_ports, _header(core, module, ports))
    for port in ports:
        port.pop("source", None)
    declared = {name: int(msb) + 1 if msb else 1
                for _d, msb, name in _PORT_DECL.findall(_top_module(text, module))}
    if declared != {p["name"]: p["width"] for p in ports}:
        raise RuntimeError(f"{module}: declared ports {declared} disagree with the manifest")
    manifest = copy.deepcopy(core)
    manifest["module"] = module
    manifest["ports"] = ports
    manifest["axis"] = _axis_entry(emitted.module, streams, ports)
    return Emitted(module, text, manifest)
