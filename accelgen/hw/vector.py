# SPDX-License-Identifier: BSD-2-Clause
"""RTL builders of the vector units (``softmax``, ``layernorm``): a ring of
vector buffers that lets every stage of a multi-pass computation work on a
different vector at once, and serial exact arithmetic (reciprocal, integer
square root) for the per-vector statistics. Their reduction trees are
:func:`accelgen.hw.reduce.reduce_tree`.
"""

from amaranth.hdl import Signal, Cat, Const, Mux, unsigned
from amaranth.lib.memory import Memory

__all__ = ["BufferRing", "beat_rate", "serial_cycles", "serial_reciprocal", "serial_isqrt"]


class BufferRing:
    """``stages`` buffers of ``words`` memory words, passed round a ring of stages.

    Buffer ``b`` is in state ``k`` while stage ``k`` owns it. Stage 0 fills
    buffers (the only writer), later stages read them; when stage ``k`` is done
    with a buffer (:meth:`finish`), the buffer moves to state ``k + 1`` (the last
    stage hands it back to stage 0) and the stage's pointer moves to the next
    buffer. Every stage visits the buffers in the same order, so vectors leave
    in the order they came, and with one buffer per stage every stage can be
    busy at once: a vector per ``max(stage cycles)`` cycles.

    The memory has one write port and one combinational read port per reading
    stage; a buffer's words are at ``Cat(word, buffer)`` (``words`` rounded up
    to a power of two).
    """

    def __init__(self, m, *, stages, words, word_width, readers, name="ring"):
        self.m, self.stages, self.words = m, stages, words
        self.word_bits = max(1, (words - 1).bit_length())
        self.buffer_bits = max(1, (stages - 1).bit_length())
        self.state = [Signal(range(stages), name=f"{name}_state{b}") for b in range(stages)]
        self.pointer = [Signal(range(stages), name=f"{name}_ptr{k}") for k in range(stages)]
        self.count = [Signal(self.word_bits, name=f"{name}_word{k}") for k in range(stages)]
        m.submodules[f"{name}_mem"] = mem = Memory(
            shape=unsigned(word_width), depth=stages << self.word_bits, init=[])
        self.write_port = mem.write_port()
        self.read_ports = {k: mem.read_port(domain="comb") for k in readers}
        for k, port in self.read_ports.items():
            m.d.comb += port.addr.eq(Cat(self.count[k], self.pointer[k]))
        m.d.comb += self.write_port.addr.eq(Cat(self.count[0], self.pointer[0]))
        self.owns = []
        for k in range(stages):
            own = Signal(name=f"{name}_stage{k}_active")
            m.d.comb += own.eq(Cat(*(self.state[b] == k for b in range(stages)))
                               .bit_select(self.pointer[k], 1))
            self.owns.append(own)

    def active(self, k):
        """High while stage ``k`` owns the buffer its pointer is at."""
        return self.owns[k]

    def last_word(self, k):
        return self.count[k] == self.words - 1

    def word(self, k):
        """The word stage ``k`` (a reader) is at, combinationally."""
        return self.read_ports[k].data

    def step(self, k):
        """Statements: stage ``k`` moves to its next word; after the last word
        the buffer is handed on (:meth:`finish`)."""
        m = self.m
        with m.If(self.last_word(k)):
            m.d.sync += self.count[k].eq(0)
            self.finish(k)
        with m.Else():
            m.d.sync += self.count[k].eq(self.count[k] + 1)

    def finish(self, k):
        """Statements: hand stage ``k``'s buffer to the next stage."""
        m = self.m
        for b in range(self.stages):
            with m.If(self.pointer[k] == b):
                m.d.sync += self.state[b].eq((k + 1) % self.stages)
        m.d.sync += self.pointer[k].eq(Mux(self.pointer[k] == self.stages - 1, 0,
                                           self.pointer[k] + 1))

    def write(self, data):
        """Statements: stage 0 writes ``data`` at its word (call when a beat is taken)."""
        return [self.write_port.data.eq(data), self.write_port.en.eq(1)]

    def register(self, shape, name):
        """One register per buffer (a statistic stage ``k`` writes for later stages):
        ``(regs, select)``; ``select(k)`` is the register of stage ``k``'s buffer."""
        regs = [Signal(shape, name=f"{name}{b}") for b in range(self.stages)]

        def select(k):
            value = Signal(shape, name=f"{name}_stage{k}")
            self.m.d.comb += value.eq(regs[0])
            for b in range(1, self.stages):
                with self.m.If(self.pointer[k] == b):
                    self.m.d.comb += value.eq(regs[b])
            return value

        return regs, select

    def store(self, regs, k, value):
        """Statements: ``regs[pointer[k]] = value``."""
        for b in range(self.stages):
            with self.m.If(self.pointer[k] == b):
                self.m.d.sync += regs[b].eq(value)


def beat_rate(words, vector_cycles):
    """Beats per cycle of a vector unit taking ``words`` beats every
    ``vector_cycles`` cycles: 1 (an ``int``) at full rate, else rounded to 4 places."""
    return 1 if words >= vector_cycles else round(words / vector_cycles, 4)


def serial_cycles(bits, per_cycle):
    """Cycles of a serial unit producing ``bits`` result bits, ``per_cycle`` a cycle."""
    return -(-bits // per_cycle)


def serial_reciprocal(m, *, start, divisor, numerator_shift, quotient_bits, name,
                      per_cycle=1):
    """``floor(2**numerator_shift / divisor)`` by restoring division,
    ``per_cycle`` quotient bits per cycle: ``start`` (a strobe) loads
    ``divisor``; ``serial_cycles(quotient_bits, per_cycle)`` cycles later
    ``done`` strobes for one cycle, with the quotient on ``result``
    (combinational, valid with ``done``). The divisor must exceed
    ``2**(numerator_shift - quotient_bits)`` (so the quotient fits) and stay
    constant while the division runs; ``numerator_shift`` must be at least the
    quotient bits rounded up to a multiple of ``per_cycle``.

    Returns ``(result, done)``."""
    cycles = serial_cycles(quotient_bits, per_cycle)
    padded = cycles * per_cycle  # leading quotient bits that are always 0
    assert numerator_shift >= padded
    width = len(divisor) + 1
    rem = Signal(width, name=f"{name}_rem")
    quotient = Signal(padded, name=f"{name}_quotient")
    count = Signal(range(cycles + 1), name=f"{name}_count")
    busy = Signal(name=f"{name}_busy")
    done = Signal(name=f"{name}_done")
    m.d.comb += done.eq(busy & (count == cycles - 1))
    r, bits = rem, []
    for j in range(per_cycle):
        trial = Signal(width + 1, name=f"{name}_trial{j}")
        nxt = Signal(width, name=f"{name}_rem{j}")
        m.d.comb += [trial.eq(Cat(Const(0, 1), r) - divisor),
                     nxt.eq(Mux(trial[-1], Cat(Const(0, 1), r), trial))]
        bits.insert(0, ~trial[-1])
        r = nxt
    with m.If(start):
        m.d.sync += [rem.eq(1 << (numerator_shift - padded)), count.eq(0),
                     quotient.eq(0), busy.eq(1)]
    with m.Elif(busy):
        m.d.sync += [count.eq(count + 1), quotient.eq(Cat(*bits, quotient)), rem.eq(r)]
        with m.If(done):
            m.d.sync += busy.eq(0)
    result = Signal(quotient_bits, name=f"{name}_result")
    m.d.comb += result.eq(Cat(*bits, quotient))
    return result, done


def serial_isqrt(m, *, start, value, root_bits, shift, name, per_cycle=1):
    """``isqrt(value * 4**shift)`` (exact) by the restoring digit recurrence,
    ``per_cycle`` root bits per cycle: ``start`` (a strobe) loads ``value``;
    ``serial_cycles(root_bits, per_cycle)`` cycles later ``done`` strobes with
    the root on ``result`` (combinational, valid with ``done``).
    ``value * 4**shift`` must fit ``2 * root_bits`` bits.

    Returns ``(result, done)``."""
    cycles = serial_cycles(root_bits, per_cycle)
    padded = cycles * per_cycle  # leading root bits that are always 0
    radicand = Signal(2 * padded, name=f"{name}_radicand")
    rem = Signal(padded + 2, name=f"{name}_rem")
    root = Signal(padded, name=f"{name}_root")
    count = Signal(range(cycles + 1), name=f"{name}_count")
    busy = Signal(name=f"{name}_busy")
    done = Signal(name=f"{name}_done")
    m.d.comb += done.eq(busy & (count == cycles - 1))
    r, q = rem, root
    for j in range(per_cycle):
        widened = Signal(padded + 4, name=f"{name}_widened{j}")
        trial = Signal(padded + 2, name=f"{name}_trial{j}")
        fits = Signal(name=f"{name}_fits{j}")
        nxt_r = Signal(padded + 2, name=f"{name}_rem{j}")
        nxt_q = Signal(padded, name=f"{name}_root{j}")
        top = radicand[len(radicand) - 2 * (j + 1):len(radicand) - 2 * j]
        m.d.comb += [widened.eq(Cat(top, r)), trial.eq(Cat(Const(1, 2), q)),
                     fits.eq(widened >= trial),
                     nxt_r.eq(Mux(fits, widened - trial, widened)), nxt_q.eq(Cat(fits, q))]
        r, q = nxt_r, nxt_q
    with m.If(start):
        m.d.sync += [radicand.eq(value << (2 * shift)), rem.eq(0), root.eq(0),
                     count.eq(0), busy.eq(1)]
    with m.Elif(busy):
        m.d.sync += [count.eq(count + 1), radicand.eq(radicand << (2 * per_cycle)),
                     rem.eq(r), root.eq(q)]
        with m.If(done):
            m.d.sync += busy.eq(0)
    result = Signal(root_bits, name=f"{name}_result")
    m.d.comb += result.eq(q)
    return result, done
