# SPDX-License-Identifier: BSD-2-Clause
"""RTL builders of the vector units (``softmax``, ``layernorm``): a ring of
vector buffers that lets every stage of a multi-pass computation work on a
different vector at once, and serial exact arithmetic (reciprocal, integer
square root) for the per-vector statistics. Their reduction trees are
:func:`accelgen.hw.reduce.reduce_tree`.
"""

from amaranth.hdl import Signal, Cat, Const, Mux, signed, unsigned
from amaranth.lib.memory import Memory

__all__ = ["BufferRing", "beat_rate", "serial_cycles", "serial_reciprocal", "serial_isqrt"]


class BufferRing:
    """``stages`` buffers of ``words`` memory words, passed round a ring of stages.

    Buffer ``b`` is in state ``k`` while stage ``k`` owns it. Stage 0 fills
    buffers (the only writer), later stages read them; when stage ``k`` is done
    with a buffer (after the last :meth:`step`, or :meth:`finish`), the buffer
    moves to state ``k + 1`` (the last stage hands it back to stage 0) and the
    stage's pointer moves to the next buffer. Every stage visits the buffers in
    the same order, so vectors leave in the order they came, and with one
    buffer per stage every stage can be busy at once: a vector per
    ``max(stage cycles)`` cycles.

    Storage: one ``Memory`` of ``word_width``-bit words, ``stages * 2**w``
    deep (``w = ceil(log2(words))``, at least 1: a buffer's words are at
    ``Cat(word, buffer)``), with one write port and, per reading stage, a
    synchronous read: a read port whose output goes straight into a register
    with no reset or enable, which synthesis merges into the port, so that the
    memory maps to block RAM. (The register is kept outside the port so that
    formal flows that take only asynchronous-read memories, such as Yosys'
    ``write_smt2`` after ``prep``, read the design unchanged.) Each read is
    prefetched: its address is the word and buffer the stage will be at in
    the *next* cycle (the current ones, unless the stage steps or finishes
    this cycle), so that the register holds, in every cycle, the word the
    stage is at: :meth:`word` behaves as a combinational read with no added
    latency, and a stage still takes one word per cycle.

    Read during write: a reader never samples the address of a word in the
    cycle it is written unless ``words == 1``. Stage 1 is the first to read a
    buffer: stage 0 writes word ``j`` at least ``words - 1 - j`` cycles before
    its last word, and stage 1 samples word ``j``'s address at least ``j``
    cycles after that last word, the same cycle only when ``words == 1``.
    Later stages read buffers finished at least two cycles before, and stage 0
    writes only buffers the last stage has left. So stage 1's read is
    transparent (the written word bypasses the memory) when ``words == 1``,
    and no read is otherwise. The memory says so to synthesis with Yosys'
    ``no_rw_check`` attribute: no collision logic is built between the
    block RAM's output and the stage's logic. After a synchronous reset the
    read registers are stale for one cycle; no stage owns a buffer to read in
    that cycle.

    The ring's own registers (counts, pointers, states) are updated by the
    ring from the strobes :meth:`step` and :meth:`finish` raise, so callers
    call them under their own conditions, in any order, but only while the
    stage is :meth:`active` (a buffer's state moves on when the stage that
    owns it is done with it). :meth:`active` and :meth:`last_word` are
    registers loaded with their next values, and a reader's next address is
    chosen among registered candidates (the word it is at, the next word, the
    next buffer's first word) by its strobes, so that only a multiplexer lies
    between a stage's stall logic and the block RAM's read address.
    """

    def __init__(self, m, *, stages, words, word_width, readers, name="ring"):
        self.m, self.stages, self.words = m, stages, words
        self.word_bits = max(1, (words - 1).bit_length())
        self.buffer_bits = max(1, (stages - 1).bit_length())
        self.state = [Signal(range(stages), name=f"{name}_state{b}") for b in range(stages)]
        self.pointer = [Signal(range(stages), name=f"{name}_ptr{k}") for k in range(stages)]
        self.count = [Signal(self.word_bits, name=f"{name}_word{k}") for k in range(stages)]
        self.stepping = [Signal(name=f"{name}_stage{k}_step") for k in range(stages)]
        self.finishing = [Signal(name=f"{name}_stage{k}_finish") for k in range(stages)]
        # Flags kept in registers, each loaded with its next value (so they
        # equal their combinational definitions in every cycle): stage k is at
        # its buffer's last word; stage k owns the buffer its pointer is at
        # (after reset stage 0 owns every buffer, at word 0).
        self.at_last = [Signal(name=f"{name}_stage{k}_last", init=int(words == 1))
                        for k in range(stages)]
        self.owns = [Signal(name=f"{name}_stage{k}_active", init=int(k == 0))
                     for k in range(stages)]
        next_count = [Signal(self.word_bits, name=f"{name}_next_word{k}") for k in range(stages)]
        next_pointer = [Signal(range(stages), name=f"{name}_next_ptr{k}")
                        for k in range(stages)]
        next_state = [Signal(range(stages), name=f"{name}_next_state{b}")
                      for b in range(stages)]
        done = [Signal(name=f"{name}_stage{k}_done") for k in range(stages)]
        for k in range(stages):
            m.d.comb += [
                done[k].eq(self.finishing[k] | (self.stepping[k] & self.at_last[k])),
                next_count[k].eq(Mux(self.stepping[k],
                                     Mux(self.at_last[k], 0, self.count[k] + 1),
                                     self.count[k])),
                next_pointer[k].eq(Mux(done[k], _following(self.pointer[k], stages),
                                       self.pointer[k])),
            ]
            m.d.sync += [self.count[k].eq(next_count[k]), self.pointer[k].eq(next_pointer[k]),
                         self.at_last[k].eq(next_count[k] == words - 1)]
        # Buffer ``b`` moves on when the stage that owns it is done with it: only
        # that stage can be (it steps or finishes only while active), so the
        # new state is ``state + 1``, with no priority among the stages.
        for b in range(stages):
            handed = Signal(name=f"{name}_buffer{b}_handed")
            m.d.comb += [
                handed.eq(Cat(*(done[k] & (self.pointer[k] == b) & (self.state[b] == k)
                                for k in range(stages))).any()),
                next_state[b].eq(Mux(handed, _following(self.state[b], stages),
                                     self.state[b])),
            ]
            m.d.sync += self.state[b].eq(next_state[b])
        for k in range(stages):
            m.d.sync += self.owns[k].eq(Cat(*(next_state[b] == k for b in range(stages)))
                                        .bit_select(next_pointer[k], 1))
        # ``no_rw_check``: no read samples a word in the cycle it is written but
        # the one-word case, which bypasses the memory (below), so synthesis need
        # not build collision logic after the block RAM's output.
        m.submodules[f"{name}_mem"] = mem = Memory(
            shape=unsigned(word_width), depth=stages << self.word_bits, init=[],
            attrs={"no_rw_check": 1})
        self.write_port = write = mem.write_port()
        m.d.comb += write.addr.eq(Cat(self.count[0], self.pointer[0]))
        self.read_data = {}
        for k in readers:
            port = mem.read_port(domain="comb")
            data = Signal(word_width, name=f"{name}_data{k}", reset_less=True)
            m.d.comb += port.addr.eq(self._read_address(k, next_count[k], next_pointer[k],
                                                        done[k], name))
            if words == 1 and k == 1:  # transparent: the write's data wins
                m.d.sync += data.eq(Mux(write.en & (write.addr == port.addr),
                                        write.data, port.data))
            else:
                m.d.sync += data.eq(port.data)
            self.read_data[k] = data

    def _read_address(self, k, next_count, next_pointer, done, name):
        """Reader ``k``'s prefetch address, ``Cat(next_count, next_pointer)``
        rebuilt from registers (the word and buffer it is at, the next word, the
        next buffer) so that only a multiplexer lies between the stage's
        strobes and the block RAM's address."""
        m = self.m
        ahead = Signal(self.word_bits, name=f"{name}_stage{k}_ahead", init=1)
        wrapped = Signal(range(self.stages), name=f"{name}_stage{k}_wrapped",
                         init=int(self.stages > 1))
        # Loaded with the candidates of the next cycle (reset: word 0 of buffer 0).
        m.d.sync += [ahead.eq(next_count + 1),
                     wrapped.eq(_following(next_pointer, self.stages))]
        address = Signal(self.word_bits + self.buffer_bits, name=f"{name}_stage{k}_address")
        m.d.comb += address.eq(Cat(Mux(self.stepping[k], Mux(self.at_last[k], 0, ahead),
                                       self.count[k]),
                                   Mux(done, wrapped, self.pointer[k])))
        return address

    def active(self, k):
        """High while stage ``k`` owns the buffer its pointer is at (a register)."""
        return self.owns[k]

    def last_word(self, k):
        """High while stage ``k`` is at the last word of its buffer (a register)."""
        return self.at_last[k]

    def word(self, k):
        """The word stage ``k`` (a reader) is at: the registered output of its
        prefetched read port, valid in every cycle the stage is :meth:`active`."""
        return self.read_data[k]

    def step(self, k):
        """Statements: stage ``k`` moves to its next word at the end of this
        cycle; after the last word the buffer is handed on (as :meth:`finish`).
        Call under the condition that the stage takes (or writes) its word."""
        self.m.d.comb += self.stepping[k].eq(1)

    def finish(self, k):
        """Statements: hand stage ``k``'s buffer to the next stage at the end
        of this cycle (for a stage that does not :meth:`step`)."""
        self.m.d.comb += self.finishing[k].eq(1)

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

    def store(self, regs, k, value, *, buffer=None):
        """Statements: ``regs[pointer[k]] = value`` (``regs[buffer]`` when given: a
        stage whose result lands after its pointer has moved on)."""
        at = self.pointer[k] if buffer is None else buffer
        for b in range(self.stages):
            with self.m.If(at == b):
                self.m.d.sync += regs[b].eq(value)


def _following(value, count):
    """``value + 1`` modulo ``count`` (a ring position)."""
    return Mux(value == count - 1, 0, value + 1)


def beat_rate(words, vector_cycles):
    """Beats per cycle of a vector unit taking ``words`` beats every
    ``vector_cycles`` cycles: 1 (an ``int``) at full rate, else rounded to 4 places."""
    return 1 if words >= vector_cycles else round(words / vector_cycles, 4)


def serial_cycles(bits, per_cycle):
    """Cycles of a serial unit producing ``bits`` result bits, ``per_cycle`` a cycle."""
    return -(-bits // per_cycle)


def _serial_control(m, start, cycles, name):
    """``(busy, done)`` of a serial unit that works ``cycles`` cycles after the
    ``start`` strobe: ``busy`` from the cycle after ``start`` to the ``done``
    cycle, the last. ``done`` is a register (loaded a cycle ahead from the
    count), so that what it drives starts at a flip-flop."""
    count = Signal(range(cycles + 1), name=f"{name}_count")
    busy = Signal(name=f"{name}_busy")
    done = Signal(name=f"{name}_done")
    with m.If(start):
        m.d.sync += [count.eq(0), busy.eq(1), done.eq(cycles == 1)]
    with m.Elif(busy):
        m.d.sync += [count.eq(count + 1), done.eq(count == cycles - 2 if cycles > 1 else 0)]
        with m.If(done):
            m.d.sync += [busy.eq(0), done.eq(0)]
    return busy, done


def serial_reciprocal(m, *, start, divisor, numerator_shift, quotient_bits, name,
                      per_cycle=1, registered=False):
    """``floor(2**numerator_shift / divisor)`` by non-restoring division,
    ``per_cycle`` quotient bits per cycle: ``start`` (a strobe) starts it;
    ``serial_cycles(quotient_bits, per_cycle)`` cycles later ``done`` strobes
    for one cycle, with the quotient on ``result`` (combinational, valid with
    ``done``). ``divisor`` is first read in the cycle after ``start`` (so it
    may be registered in the start cycle itself) and must then stay constant
    until ``done``; it must exceed ``2**(numerator_shift - quotient_bits)``
    (so the quotient fits). ``numerator_shift`` must be at least the
    quotient bits rounded up to a multiple of ``per_cycle``.

    Each step is one add/subtract of ``divisor`` to twice the signed partial
    remainder ``r`` (``2r - divisor`` when ``r >= 0``, else ``2r + divisor``),
    chosen by ``r``'s sign bit, a register at the start of the cycle (with
    ``per_cycle > 1``, the previous step's sign): there is no restoring
    multiplexer after the carry chain. Its quotient bit is ``r >= 0`` after the
    step, the bit of restoring division (the two remainders are equal when
    non-negative, and ``r = R - divisor`` otherwise), so the result needs no
    correction.

    ``registered=True`` gives the quotient from its register instead, with
    ``done`` a cycle later (``serial_cycles(...) + 1`` cycles after ``start``):
    what reads the result starts at a flip-flop.

    Returns ``(result, done)``."""
    cycles = serial_cycles(quotient_bits, per_cycle)
    padded = cycles * per_cycle  # leading quotient bits that are always 0
    assert numerator_shift >= padded
    # -divisor <= r < divisor; 2r +- divisor before the step lands in the same range
    width = len(divisor) + 2
    rem = Signal(signed(width), name=f"{name}_rem")
    quotient = Signal(padded, name=f"{name}_quotient")
    busy, done = _serial_control(m, start, cycles, name)
    r, bits = rem, []
    for j in range(per_cycle):
        nxt = Signal(signed(width), name=f"{name}_rem{j}")
        twice = Cat(Const(0, 1), r[:-1]).as_signed()
        m.d.comb += nxt.eq(Mux(r[-1], twice + divisor, twice - divisor))
        bits.insert(0, ~nxt[-1])
        r = nxt
    with m.If(start):
        m.d.sync += [rem.eq(1 << (numerator_shift - padded)), quotient.eq(0)]
    with m.Elif(busy):
        m.d.sync += [quotient.eq(Cat(*bits, quotient)), rem.eq(r)]
    result = Signal(quotient_bits, name=f"{name}_result")
    if registered:
        late = Signal(name=f"{name}_done_late")
        m.d.sync += late.eq(done)
        m.d.comb += result.eq(quotient)
        return result, late
    m.d.comb += result.eq(Cat(*bits, quotient))
    return result, done


def serial_isqrt(m, *, start, value, root_bits, shift, name, per_cycle=1, registered=False):
    """``isqrt(value * 4**shift)`` (exact) by the non-restoring digit recurrence,
    ``per_cycle`` root bits per cycle: ``start`` (a strobe) loads ``value``;
    ``serial_cycles(root_bits, per_cycle)`` cycles later ``done`` strobes with
    the root on ``result`` (combinational, valid with ``done``).
    ``value * 4**shift`` must fit ``2 * root_bits`` bits.

    With root ``q`` so far and the next two radicand bits ``t``, a step takes
    the signed partial remainder ``r`` to ``4r + t - (4q + 1)`` when ``r >= 0``
    and to ``4r + t + (4q + 3)`` when ``r < 0`` (one add/subtract chosen by
    ``r``'s sign bit, a register at the start of the cycle; with ``per_cycle >
    1``, the previous step's sign), and appends the root bit ``r >= 0``: the
    bit of the restoring recurrence, whose remainder is ``r`` when
    non-negative and ``r + 2q + 1`` otherwise, so the root needs no correction.

    ``registered=True`` gives the root from its register instead (it holds
    until the next ``start``), with ``done`` a cycle later.

    Returns ``(result, done)``."""
    cycles = serial_cycles(root_bits, per_cycle)
    padded = cycles * per_cycle  # leading root bits that are always 0
    width = padded + 3  # -(2q + 1) <= r <= 2q, q < 2**padded
    radicand = Signal(2 * padded, name=f"{name}_radicand")
    rem = Signal(signed(width), name=f"{name}_rem")
    root = Signal(padded, name=f"{name}_root")
    busy, done = _serial_control(m, start, cycles, name)
    r, q = rem, root
    for j in range(per_cycle):
        widened = Signal(signed(width + 2), name=f"{name}_widened{j}")  # 4r + t
        term = Signal(padded + 2, name=f"{name}_term{j}")  # 4q + 1, or 4q + 3 when r < 0
        nxt_r = Signal(signed(width), name=f"{name}_rem{j}")
        nxt_q = Signal(padded, name=f"{name}_root{j}")
        top = radicand[len(radicand) - 2 * (j + 1):len(radicand) - 2 * j]
        m.d.comb += [widened.eq(Cat(top, r).as_signed()), term.eq(Cat(Const(1, 1), r[-1], q)),
                     nxt_r.eq(Mux(r[-1], widened + term, widened - term)),
                     nxt_q.eq(Cat(~nxt_r[-1], q))]
        r, q = nxt_r, nxt_q
    with m.If(start):
        m.d.sync += [radicand.eq(value << (2 * shift)), rem.eq(0), root.eq(0)]
    with m.Elif(busy):
        m.d.sync += [radicand.eq(radicand << (2 * per_cycle)), rem.eq(r), root.eq(q)]
    result = Signal(root_bits, name=f"{name}_result")
    if registered:
        late = Signal(name=f"{name}_done_late")
        m.d.sync += late.eq(done)
        m.d.comb += result.eq(root)
        return result, late
    m.d.comb += result.eq(q)
    return result, done
