"""PoolWriteBack against the pooling of docs/semantics.md ("Convolution layers") and the golden model's
(sim/conv.py), max and average: random windows with ties, zeros and all-negative windows, idle cycles
with garbage between positions, windows back to back, the write in the cycle of the window's last
position, and Verilator -Wall lint."""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.hdl import ClockDomain, Module, Shape

from layerpipe.core.numerics import FixedFormat
from layerpipe.hw.estimate import ECP5, ICE40, XILINX7, Resources
from layerpipe.hw.pool import PoolWriteBack
from layerpipe.sim import conv
from tests.helpers.lint import elaborated, lint_wall
from tests.helpers.simulation import run_clocked

FMT = FixedFormat()


# -- reference: docs/semantics.md's definitions, element by element ------------------------------


def pool_reference(z, pool):
    """a_l[o, Y, X] = max(0, max of the window); the pooled mask element: bit dy·p + dx set iff that
    position is the window's first maximum in row-major (dy, dx) order and it is > 0."""
    channels, height, width = z.shape
    rows, cols = height // pool, width // pool
    act = np.zeros((channels, rows, cols), dtype=np.int64)
    mask = np.zeros((channels, rows, cols), dtype=np.int64)
    for o in range(channels):
        for Y in range(rows):
            for X in range(cols):
                best, best_bit = None, None
                for dy in range(pool):
                    for dx in range(pool):
                        value = int(z[o, pool * Y + dy, pool * X + dx])
                        if best is None or value > best:
                            best, best_bit = value, dy * pool + dx
                act[o, Y, X] = max(0, best)
                mask[o, Y, X] = (1 << best_bit) if best > 0 else 0
    return act, mask


def average_reference(z, pool):
    """a_l[o, Y, X] = Σ of the window's positive z, plus 2^(s−1), floor-divided by 2^s (s = 2·log2 p: round
    half up); the pooled mask element: bit dy·p + dx set iff z > 0 there."""
    channels, height, width = z.shape
    rows, cols, s = height // pool, width // pool, 2 * int(np.log2(pool))
    act = np.zeros((channels, rows, cols), dtype=np.int64)
    mask = np.zeros((channels, rows, cols), dtype=np.int64)
    for o in range(channels):
        for Y in range(rows):
            for X in range(cols):
                total = 0
                for dy in range(pool):
                    for dx in range(pool):
                        value = int(z[o, pool * Y + dy, pool * X + dx])
                        if value > 0:
                            total += value
                            mask[o, Y, X] |= 1 << (dy * pool + dx)
                act[o, Y, X] = (total + (1 << s >> 1)) >> s
    return act, mask


REFERENCES = {"max": pool_reference, "average": average_reference}


def golden_pool(z, pool, mode="max"):
    """The golden model's F with z itself as the pre-pool output: a 1×1 identity kernel scaled by one."""
    channels = z.shape[0]
    W = np.zeros((channels, channels, 1, 1), dtype=np.int64)
    W[np.arange(channels), np.arange(channels)] = FMT.one
    return conv.forward(W, z, 0, pool, FMT, pool_mode=mode)


def random_z(rng, channels, height, width):
    """Pre-pool outputs, each window of one kind: small values (ties, zeros), all negative, all zero,
    one repeated positive value, or the full data range."""
    z = np.zeros((channels, height, width), dtype=np.int64)
    kind = rng.integers(0, 5, (channels, height, width))  # per element, then evened out per window below
    small = rng.integers(-3, 4, z.shape)
    negative = rng.integers(FMT.data_min, 0, z.shape)
    full = rng.integers(FMT.data_min, FMT.data_max + 1, z.shape)
    repeated = np.full(z.shape, int(rng.integers(1, FMT.data_max + 1)))
    choices = [small, negative, np.zeros_like(z), repeated, full]
    for k, values in enumerate(choices):
        z = np.where(kind == k, values, z)
    return z


def pool_z(rng, channels, pool, rows, cols):
    """z with whole windows of one kind each (plus a dropped row and column when pool > 1)."""
    extra = int(pool > 1)
    z = random_z(rng, channels, rows * pool + extra, cols * pool + extra)
    kinds = rng.integers(0, 6, (channels, rows, cols))
    kinds.flat[:3] = [1, 2, 3]  # at least one all-negative, one all-zero and one tied window
    for o in range(channels):
        for Y in range(rows):
            for X in range(cols):
                window = (o, slice(pool * Y, pool * Y + pool), slice(pool * X, pool * X + pool))
                if kinds[o, Y, X] == 0:
                    z[window] = rng.integers(-3, 4, (pool, pool))
                elif kinds[o, Y, X] == 1:
                    z[window] = rng.integers(FMT.data_min, 0, (pool, pool))
                elif kinds[o, Y, X] == 2:
                    z[window] = 0
                elif kinds[o, Y, X] == 3:  # a positive maximum several times (pool > 1), else 5
                    values = rng.choice([5, 4, -1, 0], pool * pool)
                    values[rng.choice(pool * pool, min(2, pool * pool), replace=False)] = 5
                    z[window] = values.reshape(pool, pool)
                elif kinds[o, Y, X] == 4:
                    z[window] = rng.integers(FMT.data_min, FMT.data_max + 1, (pool, pool))
                # kind 5: the mixed elements of random_z
    return z


# -- simulation harness ---------------------------------------------------------------------------


def issues_of(z, pool, lanes):
    """The rows in F's order (Y, X, oc, dy, dx): lanes over channels; one window's positions consecutively."""
    channels, height, width = z.shape
    chunks = channels // lanes
    issues = []
    for Y in range(height // pool):
        for X in range(width // pool):
            for oc in range(chunks):
                for dy in range(pool):
                    for dx in range(pool):
                        row = z[oc * lanes:(oc + 1) * lanes, pool * Y + dy, pool * X + dx]
                        issues.append(dict(valid=1, z=[int(v) for v in row], position=dy * pool + dx,
                                           window=(Y, X, oc)))
    return issues


def run_pool(dut, issues, rng, bubble):
    """One issue a cycle, idle cycles with garbage (any z and position) at rate ``bubble``.

    Returns the cycles of the issues and (cycle, act, mask) of every cycle with ``write`` high.
    """
    plan = []
    for issue in issues:
        while bubble and rng.random() < bubble:
            plan.append(dict(valid=0, z=[int(v) for v in rng.integers(FMT.data_min, FMT.data_max + 1, dut.lanes)],
                             position=int(rng.integers(0, dut.positions))))
        plan.append(issue)
    plan.append(dict(valid=0, position=dut.positions - 1))
    cycles, writes = [], []

    async def bench(ctx):
        for cycle, step in enumerate(plan):
            for name in ("valid", "z", "position"):
                if name in step:
                    ctx.set(getattr(dut, name), step[name])
            if step["valid"]:
                cycles.append(cycle)
            if ctx.get(dut.write):
                writes.append((cycle, list(ctx.get(dut.act)), list(ctx.get(dut.mask))))
            await ctx.tick()

    top = Module()  # a sync domain even for pool 1, which has no register
    top.domains.sync = ClockDomain()
    top.submodules.dut = dut
    run_clocked(top, bench, 1e-6)
    return cycles, writes


# -- tests ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("pool,lanes,mode", [(p, n, "max") for p in (1, 2, 4) for n in (1, 4, 8)] + [(3, 4, "max")]
                         + [(p, n, "average") for p, n in ((1, 4), (2, 1), (2, 8), (4, 4))])
def test_random_windows(pool, lanes, mode):
    rng = np.random.default_rng(100 * pool + lanes)
    channels = 2 * lanes
    rows, cols = {1: (5, 6), 2: (3, 4), 3: (2, 3), 4: (2, 2)}[pool]
    z = pool_z(rng, channels, pool, rows, cols)
    act, mask = REFERENCES[mode](z, pool)
    golden_act, golden_mask = golden_pool(z, pool, mode)
    assert np.array_equal(act, golden_act)
    for dy in range(pool):  # the golden model's pre-pool mask, per pooled element: bit dy·p + dx
        for dx in range(pool):
            bit = golden_mask[:, dy:rows * pool:pool, dx:cols * pool:pool].astype(np.int64)
            assert np.array_equal((mask >> (dy * pool + dx)) & 1, bit)
    if pool > 1:
        assert not golden_mask[:, rows * pool:, :].any() and not golden_mask[:, :, cols * pool:].any()
    # the windows exercise what they are meant to: ties of a positive maximum, zero and negative maxima
    maxima = z[:, :rows * pool, :cols * pool].reshape(channels, rows, pool, cols, pool).max(axis=(2, 4))
    assert (maxima < 0).any() and (maxima == 0).any() and (maxima > 0).any()
    if pool > 1:
        windows = z[:, :rows * pool, :cols * pool].reshape(channels, rows, pool, cols, pool)
        ties = ((windows == maxima[:, :, None, :, None]).sum(axis=(2, 4)) > 1) & (maxima > 0)
        assert ties.any()

    if mode == "average" and pool > 1:  # windows whose sum needs more than a data word; pool 2: exact ties of ½
        sums = np.where(z > 0, z, 0)[:, :rows * pool, :cols * pool].reshape(channels, rows, pool, cols, pool)
        sums = sums.sum(axis=(2, 4))
        assert (sums > FMT.data_max).any() and (pool == 4 or (sums % 4 == 2).any())

    dut = PoolWriteBack(FMT, lanes, pool, mode)
    issues = issues_of(z, pool, lanes)
    for bubble in (0.0, 0.3):
        cycles, writes = run_pool(dut, issues, rng, bubble)
        last = [k for k, issue in enumerate(issues) if issue["position"] == pool * pool - 1]
        assert [w[0] for w in writes] == [cycles[k] for k in last]  # combinational: the last position's cycle
        for (_, got_act, got_mask), k in zip(writes, last):
            Y, X, oc = issues[k]["window"]
            cut = slice(oc * lanes, (oc + 1) * lanes)
            assert got_act == [int(v) for v in act[cut, Y, X]]
            assert got_mask == [int(v) for v in mask[cut, Y, X]]


def test_ties_keep_the_first_and_nonpositive_maxima():
    """Hand-made 2×2 windows, 4 lanes, back to back."""
    dut = PoolWriteBack(FMT, 4, 2)
    top, bottom = FMT.data_max, FMT.data_min
    windows = [  # per window: positions 0..3, each a row of 4 lanes
        [[7, 0, -5, top], [7, 0, -5, top], [7, 0, -5, top], [7, 0, -5, top]],  # all equal: position 0
        [[1, -1, bottom, 0], [2, -1, bottom, 0], [2, 0, bottom, 3], [1, 0, -2, 3]],  # ties later on
        [[0, -3, -1, 9], [0, -2, -1, 8], [0, -1, -1, 7], [0, -4, -1, 10]],
    ]
    issues = [dict(valid=1, z=row, position=p) for window in windows for p, row in enumerate(window)]
    cycles, writes = run_pool(dut, issues, None, 0.0)
    assert [w[0] for w in writes] == [cycles[3], cycles[7], cycles[11]]
    assert [w[1] for w in writes] == [[7, 0, 0, top], [2, 0, 0, 3], [0, 0, 0, 10]]
    assert [w[2] for w in writes] == [[1, 0, 0, 1], [2, 0, 0, 4], [0, 0, 0, 8]]


def test_pool_one_is_relu():
    rng = np.random.default_rng(3)
    dut = PoolWriteBack(FMT, 8, 1)
    z = rng.integers(-4, 5, (8, 30)).T
    issues = [dict(valid=1, z=[int(v) for v in row], position=0) for row in z]
    cycles, writes = run_pool(dut, issues, rng, 0.4)
    assert [w[0] for w in writes] == cycles
    assert [w[1] for w in writes] == [[max(0, int(v)) for v in row] for row in z]
    assert [w[2] for w in writes] == [[int(v > 0) for v in row] for row in z]


def test_average_by_hand():
    """2×2 windows, 4 lanes: the sum of the positive z rounded half up by 2 bits, the ReLU bits as the mask."""
    dut = PoolWriteBack(FMT, 4, 2, "average")
    top = FMT.data_max
    windows = [  # per window: positions 0..3, each a row of 4 lanes
        [[5, 1, -3, top], [5, 0, -1, top], [5, 0, 4, top], [5, 1, -2, top]],
        [[1, -7, 0, 2], [7, -1, 0, 0], [7, -2, 0, 0], [2, -3, 0, 1]],
    ]
    issues = [dict(valid=1, z=row, position=p) for window in windows for p, row in enumerate(window)]
    cycles, writes = run_pool(dut, issues, None, 0.0)
    assert [w[0] for w in writes] == [cycles[3], cycles[7]]
    # 20/4 = 5, 2/4 = ½ → 1, 4/4 = 1, 4·top/4 = top; 17/4 → 4, 0, 0, 3/4 → 1
    assert [w[1] for w in writes] == [[5, 1, 1, top], [4, 0, 0, 1]]
    assert [w[2] for w in writes] == [[0b1111, 0b1001, 0b0100, 0b1111], [0b1111, 0, 0, 0b1001]]


def test_members_and_refusals():
    dut = elaborated(PoolWriteBack(FMT, 8, 4))
    members = dut.signature.members
    assert members["z"].shape.elem_shape.width == FMT.data_bits and members["z"].shape.length == 8
    assert members["mask"].shape.elem_shape.width == 16 and members["mask"].shape.length == 8
    assert members["act"].shape == members["z"].shape
    assert Shape.cast(members["position"].shape).width == 4
    assert Shape.cast(elaborated(PoolWriteBack(FMT, 2, 1)).signature.members["position"].shape).width == 1
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError):
            PoolWriteBack(FMT, 4, bad)
        with pytest.raises(ValueError):
            PoolWriteBack(FMT, bad, 2)
    for bad_mode in ("mean", None):
        with pytest.raises(ValueError, match="mode must be one of max, average"):
            PoolWriteBack(FMT, 4, 2, bad_mode)
    with pytest.raises(ValueError, match="power of two"):
        PoolWriteBack(FMT, 4, 3, "average")


def test_estimate():
    for pool in (1, 2, 4):
        dut = elaborated(PoolWriteBack(FMT, 8, pool))
        for family in (ECP5, ICE40, XILINX7):
            r = dut.estimate(family)
            assert isinstance(r, Resources) and r.dsp == 0 and r.bram == 0 and r.lut > 0
            # best value and argmax index per lane: no registers at all for pool 1
            assert r.ff == (0 if pool == 1 else 8 * (FMT.data_bits + (2 if pool == 2 else 4)))
            average = elaborated(PoolWriteBack(FMT, 8, pool, "average")).estimate(family)
            # the running sum (data_bits − 1 + 2·log2 p bits) and p² ReLU bits per lane; pool 1 is the max's ReLU
            assert average.ff == (0 if pool == 1 else 8 * (FMT.data_bits - 1 + (2 if pool == 2 else 4) + pool * pool))
            assert (average == r) == (pool == 1)


@pytest.mark.parametrize("lanes,pool,mode", [(8, 1, "max"), (8, 2, "max"), (4, 4, "max"), (1, 2, "max"), (4, 3, "max"),
                                           (8, 2, "average"), (4, 4, "average"), (1, 2, "average")])
def test_verilog_lints(tmp_path, lanes, pool, mode):
    lint_wall(PoolWriteBack(FMT, lanes, pool, mode), "pool_write_back", tmp_path)
