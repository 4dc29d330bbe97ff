"""Dual-port placement (sched/placement_milp.py): valid, and least period for the assignment."""

import random

import pytest

from layerpipe.core.costs import CostModel
from layerpipe.core.network import network_from_dict
from layerpipe.core.tasks import Task, training_tasks
from layerpipe.sched.placement import back_to_back, place
from layerpipe.sched.placement_constructions import greedy_starts
from layerpipe.sched.placement_milp import _candidate, _milp, bank_pairs, solve_dual_port, timed
from layerpipe.sched.policies import layerpipe
from layerpipe.sched.timing import analyse, bank_conflicts
from layerpipe.sched.zoo import zoo_network

DUAL_PORT = CostModel(lanes=1, task_overhead_cycles=0, memory="dual-port")  # cycles = out * in


def chain(*sizes):
    """A bias-free fc chain (the paper's task model: with lanes 1, a task takes out · in cycles)."""
    return network_from_dict({"name": "chain", "input": sizes[0],
                              "layers": [{"kind": "fc", "out": n, "bias": False} for n in sizes[1:]]})


def fits_in(network, period, assignment, cycles):
    """Whether some integer starts place the assignment within ``period`` (depth-first search)."""
    processor_of = {t: p for p, tasks in enumerate(assignment) for t in tasks}
    tasks = [t for tasks in assignment for t in tasks]
    pairs = set(bank_pairs(network, processor_of))
    starts = {}

    def allowed(task, start):
        for other, at in starts.items():
            apart = at + cycles[other] <= start or start + cycles[task] <= at
            if processor_of[other] == processor_of[task] and not apart:
                return False
            if ((task, other) in pairs or (other, task) in pairs) and not (apart or at == start):
                return False
        return True

    def search(i):
        if i == len(tasks):
            return True
        for start in range(period - cycles[tasks[i]] + 1):
            if allowed(tasks[i], start):
                starts[tasks[i]] = start
                if search(i + 1):
                    return True
                del starts[tasks[i]]
        return False

    return search(0)


def brute_force_period(network, assignment, cycles):
    """Least period, trying periods upwards from the busiest load."""
    period = max(sum(cycles[t] for t in ts) for ts in assignment)
    while not fits_in(network, period, assignment, cycles):
        period += 1
    return period


def random_instances(seed, count):
    rng = random.Random(seed)
    while count:
        depth = rng.randint(1, 3)
        network = chain(*[rng.randint(1, 4) for _ in range(depth + 1)])
        tasks = training_tasks(network)
        cycles = {t: DUAL_PORT.cycles(network, t) for t in tasks}
        if sum(cycles.values()) > 16:
            continue
        processors = rng.randint(2, 3)
        assignment = [[] for _ in range(processors)]
        for t in tasks:
            assignment[rng.randrange(processors)].append(t)
        assignment = [a for a in assignment if a]
        if not bank_pairs(network, {t: p for p, ts in enumerate(assignment) for t in ts}):
            continue
        count -= 1
        yield network, assignment, cycles


def test_back_to_back_conflict_is_resolved_at_the_load_bound():
    # F2 on processor 0 starts at 6 (after F1), G2 on processor 1 at 4 (after B2): they
    # overlap without lockstep, 3 ports on bank 2.
    network = chain(3, 2, 2)
    assignment = [[Task("F", 1), Task("F", 2), Task("G", 1)], [Task("B", 2), Task("G", 2)]]
    period, placed = back_to_back(network, DUAL_PORT, assignment)
    assert bank_conflicts(network, placed)
    period, placed = place(network, DUAL_PORT, assignment)
    assert analyse(network, DUAL_PORT, period, placed).violations == []
    assert period == 16  # processor 0's load: nothing shorter exists


def test_lockstep_group_streams_the_weights_once():
    # One layer on three processors: only lockstep keeps the period at one task.
    network = chain(2, 3, 4)
    assignment = [[Task("F", 1), Task("G", 1)], [Task("F", 2)], [Task("B", 2)], [Task("G", 2)]]
    result = solve_dual_port(network, DUAL_PORT, assignment)
    starts = {p.task: p.start for p in result.placed}
    assert result.period == 12 and result.proven
    assert starts[Task("F", 2)] == starts[Task("B", 2)] == starts[Task("G", 2)]


@pytest.mark.parametrize("seed", [1, 2])
def test_least_period_matches_brute_force(seed):
    for network, assignment, cycles in random_instances(seed, 12):
        result = solve_dual_port(network, DUAL_PORT, assignment)
        assert analyse(network, DUAL_PORT, result.period, result.placed).violations == []
        assert result.period == brute_force_period(network, assignment, cycles)


def test_milp_alone_is_exact_from_a_poor_start():
    for network, assignment, cycles in random_instances(3, 10):
        processor_of = {t: p for p, ts in enumerate(assignment) for t in ts}
        pairs = bank_pairs(network, processor_of)
        start = _candidate("greedy", greedy_starts(assignment, cycles, pairs, flexible=False), processor_of, cycles,
                           pairs, len(assignment))
        load = max(sum(cycles[t] for t in ts) for ts in assignment)
        best, proven, stopped_by = _milp(assignment, processor_of, cycles, pairs, start, load, 60.0, None, False)
        assert proven and stopped_by is None
        assert best.period == brute_force_period(network, assignment, cycles)


def test_timed_rejects_contradictions_and_keeps_lockstep():
    f, g = Task("F", 1), Task("G", 1)
    cycles = {f: 3, g: 3}
    assert timed([[f], [g]], {(g, f): "lockstep"}, cycles) == (3, {f: 0, g: 0})
    assert timed([[f, g]], {(g, f): "before"}, cycles) is None  # g before f, yet f then g on one processor
    period, starts = timed([[f], [g]], {(g, f): "after"}, cycles)
    assert (period, starts) == (6, {f: 0, g: 3})


@pytest.mark.parametrize("name", ["alexnet", "vgg16", "resnet18"])
def test_layerpipe_keeps_its_ideal_period_under_dual_port(name):
    network = zoo_network(name)
    for processors in range(2, 10):
        cost = CostModel(memory="dual-port")
        assignment = layerpipe.assign(network, processors, cost)
        result = solve_dual_port(network, cost, assignment)
        assert result.period == back_to_back(network, cost, assignment)[0]
