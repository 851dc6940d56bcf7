# SPDX-License-Identifier: BSD-2-Clause
"""Stream helpers for Amaranth's Python simulator (the tests' second tier).

The same conventions as :mod:`accelgen.verif.stream`, as Amaranth async
testbench steps: :func:`stream_put` / :func:`stream_get` with random idle and
backpressure, and :func:`simulate`, which fails when a testbench has not
finished within its cycle budget instead of hanging.
"""

from amaranth.sim import Simulator

__all__ = ["simulate", "stream_put", "stream_get", "PERIOD"]

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
