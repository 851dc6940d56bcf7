# SPDX-License-Identifier: BSD-2-Clause
"""cocotb testbench of the integer encoder layer RTL against its golden model.

The configuration comes from :data:`ENCODER_ENV` (JSON: the
:class:`~accelgen.transformer.layer.EncoderConfig` fields under ``config``, the
calibration ``seed`` and the array ``pipeline``); the bench recomputes the
model with :func:`~accelgen.transformer.quantize.calibrate_seeded`, so the
calibration and the generated module are the same. Every ``o`` beat is
compared with :func:`accelgen.transformer.golden.encoder_layer`, in order,
with ``o.last`` on each sequence's final beat and nothing more.
"""

import dataclasses
import json
import os

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles, FallingEdge, ReadOnly, RisingEdge

from accelgen.transformer import data, golden, quantize
from accelgen.transformer.layer import EncoderConfig
from accelgen.transformer.plan import LayerPlan
from accelgen.verif.bench import reset, rngs, scaled, start_clock, wait_until
from accelgen.verif.payload import pack, unpack
from accelgen.verif.stream import StreamMonitor, StreamSink, StreamSource

__all__ = ["ENCODER_ENV", "encoder_env", "load_configuration", "weight_beats",
           "token_beats", "expected_beats", "random_weights", "model_inputs", "EncoderBench"]

#: The environment variable holding the configuration under test (JSON).
ENCODER_ENV = "ACCELGEN_ENCODER"

TIMEOUT = {"timeout_time": scaled(2000), "timeout_unit": "ms"}


def encoder_env(config, seed=0, pipeline=0):
    """``{ENCODER_ENV: json}`` for ``config`` (an ``EncoderConfig``), the
    calibration ``seed`` and the array ``pipeline``: what the runner passes."""
    return {ENCODER_ENV: json.dumps({"config": config.as_dict(), "seed": seed,
                                     "pipeline": pipeline})}


def load_configuration():
    """``(model, plan)`` of the configuration in :data:`ENCODER_ENV`."""
    spec = json.loads(os.environ[ENCODER_ENV])
    config = EncoderConfig(**spec["config"])
    model = quantize.calibrate_seeded(config, spec["seed"])
    return model, LayerPlan(model, spec["pipeline"])


def weight_beats(plan, weights):
    """The ``w`` stream of ``weights`` (``model.weights``' dict): ``plan.load_words``
    lists of ``cols`` integers, each tensor of ``plan.load_order`` flattened row
    by row. ``ValueError`` when a tensor's size does not match the plan."""
    cols = plan.config.cols
    beats = []
    for name, _memory, words in plan.load_order:
        flat = np.asarray(weights[name]).reshape(-1)
        if flat.size != words * cols:
            raise ValueError(f"tensor {name} has {flat.size} values, the plan loads "
                             f"{words} words of {cols}")
        beats += [[int(v) for v in flat[k * cols:(k + 1) * cols]] for k in range(words)]
    if len(beats) != plan.load_words:
        raise ValueError(f"{len(beats)} weight beats, the plan loads {plan.load_words}")
    return beats


def token_beats(x, cols):
    """The ``i`` beats of the sequences ``x`` (``(batch, seq, d_model)`` int8
    codes): per sequence, a list of lists of ``cols`` codes, token by token."""
    flat = np.asarray(x).reshape(x.shape[0], -1)
    return [[[int(v) for v in seq[k:k + cols]] for k in range(0, seq.size, cols)]
            for seq in flat]


def expected_beats(model, x):
    """``[(codes, last)]`` per sequence of ``x``: the golden model's ``o`` beats."""
    y = golden.encoder_layer(model, np.asarray(x))
    cols = model.config.cols
    out = []
    for seq in token_beats(y, cols):
        out.append([(codes, int(k == len(seq) - 1)) for k, codes in enumerate(seq)])
    return out


def random_weights(model, rng):
    """A random weight set of ``model``'s shapes: int8 weight matrices and beta,
    int32 biases in ``[-2**14, 2**14)``, gamma codes over the signed
    ``gamma_bits`` range (``rng``: NumPy)."""
    gamma_bits = model.units["layernorm1"].gamma_bits
    out = {}
    for name, value in model.weights.items():
        shape = np.shape(value)
        if name.startswith("gamma"):
            lo, hi = -(1 << (gamma_bits - 1)), 1 << (gamma_bits - 1)
        elif name.startswith("b") and not name.startswith("beta"):
            lo, hi = -(1 << 14), 1 << 14
        else:
            lo, hi = -128, 128
        out[name] = rng.integers(lo, hi, shape).astype(np.asarray(value).dtype)
    return out


def model_inputs(model, np_rng, batch, embedded=True):
    """``batch`` sequences of int8 codes: seeded token embeddings quantized as
    the model's input, or uniform random int8 codes."""
    c = model.config
    if embedded:
        seed = int(np_rng.integers(1 << 30))
        floats = data.embed(data.random_ids(batch, c.seq, seed), c.d_model, seed + 1)
        return quantize.quantize_input(model, floats)
    return np_rng.integers(-128, 128, (batch, c.seq, c.d_model))


class EncoderBench:
    """The layer's streams: ``w`` and ``i`` sources (random idle), an ``o``
    sink (random backpressure), monitors of ``i`` (acceptance cycles) and ``o``
    (beats with their cycles, handshake rules checked)."""

    def __init__(self, dut, model, plan, rng, *, idle=0.0, backpressure=0.0):
        from accelgen.transformer.rtl import EncoderLayer
        layer = EncoderLayer(plan)
        layer._MustUse__silence = True  # built for its port layouts only
        self.w_layout, self.i_layout, self.o_layout = layer.w_layout, layer.i_layout, \
            layer.o_layout
        self.dut, self.model, self.plan = dut, model, plan
        self.cols = plan.config.cols
        self.w = StreamSource(dut, "w", dut.clk, rng=rng, idle=idle, reset=dut.rst)
        self.i = StreamSource(dut, "i", dut.clk, rng=rng, idle=idle, reset=dut.rst)
        self.sink = StreamSink(dut, "o", dut.clk, rng=rng, backpressure=backpressure)
        self.got = []  # (codes, last, cycle) of every o beat
        self.accepted = []  # cycle of every accepted i beat
        self.o_mon = StreamMonitor(dut, "o", dut.clk, self._on_o, reset=dut.rst)
        self.i_mon = StreamMonitor(dut, "i", dut.clk, self._on_i, reset=dut.rst,
                                   check_rules=False)
        self.tasks = [cocotb.start_soon(t.run())
                      for t in (self.w, self.i, self.sink, self.o_mon, self.i_mon)]

    def _on_o(self, bits):
        beat = unpack(self.o_layout, bits)
        self.got.append((beat["data"], beat["last"], self.o_mon.cycles))

    def _on_i(self, _bits):
        self.accepted.append(self.i_mon.cycles)

    def stop(self):
        for task in self.tasks:
            task.cancel()

    def send_weights(self, weights):
        for beat in weight_beats(self.plan, weights):
            self.w.send(pack(self.w_layout, data=beat))

    async def load(self, weights):
        """Send a weight set and wait until its last beat is taken."""
        self.send_weights(weights)
        await wait_until(self.dut, lambda: self.w.empty and not self.w.presenting,
                         20 * self.plan.load_words + 100, "the weight stream to be taken")
        await RisingEdge(self.dut.clk)

    def send_tokens(self, x):
        for seq in token_beats(x, self.cols):
            for beat in seq:
                self.i.send(pack(self.i_layout, data=beat))

    def sequence_bound(self):
        """A generous cycle bound for one sequence under stalls."""
        c = self.plan.config
        macs = c.seq * (4 * c.d_model * c.d_model + 2 * c.seq * c.d_model
                        + 2 * c.d_model * c.d_ff)
        return 40 * (macs // (c.rows * c.cols) + c.seq * (c.d_model + c.d_ff)) + 5000

    async def run(self, x, model=None, what="sequences"):
        """Send the sequences ``x`` (after the weights are loaded), wait for their
        output and compare it with the golden model of ``model`` (default: the
        bench's): every beat, its ``last``, in order, nothing more."""
        want = [beat for seq in expected_beats(model or self.model, x) for beat in seq]
        start = len(self.got)
        self.send_tokens(x)
        await wait_until(self.dut, lambda: len(self.got) - start >= len(want),
                         self.sequence_bound() * len(x), f"{len(want)} output beats of {what}")
        await ClockCycles(self.dut.clk, 100)  # nothing more may come
        got = self.got[start:]
        assert self.i.empty, "input beats were not all taken"
        assert len(got) == len(want), f"{what}: {len(got)} output beats, expected {len(want)}"
        errors = [(k, g[:2], w) for k, (g, w) in enumerate(zip(got, want))
                  if g[0] != w[0] or g[1] != w[1]]
        assert not errors, (f"{what}: {len(errors)} of {len(want)} beats differ from the "
                            f"golden model, first (beat, got, expected) {errors[:2]}")
        self.dut._log.info("%s: %d sequences, %d output beats match the golden model",
                           what, len(x), len(want))
        return got

    async def reset(self, cycles=2):
        """Drop every queued beat and hold reset for ``cycles`` cycles."""
        self.w.clear()
        self.i.clear()
        await reset(self.dut, cycles)


async def _start(dut, salt, idle=0.0, backpressure=0.0):
    model, plan = load_configuration()
    rng, np_rng = rngs(dut, salt)
    dut._log.info("encoder layer %s, pipeline %d, %d weight beats, %d passes",
                  plan.config.label, plan.pipeline, plan.load_words, len(plan.passes))
    start_clock(dut)
    bench = EncoderBench(dut, model, plan, rng, idle=idle, backpressure=backpressure)
    await reset(dut)
    return bench, model, plan, rng, np_rng


@cocotb.test(**TIMEOUT)
async def sequences_under_stalls(dut):
    """The weights under random ``w`` idle, then three sequences (embedded tokens
    and random codes) under random ``i`` idle and ``o`` backpressure."""
    bench, model, _plan, _rng, np_rng = await _start(dut, 1, idle=0.3, backpressure=0.3)
    await bench.load(model.weights)
    x = np.concatenate([model_inputs(model, np_rng, 2),
                        model_inputs(model, np_rng, 1, embedded=False)])
    await bench.run(x, what="three sequences under stalls")
    bench.stop()


@cocotb.test(**TIMEOUT)
async def reset_mid_stream(dut):
    """Reset once during the weight load and once in the middle of a sequence:
    nothing comes out afterwards, a sequence is not taken before the weights
    are loaded again, and then the results are again bit-exact."""
    bench, model, plan, rng, np_rng = await _start(dut, 2, idle=0.2, backpressure=0.2)
    # reset during the weight load
    bench.send_weights(model.weights)
    at = rng.randrange(1, plan.load_words - 1)
    await wait_until(dut, lambda: bench.w.sent >= at, 20 * plan.load_words, "weight beats")
    dut._log.info("reset after %d of %d weight beats", bench.w.sent, plan.load_words)
    await bench.reset()
    await _forgot_weights(bench, model, np_rng)
    # one full sequence to learn how long one takes, then a reset inside the next
    await bench.load(model.weights)
    x = model_inputs(model, np_rng, 1)
    first = len(bench.accepted)
    await bench.run(x, what="the sequence before the reset")
    length = bench.got[-1][2] - bench.accepted[first] + 1
    x = model_inputs(model, np_rng, 1)
    want = expected_beats(model, x)[0]
    start, first = len(bench.got), len(bench.accepted)
    bench.send_tokens(x)
    await wait_until(dut, lambda: len(bench.accepted) > first, 1000, "the sequence to start")
    delay = rng.randrange(1, max(2, length - 1))
    for _ in range(delay):
        await RisingEdge(dut.clk)
        if len(bench.got) - start >= len(want):
            break
    before = bench.got[start:]
    dut._log.info("reset %d cycles into a sequence (of about %d), after %d of %d "
                  "output beats", delay, length, len(before), len(want))
    assert [g[:2] for g in before] == want[:len(before)], \
        "the output before the reset differs from the golden model"
    await bench.reset()
    await _forgot_weights(bench, model, np_rng)
    await bench.load(model.weights)
    await bench.run(model_inputs(model, np_rng, 2), what="two sequences after the reset")
    bench.stop()


async def _forgot_weights(bench, model, np_rng, cycles=200):
    """After a reset: no ``o`` beat, and a sequence offered on ``i`` is not
    taken (``i.ready`` low) for ``cycles`` cycles; the beats are then dropped."""
    dut = bench.dut
    got, accepted = len(bench.got), len(bench.accepted)
    bench.send_tokens(model_inputs(model, np_rng, 1, embedded=False))
    for _ in range(cycles):
        await FallingEdge(dut.clk)
        await ReadOnly()
        assert not int(dut.o__valid.value), "o.valid after a reset without new work"
        assert not int(dut.i__ready.value), "i.ready after a reset before the weights"
    assert len(bench.got) == got, "an output beat after the reset"
    assert len(bench.accepted) == accepted, "an input beat taken before the weights"
    await RisingEdge(dut.clk)
    bench.i.clear()


@cocotb.test(**TIMEOUT)
async def weights_reloaded(dut):
    """A random weight set, then the calibrated one again, loaded between
    sequences: each sequence bit-exact with the golden model of its weights."""
    bench, model, _plan, _rng, np_rng = await _start(dut, 3, idle=0.2, backpressure=0.2)
    other = dataclasses.replace(model, weights=random_weights(model, np_rng))
    await bench.load(model.weights)
    await bench.run(model_inputs(model, np_rng, 1), what="the calibrated weights")
    await bench.load(other.weights)
    await bench.run(model_inputs(model, np_rng, 1), model=other,
                    what="random weights (embedded tokens)")
    await bench.run(model_inputs(model, np_rng, 1, embedded=False), model=other,
                    what="random weights (random codes)")
    await bench.load(model.weights)
    await bench.run(model_inputs(model, np_rng, 1), what="the calibrated weights again")
    bench.stop()


@cocotb.test(**TIMEOUT)
async def sequence_cycles(dut):
    """Without stalls (``i`` always valid, ``o`` always ready; the two sequences
    back to back), each takes
    ``accelgen.transformer.cycles.sequence_cycles(plan)`` cycles from the
    acceptance of its first ``i`` beat to the transfer of its last ``o`` beat,
    both included."""
    from accelgen.transformer.cycles import sequence_cycles as model_cycles
    bench, model, plan, _rng, np_rng = await _start(dut, 4)
    want = model_cycles(plan)
    await bench.load(model.weights)
    beats = plan.config.seq * plan.config.d_model // plan.config.cols
    first = len(bench.accepted)
    await bench.run(model_inputs(model, np_rng, 2), what="two sequences without stalls")
    accepted = bench.accepted[first:]
    assert len(accepted) == 2 * beats, f"{len(accepted)} input beats taken, sent {2 * beats}"
    ends = bench.got[-2 * beats:]
    measured = [ends[(k + 1) * beats - 1][2] - accepted[k * beats] + 1 for k in range(2)]
    dut._log.info("sequence cycles measured %s, cycles.sequence_cycles %d", measured, want)
    assert measured == [want] * len(measured), \
        f"sequences took {measured} cycles, cycles.sequence_cycles(plan) = {want}"
    bench.stop()
