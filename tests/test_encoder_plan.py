# SPDX-License-Identifier: BSD-2-Clause
"""The encoder layer RTL's plan and cycle model, and a tiny layer in the Amaranth simulator.

The plan's memories, weight order and passes are checked against the
configuration; the cycle model against its own definitions; and a tiny layer
(2x2 array) runs in Amaranth's simulator: bit-exact with the golden model under
random stalls on every stream, and with exactly the modelled cycles without
them. The Verilator regression of the issue's configurations is
tests/test_encoder_layer.py.
"""

import random

import numpy as np
import pytest

from accelgen.golden.systolic_array import cycles as array_cycles
from accelgen.transformer import data, quantize
from accelgen.transformer.cycles import (pass_cycles, sequence_cycles, sequence_interval,
                                         utilisation)
from accelgen.transformer.golden import encoder_layer
from accelgen.transformer.layer import EncoderConfig
from accelgen.transformer.plan import LayerPlan, check_buildable, unit_params

SEED = 20261203
#: A layer small enough for Amaranth's simulator: every pass kind, two heads.
TINY = dict(d_model=4, heads=2, d_ff=4, seq=4, rows=2, cols=2, dataflow="os",
            gelu_method="pwl", gelu_segments=8, softmax_lut_bits=6,
            layernorm_method="rsqrt", layernorm_lut_bits=6)


@pytest.fixture(scope="module")
def small():
    return LayerPlan(quantize.calibrate_seeded(EncoderConfig(dataflow="os"), 0))


@pytest.fixture(scope="module")
def tiny():
    return LayerPlan(quantize.calibrate_seeded(EncoderConfig(**TINY), 0))


@pytest.mark.parametrize("kwargs, message", [
    (dict(rows=3), r"^encoder_layer rows must be a power of two, not 3$"),
    (dict(cols=32), r"^encoder_layer cols must be from 1 to 16 \(the units' lanes\), not 32$"),
    (dict(seq=12), r"^encoder_layer seq must be a multiple of rows = 8 and cols = 8, not 12$"),
    (dict(heads=8), r"^encoder_layer d_model / heads must be a multiple of cols = 8, not 4$"),
    (dict(d_ff=60), r"^encoder_layer d_ff must be a multiple of cols = 8, not 60$"),
    (dict(), r"^encoder_layer dataflow must be 'os'"),
])
def test_unbuildable_configurations(kwargs, message):
    config = EncoderConfig(**{"dataflow": "os", **kwargs}) if kwargs else EncoderConfig()
    with pytest.raises(ValueError, match=message):
        check_buildable(config)


def test_pipeline_is_checked(small):
    with pytest.raises(ValueError, match=r"^encoder_layer pipeline must be 0 or 1, not 2$"):
        LayerPlan(small.model, 2)


def test_weight_order_covers_every_tensor(small):
    cfg, c = small.config, small.config.cols
    order = small.load_order
    assert [t for t, _, _ in order] == ["wq", "wk", "wv", "wo", "w1", "w2", "bq", "bk", "bv",
                                       "bo", "b1", "b2", "gamma1", "beta1", "gamma2", "beta2"]
    for tensor, _memory, words in order:
        assert np.asarray(small.model.weights[tensor]).size == words * c, tensor
    assert small.load_words == sum(w for _, _, w in order)
    by_memory = {}
    for _tensor, memory, words in order:
        by_memory[memory] = by_memory.get(memory, 0) + words
    assert by_memory == {"weights": small.weight_depth, "bias": small.bias_depth,
                         "gamma": small.ln_depth, "beta": small.ln_depth}
    assert small.load_manifest()["beats"] == small.load_words == \
        (4 * cfg.d_model ** 2 + 2 * cfg.d_model * cfg.d_ff + 5 * cfg.d_model + cfg.d_ff
         + 4 * cfg.d_model) // c


def test_regions_do_not_overlap(small):
    cfg = small.config
    tiles = cfg.seq // cfg.rows
    spans = sorted((base, base + tiles * small.act_cw[name]) for name, base in small.act.items())
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))
    assert spans[-1][1] == small.act_depth
    row = sorted(small.row.values()) + [small.row_depth]
    assert row == [0, cfg.seq * small.dw, cfg.seq * (small.dw + small.sw), small.row_depth]


def test_passes_do_the_layers_macs(small, tiny):
    for plan in (small, tiny):
        cfg = plan.config
        names = [p.name for p in plan.passes]
        assert len(names) == len(set(names)) == 11 + 3 * cfg.heads
        gemm = [p for p in plan.passes if p.kind == "gemm"]
        assert sum(cfg.seq * p.k * p.n for p in gemm) == cfg.total_macs
        assert utilisation(plan)["macs"] == cfg.total_macs


def test_cycle_model_definitions(small):
    cfg, u = small.config, unit_params(small)
    cyc = pass_cycles(small)
    lat = u["requant"].latency
    assert cyc["q"] == array_cycles(u["array"], cfg.seq, cfg.d_model, cfg.d_model) + 4 + lat
    assert cyc["ffn1"] == array_cycles(u["array"], cfg.seq, cfg.d_model, cfg.d_ff) + 4 + lat \
        + u["gelu"].latency
    assert cyc["input"] == cfg.seq * cfg.d_model // cfg.cols
    assert cyc["skip1"] == cfg.seq * cfg.d_model // cfg.cols + 3 + lat
    sm = u["softmax"]
    assert cyc["softmax0"] == (cfg.seq - 1) * sm.vector_cycles + 2 * sm.words + sm.latency
    assert sequence_cycles(small) == sum(cyc.values())
    assert sequence_interval(small) == sequence_cycles(small) + 1
    figures = utilisation(small)
    assert figures["bound"] <= figures["gemm_cycles"] <= figures["cycles"]
    assert all(0 < util <= 1 for _m, _c, util in figures["passes"].values())
    with pytest.raises(TypeError, match="the cycle model takes a LayerPlan"):
        pass_cycles(small.model)


def weight_beats(plan):
    c = plan.config.cols
    beats = []
    for tensor, _memory, words in plan.load_order:
        flat = np.asarray(plan.model.weights[tensor], dtype=np.int64).reshape(-1)
        beats += [{"data": [int(v) for v in flat[k * c:(k + 1) * c]]} for k in range(words)]
    return beats


def token_beats(plan, x):
    c = plan.config.cols
    flat = x.reshape(-1)
    return [{"data": [int(v) for v in flat[k * c:(k + 1) * c]]} for k in range(flat.size // c)]


def run(plan, x, *, rng, idle, backpressure):
    """Load the weights, stream the sequences ``x``; ``(outputs, lasts, first, last)``
    with the cycles of the first accepted input beat and the last output beat."""
    from amaranth.hdl import Module, Signal
    from accelgen.transformer.rtl import EncoderLayer
    from accelgen.verif.amaranth_sim import simulate, stream_get, stream_put
    dut = EncoderLayer(plan)
    top, cycle = Module(), Signal(32)
    top.submodules.dut = dut
    top.d.sync += cycle.eq(cycle + 1)
    c, got, times = plan.config.cols, [], {}

    async def put(ctx):
        for beat in weight_beats(plan):
            await stream_put(ctx, dut.w, beat, rng=rng, idle=idle)
        for beat in token_beats(plan, x):
            await stream_put(ctx, dut.i, beat, rng=rng, idle=idle)
            times.setdefault("first", ctx.get(cycle))

    async def get(ctx):
        for _ in range(x.size // c):
            payload = await stream_get(ctx, dut.o, rng=rng, backpressure=backpressure)
            times["last"] = ctx.get(cycle)
            got.append(([int(v) for v in payload.data], int(payload.last)))

    budget = 20 * (plan.load_words + x.shape[0] * sequence_interval(plan))
    simulate(top, put, get, max_cycles=budget)
    return got, times


def test_tiny_layer_in_amaranth_is_bit_exact_and_takes_the_modelled_cycles(tiny):
    cfg = tiny.config
    rng = np.random.default_rng(SEED)
    print(f"seed {SEED}")
    x = rng.integers(-128, 128, (2, cfg.seq, cfg.d_model))
    want = encoder_layer(tiny.model, x)
    got, _ = run(tiny, x, rng=random.Random(SEED), idle=0.3, backpressure=0.3)
    words = cfg.d_model // cfg.cols
    assert np.array_equal(np.array([g for g, _ in got]).reshape(x.shape), want)
    assert [last for _, last in got] == [int((k + 1) % (cfg.seq * words) == 0)
                                         for k in range(len(got))]
    # one sequence without stalls: the cycle model's figure
    got, times = run(tiny, x[:1], rng=None, idle=0, backpressure=0)
    assert np.array_equal(np.array([g for g, _ in got]).reshape(x[:1].shape), want[:1])
    assert times["last"] - times["first"] + 1 == sequence_cycles(tiny)
