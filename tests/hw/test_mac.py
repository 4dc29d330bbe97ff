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
    cycles, outputs = [], {"F": [], "B": [], "G": []}
    has_tag = mac.tag_shape is not None

    def garbage():
        return dict(valid=0, op=MacOp(int(rng.integers(0, 3))) if rng is not None else MacOp.F,
                    weights=list(rng.integers(fmt.data_min, fmt.data_max + 1, lanes)) if rng is not None else
                    [0] * lanes, first=1, last=1)

    async def bench(ctx):
        plan = []
        for issue in issues:
            while rng is not None and bubble and rng.random() < bubble:
                plan.append(garbage())
            plan.append(issue)
        plan += [dict(valid=0)] * drain
        for cycle, step in enumerate(plan):
            for name, value in step.items():
                if name == "tag" and not has_tag:
                    continue
                if name in ("vector", "scalar", "relu", "chunk") and not hasattr(mac, name):
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


@pytest.mark.parametrize("kwargs", [dict(max_chunks=8), dict(ops=("F",)), dict(ops=("B", "G"), tag_shape=6),
                                    dict(ops=("B",), max_chunks=1),
                                    dict(tree_register=True, tag_shape=8, max_chunks=3)])
def test_verilog_lints(tmp_path, kwargs):
    lint_wall(VectorMAC(FMT, 8, **kwargs), "vector_mac", tmp_path)
