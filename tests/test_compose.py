# SPDX-License-Identifier: BSD-2-Clause
"""compose: pipeline descriptions and their errors, the connection checks, the
composed golden model against the units' own models, Amaranth simulator of
int_mac -> requant -> gelu and systolic_array -> requant -> softmax under random
stalls, emission (one module, manifest) and lint, and one cocotb run under
Verilator."""

import json
import random
import re
import tomllib
from pathlib import Path

import numpy as np
import pytest

from accelgen.compose import golden as composed
from accelgen.compose.rtl import Pipeline, emit_pipeline, scale_frac
from accelgen.compose.spec import PipelineSpec, load, parse
from accelgen.golden.gelu import gelu
from accelgen.golden.requant import requant
from accelgen.golden.softmax import softmax
from accelgen.verif.amaranth_sim import (run_back_to_back, run_stream, simulate, stream_get,
                                          stream_put)

__all__ = []

#: int_mac (20-bit accumulator) -> requant (x * 0.667 / 2**7, to 2**-4) -> gelu.
MAC_GELU = {
    "name": "mac_gelu",
    "stages": [
        {"unit": "int_mac", "params": {"acc_width": 20},
         "requant": {"in_bits": 20, "shift": 7, "out_frac": 4}},
        {"unit": "gelu", "params": {"in_frac": 4}},
    ],
}

#: A 2 x 4 WS systolic array -> requant (4 lanes, 2**-2) -> softmax over its rows.
SYSTOLIC_SOFTMAX = {
    "name": "systolic_softmax",
    "stages": [
        {"unit": "systolic_array",
         "params": {"rows": 2, "cols": 4, "a_width": 4, "w_width": 4, "acc_width": 12}},
        {"unit": "requant", "params": {"mode": "pot", "lanes": 4, "in_bits": 12, "shift": 2},
         "out_frac": 4},
        {"unit": "softmax", "params": {"n": 4, "lanes": 4, "in_frac": 4}},
    ],
}


def _with(description, stage, **changes):
    """A copy of ``description`` with stage ``stage``'s entries updated."""
    out = json.loads(json.dumps(description))
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(out["stages"][stage].get(key), dict):
            out["stages"][stage][key].update(value)
        else:
            out["stages"][stage][key] = value
    return out


# --- descriptions ----------------------------------------------------------------

def test_parse_inserts_requant_and_numbers_stages():
    spec = parse(MAC_GELU)
    assert isinstance(spec, PipelineSpec) and spec.name == "mac_gelu"
    assert [(s.index, s.unit, s.inserted) for s in spec.stages] == \
        [(0, "int_mac", False), (1, "requant", True), (2, "gelu", False)]
    assert spec.stages[1].out_frac == 4 and spec.stages[1].in_frac is None
    assert spec.stages[1].params.in_bits == 20 and spec.stages[1].params.shift == 7
    assert spec.stages[1].label == "stage 1 (requant)"
    assert spec.as_dict()["stages"][1]["params"]["in_bits"] == 20


def test_default_name_lists_the_units():
    description = {"stages": SYSTOLIC_SOFTMAX["stages"]}
    assert parse(description).name == "pipeline__systolic_array__requant__softmax"


@pytest.mark.parametrize("description, error, message", [
    ([], TypeError, r"^a pipeline description must be a table \(mapping\), not list$"),
    ({"stages": []}, ValueError,
     r"^a pipeline description needs stages, a non-empty list of tables$"),
    ({"stages": [{"unit": "gelu"}], "top": 1}, ValueError,
     r"^a pipeline description takes the keys name and stages, not 'top'$"),
    ({"stages": [{"unit": "fft"}]}, ValueError, r"^stages\[0\]: unknown unit 'fft'; units are "),
    ({"stages": [{"unit": 3}]}, TypeError,
     r"^stages\[0\] unit must be a unit name \(string\), not 3$"),
    ({"stages": ["gelu"]}, TypeError, r"^stages\[0\] must be a table \(mapping\), not 'gelu'$"),
    ({"stages": [{"unit": "gelu", "param": {}}]}, ValueError,
     r"^stages\[0\] \(gelu\) takes the keys unit, params, requant, out_frac, in_frac, "
     r"not 'param'$"),
    ({"stages": [{"unit": "gelu", "params": {"frac": 3}}]}, ValueError,
     r"^stages\[0\] \(gelu\) has no parameter 'frac'; parameters are method, in_bits, "),
    ({"stages": [{"unit": "gelu", "params": {"in_bits": 40}}]}, ValueError,
     r"^stages\[0\] \(gelu\): gelu in_bits must be an integer from 2 to 16, not 40$"),
    ({"stages": [{"unit": "gelu", "params": [1]}]}, TypeError,
     r"^stages\[0\] \(gelu\) params must be a table \(mapping\), not \[1\]$"),
    ({"stages": [{"unit": "gelu", "out_frac": 3}]}, ValueError,
     r"^stages\[0\] \(gelu\) out_frac is declared only for requant stages; gelu states "
     r"its own scales$"),
    ({"stages": [{"unit": "int_mac", "requant": {"in_bits": 32}}]}, ValueError,
     r"^stages\[0\] \(int_mac\) requant needs out_frac, the scale 2\*\*-out_frac of its "
     r"output codes$"),
    ({"stages": [{"unit": "int_mac", "requant": {"out_frac": 40}}]}, ValueError,
     r"^stages\[0\] \(int_mac\) requant out_frac must be an integer from 0 to 32, not 40$"),
    ({"stages": [{"unit": "int_mac", "requant": {"out_frac": "4"}}]}, TypeError,
     r"^stages\[0\] \(int_mac\) requant out_frac must be an integer from 0 to 32, "
     r"not '4'$"),
    ({"stages": [{"unit": "int_mac", "requant": {"out_frac": 4, "lanes": 0}}]}, ValueError,
     r"^stages\[0\] \(int_mac\) requant: requant lanes must be an integer from 1 to 16, "
     r"not 0$"),
    ({"stages": [{"unit": "requant", "params": {"out_frac": 4}}]}, ValueError,
     r"^stages\[0\] \(requant\) out_frac is a key of the stage, not a parameter of "
     r"requant$"),
    ({"stages": [{"unit": "requant", "requant": {"out_frac": 4}}]}, ValueError,
     r"^stages\[0\] \(requant\) is a requant stage: give its parameters in params, not "
     r"in requant$"),
    ({"stages": [{"unit": "requant"}]}, ValueError,
     r"^stages\[0\] \(requant\) needs out_frac, the scale 2\*\*-out_frac of its output "
     r"codes$"),
    ({"stages": [{"unit": "gelu", "params": {"in_bits": "8"}}]}, TypeError,
     r"^stages\[0\] \(gelu\): gelu in_bits must be an integer, not '8'$"),
    ({"stages": [{"unit": "int_mac", "requant": 4}]}, TypeError,
     r"^stages\[0\] \(int_mac\) requant must be a table \(mapping\), not 4$"),
    ({"stages": [{"unit": "requant", "params": 4}]}, TypeError,
     r"^stages\[0\] \(requant\) params must be a table \(mapping\), not 4$"),
    ({"name": "9top", "stages": [{"unit": "gelu"}]}, ValueError,
     r"^pipeline name must be a Verilog identifier \(letters, digits, _; not starting "
     r"with a digit\), not '9top'$"),
])
def test_description_errors(description, error, message):
    with pytest.raises(error, match=message):
        parse(description)


def test_load_toml_and_json(tmp_path):
    toml = tmp_path / "p.toml"
    toml.write_text('name = "t"\n[[stages]]\nunit = "int_mac"\nparams = { acc_width = 20 }\n'
                    'requant = { in_bits = 20, shift = 7, out_frac = 4 }\n'
                    '[[stages]]\nunit = "gelu"\n')
    assert load(toml).as_dict() == parse({**MAC_GELU, "name": "t"}).as_dict()
    js = tmp_path / "p.json"
    js.write_text(json.dumps(SYSTOLIC_SOFTMAX))
    assert load(js).as_dict() == parse(SYSTOLIC_SOFTMAX).as_dict()
    bad = tmp_path / "p.yaml"
    bad.write_text("")
    with pytest.raises(ValueError, match=r"^pipeline spec .*p\.yaml must end in \.toml or "
                                         r"\.json, not \.yaml$"):
        load(bad)
    broken_json = tmp_path / "q.json"
    broken_json.write_text("{")
    with pytest.raises(ValueError, match=r"^.*q\.json: not valid JSON: "):
        load(broken_json)
    broken = tmp_path / "q.toml"
    broken.write_text("[[stages]\n")
    with pytest.raises(ValueError, match=r"^.*q\.toml: not valid TOML: "):
        load(broken)


# --- connections -----------------------------------------------------------------

@pytest.mark.parametrize("description, message", [
    (_with(MAC_GELU, 1, params={"in_frac": 5}),
     "stage 1 (requant) output y is 8-bit signed at 2**-4, but stage 2 (gelu) input x "
     "takes 8-bit signed at 2**-5"),
    (_with(MAC_GELU, 0, requant={"out_signed": False}),
     "stage 1 (requant) output y is 8-bit unsigned at 2**-4, but stage 2 (gelu) input x "
     "takes 8-bit signed at 2**-4"),
    (_with(MAC_GELU, 0, requant={"in_bits": 24}),
     "stage 0 (int_mac) output o is 20-bit signed at 2**0, but stage 1 (requant) input x "
     "takes 24-bit signed at any scale"),
    (_with(MAC_GELU, 0, requant={"in_frac": 2}),
     "stage 0 (int_mac) output o is 20-bit signed at 2**0, but stage 1 (requant) input x "
     "takes 20-bit signed at 2**-2"),
    (_with(SYSTOLIC_SOFTMAX, 1, params={"lanes": 2}),
     "stage 0 (systolic_array) output data is 4 lanes of 12-bit signed at 2**0, but "
     "stage 1 (requant) input x takes 2 lanes of 12-bit signed at any scale"),
    ({"stages": [{"unit": "int_mac", "params": {"acc_width": 20}}, {"unit": "gelu"}]},
     "stage 0 (int_mac) output o is 20-bit signed at 2**0, but stage 1 (gelu) input x "
     "takes 8-bit signed at 2**-4"),
    ({"stages": [{"unit": "gelu"}, {"unit": "int_mac"}]},
     "stage 1 (int_mac) input i has the fields a, b, last; a join takes one value field "
     "(and last)"),
    ({"stages": [{"unit": "bitbrick"}]},
     "stage 0 (bitbrick) has the output streams (none); a stage has one"),
    ({"stages": [{"unit": "gelu"}, {"unit": "bitbrick"}]},
     "stage 1 (bitbrick) has the input streams (none); a stage after the first takes "
     "exactly one"),
    ({"stages": [{"unit": "gelu"}, {"unit": "systolic_array"}]},
     "stage 1 (systolic_array) has the input streams a, w; a stage after the first takes "
     "exactly one"),
    ({"stages": [{"unit": "gelu", "params": {"out_bits": 32 // 2}},
                 {"unit": "requant", "params": {"in_bits": 16, "per_channel": True},
                  "out_frac": 4}]},
     "stage 1 (requant) input i has the fields x, m, shift, last; a join takes one value "
     "field (and last)"),
])
def test_connection_errors(description, message):
    spec = parse(description)
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        Pipeline(spec)


def test_pipeline_takes_a_spec():
    with pytest.raises(TypeError, match=r"^Pipeline spec must be a PipelineSpec "
                                        r"\(accelgen\.compose\.spec\.parse\), not \{\}$"):
        Pipeline({})


def test_scale_frac():
    assert scale_frac("2**-5", "x") == 5 and scale_frac("2**0", "x") == 0
    for text in ("3**-1", "2**5", "2**-"):
        with pytest.raises(ValueError, match=rf"^y has the scale {re.escape(repr(text))}, "
                                             r"not a power of two 2\*\*-N$"):
            scale_frac(text, "y")


def _unused(dut):
    """``dut``, built only to read its links and ports (not elaborated)."""
    for component in (dut, *dut.components):
        component._MustUse__silence = True
    return dut


def test_links_and_ports():
    dut = _unused(Pipeline(parse(MAC_GELU)))
    assert [link.last for link in dut.links] == ["tie", "drop"]
    assert set(dut.signature.members) == {"i", "o"}
    dut = _unused(Pipeline(parse(SYSTOLIC_SOFTMAX)))
    assert [link.last for link in dut.links] == ["pass", "drop"]
    assert set(dut.signature.members) == {"a", "w", "o"}
    assert dut.latency == sum(s.params.latency for s in dut.spec.stages)
    assert dut.throughput == min(s.params.throughput for s in dut.spec.stages)


# --- golden ----------------------------------------------------------------------

def _mac_packets(rng, count):
    """``(a, b, last)`` beats of ``count`` packets of 1..4 beats (8-bit signed)."""
    lengths = rng.integers(1, 5, count)
    n = int(lengths.sum())
    last = np.zeros(n, dtype=np.int64)
    last[np.cumsum(lengths) - 1] = 1
    return rng.integers(-128, 128, n), rng.integers(-128, 128, n), last


def test_golden_mac_gelu_is_the_units_models_in_turn():
    """Re-derived here with plain Python sums: packet sums, then the units' own
    golden models on them."""
    spec = parse(MAC_GELU)
    rng = np.random.default_rng(1)
    a, b, last = _mac_packets(rng, 40)
    sums, total = [], 0
    for x, y, end in zip(a.tolist(), b.tolist(), last.tolist()):
        total += x * y
        if end:
            sums.append(total)
            total = 0
    flow = composed.pipeline(spec, {"a": a, "b": b, "last": last})
    expected = gelu(spec.stages[2].params, requant(spec.stages[1].params, np.array(sums)))
    assert flow.last is None
    assert flow.values.reshape(-1).tolist() == expected.tolist()
    assert len(set(expected.tolist())) > 4  # the vectors exercise the chain


def _systolic_inputs(rng, tiles):
    """WS beats: ``tiles`` weight tiles (2 rows of 4) and activation tiles of 1..3
    rows of 2, with ``last`` per activation beat."""
    w = rng.integers(-8, 8, (2 * tiles, 4))
    lengths = rng.integers(1, 4, tiles)
    a = rng.integers(-8, 8, (int(lengths.sum()), 2))
    last = np.zeros(len(a), dtype=np.int64)
    last[np.cumsum(lengths) - 1] = 1
    return a, w, last


def test_golden_systolic_softmax_is_the_units_models_in_turn():
    spec = parse(SYSTOLIC_SOFTMAX)
    rng = np.random.default_rng(2)
    a, w, last = _systolic_inputs(rng, 5)
    rows, t = [], 0
    for k in range(len(a)):
        weights = w[2 * t:2 * t + 2]
        rows.append([sum(int(a[k][r]) * int(weights[r][c]) for r in range(2))
                     for c in range(4)])
        t += int(last[k])
    q = requant(spec.stages[1].params, np.array(rows))
    expected = softmax(spec.stages[2].params, q)
    flow = composed.pipeline(spec, {"a": a, "w": w, "last": last})
    assert flow.values.tolist() == expected.tolist()
    assert flow.last.tolist() == [True] * len(a)


def test_golden_rejects_a_stage_without_a_rule():
    spec = parse({"stages": [{"unit": "lnzd"}]})
    with pytest.raises(ValueError, match=r"^stage 0 \(lnzd\) has no golden rule in a "
                                         r"pipeline; units are int_mac, systolic_array, "
                                         r"requant, gelu, softmax, layernorm$"):
        composed.pipeline(spec, {})
    spec = parse({"stages": [{"unit": "gelu"}, {"unit": "lnzd"}]})
    with pytest.raises(ValueError, match=r"^stage 1 \(lnzd\) has no golden rule after the "
                                         r"first stage; units are requant, gelu, softmax, "
                                         r"layernorm$"):
        composed.pipeline(spec, {"x": [[0]]})


def test_golden_systolic_input_errors():
    spec = parse(SYSTOLIC_SOFTMAX)
    with pytest.raises(ValueError, match=r"^systolic_array tile 1 needs 2 weight beats on "
                                         r"w, only 1 given$"):
        composed.pipeline(spec, {"a": [[1, 1], [1, 1]], "w": [[1] * 4] * 3, "last": [1, 1]})
    spec = parse(_with(SYSTOLIC_SOFTMAX, 0, params={"pe": "fusion_unit", "a_width": 8,
                                                    "w_width": 8, "acc_width": 32}))
    with pytest.raises(ValueError, match=r"^the composed golden model takes systolic_array "
                                         r"with int_mac PEs first, not pe='fusion_unit'$"):
        composed.pipeline(spec, {"a": [], "w": [], "last": []})


# --- Amaranth simulator ----------------------------------------------------------

def run_mac_gelu(spec, a, b, last, expected_count, *, seed, idle=0.3, backpressure=0.3):
    """Output codes of the composed RTL for int_mac beats ``a, b, last``."""
    dut = Pipeline(spec)
    beats = [{"a": int(x), "b": int(y), "last": int(e)} for x, y, e in zip(a, b, last)]
    return run_stream(dut, beats, expected_count, max_cycles=40 * len(beats) + 200,
                      read=lambda p: int(p.y[0]), rng=random.Random(seed), idle=idle,
                      backpressure=backpressure)


@pytest.mark.sim
@pytest.mark.parametrize("seed", [1, 2])
def test_sim_mac_gelu_under_stalls(seed):
    spec = parse(MAC_GELU)
    rng = np.random.default_rng(seed)
    a, b, last = _mac_packets(rng, 30)
    expected = composed.pipeline(spec, {"a": a, "b": b, "last": last}).values.reshape(-1)
    got = run_mac_gelu(spec, a, b, last, len(expected), seed=seed)
    assert got == expected.tolist()


@pytest.mark.sim
def test_sim_mac_requant_ties_last_under_stalls():
    """int_mac has no last: each of its results enters requant as a packet of one
    beat, so requant's output carries last = 1 on every beat."""
    spec = parse({"stages": MAC_GELU["stages"][:1]})
    rng = np.random.default_rng(4)
    a, b, last = _mac_packets(rng, 20)
    flow = composed.pipeline(spec, {"a": a, "b": b, "last": last})
    assert flow.last.tolist() == [True] * 20
    dut = Pipeline(spec)
    beats = [{"a": int(x), "b": int(y), "last": int(e)} for x, y, e in zip(a, b, last)]
    got = run_stream(dut, beats, 20, max_cycles=2000,
                     read=lambda p: (int(p.last), int(p.y[0])), rng=random.Random(4),
                     idle=0.3, backpressure=0.3)
    assert got == [(1, int(v)) for v in flow.values.reshape(-1)]


@pytest.mark.sim
def test_sim_mac_gelu_latency_is_the_sum():
    """Back to back without stalls, packets of one beat: beat ``n`` is taken at
    cycle ``n`` and its result is on ``o`` at cycle ``n + latency``, the sum of
    the stages' latencies (the joins add no cycle)."""
    spec = parse(MAC_GELU)
    dut = Pipeline(spec)
    latency = dut.latency
    assert latency == 2 + 6 + 2  # int_mac, requant (pipeline 5), gelu
    rng = np.random.default_rng(7)
    a, b = rng.integers(-128, 128, 30), rng.integers(-128, 128, 30)
    want = composed.pipeline(spec, {"a": a, "b": b, "last": [1] * 30}).values.reshape(-1)
    taken, seen = run_back_to_back(
        dut, [{"a": int(x), "b": int(y), "last": 1} for x, y in zip(a, b)], latency,
        lambda out: int(out.y[0]))
    assert taken == list(range(len(a)))
    assert [y for _, y in seen] == want.tolist()
    assert [c for c, _ in seen] == [c + latency for c in taken]


def run_systolic(spec, a, w, last, expected_count, *, seed, idle=0.3, backpressure=0.3):
    """``[(last, y lanes)]`` of the composed RTL for WS beats ``a``, ``w``, ``last``."""
    dut = Pipeline(spec)
    rng = random.Random(seed)
    got = []

    async def put_w(ctx):
        for row in w:
            await stream_put(ctx, dut.w, {"data": [int(v) for v in row]}, rng=rng, idle=idle)

    async def put_a(ctx):
        for row, end in zip(a, last):
            await stream_put(ctx, dut.a, {"data": [int(v) for v in row], "last": int(end)},
                             rng=rng, idle=idle)

    async def get(ctx):
        for _ in range(expected_count):
            beat = await stream_get(ctx, dut.o, rng=rng, backpressure=backpressure)
            got.append((int(beat.last), [int(v) for v in beat.y]))

    simulate(dut, put_w, put_a, get, max_cycles=60 * (len(a) + len(w)) + 500)
    return got


def _os_inputs(rng, tiles):
    """OS beats: ``tiles`` tiles of 1..3 beats, ``a`` (2 values) and ``w`` (4) per
    beat, ``last`` on each tile's final beat."""
    lengths = rng.integers(1, 4, tiles)
    n = int(lengths.sum())
    last = np.zeros(n, dtype=np.int64)
    last[np.cumsum(lengths) - 1] = 1
    return rng.integers(-8, 8, (n, 2)), rng.integers(-8, 8, (n, 4)), last


def test_golden_output_stationary_tiles():
    """OS: tile t's result rows are A @ B over its beats (A[:, k] on a, B[k, :] on w)."""
    spec = parse(_with(SYSTOLIC_SOFTMAX, 0, params={"dataflow": "os"}))
    rng = np.random.default_rng(5)
    a, w, last = _os_inputs(rng, 4)
    rows, start = [], 0
    for end in np.flatnonzero(last).tolist():
        product = a[start:end + 1].T @ w[start:end + 1]
        rows += product.tolist()
        start = end + 1
    expected = softmax(spec.stages[2].params, requant(spec.stages[1].params, np.array(rows)))
    flow = composed.pipeline(spec, {"a": a, "w": w, "last": last})
    assert flow.values.tolist() == expected.tolist()


@pytest.mark.sim
@pytest.mark.parametrize("dataflow, seed", [("ws", 3), ("os", 6)])
def test_sim_systolic_softmax_under_stalls(dataflow, seed):
    spec = parse(_with(SYSTOLIC_SOFTMAX, 0, params={"dataflow": dataflow}))
    rng = np.random.default_rng(seed)
    a, w, last = (_systolic_inputs if dataflow == "ws" else _os_inputs)(rng, 4)
    flow = composed.pipeline(spec, {"a": a, "w": w, "last": last})
    got = run_systolic(spec, a, w, last, len(flow.values), seed=seed)
    assert got == [(int(e), row) for e, row in zip(flow.last, flow.values.tolist())]


# --- emission, lint, Verilator ---------------------------------------------------

@pytest.mark.parametrize("description", [MAC_GELU, SYSTOLIC_SOFTMAX], ids=["mac_gelu",
                                                                         "systolic_softmax"])
def test_emitted_pipeline_is_one_module_with_a_manifest(description):
    spec = parse(description)
    emitted = emit_pipeline(spec)
    assert emitted.module == spec.name
    assert re.findall(r"^module (\S+)\(", emitted.verilog, re.M) == [spec.name]
    m = emitted.manifest
    assert m["unit"] == "pipeline" and m["module"] == spec.name
    assert [s["unit"] for s in m["stages"]] == [s.unit for s in spec.stages]
    latencies = [s.params.latency for s in spec.stages]
    assert [s["latency"] for s in m["stages"]] == latencies
    assert m["latency"] == sum(latencies)
    assert m["throughput"] == min(s.params.throughput for s in spec.stages)
    names = [port["name"] for port in m["ports"]]
    inputs = ["i"] if spec.stages[0].unit == "int_mac" else ["a", "w"]
    assert names == ["clk", "rst"] + [f"{p}__{s}" for p in inputs + ["o"]
                                      for s in ("payload", "valid", "ready")]
    out = m["ports"][names.index("o__payload")]
    assert out["fields"]["y"]["array"]["element_signed"] == \
        spec.stages[-1].params.output_layout()["y"].shape.elem_shape.signed
    json.dumps(m)  # serializable


def test_emitted_pipeline_lints(tmp_path):
    from accelgen.flow.lint import lint
    path = lint(emit_pipeline(parse(SYSTOLIC_SOFTMAX)), tmp_path)
    assert path.name == "systolic_softmax.v"


@pytest.mark.cocotb
def test_mac_gelu_under_verilator():
    from accelgen.verif.compose import PIPELINE_ENV
    from accelgen.verif.runner import build_sources, run_tests
    emitted = emit_pipeline(parse(MAC_GELU))
    runner, build_dir, seconds = build_sources(emitted.module,
                                               {f"{emitted.module}.v": emitted.verilog})
    result = run_tests(runner, build_dir, emitted.module, "accelgen.verif.compose",
                       extra_env={PIPELINE_ENV: json.dumps(MAC_GELU)},
                       build_seconds=seconds)
    assert (result.tests, result.failed) == (1, 0)


def test_the_samples_of_docs_compose_md_are_the_tested_pipelines():
    text = (Path(__file__).resolve().parents[1] / "docs" / "compose.md").read_text()
    samples = [tomllib.loads(block) for block in re.findall(r"```toml\n(.*?)```", text, re.S)]
    assert samples == [MAC_GELU, SYSTOLIC_SOFTMAX]
