# SPDX-License-Identifier: BSD-2-Clause
"""cocotb bench of a unit's AXI4-Stream wrapper, driven by cocotbext-axi as an external client.

The wrapper ``<module>_axis`` (:mod:`accelgen.flow.axis`) is the toplevel. Each
input interface is driven by an ``AxiStreamSource`` and each output interface
drained by an ``AxiStreamSink`` (buses from ``AxiStreamBus.from_prefix``), both
with random pause generators, the reset through ``aresetn`` (active low).
Nothing of the unit's own ports is touched: the bench knows the wrapper only
from its manifest (``ACCELGEN_AXIS_MANIFEST``, a path), as a user's flow would.

Input packets become frames: the TDATA words of the beats (the data fields at
their manifest offsets), TLAST on the final beat where the interface has one.
Received frames are taken apart the same way: TKEEP's null bytes dropped, TDATA
fields unpacked, TUSER's side flags read back, ``last`` set on a frame's final
beat where the interface has TLAST. Each output beat is compared, in order, with
the golden model's results of the packets sent (:data:`SCENARIOS`: stimulus,
expected items and observed item per unit, from the unit's own verif module and
golden model; a unit with several input streams, ``systolic_array``, feeds them
all at once, each from its own source).

Cost: ``scaled(BEATS)`` input beats (``ACCELGEN_STRESS`` scales them).
"""

import json
import os
import random
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge, with_timeout
from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource

from accelgen.verif.bench import CLOCK_PERIOD_NS, configuration, rngs, scaled

__all__ = ["AXIS_MANIFEST_ENV", "BEATS", "SCENARIOS", "Scenario", "StreamsScenario",
           "Interface", "pack", "unpack", "frames_under_pauses"]

#: Environment variable naming the wrapper's manifest (``<module>_axis.json``).
AXIS_MANIFEST_ENV = "ACCELGEN_AXIS_MANIFEST"

#: Input beats of the default run (times ``ACCELGEN_STRESS``).
BEATS = 300


def _to_unsigned(value, width, signed):
    value = int(value)
    low = -(1 << (width - 1)) if signed else 0
    if not low <= value < low + (1 << width):
        raise ValueError(f"{value} does not fit {width} {'signed' if signed else 'unsigned'} "
                         "bits")
    return value & ((1 << width) - 1)


def _from_unsigned(bits, width, signed):
    return bits - (1 << width) if signed and bits >> (width - 1) else bits


def pack(fields, values):
    """The integer holding ``values`` (``{name: int or list}``) at the manifest
    ``fields`` (``{name: {offset, width, signed, array?}}``)."""
    word = 0
    for name, field in fields.items():
        if "array" in field:
            array = field["array"]
            width = array["element_width"]
            if len(values[name]) != array["length"]:
                raise ValueError(f"{name} takes {array['length']} elements, "
                                 f"not {len(values[name])}")
            bits = 0
            for k, element in enumerate(values[name]):
                bits |= _to_unsigned(element, width, array["element_signed"]) << (k * width)
        else:
            bits = _to_unsigned(values[name], field["width"], field["signed"])
        word |= bits << field["offset"]
    return word


def unpack(fields, word):
    """The inverse of :func:`pack`: ``{name: int or list}``."""
    out = {}
    for name, field in fields.items():
        bits = (word >> field["offset"]) & ((1 << field["width"]) - 1)
        if "array" in field:
            array = field["array"]
            width = array["element_width"]
            out[name] = [_from_unsigned((bits >> (k * width)) & ((1 << width) - 1), width,
                                        array["element_signed"])
                         for k in range(array["length"])]
        else:
            out[name] = _from_unsigned(bits, field["width"], field["signed"])
    return out


class Interface:
    """One AXI4-Stream interface of the wrapper, from its manifest entry: how a
    beat of the core's payload (field dictionary; ``{None: value}`` for a payload
    without fields) maps onto TDATA, TUSER and TLAST."""

    def __init__(self, entry, ports):
        self.name, self.stream, self.dir = entry["name"], entry["stream"], entry["dir"]
        by_signal = {p["name"][len(self.name) + 1:]: p for p in ports
                     if p["name"] in entry["ports"]}
        tdata = by_signal["tdata"]
        self.width, self.data_width = tdata["width"], tdata["data_width"]
        self.fields = tdata.get("fields") or {
            None: {"offset": 0, "width": self.data_width, "signed": tdata["signed"]}}
        self.user = by_signal["tuser"]["fields"] if "tuser" in by_signal else {}
        self.has_last = "tlast" in by_signal
        self.keep = by_signal["tkeep"]["value"] if "tkeep" in by_signal else None
        self.word_bytes = -(-self.data_width // 8)

    def frame(self, beats):
        """The ``AxiStreamFrame`` of a packet's beats (TLAST goes on the last beat)."""
        words = [pack(self.fields, beat) for beat in beats]
        user = [pack(self.user, beat) for beat in beats] if self.user else None
        return AxiStreamFrame(tdata=words, tuser=user)

    def beats(self, frame):
        """The field dictionaries of a received frame (``last`` from TLAST)."""
        if self.keep is None:
            words = [int(w) for w in frame.tdata]
            users = _per_beat(frame.tuser, len(words), 1)
        else:
            data = bytes(frame.tdata)
            if len(data) % self.word_bytes:
                raise AssertionError(f"{self.name}: frame of {len(data)} bytes, not whole "
                                     f"words of {self.word_bytes}")
            words = [int.from_bytes(data[k:k + self.word_bytes], "little")
                     for k in range(0, len(data), self.word_bytes)]
            users = _per_beat(frame.tuser, len(words), self.word_bytes)
        out = []
        for k, (word, user) in enumerate(zip(words, users)):
            if word >> self.data_width:
                raise AssertionError(f"{self.name}_tdata padding is {word >> self.data_width:#x}, "
                                     "not 0")
            beat = unpack(self.fields, word)
            beat.update(unpack(self.user, user))
            if self.has_last:
                beat["last"] = int(k == len(words) - 1)
            out.append(beat)
        return out


def _per_beat(tuser, count, per):
    """TUSER of each of ``count`` beats from a received frame's ``tuser`` (one
    value, or one per byte lane kept: ``per`` per beat)."""
    if tuser is None:
        return [0] * count
    if isinstance(tuser, int):
        return [tuser] * count
    return [int(tuser[k * per]) for k in range(count)]


class Scenario:
    """What the bench sends to a unit with one input stream and what it expects back.

    ``packets(p, rng, beats)``: about ``beats`` input beats as a list of packets
    (lists of field dictionaries of the input payload, ``last`` included where the
    payload has it); ``expect(p, packet)``: the golden items of a packet;
    ``observe(beat)``: the item of a received output beat (field dictionary)."""

    def __init__(self, packets, expect, observe):
        self.packets, self.expect, self.observe = packets, expect, observe

    def stimulus(self, p, rng, beats, streams):
        """``({input stream: packets}, expected items)``."""
        (stream,) = streams
        packets = self.packets(p, rng, beats)
        return ({stream: packets},
                [item for packet in packets for item in self.expect(p, packet)])


class StreamsScenario:
    """A unit with several input streams: ``build(p, rng, beats)`` returns
    ``({input stream: packets}, expected items)`` (items in output order),
    ``observe(beat)`` as for :class:`Scenario`."""

    def __init__(self, build, observe):
        self.build, self.observe = build, observe

    def stimulus(self, p, rng, beats, streams):
        inputs, expected = self.build(p, rng, beats)
        if sorted(inputs) != sorted(streams):
            raise AssertionError(f"scenario streams {sorted(inputs)}, wrapper inputs "
                                 f"{sorted(streams)}")
        return inputs, expected


def _split(columns, last):
    """Packets (lists of beat dictionaries) of ``columns`` (``{name: sequence}``),
    each closed where ``last`` is set; the final beat always closes one."""
    last = [int(x) for x in last]
    last[-1] = 1
    names = list(columns)
    packets, packet = [], []
    for k, end in enumerate(last):
        beat = {n: _plain(columns[n][k]) for n in names}
        beat["last"] = end
        packet.append(beat)
        if end:
            packets.append(packet)
            packet = []
    return packets


def _plain(value):
    if isinstance(value, np.ndarray):
        return [int(v) for v in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [int(v) for v in value]
    return int(value)


def _int_mac():
    from accelgen.verif.int_mac import expect_packet, random_stream

    def packets(p, rng, beats):
        a, b, last = random_stream(p, rng, beats)
        return _split({"a": a, "b": b}, last)
    return Scenario(packets, expect_packet, lambda beat: beat[None])


def _olive_pe():
    from accelgen.verif.olive_pe import encoded_words, expect_packet, observe

    def packets(p, rng, beats):
        a, w = encoded_words(p.format, rng, beats), encoded_words(p.format, rng, beats)
        return _split({"a": a, "w": w}, rng.random(beats) < 0.15)
    return Scenario(packets, expect_packet, observe)


def _ant_pe():
    from accelgen.verif.ant_pe import expect_packet, observe, random_stream

    def packets(p, rng, beats):
        a, w, a_type, w_type, last = random_stream(p, rng, beats)
        return _split({"a": a, "w": w, "a_type": a_type, "w_type": w_type}, last)
    return Scenario(packets, expect_packet, observe)


def _fusion_unit():
    from accelgen.verif.fusion_unit import expect_packet, observe, random_beats

    def packets(p, rng, beats):
        out, sent = [], 0
        while sent < beats:
            n = min(int(rng.integers(1, 12)), beats - sent)
            mode = p.mode_set[int(rng.integers(len(p.mode_set)))]
            packet = random_beats(rng, [mode], n)
            for k, beat in enumerate(packet):
                beat.update(a_signed=packet[0]["a_signed"], w_signed=packet[0]["w_signed"],
                            last=int(k == n - 1))
            if rng.random() < 0.2:  # any precision code (some unbuilt): mode_error
                packet[int(rng.integers(n))]["a_prec"] = int(rng.integers(4))
            out.append(packet)
            sent += n
        return out
    return Scenario(packets, expect_packet, observe)


def _nm_sparse():
    from accelgen.verif.nm_sparse import expect_packet, observe, random_stream

    def packets(p, rng, beats):
        a, w, meta, last = random_stream(p, rng, beats)
        return _split({"a": a, "w": w, "meta": meta}, last)
    return Scenario(packets, expect_packet, observe)


def _gelu():
    from accelgen.verif.gelu import golden_table

    def packets(p, rng, beats):
        half = 1 << (p.in_bits - 1)
        return [[{"x": row}] for row in rng.integers(-half, half, (beats, p.lanes)).tolist()]

    def expect(p, packet):
        table = golden_table(p)
        half = 1 << (p.in_bits - 1)
        return [tuple(int(table[x + half]) for x in packet[0]["x"])]
    return Scenario(packets, expect, lambda beat: tuple(beat["y"]))


def _vectors(module):
    """softmax, layernorm: a vector of ``p.words`` beats in, as many out (``last``
    on the final one)."""
    import importlib
    bench = importlib.import_module(f"accelgen.verif.{module}")

    def packets(p, rng, beats):
        xs = bench.random_vectors(p, rng, max(1, beats // p.words))
        return [[{"x": row[j * p.lanes:(j + 1) * p.lanes].tolist()} for j in range(p.words)]
                for row in xs]

    def expect(p, packet):
        columns = {"x": np.array([sum((beat["x"] for beat in packet), [])])}
        rows = np.asarray(bench.model(p, columns)).reshape(p.words, p.lanes).tolist()
        return [(tuple(int(v) for v in row), int(j == p.words - 1)) for j, row in enumerate(rows)]
    return Scenario(packets, expect, lambda beat: (tuple(beat["y"]), beat["last"]))


def _lnzd():
    from accelgen.num.numeric import int_range
    from accelgen.verif.lnzd import expect_vector, observe

    def packets(p, rng, beats):
        lo, hi = int_range(p.width, p.signed)
        out = []
        for _ in range(beats):
            values = rng.integers(lo, hi, p.n, endpoint=True)
            values[rng.random(p.n) < rng.choice([0.0, 0.5, 0.9, 1.0])] = 0
            out.append([{"data": values.tolist()}])
        return out
    return Scenario(packets, expect_vector, observe)


def _index_match():
    from accelgen.verif.index_match import expect_block, observe

    def packets(p, rng, beats):
        out = []
        for _ in range(beats):
            density = float(rng.choice([0.0, 0.5, 1.0]))
            space = min(1 << p.index_width, max(4 * p.length, p.length))
            if p.sorted:
                w_idx, a_idx = (np.sort(rng.choice(space, p.length, replace=False)).tolist()
                                for _ in range(2))
            else:
                w_idx, a_idx = (rng.integers(0, space, p.length).tolist() for _ in range(2))
            valid = [sum(int(v) << k for k, v in enumerate(rng.random(p.length) < density))
                     for _ in range(2)]
            out.append([{"w_idx": w_idx, "a_idx": a_idx, "w_valid": valid[0],
                         "a_valid": valid[1]}])
        return out
    return Scenario(packets, expect_block, observe)


def _bitfusion_array():
    from accelgen.golden.bitfusion_array import bitfusion_array, gemm_beats
    from accelgen.golden.fusion_unit import products_per_beat
    from accelgen.num.numeric import int_range

    def packets(p, rng, beats):
        """Random tiled GEMMs (weight beats, then activation beats) of random
        built modes and signedness, one packet each."""
        out, sent = [], 0
        while sent < beats:
            wa, ww = p.mode_set[int(rng.integers(len(p.mode_set)))]
            sa, sw = (int(x) for x in rng.integers(0, 2, 2))
            depth = p.rows * products_per_beat(wa, ww)
            m, k, n = (int(rng.integers(1, top)) for top in (6, 2 * depth + 2, 2 * p.cols + 2))
            a = rng.integers(*int_range(wa, sa), (m, k), endpoint=True)
            b = rng.integers(*int_range(ww, sw), (k, n), endpoint=True)
            out.append(gemm_beats(p, a, b, wa, ww, sa, sw))
            sent += len(out[-1])
        return out

    def expect(p, packet):  # each packet loads its own weights first
        return [(list(acc), bool(error)) for acc, error in bitfusion_array(p, packet)]
    return Scenario(packets, expect, lambda beat: (beat["acc"], bool(beat["mode_error"])))


def _systolic_array():
    """Random GEMMs tiled as the array's own driver does (WS: a weight tile on
    ``w``, then its activation rows on ``a``, ``last`` on the final one; OS: ``a``
    columns and ``w`` rows in step), expected through the bench's tile model,
    which depends only on each stream's order of beats."""
    from accelgen.golden.systolic_array import os_schedule, ws_schedule
    from accelgen.verif.systolic_array import TileModel, random_gemm

    def build(p, rng, beats):
        a_packets, w_packets = [], []
        sent = 0
        while sent < beats:
            m, k, n = (int(rng.integers(1, top + 1)) for top in (2 * p.rows, 2 * p.rows + 1,
                                                                 2 * p.cols))
            a, b, a_mode, w_mode, _exact = random_gemm(p, rng, m, k, n)
            a_mode, w_mode = a_mode or {}, w_mode or {}
            if p.dataflow == "ws":
                for _n0, weights, acts in ws_schedule(p, a, b):
                    w_packets.append([{"data": row, **w_mode} for row in weights])
                    a_packets.append([{"data": row, "last": int(i == len(acts) - 1), **a_mode}
                                      for i, row in enumerate(acts)])
            else:
                for _m0, _n0, a_tile, b_tile in os_schedule(p, a, b):
                    depth = a_tile.shape[1]
                    a_packets.append([{"data": a_tile[:, j], "last": int(j == depth - 1),
                                       **a_mode} for j in range(depth)])
                    w_packets.append([{"data": b_tile[j], **w_mode} for j in range(depth)])
            sent = sum(map(len, a_packets + w_packets))
        a_packets = [[{k: _plain(v) for k, v in beat.items()} for beat in packet]
                     for packet in a_packets]
        w_packets = [[{k: _plain(v) for k, v in beat.items()} for beat in packet]
                     for packet in w_packets]
        model, expected = TileModel(p), []
        for beat in (b for packet in w_packets for b in packet):
            expected += model.weight(beat)
        for beat in (b for packet in a_packets for b in packet):
            expected += model.activation(beat)
        return {"a": a_packets, "w": w_packets}, expected

    def observe(beat):
        item = (beat["data"], beat["last"])
        return item + (bool(beat["mode_error"]),) if "mode_error" in beat else item
    return StreamsScenario(build, observe)


def _requant():
    from accelgen.verif.requant import expected, random_columns

    def packets(p, rng, beats):
        cols = random_columns(p, rng, beats)
        return _split({k: v for k, v in cols.items() if k != "last"}, cols["last"])

    def expect(p, packet):
        cols = {k: np.array([beat[k] for beat in packet], dtype=np.int64)
                for k in ("x", *p.stream_fields(), "last")}
        return expected(p, cols)
    return Scenario(packets, expect, lambda beat: (tuple(beat["y"]), beat["last"]))


def _fp_mac():
    from accelgen.verif.fp_mac import output_fields, random_stream, results

    def packets(p, rng, beats):
        a, b, last = random_stream(p, rng, beats)
        return _split({"a": a, "b": b}, last)

    def expect(p, packet):  # items with their fields in name order, as observed
        items = results(p, *([beat[k] for beat in packet] for k in ("a", "b", "last")))
        return [tuple(v for _, v in sorted(zip(output_fields(p), item))) for item in items]
    return Scenario(packets, expect, lambda beat: tuple(int(beat[k]) for k in sorted(beat)))


def _mx_dot():
    from accelgen.verif.mx_dot import expected, observe, random_blocks, to_beats

    def packets(p, rng, beats):
        beats = to_beats(p, random_blocks(p, rng, max(1, beats // p.words)))
        return [beats[k:k + p.words] for k in range(0, len(beats), p.words)]

    def expect(p, packet):
        cols = {"a": np.array([sum((beat["a"] for beat in packet), [])]),
                "b": np.array([sum((beat["b"] for beat in packet), [])]),
                "scale_a": np.array([packet[0]["scale_a"]]),
                "scale_b": np.array([packet[0]["scale_b"]])}
        return expected(p, cols)
    return Scenario(packets, expect, observe)


#: unit -> its :class:`Scenario` (built on first use: the unit's verif module and
#: golden model are imported only then).
SCENARIOS = {
    "int_mac": _int_mac,
    "fusion_unit": _fusion_unit,
    "ant_pe": _ant_pe,
    "olive_pe": _olive_pe,
    "index_match": _index_match,
    "lnzd": _lnzd,
    "nm_sparse": _nm_sparse,
    "bitfusion_array": _bitfusion_array,
    "systolic_array": _systolic_array,
    "gelu": _gelu,
    "softmax": lambda: _vectors("softmax"),
    "layernorm": lambda: _vectors("layernorm"),
    "requant": _requant,
    "fp_mac": _fp_mac,
    "mx_dot": _mx_dot,
}


def _pauses(rng, probability):
    while True:
        yield rng.random() < probability


@cocotb.test(timeout_time=scaled(200), timeout_unit="ms")
async def frames_under_pauses(dut):
    """Random packets as frames through cocotbext-axi, with random pauses on
    every source and sink, compared in order with the golden model; the sinks
    end empty."""
    unit, p = configuration()
    manifest = json.loads(Path(os.environ[AXIS_MANIFEST_ENV]).read_text())
    interfaces = [Interface(entry, manifest["ports"]) for entry in manifest["axis"]["interfaces"]]
    ins = [i for i in interfaces if i.dir == "in"]
    outs = [i for i in interfaces if i.dir == "out"]
    if len(outs) != 1:
        raise AssertionError(f"{unit.name}: the bench drains one output interface, "
                             f"not {len(outs)}")
    (sink_if,) = outs
    scenario = SCENARIOS[unit.name]()
    rng, np_rng = rngs(dut)
    pause_rng = random.Random(rng.random())

    cocotb.start_soon(Clock(dut.aclk, CLOCK_PERIOD_NS, unit="ns").start())
    sources = {}
    for interface in ins:
        sources[interface.stream] = (interface, AxiStreamSource(
            AxiStreamBus.from_prefix(dut, interface.name), dut.aclk, dut.aresetn,
            reset_active_level=False, byte_lanes=1))
    sink_args = {} if sink_if.keep is not None else {"byte_lanes": 1}
    sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, sink_if.name), dut.aclk, dut.aresetn,
                         reset_active_level=False, **sink_args)
    for _interface, source in sources.values():
        source.set_pause_generator(_pauses(pause_rng, 0.3))
    sink.set_pause_generator(_pauses(pause_rng, 0.3))

    dut.aresetn.value = 0
    await ClockCycles(dut.aclk, 4)
    dut.aresetn.value = 1
    await RisingEdge(dut.aclk)

    inputs, expected = scenario.stimulus(p, np_rng, scaled(BEATS), list(sources))
    for stream, packets in inputs.items():
        interface, source = sources[stream]
        for packet in packets:
            source.send_nowait(interface.frame(packet))
    beats = sum(len(packet) for packets in inputs.values() for packet in packets)
    dut._log.info("%s: %d beats sent on %s, %d results expected", unit.name, beats,
                  ", ".join(i.name for i, _s in sources.values()), len(expected))

    observed, flags = [], {name: 0 for name in sink_if.user}
    budget = 1000 + 50 * (beats + len(expected))
    while len(observed) < len(expected):
        frame = await with_timeout(sink.recv(), budget * CLOCK_PERIOD_NS, "ns")
        for beat in sink_if.beats(frame):
            observed.append(scenario.observe(beat))
            for name in flags:
                flags[name] += beat[name]
    errors = [(k, want, got) for k, (want, got) in enumerate(zip(expected, observed))
              if want != got]
    for k, want, got in errors[:10]:
        dut._log.error("result %d: expected %r, got %r", k, want, got)
    await ClockCycles(dut.aclk, 20)
    assert sink.empty(), "the sink received more than the golden model expects"
    for interface, source in sources.values():
        assert source.empty() and source.idle(), f"{interface.name}: frames left unsent"
    assert not errors and len(observed) == len(expected), \
        f"{len(errors)} of {len(expected)} results differ ({len(observed)} observed)"
    dut._log.info("%s: %d results match the golden model (TUSER flags set: %s)", unit.name,
                  len(expected), flags or "no TUSER")
