# SPDX-License-Identifier: BSD-2-Clause
"""Packet accumulators: per-packet state that emits one result beat on ``last``."""

from amaranth.hdl import Signal, Cat, signed

__all__ = ["accumulate_packets", "overflow_accumulator", "beat_sum"]


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
    step, step_out = beat_sum(m, values, outs, width, prefix="step_")
    total = Signal(signed(width + 1), name="total")
    beat_out = Signal(name="beat_out_of_range")
    result = Signal(signed(width), name="result")
    m.d.comb += [total.eq(acc + step), result.eq(total[:width]),
                 beat_out.eq(step_out | ~_fits(total, width))]
    state = [(acc, result, o.payload.acc),
             (overflow, overflow | beat_out, o.payload.overflow)]
    if error_field is not None:
        flagged = Signal(name="acc_error")
        state.append((flagged, flagged | error, getattr(o.payload, error_field)))
    accumulate_packets(m, o, advance=advance, valid=valid, last=last, state=state)


def beat_sum(m, values, outs, width, prefix="beat_"):
    """``(value, out)``: the sum of a beat's ``values`` (``signed(width)``) modulo
    ``2**width`` as ``signed(width)``, and its flag: one of ``outs`` set, or the
    exact sum outside ``signed(width)``'s range. Given to
    :func:`overflow_accumulator` as its one value and flag, they give the same
    result and ``overflow`` as the ``values`` and ``outs`` themselves, so a
    register may sit between the two (``olive_pe``'s cut 4). Combinational."""
    step = Signal(signed(width + (len(values) - 1).bit_length()), name=f"{prefix}sum")
    value = Signal(signed(width), name=f"{prefix}value")
    out = Signal(name=f"{prefix}out_of_range")
    m.d.comb += [step.eq(sum(values[1:], values[0])), value.eq(step[:width]),
                 out.eq(Cat(*outs).any() | ~_fits(step, width))]
    return value, out


def _fits(value, width):
    """``value`` (two's complement) lies in ``signed(width)``'s range: its bits
    from ``width - 1`` up are all copies of the sign."""
    top = value[width - 1:]
    return (top == 0) | (top == (1 << len(top)) - 1)
