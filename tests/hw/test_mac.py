"""VectorMAC against FixedFormat/numpy: F, B and G on random row chunks, rounding ties, saturation,
back-to-back tasks with bubbles, the documented latencies, estimates, and Verilator -Wall lint."""

from __future__ import annotations

import math

import numpy as np
import pytest

from layerpipe.core.numerics import FixedFormat
from layerpipe.hw.estimate import ECP5, ICE40, XILINX7, Resources
from layerpipe.hw.lanes import pad_lanes
from layerpipe.hw.mac import MacOp, VectorMAC
from tests.helpers.lint import elaborated, lint_wall
from tests.helpers.simulation import run_clocked

FMT = FixedFormat()


# -- reference model ----------------------------------------------------------------------------


def f_task(fmt, W, a, relu, lanes, tag_base=0):
    """Issues (row by row, chunk by chunk) and expected outputs (one per row) of F."""
    Wp, ap = pad_lanes(W, lanes), pad_lanes(a, lanes)
    chunks = Wp.shape[1] // lanes
    issues = []
    for i in range(Wp.shape[0]):
        for c in range(chunks):
            issues.append(dict(valid=1, op=MacOp.F, weights=list(Wp[i, c * lanes:(c + 1) * lanes]),
                               vector=list(ap[c * lanes:(c + 1) * lanes]), first=int(c == 0),
                               last=int(c == chunks - 1), relu=int(relu), tag=(tag_base + i) % 256))
    z = fmt.to_data(np.asarray(W, dtype=np.int64) @ np.asarray(a, dtype=np.int64))
    act = np.maximum(z, 0) if relu else z
    expected = [(int(z[i]), int(act[i]), int(z[i] > 0), (tag_base + i) % 256) for i in range(len(z))]
    return issues, expected


def b_task(fmt, W, delta, lanes, tag_base=0):
    Wp = pad_lanes(W, lanes)
    rows, chunks = Wp.shape[0], Wp.shape[1] // lanes
    issues = []
    for i in range(rows):
        for c in range(chunks):
            issues.append(dict(valid=1, op=MacOp.B, weights=list(Wp[i, c * lanes:(c + 1) * lanes]),
                               scalar=int(delta[i]), first=int(i == 0), last=int(i == rows - 1), chunk=c,
                               tag=(tag_base + c) % 256))
    e = fmt.to_data(Wp.T @ np.asarray(delta, dtype=np.int64))
    expected = [(c, [int(v) for v in e[c * lanes:(c + 1) * lanes]], (tag_base + c) % 256) for c in range(chunks)]
    return issues, expected


def g_task(fmt, W, delta, a, lanes, tag_base=0):
    Wp, ap = pad_lanes(W, lanes), pad_lanes(a, lanes)
    rows, chunks = Wp.shape[0], Wp.shape[1] // lanes
    new = fmt.saturate(Wp - fmt.weight_step(np.outer(np.asarray(delta, dtype=np.int64), ap)))
    issues, expected = [], []
    for i in range(rows):
        for c in range(chunks):
            cut = slice(c * lanes, (c + 1) * lanes)
            issues.append(dict(valid=1, op=MacOp.G, weights=list(Wp[i, cut]), vector=list(ap[cut]),
                               scalar=int(delta[i]), first=0, last=0, tag=(tag_base + i * chunks + c) % 256))
            expected.append(([int(v) for v in new[i, cut]], (tag_base + i * chunks + c) % 256))
    return issues, expected


# -- simulation harness -------------------------------------------------------------------------


def run_mac(mac, issues, rng=None, bubble=0.0, drain=8):
    """Drive one issue per cycle (random idle cycles with garbage operands at rate ``bubble``).

    Returns the cycles at which each issue was presented and every valid output by kind.
    """
    lanes, fmt = mac.lanes, mac.fmt

    def garbage():
        return dict(valid=0, op=MacOp(int(rng.integers(0, 3))) if rng is not None else MacOp.F,
                    weights=list(rng.integers(fmt.data_min, fmt.data_max + 1, lanes)) if rng is not None else
                    [0] * lanes, first=1, last=1)

    plan = []
    for issue in issues:
        while rng is not None and bubble and rng.random() < bubble:
            plan.append(garbage())
        plan.append(issue)
    return drive(mac, plan + [dict(valid=0)] * drain)


def drive(mac, plan):
    """Present ``plan[t]`` in cycle t (inputs a step does not name keep their values; inputs the MAC
    lacks are skipped). Returns the cycles of the valid steps and every valid output by kind."""
    fmt = mac.fmt
    cycles, outputs = [], {"F": [], "B": [], "G": []}
    has_tag = mac.tag_shape is not None

    async def bench(ctx):
        for cycle, step in enumerate(plan):
            for name, value in step.items():
                if name == "tag" and not has_tag:
                    continue
                if name in ("vector", "scalar", "relu", "chunk", "accumulate") and not hasattr(mac, name):
                    continue
                if name in ("weights", "vector", "scalar"):
                    assert np.all((fmt.data_min <= np.asarray(value)) & (np.asarray(value) <= fmt.data_max))
                ctx.set(getattr(mac, name), value)
            if step.get("valid"):
                cycles.append(cycle)
            if hasattr(mac, "dot_valid") and ctx.get(mac.dot_valid):
                outputs["F"].append((cycle, ctx.get(mac.dot_z), ctx.get(mac.dot_act), ctx.get(mac.dot_mask),
                                     ctx.get(mac.dot_tag) if has_tag else None))
            if hasattr(mac, "col_valid") and ctx.get(mac.col_valid):
                outputs["B"].append((cycle, ctx.get(mac.col_chunk), list(ctx.get(mac.col_data)),
                                     ctx.get(mac.col_tag) if has_tag else None))
            if hasattr(mac, "upd_valid") and ctx.get(mac.upd_valid):
                outputs["G"].append((cycle, list(ctx.get(mac.upd_weights)),
                                     ctx.get(mac.upd_tag) if has_tag else None))
            await ctx.tick()

    run_clocked(mac, bench, 1e-6)
    return cycles, outputs


def check_f(outputs, cycles, issues, expected, latency):
    last_issues = [k for k, issue in enumerate(issues) if issue["last"]]
    assert len(outputs) == len(expected)
    for (cycle, z, act, mask, tag), want, k in zip(outputs, expected, last_issues):
        assert (z, act, mask) == want[:3]
        assert cycle == cycles[k] + latency
        assert tag == want[3]


# -- tests --------------------------------------------------------------------------------------


@pytest.mark.parametrize("lanes,in_size,out_size", [(4, 10, 5), (8, 8, 3), (3, 1, 4)])
def test_forward_random(lanes, in_size, out_size):
    rng = np.random.default_rng(1000 + lanes)
    mac = VectorMAC(FMT, lanes, max_chunks=4, tag_shape=8)
    issues, expected = [], []
    for relu, bound in ((True, 3000), (False, 3000), (True, FMT.data_max)):
        W = rng.integers(-bound - 1, bound + 1, (out_size, in_size))
        a = rng.integers(-bound - 1, bound + 1, in_size)
        more, want = f_task(FMT, W, a, relu, lanes, tag_base=len(expected))
        issues += more
        expected += want
    cycles, out = run_mac(mac, issues)
    check_f(out["F"], cycles, issues, expected, mac.latency[MacOp.F])
    assert not out["B"] and not out["G"]
    assert any(w[0] == FMT.data_max for w in expected) or any(w[0] == FMT.data_min for w in expected)


def test_forward_rounding_ties_and_saturation():
    lanes, fmt = 4, FMT
    half = 1 << (fmt.frac_bits - 1)
    # one-lane rows whose dot product sits exactly on a tie, then saturating rows
    cases = [
        ([1, 0, 0, 0], [half, 0, 0, 0]),  # +0.5 LSB → rounds up to 1
        ([-1, 0, 0, 0], [half, 0, 0, 0]),  # −0.5 LSB → rounds up to 0
        ([3, 0, 0, 0], [half, 0, 0, 0]),  # 1.5 → 2
        ([-3, 0, 0, 0], [half, 0, 0, 0]),  # −1.5 → −1
        ([fmt.data_min] * 4, [fmt.data_min] * 4),  # +huge → data_max
        ([fmt.data_max] * 4, [fmt.data_min] * 4),  # −huge → data_min
        ([fmt.data_min, 0, 0, 0], [fmt.data_min, 0, 0, 0]),  # 2**30 / 2**12 = 2**18 → data_max
    ]
    issues, expected = [], []
    for row, vec in cases:
        for relu in (False, True):
            more, want = f_task(fmt, np.array([row]), np.array(vec), relu, lanes, tag_base=len(expected))
            issues += more
            expected += want
    assert [w[0] for w in expected[:8:2]] == [1, 0, 2, -1]
    assert expected[8][0] == fmt.data_max and expected[10][0] == fmt.data_min
    mac = VectorMAC(fmt, lanes, ops=("F",), tag_shape=8)
    cycles, out = run_mac(mac, issues)
    check_f(out["F"], cycles, issues, expected, mac.latency[MacOp.F])


@pytest.mark.parametrize("lanes,in_size,out_size", [(4, 10, 6), (8, 16, 3), (4, 4, 1)])
def test_backward_random(lanes, in_size, out_size):
    rng = np.random.default_rng(2000 + lanes + out_size)
    chunks = math.ceil(in_size / lanes)
    mac = VectorMAC(FMT, lanes, max_chunks=chunks, tag_shape=8)
    issues, expected = [], []
    for bound in (3000, FMT.data_max):
        W = rng.integers(-bound - 1, bound + 1, (out_size, in_size))
        delta = rng.integers(-bound - 1, bound + 1, out_size)
        more, want = b_task(FMT, W, delta, lanes, tag_base=len(expected))
        issues += more
        expected += want
    cycles, out = run_mac(mac, issues, rng=rng, bubble=0.2)
    assert [(c, d, t) for _, c, d, t in out["B"]] == expected
    last_rows = [k for k, issue in enumerate(issues) if issue["last"]]
    assert [o[0] for o in out["B"]] == [cycles[k] + mac.latency[MacOp.B] for k in last_rows]


def test_backward_ties_and_one_chunk_rows():
    """One chunk per row: the same accumulator row is read-modify-written in consecutive cycles."""
    fmt, lanes = FMT, 4
    half = 1 << (fmt.frac_bits - 1)
    W = np.array([[1, -1, 3, fmt.data_min], [0, 0, 0, fmt.data_min], [0, 0, 0, 0]])
    delta = np.array([half, half, half])
    issues, expected = b_task(fmt, W, delta, lanes)
    assert expected[0][1] == [1, 0, 2, fmt.data_min]  # ties +0.5 → 1, −0.5 → 0, 1.5 → 2; exactly −1.0·2**3
    mac = VectorMAC(fmt, lanes, max_chunks=1, ops=("B",), tag_shape=8)
    cycles, out = run_mac(mac, issues)
    assert [(c, d, t) for _, c, d, t in out["B"]] == expected
    sat = np.array([[fmt.data_min] * 4, [fmt.data_min] * 4, [fmt.data_max, fmt.data_max, 0, 0]])
    issues, expected = b_task(fmt, sat, np.array([fmt.data_min, fmt.data_min, fmt.data_max]), lanes)
    cycles, out = run_mac(mac, issues)
    assert [(c, d, t) for _, c, d, t in out["B"]] == expected
    assert expected[0][1][0] == fmt.data_max


@pytest.mark.parametrize("lanes,in_size,out_size", [(4, 10, 3), (8, 8, 2)])
def test_update_random(lanes, in_size, out_size):
    rng = np.random.default_rng(3000 + lanes)
    mac = VectorMAC(FMT, lanes, max_chunks=4, tag_shape=8)
    issues, expected = [], []
    for bound in (3000, FMT.data_max):
        W = rng.integers(-bound - 1, bound + 1, (out_size, in_size))
        delta = rng.integers(FMT.data_min, FMT.data_max + 1, out_size)
        a = rng.integers(FMT.data_min, FMT.data_max + 1, in_size)
        more, want = g_task(FMT, W, delta, a, lanes, tag_base=len(expected))
        issues += more
        expected += want
    cycles, out = run_mac(mac, issues, rng=rng, bubble=0.3)
    assert [(w, t) for _, w, t in out["G"]] == expected
    assert [o[0] for o in out["G"]] == [c + mac.latency[MacOp.G] for c in cycles]


def test_update_ties_and_saturation():
    fmt, lanes = FMT, 4
    shift = fmt.frac_bits + fmt.lr_shift
    half = 1 << (shift - 1 - 3)  # δ = 8: δ·a exactly half a weight LSB
    W = np.array([[5, 5, fmt.data_min, fmt.data_max]])
    delta = np.array([8])
    a = np.array([half, -half, fmt.data_max, fmt.data_min])
    # δ·a = 2**17 → step 1; −2**17 → step 0; W_min − 1 → data_min; W_max − (−1) → data_max
    issues, expected = g_task(fmt, W, delta, a, lanes)
    assert expected[0][0][:2] == [4, 5]
    assert expected[0][0][2:] == [fmt.data_min, fmt.data_max]
    big = g_task(fmt, np.array([[fmt.data_min, fmt.data_max, 0, -1]]), np.array([fmt.data_min]),
                 np.array([fmt.data_min, fmt.data_max, fmt.data_min, fmt.data_max]), lanes, tag_base=1)
    mac = VectorMAC(fmt, lanes, ops=("G",), tag_shape=8)
    cycles, out = run_mac(mac, issues + big[0])
    assert [(w, t) for _, w, t in out["G"]] == expected + big[1]


def test_mixed_tasks_back_to_back():
    """F, B, G, F of different shapes with no gap and with bubbles: every result and its cycle."""
    rng = np.random.default_rng(4)
    lanes = 4
    mac = VectorMAC(FMT, lanes, max_chunks=3, tag_shape=8)
    W1 = rng.integers(-3000, 3001, (3, 9))
    W2 = rng.integers(-3000, 3001, (4, 5))
    a1, d1 = rng.integers(-4096, 4097, 9), rng.integers(-4096, 4097, 3)
    a2, d2 = rng.integers(-4096, 4097, 5), rng.integers(-4096, 4097, 4)
    tasks = [("F", f_task(FMT, W1, a1, True, lanes)), ("B", b_task(FMT, W2, d2, lanes)),
             ("G", g_task(FMT, W1, d1, a1, lanes)), ("B", b_task(FMT, W1, d1, lanes, tag_base=9)),
             ("F", f_task(FMT, W2, a2, False, lanes, tag_base=7)), ("G", g_task(FMT, W2, d2, a2, lanes))]
    issues = [i for _, (more, _) in tasks for i in more]
    for bubble in (0.0, 0.25):
        cycles, out = run_mac(mac, issues, rng=rng, bubble=bubble)
        want = {"F": [], "B": [], "G": []}
        for kind, (_, expected) in tasks:
            want[kind] += expected
        assert [o[1:4] for o in out["F"]] == [w[:3] for w in want["F"]]
        assert [(c, d, t) for _, c, d, t in out["B"]] == want["B"]
        assert [(w, t) for _, w, t in out["G"]] == want["G"]
        f_last = [k for k, i in enumerate(issues) if i["op"] == MacOp.F and i["last"]]
        assert [o[0] for o in out["F"]] == [cycles[k] + mac.latency[MacOp.F] for k in f_last]


def test_tree_register_adds_one_cycle():
    rng = np.random.default_rng(5)
    mac = VectorMAC(FMT, 4, ops=("F",), tree_register=True, tag_shape=8)
    assert mac.latency[MacOp.F] == 4 and mac.min_task_overhead() == 5
    issues, expected = f_task(FMT, rng.integers(-3000, 3001, (3, 7)), rng.integers(-3000, 3001, 7), True, 4)
    cycles, out = run_mac(mac, issues, rng=rng, bubble=0.2)
    check_f(out["F"], cycles, issues, expected, 4)


def test_latencies_and_overhead():
    mac = elaborated(VectorMAC(FMT, 8, max_chunks=8))
    # operand registers, products, then F's row accumulator (its output combinational from it) and
    # B's output register: 3 cycles; G's update is combinational from the products: 2
    assert mac.latency == {MacOp.F: 3, MacOp.B: 3, MacOp.G: 2}
    assert mac.min_task_overhead() == 4  # = CostModel's default task_overhead_cycles
    assert elaborated(VectorMAC(FMT, 8, ops=("B", "G"))).min_task_overhead() == 4
    assert elaborated(VectorMAC(FMT, 8, ops=("G",))).min_task_overhead() == 3
    with pytest.raises(ValueError):
        VectorMAC(FMT, 0)
    with pytest.raises(ValueError):
        VectorMAC(FMT, 4, ops=())


def test_estimate():
    mac = elaborated(VectorMAC(FMT, 8, max_chunks=8))
    for family in (ECP5, ICE40, XILINX7):
        r = mac.estimate(family)
        assert isinstance(r, Resources) and r.dsp == 8 and r.lut > 0 and r.ff > 0
    # column accumulators, 8 rows of 8 × 40 bits: LUT RAM on ECP5 (80 DPR16X4, as Yosys maps them),
    # block RAM when deep (98 rows: 9 × 512×36), block RAM on iCE40 (no LUT RAM: 20 × 256×16)
    assert mac.estimate("ecp5").bram == 0 and mac.estimate(ICE40).bram == 20
    # Yosys 0.70 synth_ecp5: 1280 TRELLIS_FF (operand registers, products, stages)
    assert abs(mac.estimate(ECP5).ff - 1280) <= 0.05 * 1280
    assert elaborated(VectorMAC(FMT, 8, max_chunks=98)).estimate(ECP5).bram == 9
    assert elaborated(VectorMAC(FMT, 8, ops=("F", "G"))).estimate().bram == 0
    assert elaborated(VectorMAC(FMT, 4)).estimate().dsp == 4
    wide = FixedFormat(data_bits=24, frac_bits=16, acc_bits=56)
    assert elaborated(VectorMAC(wide, 2, ops=("F",))).estimate(ECP5).dsp == 2 * 4  # 24×24: 2×2 18×18 blocks


# -- accumulating G (conv layers) ---------------------------------------------------------------


def g_run(fmt, W, scalars, vectors, rng, tag):
    """One accumulating run (one weight row chunk ``W``): issues and the expected update.

    Only the first issue's ``weights`` count (the remainder starts from them): the others carry random words.
    """
    count, lanes = len(scalars), len(W)
    issues = []
    for j, (s, v) in enumerate(zip(scalars, vectors)):
        w = W if j == 0 else rng.integers(fmt.data_min, fmt.data_max + 1, lanes)
        issues.append(dict(valid=1, op=MacOp.G, accumulate=1, weights=[int(x) for x in w],
                           vector=[int(x) for x in v], scalar=int(s), first=int(j == 0), last=int(j == count - 1),
                           tag=tag % 256))
    total = np.asarray(vectors, dtype=np.int64).T @ np.asarray(scalars, dtype=np.int64)  # exact per lane
    new = fmt.saturate(np.asarray(W, dtype=np.int64) - fmt.weight_step(total))
    return issues, ([int(x) for x in new], tag % 256)


def random_run(fmt, lanes, rng, tag, length=None):
    length = int(rng.integers(1, 71)) if length is None else length
    mode = int(rng.integers(0, 4))
    W = rng.integers(fmt.data_min, fmt.data_max + 1, lanes)
    if mode == 3:  # one sign per lane: long runs leave the data range at either end
        half = fmt.data_max // 2
        scalars = rng.integers(half, fmt.data_max + 1, length)
        vectors = rng.integers(half, fmt.data_max + 1, (length, lanes)) * rng.choice([-1, 1], lanes)
    else:
        bound = (fmt.data_max, 1 << (fmt.frac_bits + 1), 64)[mode]
        scalars = rng.integers(-bound - 1, bound + 1, length).clip(fmt.data_min, fmt.data_max)
        vectors = rng.integers(-bound - 1, bound + 1, (length, lanes)).clip(fmt.data_min, fmt.data_max)
    return g_run(fmt, W, scalars, vectors, rng, tag)


def idle(fmt, lanes, rng):
    """An idle cycle with garbage on every input, ``accumulate``, ``first`` and ``last`` included."""
    return dict(valid=0, op=MacOp(int(rng.integers(0, 3))), accumulate=int(rng.integers(0, 2)),
                first=int(rng.integers(0, 2)), last=int(rng.integers(0, 2)),
                weights=[int(x) for x in rng.integers(fmt.data_min, fmt.data_max + 1, lanes)],
                vector=[int(x) for x in rng.integers(fmt.data_min, fmt.data_max + 1, lanes)],
                scalar=int(rng.integers(fmt.data_min, fmt.data_max + 1)), chunk=0, relu=1)


def merge(streams, rng, bubble):
    """Interleave issue streams at random (each stream's order kept), idle cycles at rate ``bubble``.

    ``streams``: lists of (issue, expected G output or None). Returns the plan, and per plan
    step the expected G output (None for idle steps and issues without one).
    """
    pending = [list(stream) for stream in streams if stream]
    plan, want = [], []
    while pending:
        while bubble and rng.random() < bubble:
            plan.append(None)
            want.append(None)
        stream = pending[int(rng.integers(0, len(pending)))]
        issue, expected = stream.pop(0)
        plan.append(issue)
        want.append(expected)
        pending = [p for p in pending if p]
    return plan, want


def check_g(out, plan, want, latency=2):
    expected = [(t + latency, *w) for t, w in enumerate(want) if w is not None]
    assert [(c, w, t) for c, w, t in out] == expected


@pytest.mark.parametrize("lanes,seed", [(4, 0), (8, 1), (1, 2)])
def test_accumulate_runs_random(lanes, seed):
    """Runs of 1..70 issues back to back, random operands, against FixedFormat, exact output cycles."""
    rng = np.random.default_rng(5000 + seed)
    mac = VectorMAC(FMT, lanes, ops=("G",), accumulate_g=True, tag_shape=8)
    stream = []
    for n in range(20):
        issues, expected = random_run(FMT, lanes, rng, tag=n, length=(1, 70, 2)[n] if n < 3 else None)
        stream += [(issue, None) for issue in issues[:-1]] + [(issues[-1], expected)]
    for bubble in (0.0, 0.15):
        plan, want = merge([stream], rng, bubble)
        plan = [idle(FMT, lanes, rng) if step is None else step for step in plan]
        cycles, out = drive(mac, plan + [dict(valid=0)] * 4)
        check_g(out["G"], plan, want)
    # every saturation outcome and a spread of in-range ones occurred
    news = np.array([w[0] for _, w in stream if w is not None])
    assert (news == FMT.data_min).any() and (news == FMT.data_max).any()
    assert ((news > FMT.data_min) & (news < FMT.data_max)).sum() >= lanes * 4


def test_accumulate_ties_saturation_and_wide_sums():
    fmt, lanes = FMT, 4
    rng = np.random.default_rng(6)
    shift = fmt.frac_bits + fmt.lr_shift
    quarter = 1 << (shift - 2 - 3)  # δ = 8: δ·a a quarter of a weight LSB
    m = fmt.data_max  # ±m·m ≈ ±2**30 per product
    cases = [
        # Σ = ±0.5 LSB over two issues (ties round up: step 1 and 0), ±1.5 LSB over six (steps 2, −1)
        (np.array([5, 5, 5, 5]), [8] * 6,
         [[quarter, -quarter, quarter, -quarter]] * 2 + [[0, 0, quarter, -quarter]] * 4),
        # W at the range ends pushed outward (saturates), and inward (exact)
        (np.array([fmt.data_min, fmt.data_max, fmt.data_min, fmt.data_max]), [m] * 3, [[m, -m, -m, m]] * 3),
        # 70 products of ≈ 2**30: Σ ≈ 2**36.1 (beyond 2·data_bits + 1 bits), step ≫ data range
        (np.array([0, 0, 100, -100]), [m] * 70, [[m, -m, m, -m]] * 70),
        # wide partial sums that cancel: the exact remainder survives
        (np.array([7, -7, 0, 0]), [m] * 40 + [16],
         [[m, -m, m, m]] * 20 + [[-m, m, -m, -m]] * 20 + [[quarter * 2, quarter * 3 // 2, 0, -1]]),
    ]
    stream, results = [], []
    for n, (W, scalars, vectors) in enumerate(cases):
        issues, expected = g_run(fmt, W, scalars, vectors, rng, tag=n)
        stream += [(issue, None) for issue in issues[:-1]] + [(issues[-1], expected)]
        results.append(expected[0])
    assert results[0] == [4, 5, 3, 6]
    assert results[1][:2] == [fmt.data_min, fmt.data_max]
    assert results[1][2] == fmt.data_min + 12287 and results[1][3] == fmt.data_max - 12287  # 3·m² / 2**18 → 12287
    assert results[2] == [fmt.data_min, fmt.data_max, fmt.data_min, fmt.data_max]
    assert results[3] == [6, -8, 0, 0]  # steps: 2**18 → 1, 3·2**16 → 1 (0.75 rounds up), 0, −16 → 0
    mac = VectorMAC(fmt, lanes, ops=("F", "G"), accumulate_g=True, tag_shape=8)
    plan, want = merge([stream], rng, 0.0)
    cycles, out = drive(mac, plan + [dict(valid=0)] * 4)
    check_g(out["G"], plan, want)


def test_accumulate_small_format():
    fmt = FixedFormat(data_bits=8, frac_bits=5, acc_bits=24, lr_shift=2)
    rng = np.random.default_rng(7)
    mac = VectorMAC(fmt, 4, ops=("B", "G"), accumulate_g=True)
    stream = []
    for n in range(10):
        issues, expected = random_run(fmt, 4, rng, tag=n)
        stream += [(issue, None) for issue in issues[:-1]] + [(issues[-1], (expected[0], None))]
    plan, want = merge([stream], rng, 0.2)
    plan = [idle(fmt, 4, rng) if step is None else step for step in plan]
    cycles, out = drive(mac, plan + [dict(valid=0)] * 4)
    check_g(out["G"], plan, want)


def test_accumulate_interleaved_with_fc_g_f_b():
    """Accumulating runs with non-accumulating G, F and B issues and idle cycles inside and between them:
    only accumulating G issues touch the sum; every output and its cycle."""
    rng = np.random.default_rng(8)
    lanes = 4
    mac = VectorMAC(FMT, lanes, max_chunks=3, accumulate_g=True, tag_shape=8)
    runs = []
    for n in range(8):
        issues, expected = random_run(FMT, lanes, rng, tag=100 + n)
        runs += [(issue, None) for issue in issues[:-1]] + [(issues[-1], expected)]
    W1, W2 = rng.integers(-3000, 3001, (3, 9)), rng.integers(-3000, 3001, (4, 5))
    a1, d1 = rng.integers(FMT.data_min, FMT.data_max + 1, 9), rng.integers(FMT.data_min, FMT.data_max + 1, 3)
    a2, d2 = rng.integers(-4096, 4097, 5), rng.integers(-4096, 4097, 4)
    fc_g = []
    for more, want in (g_task(FMT, W1, d1, a1, lanes), g_task(FMT, W2, d2, a2, lanes, tag_base=50)):
        for issue, expected in zip(more, want):
            # accumulate low: first/last are ignored, so give them random values
            fc_g.append((dict(issue, accumulate=0, first=int(rng.integers(0, 2)), last=int(rng.integers(0, 2))),
                         expected))
    f_issues, f_want = f_task(FMT, W1, a1 % 4096, True, lanes)
    b_issues, b_want = b_task(FMT, W2, d2, lanes, tag_base=9)
    f_stream = [(dict(i, accumulate=int(rng.integers(0, 2))), None) for i in f_issues]
    b_stream = [(dict(i, accumulate=int(rng.integers(0, 2))), None) for i in b_issues]
    for bubble in (0.0, 0.2):
        plan, want = merge([runs, fc_g, f_stream, b_stream], rng, bubble)
        plan = [idle(FMT, lanes, rng) if step is None else step for step in plan]
        cycles, out = drive(mac, plan + [dict(valid=0)] * 6)
        check_g(out["G"], plan, want)
        f_last = [t for t, step in enumerate(plan) if step["valid"] and step["op"] == MacOp.F and step["last"]]
        assert [o[1:] for o in out["F"]] == [w[:3] + (w[3],) for w in f_want]
        assert [o[0] for o in out["F"]] == [t + mac.latency[MacOp.F] for t in f_last]
        b_last = [t for t, step in enumerate(plan) if step["valid"] and step["op"] == MacOp.B and step["last"]]
        assert [o[1:] for o in out["B"]] == b_want
        assert [o[0] for o in out["B"]] == [t + mac.latency[MacOp.B] for t in b_last]


def test_accumulate_low_is_fc_g_cycle_for_cycle():
    """With ``accumulate`` low the accumulating MAC's outputs are the plain MAC's, bit for bit, cycle for cycle."""
    rng = np.random.default_rng(9)
    lanes = 8
    W = rng.integers(FMT.data_min, FMT.data_max + 1, (5, 20))
    d, a = rng.integers(FMT.data_min, FMT.data_max + 1, 5), rng.integers(FMT.data_min, FMT.data_max + 1, 20)
    tasks = [f_task(FMT, W, a % 2048, True, lanes), g_task(FMT, W, d, a, lanes), b_task(FMT, W, d, lanes),
             g_task(FMT, W[:2], d[:2], a, lanes, tag_base=40)]
    stream = [(dict(i, accumulate=0, first=int(rng.integers(0, 2)), last=int(rng.integers(0, 2)))
               if i["op"] == MacOp.G else i, None) for more, _ in tasks for i in more]
    plan, _ = merge([stream], rng, 0.3)
    plan = [dict(idle(FMT, lanes, rng), accumulate=0) if step is None else step for step in plan]
    plan += [dict(valid=0)] * 6
    plain = drive(VectorMAC(FMT, lanes, max_chunks=3, tag_shape=8), plan)
    accumulating = drive(VectorMAC(FMT, lanes, max_chunks=3, tag_shape=8, accumulate_g=True), plan)
    assert plain == accumulating
    assert [(w, t) for _, w, t in plain[1]["G"]] == tasks[1][1] + tasks[3][1]


def test_accumulate_members_latency_and_estimate():
    mac = elaborated(VectorMAC(FMT, 8, accumulate_g=True))
    assert "accumulate" in mac.signature.members and mac.latency[MacOp.G] == 2
    assert not hasattr(elaborated(VectorMAC(FMT, 8)), "accumulate")
    no_g = VectorMAC(FMT, 8, ops=("F", "B"), accumulate_g=True)
    assert not hasattr(no_g, "accumulate") and not no_g.accumulate_g
    elaborated(no_g)
    plain = elaborated(VectorMAC(FMT, 8, ops=("G",)))
    acc = elaborated(VectorMAC(FMT, 8, ops=("G",), accumulate_g=True))
    for family in (ECP5, ICE40, XILINX7):
        more, less = acc.estimate(family), plain.estimate(family)
        rest_bits = max(FMT.data_bits + FMT.frac_bits + FMT.lr_shift, FMT.acc_bits) + 1
        assert more.ff - less.ff == 8 * rest_bits + 6  # g_rest; accumulate, first, last two stages
        assert more.lut - less.lut >= 8 * FMT.acc_bits  # the selects in front of a wider subtractor
        assert more.dsp == less.dsp == 8 and more.bram == less.bram == 0


@pytest.mark.parametrize("kwargs", [dict(max_chunks=8), dict(ops=("F",)), dict(ops=("B", "G"), tag_shape=6),
                                    dict(ops=("B",), max_chunks=1),
                                    dict(tree_register=True, tag_shape=8, max_chunks=3),
                                    dict(accumulate_g=True, max_chunks=4, tag_shape=8),
                                    dict(ops=("G",), accumulate_g=True)])
def test_verilog_lints(tmp_path, kwargs):
    lint_wall(VectorMAC(FMT, 8, **kwargs), "vector_mac", tmp_path)
