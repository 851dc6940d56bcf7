# SPDX-License-Identifier: BSD-2-Clause
"""Packet accumulators: per-packet state that emits one result beat on ``last``."""

from amaranth.hdl import Signal, Cat, signed

__all__ = ["accumulate_packets", "overflow_accumulator"]


def accumulate_packets(m, o, *, advance, valid, last, state):
    """The ending of a streaming accumulator: one output beat per packet.

    ``state`` is a list of ``(register, next, field)``: ``register`` holds the
    packet's running value, ``next`` is its value after the beat at the end of
    the pipeline (``valid``, ``last``), and ``field`` is the part of ``o``'s
    payload it goes to. When ``advance`` is high (the output register may load,
    :func:`accelgen.hw.stream.stall_advance`):

    * ``o.valid`` loads ``valid & last``;
    * a valid beat with ``last`` writes every ``next`` to its ``field`` and
      clears every ``register`` to 0, so the next packet starts afresh;
    * a valid beat without ``last`` loads every ``next`` into its ``register``.

    Nothing changes while ``advance`` is low. The result is on ``o`` the cycle
    after the packet's last beat reaches this stage.
    """
    with m.If(advance):
        m.d.sync += o.valid.eq(valid & last)
        with m.If(valid & last):
            m.d.sync += [field.eq(nxt) for _reg, nxt, field in state]
            m.d.sync += [reg.eq(0) for reg, _nxt, _field in state]
        with m.Elif(valid):
            m.d.sync += [reg.eq(nxt) for reg, nxt, _field in state]


def overflow_accumulator(m, o, *, values, outs, valid, last, advance, width, error=0,
                         error_field=None):
    """A flagged, wrapping packet accumulator (``ant_pe``, ``olive_pe``), built inline.

    Adds a beat's ``values`` (products already reduced to ``signed(width)``,
    with ``outs``, their out-of-range flags) to a ``width``-bit two's-complement
    register, through :func:`accumulate_packets`. The beat's sum and the running
    sum are kept modulo ``2**width``; the packet's ``overflow`` is set when a
    product, the beat's sum or the running sum left ``-2**(width-1) ..
    2**(width-1)-1`` (a sum landing exactly on a bound does not set it). On
    ``last`` the stream ``o`` gets ``acc``, ``overflow`` and, unless
    ``error_field`` is ``None``, the field ``error_field``: the OR of ``error``
    over the packet's beats.
    """
    acc = Signal(signed(width), name="acc")
    overflow = Signal(name="acc_overflow")
    step = Signal(signed(width + 1), name="step")
    step_w = Signal(signed(width), name="step_wrapped")
    total = Signal(signed(width + 1), name="total")
    beat_out = Signal(name="beat_out_of_range")
    result = Signal(signed(width), name="result")
    m.d.comb += [
        step.eq(sum(values[1:], values[0])),
        step_w.eq(step[:width]),
        total.eq(acc + step_w),
        result.eq(total[:width]),
        beat_out.eq(Cat(*outs).any() | (step[width] != step[width - 1]) |
                    (total[width] != total[width - 1])),
    ]
    state = [(acc, result, o.payload.acc),
             (overflow, overflow | beat_out, o.payload.overflow)]
    if error_field is not None:
        flagged = Signal(name="acc_error")
        state.append((flagged, flagged | error, getattr(o.payload, error_field)))
    accumulate_packets(m, o, advance=advance, valid=valid, last=last, state=state)
