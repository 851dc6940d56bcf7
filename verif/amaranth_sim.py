# SPDX-License-Identifier: BSD-2-Clause
"""Stream helpers for Amaranth's Python simulator (the tests' second tier).

The same conventions as :mod:`accelgen.verif.stream`, as Amaranth async
testbench steps: :func:`stream_put` / :func:`stream_get` with random idle and
backpressure, and :func:`simulate`, which fails when a testbench has not
finished within its cycle budget instead of hanging. The tests' two usual
drivers are written once on top of them: :func:`run_stream` (a source and a
sink around a streaming unit), :func:`run_vectors` (the same for the vector
units, a vector in ``words`` beats) and :func:`sweep_combinational` (every
input row of a combinational unit).
"""

from amaranth.sim import Simulator

__all__ = ["simulate", "stream_put", "stream_get", "run_stream", "run_vectors",
           "run_back_to_back",
           "sweep_combinational", "every_value", "PERIOD"]

PERIOD = 1e-8


def simulate(dut, *testbenches, max_cycles, clock=True, vcd=None):
    """Run the async ``testbenches`` on ``dut`` until they finish; return the clock
    cycles that took (0 without a clock). ``AssertionError`` if any of them is
    unfinished after ``max_cycles`` clock periods."""
    finished = []

    def tracked(bench):
        async def run(ctx):
            await bench(ctx)
            finished.append(bench)
        return run

    elapsed = [0]
    sim = Simulator(dut)
    for bench in testbenches:
        sim.add_testbench(tracked(bench))
    if clock:
        sim.add_clock(PERIOD)
        timed_out = []

        async def watchdog(ctx):
            for _ in range(max_cycles):
                await ctx.tick()
                elapsed[0] += 1
            timed_out.append(True)

        sim.add_testbench(watchdog, background=True)

        def run():
            # advance() is true while a (non-background) testbench is unfinished.
            while sim.advance() and not timed_out:
                pass
    else:
        # Without a clock, time only advances through the testbenches' own delays.
        run = sim.run
    if vcd:
        with sim.write_vcd(vcd):
            run()
    else:
        run()
    if len(finished) != len(testbenches):
        raise AssertionError(f"{len(testbenches) - len(finished)} testbench(es) did not "
                             f"finish within {max_cycles} cycles")
    return elapsed[0]


async def stream_put(ctx, stream, payload, *, rng=None, idle=0.0):
    """Offer ``payload`` on ``stream`` (after random idle cycles) until it is taken.

    ``payload`` is a value of the payload's shape (a dict for a struct), or an
    ``int`` of raw bits, for bit patterns the shape cannot express (e.g. an enum
    field holding a code that has no member)."""
    while rng is not None and rng.random() < idle:
        await ctx.tick()
    if isinstance(payload, int) and hasattr(stream.payload, "as_value"):
        ctx.set(stream.payload.as_value(), payload)
    else:
        ctx.set(stream.payload, payload)
    ctx.set(stream.valid, 1)
    await ctx.tick().until(stream.ready)
    ctx.set(stream.valid, 0)


async def stream_get(ctx, stream, *, rng=None, backpressure=0.0):
    """Take one beat from ``stream`` (after random cycles of ``ready`` low)."""
    while rng is not None and rng.random() < backpressure:
        await ctx.tick()
    ctx.set(stream.ready, 1)
    payload, = await ctx.tick().sample(stream.payload).until(stream.valid)
    ctx.set(stream.ready, 0)
    return payload


def run_stream(dut, beats, results, *, max_cycles, read=None, rng=None, idle=0.0,
               backpressure=0.0, source=None, sink=None):
    """Offer every payload of ``beats`` in order on ``source`` (default ``dut.i``)
    while taking ``results`` beats from ``sink`` (default ``dut.o``); return
    ``[read(payload)]`` of the beats taken (``read`` defaults to the payload itself).

    ``rng`` (a ``random.Random``, shared by both sides, so a seed fixes the whole
    stall pattern) draws ``idle`` cycles before each input beat and
    ``backpressure`` cycles of ``ready`` low before each output beat; without it
    both sides run back to back. Payloads are as :func:`stream_put` takes them.
    ``AssertionError`` (from :func:`simulate`) unless both sides finish within
    ``max_cycles``."""
    source = dut.i if source is None else source
    sink = dut.o if sink is None else sink
    read = (lambda payload: payload) if read is None else read
    got = []

    async def put(ctx):
        for beat in beats:
            await stream_put(ctx, source, beat, rng=rng, idle=idle)

    async def get(ctx):
        for _ in range(results):
            got.append(read(await stream_get(ctx, sink, rng=rng, backpressure=backpressure)))

    simulate(dut, put, get, max_cycles=max_cycles)
    return got


def run_vectors(dut, params, columns, *, rng=None, idle=0.0, backpressure=0.0):
    """:func:`run_stream` for the vector units (``softmax``, ``layernorm``):
    ``columns`` maps each input field (``x``, and ``gamma``/``beta`` when
    present) to a ``(vectors, n)`` array of codes; each vector goes in as
    ``params.words`` beats of ``params.lanes`` codes. Returns the ``(vectors, n)``
    output codes ``y`` as nested lists; ``AssertionError`` unless ``last`` marks
    exactly each vector's final output beat. The cycle budget is six times
    ``params.vector_cycles`` per vector plus 500."""
    words, lanes = params.words, params.lanes
    count = len(next(iter(columns.values())))
    beats = [{name: [int(v) for v in codes[k][j * lanes:(j + 1) * lanes]]
              for name, codes in columns.items()}
             for k in range(count) for j in range(words)]
    got = run_stream(dut, beats, count * words,
                     max_cycles=count * params.vector_cycles * 6 + 500,
                     read=lambda beat: (int(beat.last), [int(v) for v in beat.y]),
                     rng=rng, idle=idle, backpressure=backpressure)
    lasts = [last for last, _y in got]
    if lasts != [int(j == words - 1) for j in range(words)] * count:
        raise AssertionError(f"o.last is not on the last of every {words} beats: {lasts}")
    return [[y for _last, row in got[k * words:(k + 1) * words] for y in row]
            for k in range(count)]


def sweep_combinational(dut, rows, outputs):
    """Drive each row of ``rows`` (``{input port name: value}``) on the
    combinational ``dut`` and return, per row, the tuple of the ``outputs``
    (port names) once they have settled."""
    got = []

    async def bench(ctx):
        for row in rows:
            for name, value in row.items():
                ctx.set(getattr(dut, name), int(value))
            await ctx.delay(1e-9)
            got.append(tuple(ctx.get(getattr(dut, name)) for name in outputs))

    simulate(dut, bench, max_cycles=0, clock=False)
    return got


def every_value(shape):
    """Every value of the Amaranth ``shape``, in increasing order (for
    exhaustive sweeps of narrow operands)."""
    if shape.signed:
        return range(-(1 << (shape.width - 1)), 1 << (shape.width - 1))
    return range(1 << shape.width)


def run_back_to_back(dut, payloads, latency, read):
    """Offer ``payloads`` (values for ``i.payload``) one per cycle with ``o.ready``
    high and return ``(taken, seen)``: the cycles in which each input beat was
    taken, and ``(cycle, read(o.payload))`` of every output beat, for checks of
    latency and throughput (beat ``n`` taken at cycle ``n``, its result at
    ``n + latency``)."""
    taken, seen = [], []

    async def bench(ctx):
        ctx.set(dut.o.ready, 1)
        for cycle in range(len(payloads) + latency + 5):
            if len(taken) < len(payloads):
                ctx.set(dut.i.payload, payloads[len(taken)])
            ctx.set(dut.i.valid, len(taken) < len(payloads))
            _, _, i_ready, i_valid, o_valid, out = await ctx.tick().sample(
                dut.i.ready, dut.i.valid, dut.o.valid, dut.o.payload)
            if i_ready and i_valid:
                taken.append(cycle)
            if o_valid:
                seen.append((cycle, read(out)))

    simulate(dut, bench, max_cycles=len(payloads) + latency + 100)
    return taken, seen
