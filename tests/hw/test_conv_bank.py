"""ConvWeightStore: replicas, double buffering and the reader latches against a Python model under seeded
periodic schedules, the docs/semantics.md visibility rule cycle by cycle, in-place writes, initial rows,
read-back, a model mutation the comparison catches, estimates (checked against Yosys), lint."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from amaranth.hdl import Fragment

from layerpipe.core.numerics import FixedFormat
from layerpipe.hw.conv_bank import ConvWeightStore, conv_store_depth
from layerpipe.hw.estimate import ECP5, ICE40, XILINX7
from layerpipe.hw.weight_bank import pack_chunk, unpack_chunk
from tests.helpers.lint import elaborated, lint_wall
from tests.helpers.simulation import run_clocked

FMT = FixedFormat()
G_LATENCY = 3  # G writes row q 1 + latency_G cycles after requesting it (docs/hardware.md)


def idle(readers):
    return {"r": [(0, 0, 0)] * readers, "w": (0, 0, None), "swap": 0, "rb": (0, 0)}


def simulate(store, steps, drain=2):
    """Drive ``steps`` (per cycle: ``r`` [(en, addr, begin)] per reader, ``w`` (en, addr, row), ``swap``,
    ``rb`` (en, addr)); returns per cycle (the readers' data, the read-back data) as lane lists."""
    seen = []
    lanes = store.lanes

    async def bench(ctx):
        for step in list(steps) + [idle(store.readers)] * drain:
            for port, begin, (en, addr, start) in zip(store.read_ports, store.begins, step["r"]):
                ctx.set(port.en, en)
                ctx.set(port.addr, addr)
                ctx.set(begin, start)
            en, addr, row = step["w"]
            ctx.set(store.w.en, en)
            ctx.set(store.w.addr, addr)
            if row is not None:
                ctx.set(store.w.data, pack_chunk(row, FMT))
            ctx.set(store.swap, step["swap"])
            ctx.set(store.readback.en, step["rb"][0])
            ctx.set(store.readback.addr, step["rb"][1])
            seen.append(([unpack_chunk(ctx.get(port.data), FMT, lanes) for port in store.read_ports],
                         unpack_chunk(ctx.get(store.readback.data), FMT, lanes)))
            await ctx.tick()

    run_clocked(store, bench, 1e-6)
    return seen


class StoreModel:
    """The store in Python: halves, a current half, one latch per reader, one data register per reader.

    ``check``: also assert the schedule contract — no (half, row) read in the cycle it is written, and
    (double-buffered) no reader's half written between its begin and its read, i.e. every read returns the
    version its reader latched. ``swap`` / ``latch`` False: mutated models for the negative test.
    """

    def __init__(self, init, readers, double_buffered, *, swap=True, latch=True, check=False):
        init = np.asarray(init, dtype=np.int64)
        self.halves = [init.copy() for _ in range(2 if double_buffered else 1)]
        self.db, self.do_swap, self.do_latch, self.check = double_buffered, swap, latch, check
        self.current = 0
        self.latched = [0] * readers
        self.data = [[0] * init.shape[1] for _ in range(readers)]
        self.writes = [0, 0]  # rows written into each half so far
        self.begun_at = [0] * readers  # writes[half] when the reader latched it

    def step(self, step):
        out = ([list(d) for d in self.data], list(self.data[0]))
        reads = set()
        for i, (en, addr, begin) in enumerate(step["r"]):
            if not self.db:
                half = 0
            elif not self.do_latch:
                half = self.current
            else:
                half = self.current if begin else self.latched[i]
            if begin:
                self.begun_at[i] = self.writes[half]
            if en:
                if self.check and self.db:
                    assert self.writes[half] == self.begun_at[i], f"reader {i}'s half was written during its run"
                self.data[i] = self.halves[half][addr].tolist()
                reads.add((half, addr))
            self.latched[i] = half
        if step["rb"][0]:
            self.data[0] = self.halves[self.current][step["rb"][1]].tolist()
        en, addr, row = step["w"]
        if en:
            half = 1 - self.current if self.db else 0
            if self.check:
                assert (half, addr) not in reads, "a row read in the cycle it is written"
            self.halves[half][addr] = row
            self.writes[half] += 1
        if step["swap"] and self.db and self.do_swap:
            self.current ^= 1
        return out


def run_model(model, steps, drain=2):
    return [model.step(step) for step in list(steps) + [idle(len(model.latched))] * drain]


def random_row(rng, lanes):
    return [int(v) for v in rng.integers(FMT.data_min, FMT.data_max + 1, lanes)]


def schedule_traffic(seed, rows, lanes, readers, periods):
    """A seeded periodic schedule: period T, G on reader g's processor (reads rows in order from its begin,
    writes each 1 + latency_G cycles later, swap with the last write), every processor's other task runs in
    its free cycles (no run wraps the period end), random issue gaps and addresses, runs skipped at random
    (pipeline fill and drain); then an idle gap and a read-back of every row."""
    rng = np.random.default_rng(seed)
    g_length = rows + G_LATENCY + 1
    period = int(rng.integers(g_length + 2, 2 * g_length + 6))
    g_reader = int(rng.integers(readers))
    g_start = int(rng.integers(0, period - g_length + 1))
    free = {i: [(0, period)] for i in range(readers)}
    free[g_reader] = [(0, g_start), (g_start + g_length, period)]
    steps = [idle(readers) for _ in range(periods * period)]

    def read(t, i, addr, begin):
        r = list(steps[t]["r"])
        r[i] = (1, addr, begin)
        steps[t] = {**steps[t], "r": r}

    for n in range(periods):
        base = n * period
        if rng.random() < 0.85:  # G of some sample runs in this period
            for q in range(rows):
                read(base + g_start + q, g_reader, q, int(q == 0))
                t = base + g_start + q + G_LATENCY
                steps[t] = {**steps[t], "w": (1, q, random_row(rng, lanes)), "swap": int(q == rows - 1)}
        for i in range(readers):
            for lo, hi in free[i]:
                t = lo + int(rng.integers(0, 3))
                while t < hi:
                    length = int(rng.integers(1, rows + 4))
                    end = min(hi, t + length)
                    if rng.random() < 0.85:
                        read(base + t, i, int(rng.integers(rows)), 1)
                        for u in range(t + 1, end):
                            if rng.random() < 0.8:
                                read(base + u, i, int(rng.integers(rows)), 0)
                            else:  # garbage address with en low
                                r = list(steps[base + u]["r"])
                                r[i] = (0, int(rng.integers(rows)), 0)
                                steps[base + u] = {**steps[base + u], "r": r}
                    t = end + int(rng.integers(0, 3))
    steps += [idle(readers) for _ in range(3)]
    steps += [{**idle(readers), "rb": (1, q)} for q in range(rows)]
    return steps, rng.integers(FMT.data_min, FMT.data_max + 1, (rows, lanes))


CASES = [(1, 7, 3, 2, True), (2, 5, 2, 3, True), (3, 6, 4, 1, True), (4, 9, 2, 2, True), (5, 6, 3, 1, False)]


@functools.cache
def traffic_case(seed, rows, lanes, readers, double_buffered):
    steps, init = schedule_traffic(seed, rows, lanes, readers, periods=10)
    seen = simulate(ConvWeightStore(FMT, lanes, rows, readers, double_buffered, init=init), steps)
    return steps, init, seen


@pytest.mark.parametrize("seed,rows,lanes,readers,double_buffered", CASES)
def test_random_schedules_match_the_model(seed, rows, lanes, readers, double_buffered):
    """Every cycle's read data of every reader (and the read-back) equal the model's; the model asserts that
    each read returns the version its reader latched and that no row is read in the cycle it is written."""
    steps, init, seen = traffic_case(seed, rows, lanes, readers, double_buffered)
    expected = run_model(StoreModel(init, readers, double_buffered, check=True), steps)
    assert sum(step["swap"] for step in steps) >= 5  # the traffic exercises the swap
    assert sum(step["r"][i][2] for step in steps for i in range(readers)) >= 20
    for cycle, (got, want) in enumerate(zip(seen, expected)):
        assert got == want, f"cycle {cycle}"


@pytest.mark.parametrize("seed,rows,lanes,readers,double_buffered", [c for c in CASES if c[4]])
def test_the_comparison_catches_a_wrong_model(seed, rows, lanes, readers, double_buffered):
    """The same simulation against a model without the swap, and one whose readers do not latch (they read
    whatever half is current): both are told apart. (With one reader, G's processor, no run spans a swap, so
    the latch cannot matter and is not tested.)"""
    steps, init, seen = traffic_case(seed, rows, lanes, readers, double_buffered)
    for mutation in (dict(swap=False), dict(latch=False)) if readers > 1 else (dict(swap=False),):
        wrong = run_model(StoreModel(init, readers, double_buffered, **mutation), steps)
        assert seen != wrong, mutation


def version(k, rows, lanes):
    """Rows of version k, distinct in every row, lane and version."""
    return np.array([[k * 1000 + q * 10 + lane for lane in range(lanes)] for q in range(rows)], dtype=np.int64)


def test_visibility_rule_of_the_semantics():
    """docs/semantics.md "Weights": G_1's last write (and swap) in cycle 6; a reader beginning in cycle 6 or
    earlier reads none of G_1's updates for its whole run (although the back half holds them), one beginning
    in cycle 7 reads all of them for its whole run, while G_2 writes and after G_2's swap; a reader beginning
    after G_2's swap reads G_2's updates."""
    rows, lanes, readers = 4, 2, 3
    v0, v1, v2 = (version(k, rows, lanes) for k in range(3))
    steps = [idle(readers) for _ in range(26)]

    def read(t, i, addr, begin=0):
        r = list(steps[t]["r"])
        r[i] = (1, addr, begin)
        steps[t] = {**steps[t], "r": r}

    def g_run(start, new):  # reader 0 is G's processor
        for q in range(rows):
            read(start + q, 0, q, int(q == 0))
            t = start + q + G_LATENCY
            steps[t] = {**steps[t], "w": (1, q, new[q].tolist()), "swap": int(q == rows - 1)}

    g_run(0, v1)  # writes in cycles 3..6, swap in 6
    g_run(13, v2)  # reads in 13..16, writes in 16..19, swap in 19
    for t in range(4, 6):  # reader 1, run A: begins at 4, mid-G_1 (rows 0 and 1 already rewritten)
        read(t, 1, t - 4, int(t == 4))
    for t in range(6, 13):  # reader 1, run B: begins in G_1's last-write cycle, ends before G_2 begins
        read(t, 1, t % rows, int(t == 6))
    for t in range(7, 23):  # reader 2: begins the cycle after, runs across G_2's writes and swap
        read(t, 2, t % rows, int(t == 7))
    for t in range(20, 24):  # reader 1, run C: begins the cycle after G_2's swap
        read(t, 1, t % rows, int(t == 20))
    seen = simulate(ConvWeightStore(FMT, lanes, rows, readers, True, init=v0), steps)
    want = {0: {}, 1: {}, 2: {}}
    for t in range(0, 4):
        want[0][t] = v0[t]  # G_1 reads the initial weights
    for t in range(13, 17):
        want[0][t] = v1[t - 13]  # G_2 reads G_1's result through its replica
    for t in range(4, 13):
        want[1][t] = v0[t - 4 if t < 6 else t % rows]  # runs A and B: none of G_1's updates
    for t in range(7, 23):
        want[2][t] = v1[t % rows]  # all of G_1's, none of G_2's
    for t in range(20, 24):
        want[1][t] = v2[t % rows]
    for i, reads in want.items():
        for t, row in reads.items():
            assert seen[t + 1][0][i] == row.tolist(), f"reader {i}, read requested in cycle {t}"
    assert seen == run_model(StoreModel(v0, readers, True, check=True), steps)


def test_single_buffered_writes_in_place():
    """One half: a write is read by every replica from the next cycle on; swap and begins change nothing."""
    rows, lanes, readers = 5, 3, 2
    v0, v1 = version(0, rows, lanes), version(1, rows, lanes)
    steps = [
        {**idle(readers), "w": (1, 2, v1[2].tolist()), "r": [(1, 1, 1), (1, 3, 0)]},
        {**idle(readers), "r": [(1, 2, 0), (1, 2, 1)], "swap": 1},
        {**idle(readers), "w": (1, 4, v1[4].tolist()), "swap": 1, "r": [(0, 4, 1), (1, 0, 1)]},
        {**idle(readers), "r": [(1, 4, 1), (1, 4, 0)]},
        {**idle(readers), "rb": (1, 2)},
        {**idle(readers), "rb": (1, 3)},
    ]
    seen = simulate(ConvWeightStore(FMT, lanes, rows, readers, False, init=v0), steps)
    assert seen[1][0] == [v0[1].tolist(), v0[3].tolist()]
    assert seen[2][0] == [v1[2].tolist(), v1[2].tolist()]  # the cycle after the write, both replicas
    assert seen[3][0] == [v1[2].tolist(), v0[0].tolist()]  # reader 0 holds (en low)
    assert seen[4][0] == [v1[4].tolist(), v1[4].tolist()]
    assert seen[5][1] == v1[2].tolist() and seen[6][1] == v0[3].tolist()  # read-back of the one half
    assert seen == run_model(StoreModel(v0, readers, False, check=True), steps)


@pytest.mark.parametrize("rows", [1, 5, 8])
def test_initial_rows_in_every_half_and_replica_and_read_back(rows):
    """init in both halves of every replica (read before and after a swap without writes); the read-back
    reads the current half: the initial rows, then each G run's rows once it has swapped."""
    lanes, readers = 2, 3
    v0, v1, v2 = (version(k, rows, lanes) for k in range(3))
    steps = []
    for half in range(2):  # every reader reads every row of half 0, then (after a swap) of half 1
        for q in range(rows):
            steps.append({**idle(readers), "r": [(1, q, int(q == 0))] * readers,
                          "swap": int(half == 0 and q == rows - 1)})
    steps += [{**idle(readers), "rb": (1, q)} for q in range(rows)]
    for new in (v1, v2):
        steps += [{**idle(readers), "w": (1, q, new[q].tolist()), "swap": int(q == rows - 1)} for q in range(rows)]
        steps += [{**idle(readers), "rb": (1, q)} for q in range(rows)]
    seen = simulate(ConvWeightStore(FMT, lanes, rows, readers, True, init=v0), steps)
    for t in range(2 * rows):
        assert seen[t + 1][0] == [v0[t % rows].tolist()] * readers, f"cycle {t}"
    for k, expected in enumerate((v0, v1, v2)):
        first = 2 * rows + 2 * k * rows
        assert [seen[first + q + 1][1] for q in range(rows)] == expected.tolist()
    assert seen == run_model(StoreModel(v0, readers, True, check=True), steps)
    single = simulate(ConvWeightStore(FMT, lanes, rows, 1, False, init=v0),
                      [{**idle(1), "rb": (1, q)} for q in range(rows)])
    assert [single[q + 1][1] for q in range(rows)] == v0.tolist()


def test_memories_and_members():
    store = elaborated(ConvWeightStore(FMT, 4, 5, 3, True))
    assert store.addr_bits == 3 and store.depth == conv_store_depth(5, True) == 8 + 5
    assert conv_store_depth(8, True) == 16 and conv_store_depth(1, False) == 2 and conv_store_depth(5, False) == 5
    m = store.elaborate(None)
    for i in range(3):
        mem = m.submodules[f"replica{i}"]
        assert (len(mem.read_ports), len(mem.write_ports), mem.depth) == (1, 1, 13)
        assert mem.attrs == {"no_rw_check": 1}
    Fragment.get(m, None)  # used: no UnusedElaboratable warning
    sig = store.signature.members
    assert repr(sig["r2"].signature.flip()) == "ReadRequest(3, 64)"
    assert repr(sig["w"].signature.flip()) == "WriteRequest(3, 64, 1)"
    assert repr(sig["readback"].signature.flip()) == "ReadRequest(3, 64)"
    assert {"r0_begin", "r1_begin", "r2_begin", "swap"} <= set(sig)


def test_refusals():
    with pytest.raises(ValueError):
        ConvWeightStore(FMT, 4, 5, 0, True)
    with pytest.raises(ValueError):
        ConvWeightStore(FMT, 4, 0, 1, True)
    with pytest.raises(ValueError):
        ConvWeightStore(FMT, 4, 5, 1, True, init=np.zeros((4, 5), dtype=np.int64))
    with pytest.raises(ValueError):
        ConvWeightStore(FMT, 4, 5, 1, True, init=np.full((5, 4), FMT.data_max + 1))
    with pytest.raises(ValueError):
        ConvWeightStore(FMT, 4, 5, 1, True, init=np.zeros((5, 4)))  # floats


def test_estimate():
    """72 rows × 8 lanes, 3 replicas, double-buffered (200 memory rows of 128 bits): YoWASP Yosys 0.70 maps it to
    12 DP16KD, 13 LUT4, 4 FF (synth_ecp5) and 24 SB_RAM40_4K, 15 LUT, 4 FF (synth_ice40); without no_rw_check it
    adds a bypass of 528 FFs."""
    store = elaborated(ConvWeightStore(FMT, 8, 72, 3, True))
    ecp5 = store.estimate(ECP5)
    assert (ecp5.bram, ecp5.ff, ecp5.dsp) == (12, 4, 0) and 10 <= ecp5.lut <= 16
    assert store.estimate(ICE40).bram == 24 and store.estimate(XILINX7).bram == 12
    single = elaborated(ConvWeightStore(FMT, 8, 72, 1, False)).estimate(ECP5)
    assert single.bram == 4 and single.ff == 0  # 72 × 128 bits: 512×36 ×4
    tiny = elaborated(ConvWeightStore(FMT, 8, 4, 2, True)).estimate(ECP5)
    assert tiny.bram == 0 and tiny.ff == 2 * 128 + 3  # LUT RAM: read registers in flip-flops, three half bits


@pytest.mark.parametrize("readers", [1, 3])
@pytest.mark.parametrize("double_buffered", [True, False])
def test_verilog_lints(tmp_path, readers, double_buffered):
    rng = np.random.default_rng(readers)
    store = ConvWeightStore(FMT, 4, 5, readers, double_buffered, init=rng.integers(-9, 9, (5, 4)))
    ports = None
    if not double_buffered:  # swap and the begins are unused with one half: left out of the top level
        ports = [s for port in store.read_ports for s in (port.addr, port.en, port.data)]
        ports += [store.w.addr, store.w.data, store.w.en, store.readback.addr, store.readback.en, store.readback.data]
    lint_wall(store, "conv_weight_store", tmp_path, ports=ports)


def test_verilog_marks_collisions_dont_care():
    from amaranth.back import verilog

    assert verilog.convert(ConvWeightStore(FMT, 2, 3, 2, True), name="store").count("no_rw_check") == 2
