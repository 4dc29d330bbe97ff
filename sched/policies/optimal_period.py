"""Step 1 of `optimal`: the least period, which is the busiest processor's least load.

Tasks of equal cycles are interchangeable for the load, so the ILP only counts how many
tasks of each length each processor runs (P||Cmax with multiplicities; processors
sorted by load to break their symmetry), started from the best of the baselines,
MULTIFIT and a load-balancing exchange. Its LP bound is the lower bound
max(Σ cycles / P, longest task); the solver proves its period least or reports the best
bound it proved.
"""

from __future__ import annotations

import math

from layerpipe.core.tasks import Task
from layerpipe.sched.milp import Milp
from layerpipe.sched.placement import Assignment
from layerpipe.sched.policies.optimal_search import TOLERANCE, SearchBudgets, SearchLimits, max_load
from layerpipe.sched.timing import lower_bound

__all__ = ["multifit", "balance", "min_period"]


def multifit(cycles: dict[Task, int], processors: int) -> Assignment:
    """Coffman's MULTIFIT: first-fit decreasing into P bins, least capacity found by bisection.

    A strong start for the period ILP (within 22 % of optimal, usually at it), and the
    ILP stops at once when it reaches the lower bound.
    """
    tasks = sorted(cycles, key=lambda t: (-cycles[t], Task.sort_key(t)))

    def first_fit(capacity: int) -> Assignment | None:
        bins, loads = [[] for _ in range(processors)], [0] * processors
        for t in tasks:
            for p in range(processors):
                if loads[p] + cycles[t] <= capacity:
                    bins[p].append(t)
                    loads[p] += cycles[t]
                    break
            else:
                return None
        return bins

    low, high = lower_bound(list(cycles.values()), processors), sum(cycles.values())
    best = first_fit(high)
    while low < high:
        middle = (low + high) // 2
        packed = first_fit(middle)
        if packed is None:
            low = middle + 1
        else:
            best, high = packed, middle
    return best


def balance(cycles: dict[Task, int], assignment: Assignment) -> Assignment:
    """Pairwise exchanges that move load from a busier to a less busy processor (relocate
    one task, or swap two) while they shrink Σ load², which evens loads out and often lowers
    the busiest one. Cheap; it improves the period ILP's start."""
    assignment = [list(tasks) for tasks in assignment]
    load = [sum(cycles[t] for t in tasks) for tasks in assignment]
    improved = True
    while improved:
        improved = False
        for p in sorted(range(len(assignment)), key=lambda q: (-load[q], q)):
            for q in range(len(assignment)):
                room = load[p] - load[q]  # a move of delta cycles from p to q helps when 0 < delta < room
                if room <= 1:
                    continue
                move = next(((t, None) for t in assignment[p] if cycles[t] < room), None)
                if move is None:
                    move = next(((t, u) for t in assignment[p] for u in assignment[q]
                                 if 0 < cycles[t] - cycles[u] < room), None)
                if move is None:
                    continue
                t, u = move
                assignment[p].remove(t)
                assignment[q].append(t)
                delta = cycles[t]
                if u is not None:
                    assignment[q].remove(u)
                    assignment[p].append(u)
                    delta -= cycles[u]
                load[p] -= delta
                load[q] += delta
                improved = True
                break
            if improved:
                break
    return assignment


def min_period(cycles: dict[Task, int], processors: int, seed: Assignment, budgets: SearchBudgets,
               limits: SearchLimits, verbose: bool) -> tuple[Assignment | None, int]:
    """Least busiest-processor load: (an assignment reaching the best found, proven lower bound)."""
    lengths = sorted(set(cycles.values()), reverse=True)
    of_length = {d: [t for t in cycles if cycles[t] == d] for d in lengths}
    bound = lower_bound(list(cycles.values()), processors)
    scale = float(lengths[0])
    model = Milp()
    period = model.var(bound / scale, math.inf, cost=1.0)
    count = {(d, p): model.var(0, len(of_length[d]), integer=True) for d in lengths for p in range(processors)}
    for d in lengths:
        model.row({count[(d, p)]: 1.0 for p in range(processors)}, len(of_length[d]), len(of_length[d]))
    for p in range(processors):
        load = [(count[(d, p)], d / scale) for d in lengths]
        model.row(load + [(period, -1.0)], upper=0.0)
        if p + 1 < processors:  # processors sorted by load
            model.row(load + [(count[(d, p + 1)], -d / scale) for d in lengths], lower=0.0)
    start = [0.0] * model.size
    start[period] = max_load(seed, cycles) / scale
    for p, tasks in enumerate(sorted(seed, key=lambda ts: -sum(cycles[t] for t in ts))):
        for t in tasks:
            start[count[(cycles[t], p)]] += 1
    # larger models, costlier nodes
    nodes = budgets.scaled(max(100, min(budgets.period_nodes, budgets.period_work // model.size)))
    result = model.solve(time_limit=limits.seconds_left(), start=start, verbose=verbose, node_limit=nodes,
                         absolute_gap=0.5 / scale, tolerance=TOLERANCE)
    limits.record(result.stopped_by)
    proven = bound
    if result.bound is not None and math.isfinite(result.bound):
        proven = max(bound, math.ceil(result.bound * scale - 0.5))  # half a cycle for the tolerance
    if result.values is None:
        return None, proven
    assignment = [[] for _ in range(processors)]
    for d in lengths:  # same-length tasks in chain order, handed out processor by processor
        queue = list(of_length[d])
        for p in range(processors):
            for _ in range(round(result.values[count[(d, p)]])):
                if not queue:
                    return None, proven  # counts off by the solver's tolerance: keep the seeds
                assignment[p].append(queue.pop(0))
        if queue:
            return None, proven
    load = max_load(assignment, cycles)
    return assignment, min(proven, load)
