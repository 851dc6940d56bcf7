# SPDX-License-Identifier: BSD-2-Clause
"""The integer encoder layer as one Amaranth component, built from the project's units.

:class:`EncoderLayer` runs the passes of a :class:`~accelgen.transformer.plan.LayerPlan`
on one output-stationary ``systolic_array``, one ``requant`` (per-channel
fields from a scale ROM), ``softmax``, ``gelu`` and ``layernorm``, all built
through the registry, around synchronous-read memories. :func:`emit_encoder`
gives its Verilog and manifest. Amaranth only: the calibration that fixes the
units' formats (NumPy) happens before, in :mod:`accelgen.transformer.quantize`.
"""

import dataclasses

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from accelgen import __version__
from accelgen.registry import get_unit
from accelgen.transformer.plan import LayerPlan, REQUANT_ORDER, unit_params

__all__ = ["EncoderLayer", "emit_encoder"]

ROW_BITS = 16  # lanes of the row buffer (v, scores, residual sums)


def _bits(n):
    return max(1, (n - 1).bit_length())


def _issue_flags(m, step, adv, last, done, valid, clear, registers):
    """The bookkeeping every address source of the layer shares: ``valid`` (the
    source's output register) rises on an issued ``step`` and falls when the next
    stage advances (``adv``) with nothing issued; ``done`` latches on the ``last``
    step; ``clear`` (the end of a pass) resets ``done`` and ``registers``. Call it
    after the source's own ``sync`` statements (``clear`` wins)."""
    with m.If(step):
        with m.If(last):
            m.d.sync += done.eq(1)
        m.d.sync += valid.eq(1)
    with m.Elif(adv):
        m.d.sync += valid.eq(0)
    with m.If(clear):
        m.d.sync += [done.eq(0), *(reg.eq(0) for reg in registers)]


class _Counters:
    """Nested counters (innermost first) that step on ``step``; each wraps at
    its bound (a signal or constant: the count minus one). ``wrap[k]``: counter
    ``k`` and all inner ones are at their bounds; ``done``: all are."""

    def __init__(self, m, name, bounds, step, widths):
        # widths: ranges of the values (a one-value range still gets one bit)
        self.values = [Signal(unsigned(_bits(len(w))), name=f"{name}_{k}")
                       for k, w in enumerate(widths)]
        self.wrap = []
        inner = Const(1)
        for k, (v, b) in enumerate(zip(self.values, bounds)):
            at = Signal(name=f"{name}_wrap{k}")
            m.d.comb += at.eq(inner & (v == b))
            self.wrap.append(at)
            with m.If(step & inner):
                m.d.sync += v.eq(Mux(v == b, 0, v + 1))
            inner = at
        self.done = self.wrap[-1]


class EncoderLayer(wiring.Component):
    """An integer-only BERT-style encoder layer (docs/encoder_layer.md), bit-exact
    with :func:`accelgen.transformer.golden.encoder_layer` for ``model`` (an
    :class:`~accelgen.transformer.layer.IntegerEncoder`: the units' formats and
    the requantizers' scales are fixed when the module is generated; the
    weights, biases and LayerNorm's gamma/beta are loaded at run time).

    **Weights** (``w``): after reset and between sequences, ``plan.load_words``
    beats of ``cols`` signed 32-bit lanes in the order of ``plan.load_order``
    (each weight matrix ``K x N`` row by row, ``cols`` int8 values per beat;
    then the int32 biases; then gamma1, beta1, gamma2, beta2). Only the low
    bits a tensor needs are kept (8 for weights and beta, ``gamma_bits``, 32
    for biases). A weight beat is taken only while no sequence runs; a
    sequence is taken only once weights are loaded.

    **Tokens** (``i``): ``d_model / cols`` beats of ``cols`` int8 codes per
    token (scale ``2**-in_frac``), ``seq`` tokens per sequence; the output on
    ``o`` in the same order (scale ``2**-out_frac``), ``o.last`` on a
    sequence's final beat. One sequence at a time, in the plan's passes.

    **Passes**: ``input`` writes ``i`` into the ``act`` buffer. A GEMM pass
    streams ``seq / rows`` x ``N / cols`` tiles of ``K`` beats into the array
    (activation columns from ``act``, weight rows from the weight memory, from
    ``kt`` for ``Q·Kᵀ`` or from ``row`` for ``P·V``); each result row gets its
    bias (a register), the shared requantizer (its operands registered, with
    the pass's per-channel scale), then the clamp to the stage's format, the
    saturating residual add or GELU, and is written to its buffer. ``skip`` passes take a buffer through the
    requantizer; ``softmax`` and ``layernorm`` passes stream a buffer's rows
    through the unit. Every buffer is read synchronously (block RAM). Cycles:
    :mod:`accelgen.transformer.cycles`.

    Synchronous reset empties every unit and forgets that weights were loaded.
    """

    ready_contract = None  # w.ready / i.ready read the layer's state, not o.ready

    def __init__(self, model, pipeline=0):
        self.plan = plan = model if isinstance(model, LayerPlan) else LayerPlan(model, pipeline)
        self.units = unit_params(plan)
        c = plan.config.cols
        self.w_layout = data.StructLayout({"data": data.ArrayLayout(signed(32), c)})
        self.i_layout = data.StructLayout({"data": data.ArrayLayout(signed(8), c)})
        self.o_layout = data.StructLayout({"data": data.ArrayLayout(signed(8), c), "last": 1})
        super().__init__({"w": In(stream.Signature(self.w_layout)),
                          "i": In(stream.Signature(self.i_layout)),
                          "o": Out(stream.Signature(self.o_layout))})

    # -- memories -------------------------------------------------------------------

    def _memories(self, m):
        plan, cfg = self.plan, self.plan.config
        c, r = cfg.cols, cfg.rows
        gbits = self.units["layernorm1"].gamma_bits
        mems = {}

        def mem(name, width, depth, init=()):
            mems[name] = Memory(shape=unsigned(width), depth=max(depth, 2), init=init)
            m.submodules[f"{name}_mem"] = mems[name]
            return mems[name]

        self.act = [mem(f"act{b}", 8 * c, plan.act_depth) for b in range(r)]
        self.kt = [mem(f"kt{b}", 8 * c, plan.kt_depth) for b in range(c)]
        self.row = mem("row", ROW_BITS * c, plan.row_depth)
        self.wmem = mem("weights", 8 * c, plan.weight_depth)
        self.bmem = mem("bias", 32 * c, plan.bias_depth)
        self.gmem = mem("gamma", gbits * c, plan.ln_depth)
        self.betamem = mem("beta", 8 * c, plan.ln_depth)
        rq = self.units["requant"]
        fields = rq.stream_fields()
        widths = {"m": rq.mult_bits, "shift": rq.shift_bits, "shift2": rq.shift_bits}
        self.scale_layout = data.StructLayout(
            {f: data.ArrayLayout(signed(widths[f]), c) for f in fields})
        init = []
        for stage in REQUANT_ORDER:
            entries = plan.scale_entries(stage)
            for w in range(len(entries) // c):
                value = 0
                at = 0
                for f in fields:
                    for lane in range(c):
                        value |= (entries[w * c + lane][f] & ((1 << widths[f]) - 1)) << at
                        at += widths[f]
                init.append(value)
        self.smem = mem("scales", self.scale_layout.size, plan.scale_depth, init)

    # -- elaboration ------------------------------------------------------------------

    def elaborate(self, platform):
        m = Module()
        plan, cfg = self.plan, self.plan.config
        c, r, seq = cfg.cols, cfg.rows, cfg.seq
        lr, lc = _bits(r) if r > 1 else 0, _bits(c) if c > 1 else 0
        self._memories(m)
        units = {name: get_unit(unit).build(self.units[name]) for name, unit in (
            ("array", "systolic_array"), ("requant", "requant"), ("softmax", "softmax"),
            ("gelu", "gelu"), ("layernorm1", "layernorm"))}
        shared_ln = self.units["layernorm1"] == self.units["layernorm2"]
        units["layernorm2"] = units["layernorm1"] if shared_ln else \
            get_unit("layernorm").build(self.units["layernorm2"])
        for name, unit in units.items():
            if name != "layernorm2" or not shared_ln:
                m.submodules[name] = unit
        arr, rq, sm, ge = units["array"], units["requant"], units["softmax"], units["gelu"]
        lns = [units["layernorm1"], units["layernorm2"]]
        passes = plan.passes

        # -- control: load, idle, run ------------------------------------------------
        loaded = Signal()
        loading = Signal()
        running = Signal()
        pidx = Signal(range(len(passes)))
        pass_done = Signal()
        self.probes = {"pass": pidx, "running": running, "loaded": loaded}  # for testbenches
        load = _Counters(m, "load", [plan.load_words - 1], self.w.valid & self.w.ready,
                         [range(plan.load_words)])
        m.d.comb += self.w.ready.eq(loading)
        with m.If(loading):
            with m.If(self.w.valid & load.done):
                m.d.sync += [loading.eq(0), loaded.eq(1)]
        with m.Elif(~running):
            with m.If(self.w.valid):
                m.d.sync += [loading.eq(1), loaded.eq(0)]
            with m.Elif(loaded & self.i.valid):
                m.d.sync += running.eq(1)
        with m.If(running & pass_done):
            with m.If(pidx == len(passes) - 1):
                m.d.sync += [pidx.eq(0), running.eq(0)]
            with m.Else():
                m.d.sync += pidx.eq(pidx + 1)

        # -- per-pass constants ------------------------------------------------------
        # Each pass constant is a register loaded with the next pass's value as a
        # pass ends, so no pass-index decoding sits in front of the datapath.
        pidx_next = Signal.like(pidx, name="pass_next")
        m.d.comb += pidx_next.eq(Mux(pidx == len(passes) - 1, 0, pidx + 1))

        def const(name, shape, values):
            sig = Signal(shape, name=name, init=int(values[0]))
            with m.If(running & pass_done):
                with m.Switch(pidx_next):
                    for k, v in enumerate(values[:-1]):
                        with m.Case(k):
                            m.d.sync += sig.eq(int(v))
                    with m.Default():  # the last pass (pidx never exceeds it)
                        m.d.sync += sig.eq(int(values[-1]))
            return sig

        def kind(k):
            return const(f"is_{k}", 1, [p.kind == k for p in passes])

        is_input, is_gemm, is_skip = kind("input"), kind("gemm"), kind("skip")
        is_softmax, is_ln = kind("softmax"), kind("layernorm")
        maxw = max(plan.act_depth, plan.row_depth, plan.weight_depth, plan.scale_depth,
                   plan.bias_depth, plan.kt_depth, 2)
        addr = unsigned(_bits(maxw) + 1)
        dmax = max(cfg.d_model, cfg.d_ff, seq)
        kw_max = const("kw_max", range(dmax), [max(p.k // c - 1, 0) for p in passes])
        nt_max = const("nt_max", range(dmax), [max(p.n // c - 1, 0) for p in passes])
        mt_max = seq // r - 1
        words_max = const("words_max", range(dmax), [max(p.words - 1, 0) for p in passes])
        a_base = const("a_base", addr, [p.a_base for p in passes])
        a_cw = const("a_cw", addr, [p.a_cw for p in passes])
        a_unsigned = const("a_unsigned", 1, [p.a_unsigned for p in passes])
        b_kind = {k: const(f"b_{k}", 1, [p.b_kind == k for p in passes])
                  for k in ("weights", "kt", "v")}
        b_base = const("b_base", addr, [p.b_base for p in passes])
        b_step = const("b_step", addr, [p.b_step for p in passes])
        has_bias = const("has_bias", 1, [p.bias is not None for p in passes])
        bias_base = const("bias_base", addr, [p.bias or 0 for p in passes])
        scale_base = const("scale_base", addr, [p.scale_base for p in passes])
        residual = const("residual", 1, [p.residual for p in passes])
        use_gelu = const("use_gelu", 1, [p.gelu for p in passes])
        src_base = const("src_base", addr, [p.src_base for p in passes])
        ln_sel = const("ln_sel", 1, [p.ln for p in passes])
        dst = {k: const(f"dst_{k}", 1, [p.dst == k for p in passes])
               for k in ("act", "kt", "row", "out")}
        dst_base = const("dst_base", addr, [p.dst_base for p in passes])
        dst_cw = const("dst_cw", addr, [p.dst_cw for p in passes])
        dst_off = const("dst_off", addr, [p.dst_off for p in passes])
        u = plan.model.units
        lo = const("clamp_lo", signed(17), [u[p.stage].out_range[0] if p.stage else 0
                                            for p in passes])
        hi = const("clamp_hi", signed(17), [u[p.stage].out_range[1] if p.stage else 0
                                            for p in passes])
        res_lo, res_hi = -(1 << (cfg.residual_bits - 1)), (1 << (cfg.residual_bits - 1)) - 1

        # -- GEMM operand source: activation columns and weight rows ---------------------
        g_issue = Signal()
        g_done = Signal()
        sv = Signal()
        g_xfer = Signal()
        g_adv = Signal()
        m.d.comb += [g_xfer.eq(sv & arr.a.ready & arr.w.ready), g_adv.eq(~sv | g_xfer),
                     g_issue.eq(running & is_gemm & ~g_done)]
        g_step = g_adv & g_issue
        gc = _Counters(m, "gsrc", [c - 1, kw_max, nt_max, mt_max], g_step,
                       [range(c), range(dmax), range(dmax), range(seq // r)])
        kl, kw, nt, _mt = gc.values
        a_mt = Signal(addr, name="a_mt")  # (token tile) * a_cw
        b_acc = Signal(addr, name="b_acc")  # b_step * k (kt: per word of k)
        with m.If(g_step):
            with m.If(gc.wrap[1]):
                m.d.sync += b_acc.eq(0)
            with m.Elif(~b_kind["kt"] | gc.wrap[0]):
                m.d.sync += b_acc.eq(b_acc + b_step)
            with m.If(gc.wrap[2]):
                m.d.sync += a_mt.eq(Mux(gc.done, 0, a_mt + a_cw))
        _issue_flags(m, g_step, g_adv, gc.done, g_done, sv, pass_done, [b_acc, a_mt])
        g_lane = Signal(range(c), name="g_lane")
        g_last = Signal(name="g_last")
        with m.If(g_adv):
            m.d.sync += [g_lane.eq(kl), g_last.eq(gc.wrap[1])]

        # -- vector source: token rows of a buffer (skip, softmax, layernorm) ----------
        v_issue, v_done, vv, v_adv = Signal(), Signal(), Signal(), Signal()
        v_ready = Signal()
        m.d.comb += [v_adv.eq(~vv | v_ready),
                     v_issue.eq(running & (is_skip | is_softmax | is_ln) & ~v_done)]
        v_step = v_adv & v_issue
        vc = _Counters(m, "vsrc", [words_max, seq - 1], v_step, [range(dmax), range(seq)])
        vj, vm = vc.values
        v_act = Signal(addr, name="v_act")  # (token // rows) * words
        v_row = Signal(addr, name="v_row")  # token * words
        with m.If(v_step & vc.wrap[0]):
            m.d.sync += v_row.eq(Mux(vc.done, 0, v_row + words_max + 1))
            with m.If(vm[:lr] == r - 1 if lr else Const(1)):
                m.d.sync += v_act.eq(Mux(vc.done, 0, v_act + words_max + 1))
        _issue_flags(m, v_step, v_adv, vc.done, v_done, vv, pass_done, [v_act, v_row])
        v_bank = Signal(range(r), name="v_bank")
        with m.If(v_adv):
            m.d.sync += v_bank.eq(vm[:lr] if lr else 0)

        # -- act reads: GEMM columns (every bank) or a skip pass's token word ----------
        act_rd = [mem.read_port() for mem in self.act]
        for b, port in enumerate(act_rd):
            m.d.comb += [
                port.addr.eq(Mux(is_gemm, a_base + a_mt + kw, src_base + v_act + vj)),
                port.en.eq(Mux(is_gemm, g_adv, v_adv))]
        kt_rd = [mem.read_port() for mem in self.kt]
        for port in kt_rd:
            m.d.comb += [port.addr.eq(b_base + b_acc + nt), port.en.eq(g_adv)]
        w_rd = self.wmem.read_port()
        m.d.comb += [w_rd.addr.eq(b_base + b_acc + nt), w_rd.en.eq(g_adv)]

        a_lanes = Signal(data.ArrayLayout(signed(9), r), name="a_lanes")
        for b in range(r):
            code = act_rd[b].data.word_select(g_lane, 8)
            m.d.comb += a_lanes[b].eq(Mux(a_unsigned, code.as_unsigned(), code.as_signed()))
        w_lanes = Signal(data.ArrayLayout(signed(8), c), name="w_lanes")
        kt_word = Array(p.data for p in kt_rd)[g_lane]
        row_rd = self.row.read_port()
        for k in range(c):
            m.d.comb += w_lanes[k].eq(
                Mux(b_kind["weights"], w_rd.data.word_select(k, 8),
                    Mux(b_kind["kt"], kt_word.word_select(k, 8),
                        row_rd.data.word_select(k, ROW_BITS)[:8])))
        m.d.comb += [arr.a.valid.eq(sv), arr.w.valid.eq(sv),
                     arr.a.payload.data.eq(a_lanes), arr.a.payload.last.eq(g_last),
                     arr.w.payload.data.eq(w_lanes)]

        # -- bias stage: array results plus the bias, with the pass's scales ----------
        bv = Signal(name="bias_valid")
        b_ready = Signal()
        b_adv = Signal()
        m.d.comb += [b_adv.eq(~bv | b_ready), arr.o.ready.eq(b_adv)]
        bc = _Counters(m, "bias", [r - 1, nt_max, mt_max], arr.o.valid & b_adv,
                       [range(r), range(dmax), range(seq // r)])
        b_acc_data = Signal(data.ArrayLayout(signed(32), c), name="bias_acc")
        with m.If(b_adv):
            m.d.sync += [bv.eq(arr.o.valid), b_acc_data.eq(arr.o.payload.data)]
        b_rd = self.bmem.read_port()
        m.d.comb += [b_rd.addr.eq(bias_base + bc.values[1]), b_rd.en.eq(b_adv)]
        s_rd = self.smem.read_port()
        m.d.comb += [s_rd.addr.eq(scale_base + Mux(is_gemm, bc.values[1], vj)),
                     s_rd.en.eq(Mux(is_gemm, b_adv, v_adv))]
        scale = data.View(self.scale_layout, s_rd.data)

        # requant input: bias stage (GEMM) or the vector source (skip)
        rq_x = Signal(data.ArrayLayout(signed(32), c), name="rq_x")
        skip_word = Array(p.data for p in act_rd)[v_bank]
        for k in range(c):
            biased = b_acc_data[k] + Mux(has_bias, b_rd.data.word_select(k, 32).as_signed(), 0)
            m.d.comb += rq_x[k].eq(Mux(is_gemm, biased[:32].as_signed(),
                                       skip_word.word_select(k, 8).as_signed()))
        # the requantizer's operand register: cuts block RAM read -> bias add ->
        # the requantizer's multiplier
        qv = Signal(name="rq_in_valid")
        q_adv = Signal()
        q_x = Signal.like(rq_x, name="rq_in_x")
        q_scale = Signal(self.scale_layout, name="rq_in_scale")
        m.d.comb += q_adv.eq(~qv | rq.i.ready)
        with m.If(q_adv):
            m.d.sync += [qv.eq(Mux(is_gemm, bv, vv & is_skip)), q_x.eq(rq_x),
                         q_scale.eq(scale)]
        m.d.comb += [rq.i.valid.eq(qv), rq.i.payload.x.eq(q_x), rq.i.payload.last.eq(0)]
        for f in self.units["requant"].stream_fields():
            m.d.comb += getattr(rq.i.payload, f).eq(getattr(q_scale, f))
        m.d.comb += b_ready.eq(q_adv & is_gemm)

        # -- post stage: clamp, or the saturating residual add --------------------------
        pv = Signal(name="post_valid")
        p_ready = Signal()
        p_adv = Signal()
        m.d.comb += [p_adv.eq(~pv | p_ready), rq.o.ready.eq(p_adv)]
        pc = _Counters(m, "post", [r - 1, nt_max, mt_max], rq.o.valid & p_adv & is_gemm,
                       [range(r), range(dmax), range(seq // r)])
        p_tok = Signal(addr, name="post_tok")   # token * d_model/cols
        p_tile = Signal(addr, name="post_tile")  # first token of the tile * d_model/cols
        with m.If(rq.o.valid & p_adv & is_gemm):
            with m.If(pc.wrap[1]):
                nxt = Mux(pc.done, 0, p_tile + r * plan.dw)
                m.d.sync += [p_tile.eq(nxt), p_tok.eq(nxt)]
            with m.Elif(pc.wrap[0]):
                m.d.sync += p_tok.eq(p_tile)
            with m.Else():
                m.d.sync += p_tok.eq(p_tok + plan.dw)
        p_y = Signal(data.ArrayLayout(signed(16), c), name="post_y")
        with m.If(p_adv):
            m.d.sync += [pv.eq(rq.o.valid), p_y.eq(rq.o.payload.y)]
        post = Signal(data.ArrayLayout(signed(ROW_BITS), c), name="post_value")
        for k in range(c):
            y = p_y[k]
            clamped = Mux(y < lo, lo, Mux(y > hi, hi, y))
            res = clamped + row_rd.data.word_select(k, ROW_BITS).as_signed()
            summed = Mux(res < res_lo, res_lo, Mux(res > res_hi, res_hi, res))
            m.d.comb += post[k].eq(Mux(residual, summed, clamped))

        # -- row reads: V (context GEMM), a vector pass's row, or the residual ---------
        row_addr = Signal(addr, name="row_addr")
        row_en = Signal(name="row_en")
        with m.If(is_gemm & b_kind["v"]):
            m.d.comb += [row_addr.eq(b_base + b_acc + nt), row_en.eq(g_adv)]
        with m.Elif(is_gemm):
            m.d.comb += [row_addr.eq(dst_base + p_tok + pc.values[1]), row_en.eq(p_adv)]
        with m.Else():
            m.d.comb += [row_addr.eq(src_base + v_row + vj), row_en.eq(v_adv)]
        m.d.comb += [row_rd.addr.eq(row_addr), row_rd.en.eq(row_en)]

        # -- softmax and layernorm inputs from the vector source --------------------------
        g_rd, beta_rd = self.gmem.read_port(), self.betamem.read_port()
        m.d.comb += [g_rd.addr.eq(Mux(ln_sel, plan.dw, 0) + vj), g_rd.en.eq(v_adv),
                     beta_rd.addr.eq(Mux(ln_sel, plan.dw, 0) + vj), beta_rd.en.eq(v_adv)]
        smp = self.units["softmax"]
        m.d.comb += sm.i.valid.eq(vv & is_softmax)
        for k in range(c):
            m.d.comb += sm.i.payload.x[k].eq(row_rd.data.word_select(k, ROW_BITS)
                                             [:smp.in_bits].as_signed())
        lnp = self.units["layernorm1"]
        gbits = lnp.gamma_bits
        for idx, ln in enumerate(lns):
            if idx == 1 and shared_ln:
                break
            sel = is_ln if shared_ln else is_ln & (ln_sel == idx)
            m.d.comb += ln.i.valid.eq(vv & sel)
            for k in range(c):
                m.d.comb += [
                    ln.i.payload.x[k].eq(row_rd.data.word_select(k, ROW_BITS)
                                         [:self.units["layernorm1"].in_bits].as_signed()),
                    ln.i.payload.gamma[k].eq(g_rd.data.word_select(k, gbits).as_signed()),
                    ln.i.payload.beta[k].eq(beta_rd.data.word_select(k, 8).as_signed())]
        ln_ready = lns[0].i.ready if shared_ln else \
            Mux(ln_sel, lns[1].i.ready, lns[0].i.ready)
        m.d.comb += v_ready.eq(Mux(is_skip, q_adv,
                                   Mux(is_softmax, sm.i.ready, ln_ready)))

        # -- GELU after the post stage (ffn1) -----------------------------------------------
        gep = self.units["gelu"]
        m.d.comb += ge.i.valid.eq(pv & use_gelu)
        for k in range(c):
            m.d.comb += ge.i.payload.x[k].eq(post[k][:gep.in_bits].as_signed())

        # -- sink: one word per beat into its buffer, or out on o ------------------------
        sink_valid = Signal()
        sink_ready = Signal()
        sink = Signal(data.ArrayLayout(signed(ROW_BITS), c), name="sink_data")
        ln_o = lns[0].o if shared_ln else None
        ln_out_valid = lns[0].o.valid if shared_ln else \
            Mux(ln_sel, lns[1].o.valid, lns[0].o.valid)

        def take(valid, lanes):
            m.d.comb += [sink_valid.eq(valid), *(sink[k].eq(lanes[k]) for k in range(c))]

        with m.If(is_input):
            take(self.i.valid & running, self.i.payload.data)
        with m.Elif(is_gemm | is_skip):
            with m.If(use_gelu):
                take(ge.o.valid, ge.o.payload.y)
            with m.Else():
                take(pv, post)
        with m.Elif(is_softmax):
            take(sm.o.valid, sm.o.payload.y)
        with m.Else():
            take(ln_out_valid, lns[0].o.payload.y if shared_ln else
                 [Mux(ln_sel, lns[1].o.payload.y[k], lns[0].o.payload.y[k]) for k in range(c)])
        m.d.comb += sink_ready.eq(running & Mux(dst["out"], self.o.ready, 1))
        take = sink_valid & sink_ready
        m.d.comb += [self.i.ready.eq(running & is_input),
                     p_ready.eq(Mux(use_gelu, ge.i.ready, sink_ready & ~is_input)),
                     ge.o.ready.eq(sink_ready & use_gelu),
                     sm.o.ready.eq(sink_ready & is_softmax)]
        for idx, ln in enumerate(lns):
            if idx == 1 and shared_ln:
                break
            sel = is_ln if shared_ln else is_ln & (ln_sel == idx)
            m.d.comb += ln.o.ready.eq(sink_ready & sel)
        # GEMM order (row, n tile, token tile) and vector order (word, token)
        sg = _Counters(m, "sink_g", [r - 1, nt_max, mt_max], take & is_gemm,
                       [range(r), range(dmax), range(seq // r)])
        sv_ = _Counters(m, "sink_v", [words_max, seq - 1], take & ~is_gemm,
                        [range(dmax), range(seq)])
        s_r, s_nt, s_mt = sg.values
        s_j, s_m = sv_.values
        s_act_tile = Signal(addr, name="sink_act_tile")  # token tile * dst_cw
        s_tok = Signal(addr, name="sink_tok")
        s_tile = Signal(addr, name="sink_tile")
        s_vact = Signal(addr, name="sink_vact")
        s_vrow = Signal(addr, name="sink_vrow")
        with m.If(take & is_gemm):
            with m.If(sg.wrap[1]):
                m.d.sync += s_act_tile.eq(Mux(sg.done, 0, s_act_tile + dst_cw))
                nxt = Mux(sg.done, 0, s_tile + dst_cw * r if r > 1 else s_tile + dst_cw)
                m.d.sync += [s_tile.eq(nxt), s_tok.eq(nxt)]
            with m.Elif(sg.wrap[0]):
                m.d.sync += s_tok.eq(s_tile)
            with m.Else():
                m.d.sync += s_tok.eq(s_tok + dst_cw)
        with m.If(take & ~is_gemm & sv_.wrap[0]):
            m.d.sync += s_vrow.eq(Mux(sv_.done, 0, s_vrow + dst_cw))
            with m.If(s_m[:lr] == r - 1 if lr else Const(1)):
                m.d.sync += s_vact.eq(Mux(sv_.done, 0, s_vact + dst_cw))
        m.d.comb += pass_done.eq(take & Mux(is_gemm, sg.done, sv_.done))

        token = Signal(range(seq), name="sink_token")
        m.d.comb += token.eq(Mux(is_gemm, (s_mt << lr) | s_r, s_m))
        act_wr = [mem.write_port() for mem in self.act]
        word8 = Cat(sink[k][:8] for k in range(c))
        act_addr = Mux(is_gemm, dst_base + s_act_tile + dst_off + s_nt,
                       dst_base + s_vact + s_j)
        for b, port in enumerate(act_wr):
            m.d.comb += [port.addr.eq(act_addr), port.data.eq(word8),
                         port.en.eq(take & dst["act"] & (token[:lr] == b if lr else 1))]
        kt_wr = [mem.write_port(granularity=8) for mem in self.kt]
        for b, port in enumerate(kt_wr):
            m.d.comb += [port.addr.eq(s_nt * plan.sw + (token >> lc)),
                         port.data.eq(Cat(sink[b][:8] for _ in range(c)))]
            for lane in range(c):
                m.d.comb += port.en[lane].eq(take & dst["kt"] &
                                             ((token[:lc] if lc else 0) == lane))
        row_wr = self.row.write_port()
        m.d.comb += [row_wr.addr.eq(Mux(is_gemm, dst_base + s_tok + dst_off + s_nt,
                                        dst_base + s_vrow + s_j)),
                     row_wr.data.eq(Cat(sink[k] for k in range(c))),
                     row_wr.en.eq(take & dst["row"])]
        m.d.comb += [self.o.valid.eq(sink_valid & running & dst["out"])]
        for k in range(c):
            m.d.comb += self.o.payload.data[k].eq(sink[k][:8])
        m.d.comb += self.o.payload.last.eq(sv_.done)

        # -- weight loading ---------------------------------------------------------------
        lw = load.values[0]
        w_take = self.w.valid & self.w.ready
        lanes = self.w.payload.data
        wend = plan.weight_depth
        bend = wend + plan.bias_depth
        wport, bport = self.wmem.write_port(), self.bmem.write_port()
        gport, betaport = self.gmem.write_port(), self.betamem.write_port()
        ln_at = lw - bend
        dw = plan.dw
        m.d.comb += [
            wport.addr.eq(lw), wport.data.eq(Cat(lanes[k][:8] for k in range(c))),
            wport.en.eq(w_take & (lw < wend)),
            bport.addr.eq(lw - wend), bport.data.eq(Cat(lanes[k][:32] for k in range(c))),
            bport.en.eq(w_take & (lw >= wend) & (lw < bend)),
            gport.data.eq(Cat(lanes[k][:gbits] for k in range(c))),
            betaport.data.eq(Cat(lanes[k][:8] for k in range(c)))]
        # gamma1 beta1 gamma2 beta2, dw words each
        with m.If(w_take & (lw >= bend)):
            with m.If(ln_at < dw):
                m.d.comb += [gport.addr.eq(ln_at), gport.en.eq(1)]
            with m.Elif(ln_at < 2 * dw):
                m.d.comb += [betaport.addr.eq(ln_at - dw), betaport.en.eq(1)]
            with m.Elif(ln_at < 3 * dw):
                m.d.comb += [gport.addr.eq(ln_at - dw), gport.en.eq(1)]
            with m.Else():
                m.d.comb += [betaport.addr.eq(ln_at - 2 * dw), betaport.en.eq(1)]
        return m


def emit_encoder(model, pipeline=0, name="encoder_layer"):
    """The :class:`~accelgen.flow.emit.Emitted` Verilog (one module ``name``) and
    manifest of the layer for ``model``."""
    from accelgen.flow.emit import emit_component
    layer = EncoderLayer(model, pipeline)
    plan = layer.plan
    cfg = plan.config
    header = [f"Generated by accelgen {__version__}: integer encoder layer "
              f"{cfg.label}, module {name}.",
              f"Ports, weight order, memories and passes: {name}.json. Do not edit."]
    head = {"unit": "encoder_layer", "module": name,
            "summary": f"integer encoder layer {cfg.label}",
            "config": cfg.as_dict(), "pipeline": pipeline,
            "units": {k: dataclasses.asdict(v) for k, v in layer.units.items()}}
    from accelgen.transformer.cycles import pass_cycles, sequence_cycles, sequence_interval
    cycles = sequence_cycles(plan)
    tail = {"weights": plan.load_manifest(), "memories": plan.memory_manifest(),
            "passes": pass_cycles(plan),
            "latency": cycles,
            "throughput": cfg.seq * cfg.d_model // cfg.cols / sequence_interval(plan),
            "cycles": {"sequence": cycles, "interval": sequence_interval(plan),
                       "meaning": "sequence: from a sequence's first input beat to its last "
                                  "output beat, inclusive, i always valid and o always ready; "
                                  "interval: between back-to-back sequences; passes: cycles "
                                  "per pass (accelgen.transformer.cycles)"},
            "input_scale": f"2**-{plan.model.in_frac}",
            "output_scale": f"2**-{plan.model.out_frac}"}
    return emit_component(layer, name, header=header, head=head, tail=tail)
