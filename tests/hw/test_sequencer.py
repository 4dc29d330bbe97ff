"""The sequencer launches task τ of sample n at cycle (n + lag)·T + start, for 0 ≤ n < N only."""

from __future__ import annotations

import random

import pytest
from amaranth.hdl import EnableInserter, Module, Signal

from layerpipe.core.errors import LayerPipeError
from layerpipe.hw.sequencer import Sequencer
from layerpipe.sched.scheduler import schedule
from layerpipe.sched.zoo import zoo_network
from tests.helpers.simulation import run_clocked


def expected_launches(tasks, period, samples):
    events = {}
    for index, task in enumerate(tasks):
        for n in range(samples):
            events[(n + task.lag) * period + task.start] = (index, n)
    return events


def last_cycle(tasks, period, samples):
    """The processor's last schedule cycle: the end of the latest run of sample N − 1, minus one."""
    return max((samples - 1 + task.lag) * period + task.start + task.cycles for task in tasks) - 1


def run(sequencer, cycles, samples, stall_probability=0.0, seed=0, finished=None):
    """Run ``cycles`` schedule cycles (stalling at random) and return {schedule cycle: (task, sample)};
    ``finished``, a list, gets ``sequencer.finished`` of each executed cycle."""
    enable = Signal(init=1)
    top = Module()
    top.submodules.seq = EnableInserter(enable)(sequencer)
    observed, rng = {}, random.Random(seed)

    async def bench(ctx):
        ctx.set(sequencer.samples, samples)
        executed = 0
        while executed < cycles:
            stall = rng.random() < stall_probability
            ctx.set(enable, int(not stall))
            if not stall:
                if ctx.get(sequencer.launch):
                    observed[executed] = (ctx.get(sequencer.task), ctx.get(sequencer.sample))
                assert ctx.get(sequencer.offset) == executed % sequencer.period
                assert ctx.get(sequencer.period_index) == executed // sequencer.period
                if finished is not None:
                    finished.append(ctx.get(sequencer.finished))
                executed += 1
            await ctx.tick()

    run_clocked(top, bench, 1e-8)
    return observed


@pytest.mark.parametrize("policy,processors", [("sequential", 1), ("pipedream", 4), ("layerpipe", 4)])
def test_launch_times_match_the_table(policy, processors):
    table = schedule(zoo_network("mlp-digits"), processors, policy)
    samples = 3
    total = table.total_cycles(samples)
    for tasks in table.processor_tasks:
        if not tasks:
            continue
        sequencer = Sequencer(table.period_cycles, [(t.start, t.lag, t.cycles) for t in tasks])
        observed = run(sequencer, total, samples)
        assert observed == expected_launches(tasks, table.period_cycles, samples)


def test_stalls_do_not_change_the_schedule():
    table = schedule(zoo_network("mlp-digits"), 2, "layerpipe")
    tasks = table.processor_tasks[1]
    sequencer = Sequencer(table.period_cycles, [(t.start, t.lag, t.cycles) for t in tasks])
    observed = run(sequencer, table.total_cycles(2), 2, stall_probability=0.3, seed=5)
    assert observed == expected_launches(tasks, table.period_cycles, 2)


@pytest.mark.parametrize("policy,processors,samples", [("sequential", 1, 1), ("pipedream", 4, 3),
                                                      ("layerpipe", 4, 2), ("layerpipe", 2, 1)])
def test_finished_rises_in_the_last_cycle_of_the_last_run(policy, processors, samples):
    table = schedule(zoo_network("mlp-digits"), processors, policy)
    for tasks in table.processor_tasks:
        if not tasks:
            continue
        sequencer = Sequencer(table.period_cycles, [(t.start, t.lag, t.cycles) for t in tasks])
        finished = []
        run(sequencer, table.total_cycles(samples) + 5, samples, stall_probability=0.2, seed=samples,
            finished=finished)
        end = last_cycle(tasks, table.period_cycles, samples)
        assert finished.index(1) == end
        assert all(finished[end:])


def test_no_samples_no_launches():
    sequencer = Sequencer(10, [(0, 0, 3), (4, 2, 5)])
    assert run(sequencer, 60, 0) == {}


def test_refuses_overlapping_starts():
    with pytest.raises(LayerPipeError):
        Sequencer(10, [(3, 0, 2), (3, 1, 2)])
    with pytest.raises(LayerPipeError):
        Sequencer(10, [(10, 0, 2)])
