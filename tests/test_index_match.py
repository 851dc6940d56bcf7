# SPDX-License-Identifier: BSD-2-Clause
"""index_match: parameter errors, golden intersection against brute force, CSR/CSC
helpers, Amaranth simulator under stalls, an unstructured sparse dot product through
index_match and int_mac; the Verilator regression is in tests/test_regression.py."""

import numpy as np
import pytest

from amaranth.hdl import Module, Signal, Value
from amaranth.sim import Simulator

from accelgen.generators.index_match import IndexMatch, Params, rank_classes, drop_lowest
from accelgen.generators.int_mac import IntMAC, Params as MACParams
from accelgen.golden.index_match import (index_match, matches, beats_per_block, to_csr,
                                         to_csc, block_of, sparse_dot)
from accelgen.verif.amaranth_sim import run_stream
from accelgen.verif.index_match import run_index_match


@pytest.mark.parametrize("kwargs,error,message", [
    ({"length": 1}, ValueError, r"^index_match length must be an integer from 2 to 32, not 1$"),
    ({"index_width": 17}, ValueError,
     r"^index_match index_width must be an integer from 1 to 16, not 17$"),
    ({"pairs": 0}, ValueError, r"^index_match pairs must be an integer from 1 to 8, not 0$"),
    ({"sorted": 1}, TypeError, r"^index_match sorted must be a bool, not 1$"),
    ({"pipeline": 5}, ValueError,
     r"^index_match pipeline must be an integer from 0 to 4, not 5$"),
    ({"sorted": True, "index_width": 2}, ValueError,
     r"^index_match index_width must be at least 3 with sorted=True \(8 unique indices per "
     r"block\), not 2$"),
])
def test_parameter_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        Params(**kwargs)


def brute_force(sorted_, w, wv, a, av):
    out = []
    for i in range(len(w)):
        hits = [j for j in range(len(a)) if wv[i] and av[j] and w[i] == a[j]]
        out += [(i, j) for j in (hits[:1] if sorted_ else hits)]
    return out


@pytest.mark.parametrize("sorted_", [False, True])
def test_golden_matches_brute_force(sorted_):
    rng = np.random.default_rng(6)
    p = Params(length=6, pairs=4, sorted=sorted_)
    for _ in range(500):
        w, a = rng.integers(0, 5, (2, 6))  # duplicates on purpose
        wv, av = rng.integers(0, 2, (2, 6))
        assert matches(p, w, wv, a, av) == brute_force(sorted_, w, wv, a, av)


def test_golden_beats_and_duplicates():
    p = Params(length=4, pairs=2)
    block = {"w_idx": [3, 3, 1, 0], "w_valid": [1, 1, 1, 0],
             "a_idx": [3, 1, 3, 0], "a_valid": [1, 1, 1, 1]}
    # w 3 (twice) meets a 3 (twice): four pairs, then (2, 1); w 0 is invalid.
    assert index_match(p, [block]) == [((0, 0), (0, 2), (1, 1), 0),
                                       ((1, 1), (0, 2), (1, 1), 0),
                                       ((2, 0), (1, 0), (1, 0), 1)]
    sorted_ = Params(length=4, pairs=2, sorted=True)
    assert index_match(sorted_, [block]) == [((0, 1), (0, 0), (1, 1), 0),
                                             ((2, 0), (1, 0), (1, 0), 1)]
    empty = {**block, "w_valid": [0, 0, 0, 0]}
    assert index_match(p, [empty]) == [((0, 0), (0, 0), (0, 0), 1)]
    assert [beats_per_block(p, k) for k in range(6)] == [1, 1, 1, 2, 2, 3]


def test_csr_and_csc():
    dense = np.array([[0, 2, 0], [1, 0, 3], [0, 0, 0]])
    values, cols, ptr = to_csr(dense)
    assert values.tolist() == [2, 1, 3] and cols.tolist() == [1, 0, 2]
    assert ptr.tolist() == [0, 1, 3, 3]
    values, rows, ptr = to_csc(dense)
    assert values.tolist() == [1, 2, 3] and rows.tolist() == [1, 0, 1]
    assert ptr.tolist() == [0, 1, 2, 3]


@pytest.mark.sim
@pytest.mark.parametrize("params", [Params(length=4, index_width=2, pairs=3),
                                    Params(length=5, pairs=1, index_width=3, pipeline=0),
                                    Params(length=3, pairs=4, index_width=1, pipeline=1),
                                    Params(length=8, index_width=5, pairs=2, sorted=True,
                                           pipeline=2),
                                    Params(length=6, index_width=3, pairs=2, sorted=True),
                                    Params(length=7, index_width=2, pairs=2, pipeline=3)],
                         ids=["l4_p3_dups", "l5_p1_pl0", "l3_p4_iw1_pl1", "l8_p2_sorted_pl2",
                              "l6_sorted_with_dups", "l7_p2_pl3"])
def test_amaranth_simulator_under_stalls(params, request):
    seed = 61
    rng = np.random.default_rng(seed)
    # The last configuration breaks the sorted contract on purpose (duplicates):
    # only the lowest a_pos of each weight may come out.
    duplicates = "with_dups" in request.node.callspec.id
    blocks = []
    for _ in range(150):
        density = rng.choice([0.0, 0.1, 0.5, 0.9, 1.0])
        if params.sorted and not duplicates:
            w, a = (np.sort(rng.choice(1 << params.index_width, params.length, replace=False))
                    for _ in range(2))
        else:
            w, a = rng.integers(0, 1 << params.index_width, (2, params.length))
        blocks.append({"w_idx": w, "a_idx": a,
                       "w_valid": (rng.random(params.length) < density).astype(int),
                       "a_valid": (rng.random(params.length) < density).astype(int)})
    got = run_index_match(params, blocks, seed, idle=0.3, backpressure=0.3)
    assert got == index_match(params, blocks), f"seed {seed}"


@pytest.mark.parametrize("classes", [1, 2, 3])
@pytest.mark.parametrize("width", [12, 64])
@pytest.mark.parametrize("halfway", [False, True], ids=["whole", "halfway"])
def test_rank_classes_against_ranks(classes, width, halfway):
    """The rank split read back from the simulator against ranks counted in Python,
    the prefix whole or cut halfway (the cut here a wire: the values handed to
    ``cut`` must come back unchanged)."""
    seed = 5
    rng = np.random.default_rng(seed)
    m = Module()
    bits = Signal(width)
    handed = {}

    def wire(values):
        handed.update(values)
        copies = {key: Signal.like(Value.cast(value), name=f"cut_{key}")
                  for key, value in values.items()}
        m.d.comb += [copies[key].eq(value) for key, value in values.items()]
        return copies

    masks = rank_classes(m, bits, classes, "rank", cut=wire if halfway else None)
    assert bool(handed) == halfway and (not halfway or "bits" in handed)
    words = [int(x) for x in rng.integers(0, 1 << min(width, 62), 40)]
    words += [w << (width - 62) for w in words[:10] if width > 62]
    words += [0, (1 << width) - 1]

    async def bench(ctx):
        for word in words:
            ctx.set(bits, word)
            got = [ctx.get(mask) for mask in masks]
            ones = [k for k in range(width) if (word >> k) & 1]
            want = [sum(1 << k for rank, k in enumerate(ones) if rank % classes == s)
                    for s in range(classes)]
            assert got == want, f"seed {seed}, word {word:#x}"

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()


@pytest.mark.parametrize("width,segment", [(12, 4), (64, 16), (64, 12), (40, 16), (9, 4),
                                           (7, 1), (16, 12)])
def test_drop_lowest_in_segments(width, segment):
    """``bits & (bits - 1)`` and ``bits == 0`` from segmented subtractions, read
    back from the simulator against Python: random words, words whose lowest set
    bit sits at each position (every segment boundary), zero and all ones."""
    seed = 11
    rng = np.random.default_rng(seed)
    m = Module()
    bits = Signal(width)
    rest, empty = drop_lowest(m, bits, "drop", segment=segment)
    words = [int(x) for x in rng.integers(0, 1 << min(width, 62), 30)]
    words += [((int(rng.integers(0, 1 << 62)) << k) | (1 << k)) % (1 << width)
              for k in range(width)]
    words += [0, (1 << width) - 1]

    async def bench(ctx):
        for word in words:
            ctx.set(bits, word)
            assert (ctx.get(rest), ctx.get(empty)) == (word & (word - 1), int(word == 0)), \
                f"seed {seed}, word {word:#x}"

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()


@pytest.mark.sim
@pytest.mark.parametrize("pipeline", [0, 1, 2, 3, 4])
def test_latency_and_one_block_per_cycle(pipeline):
    """Blocks of one match each, no stalls: the first beat comes ``latency`` cycles
    after the first block is taken, then one beat per cycle."""
    p = Params(length=2, index_width=2, pairs=1, pipeline=pipeline)
    dut = IndexMatch(p)
    count = 6

    async def bench(ctx):
        ctx.set(dut.o.ready, 1)
        ctx.set(dut.i.valid, 1)
        ctx.set(dut.i.payload, {"w_idx": [1, 2], "w_valid": 1, "a_idx": [3, 1],
                                "a_valid": 3})
        seen = []
        for cycle in range(count + 5):
            if ctx.get(dut.o.valid):
                seen.append((cycle, ctx.get(dut.o.payload.w_pos[0]),
                             ctx.get(dut.o.payload.a_pos[0]), ctx.get(dut.o.payload.last)))
            assert ctx.get(dut.i.ready), f"cycle {cycle}"
            await ctx.tick()
        assert seen[:count] == [(p.latency + k, 0, 1, 1) for k in range(count)]

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()


@pytest.mark.sim
def test_unstructured_sparse_dot_products_through_index_match_and_int_mac():
    """``A @ W`` for sparse ``A`` and ``W``: each row of A (CSR) and column of W
    (CSC) are cut into blocks of ``length`` indices; index_match finds the common
    K indices of every block pair; the matched values stream through ``int_mac``
    as one packet per output element. Equals the dense product."""
    rng = np.random.default_rng(7)
    m, k, n = 3, 20, 3
    a = np.where(rng.random((m, k)) < 0.4, rng.integers(-128, 128, (m, k)), 0)
    w = np.where(rng.random((k, n)) < 0.4, rng.integers(-128, 128, (k, n)), 0)
    a[0] = 0  # an empty row
    p = Params(length=8, index_width=5, pairs=2, sorted=True)
    a_vals, a_cols, a_ptr = to_csr(a)
    w_vals, w_rows, w_ptr = to_csc(w)
    blocks, owners = [], []
    for r in range(m):
        act = a_cols[a_ptr[r]:a_ptr[r + 1]]
        for c in range(n):
            wt = w_rows[w_ptr[c]:w_ptr[c + 1]]
            for ws in range(0, max(1, len(wt)), p.length):
                for as_ in range(0, max(1, len(act)), p.length):
                    w_idx, w_valid = block_of(p, wt, ws)
                    a_idx, a_valid = block_of(p, act, as_)
                    blocks.append({"w_idx": w_idx, "w_valid": w_valid,
                                   "a_idx": a_idx, "a_valid": a_valid})
                    owners.append((r, c, ws, as_))
    beats = run_index_match(p, blocks, seed=7)
    assert beats == index_match(p, blocks)
    # Gather the matched values per output element from the RTL's pairs.
    pairs = {(r, c): [] for r in range(m) for c in range(n)}
    block = 0
    for w_pos, a_pos, valid, last in beats:
        r, c, ws, as_ = owners[block]
        for s, ok in enumerate(valid):
            if ok:
                wv = w_vals[w_ptr[c] + ws + w_pos[s]]
                av = a_vals[a_ptr[r] + as_ + a_pos[s]]
                pairs[r, c].append((int(av), int(wv)))
        block += last
    assert block == len(blocks)
    stream = []
    for key in sorted(pairs):
        products = pairs[key] or [(0, 0)]  # an empty intersection still closes a packet
        stream += [(x, y, int(i == len(products) - 1)) for i, (x, y) in enumerate(products)]
    results = run_stream(IntMAC(MACParams()), [{"a": x, "b": y, "last": last}
                                               for x, y, last in stream],
                         m * n, max_cycles=5000)
    assert np.array(results).reshape(m, n).tolist() == (a @ w).tolist()
    golden = [[sparse_dot(p, a_vals[a_ptr[r]:a_ptr[r + 1]], a_cols[a_ptr[r]:a_ptr[r + 1]],
                          w_vals[w_ptr[c]:w_ptr[c + 1]], w_rows[w_ptr[c]:w_ptr[c + 1]])[0]
               for c in range(n)] for r in range(m)]
    assert golden == (a @ w).tolist()
    assert sum(len(v) for v in pairs.values()) == int(((a != 0).astype(int) @
                                                       (w != 0).astype(int)).sum())
