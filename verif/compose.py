# SPDX-License-Identifier: BSD-2-Clause
"""cocotb testbench of a composed pipeline (accelgen.compose): random input for its
first stage under source idle and sink backpressure, every output beat equal to the
composed golden model, nothing more."""

import json
import os

import cocotb
from amaranth.lib import data
from cocotb.triggers import ClockCycles

from accelgen.compose.golden import pipeline as golden_pipeline
from accelgen.compose.rtl import Pipeline
from accelgen.compose.spec import parse
from accelgen.verif.bench import reset, rngs, scaled, start_clock, wait_until
from accelgen.verif.payload import pack, unpack
from accelgen.verif.stream import StreamMonitor, StreamSink, StreamSource

__all__ = ["PIPELINE_ENV", "stimulus", "expected_beats"]

#: The environment variable holding the pipeline description (JSON).
PIPELINE_ENV = "ACCELGEN_PIPELINE"

TIMEOUT = {"timeout_time": scaled(200), "timeout_unit": "ms"}


def stimulus(spec, rng, count):
    """``(beats, inputs)`` of ``count`` random packets (``int_mac``: 1..4 beats;
    ``systolic_array``: WS tiles of 1..3 activation rows, each with its weight
    tile) for the first stage of ``spec``: ``beats`` maps each input port to its
    payload dicts, ``inputs`` is the golden model's input (``rng``: NumPy)."""
    first = spec.stages[0]
    p = first.params
    if first.unit == "int_mac":
        lengths = rng.integers(1, 5, count)
        n = int(lengths.sum())
        last = [0] * n
        for end in (lengths.cumsum() - 1).tolist():
            last[end] = 1
        a = rng.integers(-(1 << (p.a_width - 1)) if p.a_signed else 0,
                         (1 << (p.a_width - 1)) if p.a_signed else (1 << p.a_width), n)
        b = rng.integers(-(1 << (p.b_width - 1)) if p.b_signed else 0,
                         (1 << (p.b_width - 1)) if p.b_signed else (1 << p.b_width), n)
        beats = {"i": [{"a": int(x), "b": int(y), "last": e}
                       for x, y, e in zip(a.tolist(), b.tolist(), last)]}
        return beats, {"a": a, "b": b, "last": last}
    if first.unit == "systolic_array" and p.dataflow == "ws" and p.pe == "int_mac":
        def values(width, signed, shape):
            lo = -(1 << (width - 1)) if signed else 0
            return rng.integers(lo, lo + (1 << width), shape)
        lengths = rng.integers(1, 4, count)
        w = values(p.w_width, p.w_signed, (count * p.rows, p.cols))
        a = values(p.a_width, p.a_signed, (int(lengths.sum()), p.rows))
        last = [0] * len(a)
        for end in (lengths.cumsum() - 1).tolist():
            last[end] = 1
        beats = {"w": [{"data": row} for row in w.tolist()],
                 "a": [{"data": row, "last": e} for row, e in zip(a.tolist(), last)]}
        return beats, {"a": a, "w": w, "last": last}
    raise ValueError(f"the compose bench drives int_mac or a WS int_mac systolic_array "
                     f"first, not {first.unit}")


def expected_beats(spec, inputs):
    """``[(values, last)]`` of the golden model's output beats (``last`` ``None``
    when the output has none)."""
    flow = golden_pipeline(spec, inputs)
    lasts = flow.last.tolist() if flow.last is not None else [None] * len(flow.values)
    return [(row, None if e is None else int(e)) for row, e in zip(flow.values.tolist(), lasts)]


def _payload_shape(dut_component, port):
    return dut_component.signature.members[port].signature.members["payload"].shape


def _observe(layout, field, bits):
    """``(values, last)`` of an output beat of ``layout`` (value ``field``)."""
    beat = unpack(layout, bits)
    if not isinstance(beat, dict):
        return [beat], None
    values = beat[field]
    return (values if isinstance(values, list) else [values]), beat.get("last")


async def _run(dut, spec, count, idle, backpressure, salt):
    pipeline = Pipeline(spec)
    pipeline._MustUse__silence = True  # built to read its port layouts only
    for component in pipeline.components:
        component._MustUse__silence = True
    rng, np_rng = rngs(dut, salt)
    beats, inputs = stimulus(spec, np_rng, count)
    want = expected_beats(spec, inputs)
    out_layout = _payload_shape(pipeline, "o")
    field = next((name for name, _f in out_layout if name != "last"), None) \
        if isinstance(out_layout, data.StructLayout) else None
    got = []
    sources = {port: StreamSource(dut, port, dut.clk, rng=rng, idle=idle, reset=dut.rst)
               for port in beats}
    sink = StreamSink(dut, "o", dut.clk, rng=rng, backpressure=backpressure)
    monitor = StreamMonitor(dut, "o", dut.clk, lambda bits: got.append(
        _observe(out_layout, field, bits)), reset=dut.rst)
    tasks = [cocotb.start_soon(t.run()) for t in (*sources.values(), sink, monitor)]
    await reset(dut)
    for port, payloads in beats.items():
        layout = _payload_shape(pipeline, port)
        for payload in payloads:
            sources[port].send(pack(layout, **payload))
    total = sum(len(v) for v in beats.values())
    await wait_until(dut, lambda: len(got) >= len(want), 400 * total + 1000,
                     f"{len(want)} output beats")
    await ClockCycles(dut.clk, 200)  # nothing more may come
    for task in tasks:
        task.cancel()
    assert all(s.empty for s in sources.values()), "input beats were not all taken"
    assert len(got) == len(want), f"{len(got)} output beats, expected {len(want)}"
    errors = [(k, g, w) for k, (g, w) in enumerate(zip(got, want))
              if g[0] != w[0] or (w[1] is not None and g[1] != w[1])]
    assert not errors, f"{len(errors)} beats differ from the golden model, first {errors[:3]}"
    dut._log.info("%d output beats match the composed golden model (idle %.1f, "
                  "backpressure %.1f)", len(got), idle, backpressure)


@cocotb.test(**TIMEOUT)
async def random_packets_under_stalls(dut):
    """Random packets with the source idle and the sink stalling 30 % of cycles each,
    then back to back."""
    spec = parse(json.loads(os.environ[PIPELINE_ENV]))
    start_clock(dut)
    await _run(dut, spec, scaled(40), 0.3, 0.3, 1)
    await _run(dut, spec, scaled(40), 0.0, 0.0, 2)
