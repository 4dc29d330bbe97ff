"""Link: exact latency on random beats (always ready), in-order lossless delivery under random
back-pressure, mask-bit payloads, estimates and lint."""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.sim import Simulator

from layerpipe.core.costs import CostModel
from layerpipe.core.numerics import FixedFormat
from layerpipe.hw.estimate import ECP5
from layerpipe.hw.link import Link, link_signature
from tests.helpers.lint import elaborated, lint_wall

FMT = FixedFormat()


def simulate(link, bench):
    """A zero-latency link has no clock domain: step it by a delay instead of a clock edge."""
    sim = Simulator(link)
    if link.latency:
        sim.add_clock(1e-6)

    async def step(ctx):
        if link.latency:
            await ctx.tick()
        else:
            await ctx.delay(1e-6)

    async def wrapped(ctx):
        await bench(ctx, step)

    sim.add_testbench(wrapped)
    sim.run()


def random_beat(rng, width, element):
    if element == "mask":
        return [int(v) for v in rng.integers(0, 2, width)]
    return [int(v) for v in rng.integers(FMT.data_min, FMT.data_max + 1, width)]


@pytest.mark.parametrize("element", ["data", "mask"])
@pytest.mark.parametrize("latency", [0, 1, 2, 5])
def test_fixed_latency(latency, element):
    rng = np.random.default_rng(latency * 7 + len(element))
    width, cycles = 8, 60
    link = Link(FMT, width, latency, element)
    sent, seen = {}, {}

    async def bench(ctx, step):
        for cycle in range(cycles + latency + 1):
            valid = cycle < cycles and rng.random() < 0.6
            beat = random_beat(rng, width, element)  # garbage payload when not valid
            ctx.set(link.i.valid, int(valid))
            ctx.set(link.i.payload, beat)
            if valid:
                sent[cycle] = beat
            if ctx.get(link.o.valid):
                seen[cycle] = list(ctx.get(link.o.payload))
            await step(ctx)

    simulate(link, bench)
    assert seen == {cycle + latency: beat for cycle, beat in sent.items()}


@pytest.mark.parametrize("latency", [0, 1, 3])
def test_backpressure_keeps_order_and_latency_when_ready(latency):
    rng = np.random.default_rng(100 + latency)
    width = 4
    link = Link(FMT, width, latency, backpressure=True)
    accepted, delivered, timing = [], [], []

    async def bench(ctx, step):
        for cycle in range(300):
            valid = cycle < 250 and rng.random() < 0.7
            ready = cycle >= 250 or rng.random() < 0.6
            beat = random_beat(rng, width, "data")
            ctx.set(link.i.valid, int(valid))
            ctx.set(link.i.payload, beat)
            ctx.set(link.o.ready, int(ready))
            if valid and ctx.get(link.i.ready):
                accepted.append(beat)
            if ctx.get(link.o.valid) and ready:
                delivered.append(list(ctx.get(link.o.payload)))
            await step(ctx)
        # always ready: exact latency again
        for cycle in range(20):
            ctx.set(link.o.ready, 1)
            ctx.set(link.i.valid, int(cycle == 0))
            ctx.set(link.i.payload, [cycle + 1] * width)
            if ctx.get(link.o.valid):
                timing.append(cycle)
            await step(ctx)

    simulate(link, bench)
    assert delivered == accepted and len(accepted) > 100
    assert timing == [latency]


def test_signature_and_cost_model():
    cost = CostModel()
    link = elaborated(Link(FMT, cost.link_width_words, cost.link_latency_cycles))
    assert link.o.signature == link_signature(FMT, 8) and link.i.signature.flip() == link_signature(FMT, 8)
    assert link.i.signature.always_ready and not elaborated(Link(FMT, 8, 2, backpressure=True)).i.signature.always_ready
    with pytest.raises(ValueError):
        Link(FMT, 0, 1)
    with pytest.raises(ValueError):
        Link(FMT, 8, -1)


def test_estimate():
    assert elaborated(Link(FMT, 8, 2)).estimate(ECP5).ff == 2 * (8 * 16 + 1)
    assert elaborated(Link(FMT, 8, 0)).estimate(ECP5).ff == 0
    mask = elaborated(Link(FMT, 8, 3, "mask")).estimate(ECP5)
    assert (mask.ff, mask.lut, mask.dsp, mask.bram) == (3 * 9, 0, 0, 0)


@pytest.mark.parametrize("latency,backpressure", [(2, False), (0, False), (3, True)])
def test_verilog_lints(tmp_path, latency, backpressure):
    link = Link(FMT, 8, latency, backpressure=backpressure)
    ports = None
    if not backpressure:  # an always-ready stream's `ready` is a constant, not a port
        ports = [link.i.payload.as_value(), link.i.valid, link.o.payload.as_value(), link.o.valid]
    lint_wall(link, "link", tmp_path, ports=ports)
