# SPDX-License-Identifier: BSD-2-Clause
"""cocotb drivers and monitors for Amaranth ``lib.stream`` ports.

A stream member ``i`` of a component becomes the ports ``i__valid``,
``i__ready`` and ``i__payload``. All three classes here work on one clock
cycle at a time: they drive on the falling edge and sample in the ``ReadOnly``
phase after it, when every combinational path (``ready`` may depend on
``valid``) has settled; a beat whose ``valid & ready`` is seen there transfers
on the next rising edge. While the reset signal is high nothing transfers.

Random idle (source) and backpressure (sink) are drawn from a seeded
``random.Random`` that the testbench passes in.
"""

from collections import deque

from cocotb.triggers import FallingEdge, ReadOnly

__all__ = ["StreamSource", "StreamSink", "StreamMonitor", "back_to_back"]


def _port(dut, prefix, member):
    """The port ``<prefix>__<member>`` (on a wrapper, the one
    :class:`accelgen.verif.ports.MappedDut` maps to that name)."""
    return getattr(dut, f"{prefix}__{member}")


class _Stream:
    def __init__(self, dut, prefix, clk, reset=None):
        self.valid = _port(dut, prefix, "valid")
        self.ready = _port(dut, prefix, "ready")
        self.payload = _port(dut, prefix, "payload")
        self.width = len(self.payload)
        self.clk = clk
        self.reset = reset
        self.name = prefix

    def _in_reset(self):
        return self.reset is not None and int(self.reset.value)


class StreamSource(_Stream):
    """Drives a stream input of the DUT from a queue of payload bit patterns.

    ``idle`` is the probability of leaving ``valid`` low in a cycle when a beat
    is waiting. While ``valid`` is low the payload carries random junk, so a
    DUT that samples it without ``valid`` is caught. :meth:`clear` drops beats
    not yet sent (used around a reset).
    """

    def __init__(self, dut, prefix, clk, *, rng, idle=0.0, reset=None):
        super().__init__(dut, prefix, clk, reset)
        self.rng = rng
        self.idle = idle
        self.queue = deque()
        self.sent = 0
        self.presenting = False
        self.valid.value = 0
        self.payload.value = rng.getrandbits(self.width)

    def send(self, bits):
        self.queue.append(bits)

    def clear(self):
        """Drop every beat not yet transferred and lower ``valid`` now."""
        self.queue.clear()
        self.presenting = False
        self.valid.value = 0

    @property
    def empty(self):
        return not self.queue

    async def run(self):
        while True:
            await FallingEdge(self.clk)
            if not self.presenting and self.queue and self.rng.random() >= self.idle:
                self.presenting = True
                self.payload.value = self.queue[0]
            elif not self.presenting:
                self.payload.value = self.rng.getrandbits(self.width)
            self.valid.value = int(self.presenting)
            await ReadOnly()
            if self.presenting and int(self.ready.value) and not self._in_reset():
                self.queue.popleft()
                self.sent += 1
                self.presenting = False


class StreamSink(_Stream):
    """Drives ``ready`` of a stream output of the DUT: low with probability
    ``backpressure`` in each cycle."""

    def __init__(self, dut, prefix, clk, *, rng, backpressure=0.0, reset=None):
        super().__init__(dut, prefix, clk, reset)
        self.rng = rng
        self.backpressure = backpressure
        self.ready.value = 0

    async def run(self):
        while True:
            await FallingEdge(self.clk)
            self.ready.value = int(self.rng.random() >= self.backpressure)


class StreamMonitor(_Stream):
    """Watches a stream and calls ``callback(bits)`` for every transferred beat.

    It also checks the handshake rules of an output stream (``check_rules``):
    once ``valid`` is high it stays high, with the payload unchanged, until the
    beat transfers. A violation fails the test at once (``AssertionError``).
    """

    def __init__(self, dut, prefix, clk, callback, *, reset=None, check_rules=True):
        super().__init__(dut, prefix, clk, reset)
        self.callback = callback
        self.check_rules = check_rules
        self.beats = 0
        self.cycles = 0

    async def run(self):
        pending = None  # payload of a beat offered but not yet taken
        while True:
            await FallingEdge(self.clk)
            await ReadOnly()
            self.cycles += 1
            if self._in_reset():
                pending = None
                continue
            valid = int(self.valid.value)
            bits = int(self.payload.value) if valid else None
            if self.check_rules and pending is not None:
                if not valid:
                    raise AssertionError(f"{self.name}: valid dropped before the beat "
                                         f"transferred (cycle {self.cycles})")
                if bits != pending:
                    raise AssertionError(f"{self.name}: payload changed from {pending:#x} to "
                                         f"{bits:#x} while waiting for ready "
                                         f"(cycle {self.cycles})")
            if valid and int(self.ready.value):
                self.beats += 1
                pending = None
                self.callback(bits)
            else:
                pending = bits


async def back_to_back(dut, words, latency):
    """Offer the payloads ``words`` one per cycle with ``o.ready`` held high (so
    ``i.ready`` stays high: a beat it refused would be missing from the results,
    which the caller counts) and return every ``o`` payload, in order: a lean
    driver for the large exhaustive sweeps (one beat per packet), without the
    benches' monitors. Inputs change and outputs are read at falling edges;
    the caller starts the clock and resets the DUT first."""
    dut.o__ready.value = 1
    out = []
    valid, payload = dut.o__valid, dut.o__payload
    for k in range(len(words) + latency + 2):
        await FallingEdge(dut.clk)
        if int(valid.value):
            out.append(int(payload.value))
        if k < len(words):
            dut.i__payload.value = words[k]
            if k == 0:
                dut.i__valid.value = 1
        elif k == len(words):
            dut.i__valid.value = 0
    return out
