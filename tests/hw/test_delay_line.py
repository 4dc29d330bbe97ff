"""DelayLine under exact static timing: a periodic writer and readers with their own phases and
delays, whole-chunk and word-by-word (lane-enable) writes, data words and mask bits, random data
against a Python model; estimates and lint."""

from __future__ import annotations

import math

import numpy as np
import pytest

from layerpipe.core.numerics import FixedFormat
from layerpipe.hw.delay_line import DelayLine
from layerpipe.hw.estimate import ECP5, ICE40
from layerpipe.hw.lanes import pad_lanes
from tests.helpers.lint import elaborated, lint_wall
from tests.helpers.simulation import run_clocked

FMT = FixedFormat()


def random_samples(rng, count, words, element, fmt=FMT):
    if element == "mask":
        return rng.integers(0, 2, (count, words))
    return rng.integers(fmt.data_min, fmt.data_max + 1, (count, words))


def run_static(line, samples, period, write_at, read_at, wordwise=False):
    """Run ``len(samples)`` periods. In period n the writer writes sample n starting at cycle
    ``write_at`` (one chunk per cycle, or one word per cycle with ``wordwise``) and advances on its
    last write; read side i reads its sample (all chunks, one per cycle) from cycle ``read_at[i]``
    and advances on its last read. Returns, per read side, the chunks read in each period."""
    lanes, chunks, words = line.lanes, line.chunks, samples.shape[1]
    padded = pad_lanes(samples, lanes)
    write_len = words if wordwise else chunks
    assert write_at + write_len <= period and all(r + chunks <= period for r in read_at)
    got = [[[None] * chunks for _ in samples] for _ in read_at]

    async def bench(ctx):
        pending = []  # (port index, sample, chunk) whose data shows the next cycle
        for cycle in range(len(samples) * period + 2):
            n, phase = divmod(cycle, period)
            for i, n_read, c in pending:
                got[i][n_read][c] = list(ctx.get(line.read_ports[i].data))
            pending = []
            ctx.set(line.w.en, 0)
            ctx.set(line.w.advance, 0)
            if n < len(samples) and write_at <= phase < write_at + write_len:
                step = phase - write_at
                if wordwise:
                    c, k = divmod(step, lanes)
                    row = [0] * lanes
                    row[k] = int(padded[n, step])
                    ctx.set(line.w.en, 1 << k)
                else:
                    c, row = step, [int(v) for v in padded[n, step * lanes:(step + 1) * lanes]]
                    ctx.set(line.w.en, (1 << lanes) - 1)
                ctx.set(line.w.chunk, c)
                ctx.set(line.w.data, row)
                ctx.set(line.w.advance, int(step == write_len - 1))
            for i, port in enumerate(line.read_ports):
                ctx.set(port.en, 0)
                ctx.set(port.advance, 0)
                if n < len(samples) and read_at[i] <= phase < read_at[i] + chunks:
                    c = phase - read_at[i]
                    ctx.set(port.en, 1)
                    ctx.set(port.chunk, c)
                    ctx.set(port.advance, int(c == chunks - 1))
                    pending.append((i, n, c))
            await ctx.tick()

    run_clocked(line, bench, 1e-6)
    return got, padded


def check(line, got, padded):
    lanes = line.lanes
    for i, k in enumerate(line.delays):
        for n in range(len(padded)):
            if n < k:
                continue  # nothing written k samples before sample n yet
            want = [list(padded[n - k, c * lanes:(c + 1) * lanes]) for c in range(line.chunks)]
            assert got[i][n] == want, f"read side {i} (delay {k}), period {n}"


@pytest.mark.parametrize("element", ["data", "mask"])
@pytest.mark.parametrize("lanes,words,depth,delays,write_at,read_at,period", [
    (4, 10, 3, (0, 1, 2), 0, (3, 0, 5), 9),  # delay 0 reads after the writer, the others anywhere
    (8, 8, 5, (4, 2), 2, (0, 2), 4),  # one chunk; a reader in the writer's cycle of another slot
    (3, 7, 4, (3,), 5, (1,), 8),  # the reader runs before the writer within the period
    (2, 1, 1, (0,), 0, (1,), 2),  # depth 1: a plain register row
])
def test_static_timing_random(element, lanes, words, depth, delays, write_at, read_at, period):
    rng = np.random.default_rng(lanes * 31 + words + depth)
    line = DelayLine.for_words(FMT, lanes, words, depth, delays, element)
    samples = random_samples(rng, 3 * depth + 4, words, element)
    got, padded = run_static(line, samples, period, write_at, read_at)
    check(line, got, padded)


@pytest.mark.parametrize("element", ["data", "mask"])
def test_word_by_word_writes_with_lane_enables(element):
    """F writes a_l (and mask_l) one word per row: lane enables, chunk by chunk."""
    rng = np.random.default_rng(9)
    lanes, words, depth = 4, 11, 3
    line = DelayLine.for_words(FMT, lanes, words, depth, (0, 2), element)
    samples = random_samples(rng, 8, words, element)
    got, padded = run_static(line, samples, period=16, write_at=0, read_at=(12, 1), wordwise=True)
    check(line, got, padded)


def test_geometry_and_refusals():
    line = elaborated(DelayLine.for_words(FMT, 8, 20, 4, (1, 3)))
    assert (line.chunks, line.rows, len(line.read_ports)) == (3, 12, 2)
    for bad in (dict(delays=(4,)), dict(delays=()), dict(delays=(-1,)), dict(depth=0), dict(element="float")):
        kwargs = dict(fmt=FMT, lanes=8, chunks=2, depth=4, delays=(1,)) | bad
        with pytest.raises(ValueError):
            DelayLine(**kwargs)


def test_estimate():
    line = elaborated(DelayLine.for_words(FMT, 8, 32, 20, (0, 4)))  # 20 × 4 rows of 128 bits, two read sides
    r = line.estimate(ECP5)
    assert r.bram == 2 * math.ceil(128 / 36) and r.dsp == 0 and r.ff == 3 * 7
    assert line.estimate(ICE40).bram == 2 * 128 // 16
    small = elaborated(DelayLine.for_words(FMT, 8, 32, 3, (2,)))  # 12 rows: LUT RAM on ECP5
    assert small.estimate(ECP5).bram == 0 and small.estimate(ECP5).lut >= 32 * 4
    mask = elaborated(DelayLine.for_words(FMT, 8, 32, 5, (4,), "mask"))
    assert mask.estimate(ICE40).bram == 1 and mask.estimate(ECP5).bram == 0


@pytest.mark.parametrize("element,delays", [("data", (0, 3)), ("mask", (2,))])
def test_verilog_lints(tmp_path, element, delays):
    lint_wall(DelayLine.for_words(FMT, 8, 20, 5, delays, element), "delay_line", tmp_path)
