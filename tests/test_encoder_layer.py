# SPDX-License-Identifier: BSD-2-Clause
"""The encoder layer RTL: lint, ``generate encoder_layer`` and its cocotb regression."""

import hashlib
import json

import pytest

from accelgen.app.cli import main
from accelgen.transformer.layer import EncoderConfig
from accelgen.transformer.plan import LayerPlan
from accelgen.transformer.quantize import calibrate_seeded
from accelgen.verif.testing import HEAVY_REASON, STRESS, check_run

__all__ = []

TESTBENCH = "accelgen.verif.encoder_layer"

#: The issue's example configuration (the ``EncoderConfig`` defaults).
SMALL = dict(d_model=32, heads=2, d_ff=64, seq=8, rows=8, cols=8)
#: Every other method, at a larger size.
LARGE = dict(d_model=64, heads=4, d_ff=128, seq=16, rows=8, cols=8, softmax_method="ibert",
             gelu_method="ibert", layernorm_method="rsqrt", requant_mode="apot",
             per_channel=True)
#: The smallest layer the RTL builds (what the CLI tests generate).
TINY = dict(d_model=8, heads=1, d_ff=8, seq=4, rows=2, cols=2, gelu_method="pwl",
            softmax_lut_bits=5, gelu_segments=8)
TINY_ARGS = [f"{k}={v}" for k, v in TINY.items()]

heavy = pytest.mark.skipif(STRESS < 2, reason=HEAVY_REASON)


def module_for(config, seed=0, pipeline=0):
    """A Verilog module name (and build directory) per configuration:
    ``encoder_layer__d32h2f64s8r8c8_<digest of every field, seed, pipeline>``."""
    spec = json.dumps([config.as_dict(), seed, pipeline], sort_keys=True)
    digest = hashlib.sha256(spec.encode()).hexdigest()[:8]
    c = config
    return (f"encoder_layer__d{c.d_model}h{c.heads}f{c.d_ff}s{c.seq}r{c.rows}c{c.cols}"
            f"_{digest}")


def emitted_for(fields, seed=0, pipeline=0):
    from accelgen.transformer.rtl import emit_encoder
    config = EncoderConfig(dataflow="os", **fields)
    emitted = emit_encoder(calibrate_seeded(config, seed), pipeline,
                           name=module_for(config, seed, pipeline))
    return config, emitted


@pytest.fixture(scope="module")
def tiny():
    """``(config, Emitted)`` of :data:`TINY`, emitted once for the module (~2 s)."""
    return emitted_for(TINY)


@pytest.fixture(scope="module")
def small():
    """``(config, Emitted)`` of :data:`SMALL`, emitted once for the module (~20 s)."""
    return emitted_for(SMALL)


def regression(config, emitted, seed=0, pipeline=0):
    """Build ``emitted`` under Verilator and run every test of the bench on it."""
    from accelgen.verif.encoder_layer import encoder_env
    from accelgen.verif.runner import build_verilog, run_tests
    runner, build_dir, seconds = build_verilog(emitted.module, emitted.verilog)
    result = run_tests(runner, build_dir, emitted.module, TESTBENCH,
                       extra_env=encoder_env(config, seed, pipeline), build_seconds=seconds)
    check_run(result, TESTBENCH)
    print(f"{emitted.module}: build {seconds:.1f} s, {result.tests} cocotb tests "
          f"{result.run_seconds:.1f} s, seed {result.seed}")


# The default run simulates and lints TINY (about 35 s in all, the Verilator
# build most of it); SMALL takes about 150 s (emission 20 s, Verilator build
# 50-60 s, the bench 40 s, lint 30 s) and LARGE several minutes, so both wait
# for ACCELGEN_STRESS=2.

@pytest.mark.cocotb
def test_tiny_under_verilator(tiny):
    regression(*tiny)


@pytest.mark.cocotb
@heavy
def test_small_under_verilator(small):
    regression(*small)


@pytest.mark.cocotb
@heavy
def test_large_other_methods_under_verilator():
    regression(*emitted_for(LARGE))


def test_tiny_lints_clean(tiny, tmp_path):
    from accelgen.flow.lint import lint
    lint(tiny[1], tmp_path)


@heavy
def test_small_lints_clean(small, tmp_path):
    from accelgen.flow.lint import lint
    lint(small[1], tmp_path)


def test_generate_encoder_layer(capsys, tmp_path):
    status = main(["generate", "encoder_layer", *sum((["-p", a] for a in TINY_ARGS), []),
                   "-o", str(tmp_path)])
    out, err = capsys.readouterr()
    assert (status, err) == (0, "")
    assert (tmp_path / "encoder_layer.v").is_file()
    assert str(tmp_path / "encoder_layer.v") in out
    manifest = json.loads((tmp_path / "encoder_layer.json").read_text())
    plan = LayerPlan(calibrate_seeded(EncoderConfig(dataflow="os", **TINY), 0))
    assert manifest["module"] == "encoder_layer"
    assert manifest["weights"]["beats"] == plan.load_words
    assert manifest["config"] == plan.config.as_dict()
    assert "module encoder_layer(" in (tmp_path / "encoder_layer.v").read_text()


@pytest.mark.parametrize(("argv", "message"), [
    (["-p", "rows=3"], "encoder_layer rows must be a power of two, not 3"),
    (["-p", "foo=1"], None),
    (["-p", "d_model=x"], "encoder_layer d_model must be a int, not 'x'"),
    (["--preset", "small"], "generate encoder_layer takes -p NAME=VALUE, not --spec/--preset"),
])
def test_generate_encoder_layer_errors(capsys, tmp_path, argv, message):
    status = main(["generate", "encoder_layer", *argv, "-o", str(tmp_path)])
    out, err = capsys.readouterr()
    assert status == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("accelgen: error: ")
    if message is not None:
        assert err == f"accelgen: error: {message}\n"
    else:
        assert "'foo'" in err
    assert not list(tmp_path.iterdir())


def test_bench_streams_follow_the_plan():
    """The bench's ``w`` beats follow ``plan.load_order`` (row-major, ``cols``
    per beat), its expected output marks each sequence's final beat, and its
    random weight sets stay in their formats."""
    import numpy as np
    from accelgen.verif.encoder_layer import expected_beats, random_weights, weight_beats
    model = calibrate_seeded(EncoderConfig(dataflow="os", **TINY), 0)
    plan = LayerPlan(model)
    c = plan.config.cols
    beats = weight_beats(plan, model.weights)
    assert len(beats) == plan.load_words and all(len(b) == c for b in beats)
    at = 0
    for name, _memory, words in plan.load_order:
        flat = np.asarray(model.weights[name]).reshape(-1)
        assert sum(beats[at:at + words], []) == flat.tolist(), name
        at += words
    x = np.random.default_rng(0).integers(-128, 128, (2, plan.config.seq, plan.config.d_model))
    want = expected_beats(model, x)
    assert [len(s) for s in want] == [plan.config.seq * plan.config.d_model // c] * 2
    assert [[last for _, last in s] for s in want] == [[0] * (len(s) - 1) + [1] for s in want]
    other = random_weights(model, np.random.default_rng(1))
    g = 1 << (model.units["layernorm1"].gamma_bits - 1)
    for name, value in other.items():
        assert np.shape(value) == np.shape(model.weights[name]), name
        bias = name[0] == "b" and not name.startswith("beta")
        lo, hi = (-g, g) if name.startswith("gamma") else \
            (-(1 << 14), 1 << 14) if bias else (-128, 128)
        assert lo <= int(np.min(value)) and int(np.max(value)) < hi, name
    assert any(not np.array_equal(other[n], model.weights[n]) for n in other)


#: The smallest layer of all, for the formal checks (a 1x1 array).
FORMAL = dict(d_model=2, heads=1, d_ff=2, seq=2, rows=1, cols=1, layernorm_method="rsqrt",
              layernorm_lut_bits=4, gelu_method="pwl", gelu_segments=2, softmax_lut_bits=1)
#: The bound of the top's formal check: ~5 s. The first output needs ~300 cycles,
#: beyond any bound smtbmc reaches on the layer (depth 25 takes over 300 s), so the
#: proof covers reset and the input streams' first cycles; the output stream's
#: rules under stalls are checked by the testbench's monitors.
FORMAL_DEPTH = 10


@pytest.mark.parametrize("fault", [None, "valid_after_reset"])
def test_formal_stream_rules_of_the_top(fault, tmp_path):
    """The layer's top keeps the stream rules for :data:`FORMAL_DEPTH` cycles
    from reset, with every property in the SMT2 model; a wrapper that raises
    ``o.valid`` after a reset gives a counterexample on ``o.idle_after_reset``."""
    from accelgen.flow import formal
    from accelgen.transformer.rtl import EncoderLayer
    layer = EncoderLayer(calibrate_seeded(EncoderConfig(dataflow="os", **FORMAL)))
    dut = layer if fault is None else formal.FaultyOutput(layer, fault)
    report = formal.check_component(dut, "encoder_layer", work_dir=tmp_path,
                                    depth=FORMAL_DEPTH, modes=("bmc",))
    assert sorted(report.properties["assert"]) == ["o.idle_after_reset", "o.payload_held",
                                                   "o.valid_held"]
    if fault is None:
        assert report.bmc.passed, report.bmc.log
    else:
        assert not report.bmc.passed
        assert formal.FAULTS[fault] in report.bmc.failed, report.bmc.log
