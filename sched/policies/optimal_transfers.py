"""Step 2 of `optimal`: at the least period, the assignment that moves the fewest words.

Words per sample that cross processors count each data item once per processor that
consumes it without producing it, as :func:`..timing.analyse` counts. A local search
(relocations and swaps within the period) does most of the work, the exchange search
(:mod:`.optimal_exchange`) the multi-task moves it cannot find; on small instances a
whole-assignment ILP then proves the optimum.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable

from layerpipe.core.tasks import Task
from layerpipe.sched.milp import Milp
from layerpipe.sched.placement import Assignment
from layerpipe.sched.policies.optimal_search import (
    TOLERANCE,
    Items,
    SearchBudgets,
    SearchLimits,
    max_load,
    task_processors,
    transfer_words,
)

__all__ = ["search_transfers", "min_transfers"]

TRANSFER_OPTIONS = {"mip_pscost_minreliable": 0}  # no strong branching: the root is costly, the bound weak anyway


def search_transfers(cycles: dict[Task, int], items: Items, assignment: Assignment, period: int,
                     budgets: SearchBudgets, limits: SearchLimits,
                     keep: Callable[[dict[Task, int]], bool] | None = None) -> Assignment:
    """Relocations and swaps that keep every load ≤ period (and ``keep``); random swaps to leave local minima.

    ``gain[t][q]`` (words saved by moving t alone to q) is kept up to date for the
    tasks sharing data with a moved one, so a swap is priced in O(1) unless its two
    tasks share data. First-improvement descent in a fixed scan order, then kicks from
    a seeded generator until the budget of priced moves is spent: deterministic.
    """
    processors = len(assignment)
    where = task_processors(assignment)
    tasks = sorted(where, key=Task.sort_key)
    load = [sum(cycles[t] for t in ts) for ts in assignment]
    touching = defaultdict(list)
    for i, (source, consumers, _) in enumerate(items):
        for t in {source, *consumers}:
            touching[t].append(i)
    sharing = {t: {u for i in touching[t] for u in (items[i][0], *items[i][1])} for t in tasks}
    budget = [budgets.scaled(budgets.local_search_evaluations)]

    def words(indices) -> int:
        total = 0
        for i in indices:
            source, consumers, size = items[i]
            home = where[source]
            total += size * len({where[c] for c in consumers if where[c] != home})
        return total

    def exact_gain(moves: dict[Task, int]) -> int:
        indices = {i for t in moves for i in touching[t]}
        before = words(indices)
        old = {t: where[t] for t in moves}
        where.update(moves)
        after = words(indices)
        where.update(old)
        return before - after

    gain = {t: [0] * processors for t in tasks}

    def allowed(moves: dict[Task, int]) -> bool:
        if keep is None:
            return True
        old = {t: where[t] for t in moves}
        where.update(moves)
        verdict = keep(where)
        where.update(old)
        return verdict

    def refresh(t: Task) -> None:
        row = gain[t]
        for q in range(processors):
            row[q] = exact_gain({t: q}) if q != where[t] else 0

    def apply(moves: dict[Task, int]) -> None:
        for t, q in moves.items():
            load[where[t]] -= cycles[t]
            load[q] += cycles[t]
            where[t] = q
        for u in {u for t in moves for u in sharing[t]}:
            refresh(u)

    for t in tasks:
        refresh(t)

    def descend() -> None:
        improved = True
        while improved and budget[0] > 0:
            improved = False
            for t in tasks:
                budget[0] -= processors + len(tasks)
                for q in range(processors):
                    if gain[t][q] > 0 and load[q] + cycles[t] <= period and allowed({t: q}):
                        apply({t: q})
                        improved = True
                p = where[t]
                for u in tasks:
                    q = where[u]
                    if q == p or load[p] - cycles[t] + cycles[u] > period or load[q] - cycles[u] + cycles[t] > period:
                        continue
                    swap = {t: q, u: p}
                    value = exact_gain(swap) if u in sharing[t] else gain[t][q] + gain[u][p]
                    if value > 0 and allowed(swap):
                        apply(swap)
                        improved = True
                        p = where[t]
                if budget[0] <= 0:
                    return

    descend()
    best, best_words = dict(where), words(range(len(items)))
    generator = random.Random(0)
    idle = 0  # kicks since the last improvement
    patience = budgets.scaled(budgets.local_search_patience)
    while budget[0] > 0 and len(tasks) > 1 and idle < patience and not limits.expired():
        idle += 1
        for _ in range(3):
            t, u = generator.sample(tasks, 2)
            p, q = where[t], where[u]
            swap = {t: q, u: p}
            if (p != q and load[p] - cycles[t] + cycles[u] <= period and load[q] - cycles[u] + cycles[t] <= period
                    and allowed(swap)):
                apply(swap)
        descend()
        found = words(range(len(items)))
        if found < best_words:
            best, best_words, idle = dict(where), found, 0
        else:
            apply({t: best[t] for t in tasks if where[t] != best[t]})
    if budget[0] <= 0:
        limits.record("work")
    result = [[] for _ in range(processors)]
    for t in tasks:
        result[best[t]].append(t)
    return result


def min_transfers(chain: list[Task], cycles: dict[Task, int], items: Items, processors: int, period: int,
                  seeds: list[Assignment], budgets: SearchBudgets, limits: SearchLimits,
                  verbose: bool) -> Assignment | None:
    """ILP: assignment of load ≤ period with the fewest transfer words (None if none found).

    Processor p may only hold tasks from index p of the chain on, and opens after
    processor p-1 does: every assignment has exactly one such labelling.
    """
    index = {t: i for i, t in enumerate(chain)}
    scale = float(max(cycles.values()))
    word_scale = float(max(words for _, _, words in items))
    model = Milp()
    x: dict[tuple[Task, int], int] = {}
    for t in chain:
        for p in range(min(index[t] + 1, processors)):  # processor p opens with a task of index >= p
            x[(t, p)] = model.binary()
        model.row({x[(t, p)]: 1.0 for p in range(min(index[t] + 1, processors))}, 1.0, 1.0)
    for p in range(processors):
        model.row({x[(t, p)]: cycles[t] / scale for t in chain if (t, p) in x}, upper=period / scale)
        if p:  # processor p's first task comes after processor p-1's first task
            for t in chain:
                if (t, p) in x:
                    terms = {x[(u, p - 1)]: -1.0 for u in chain[:index[t]] if (u, p - 1) in x}
                    terms[x[(t, p)]] = 1.0
                    model.row(terms, upper=0.0)
    y = {}  # item i must be delivered to processor p
    for i, (source, consumers, words) in enumerate(items):
        for p in range(processors):
            if any((c, p) in x for c in consumers):
                y[(i, p)] = model.var(0.0, 1.0, cost=words / word_scale)
                for c in consumers:
                    if (c, p) in x:
                        terms = {y[(i, p)]: 1.0, x[(c, p)]: -1.0}
                        if (source, p) in x:
                            terms[x[(source, p)]] = 1.0
                        model.row(terms, lower=0.0)
    def encode(assignment: Assignment) -> list[float] | None:
        if max_load(assignment, cycles) > period:
            return None
        values = [0.0] * model.size
        processor_of = task_processors(assignment)
        for t, p in processor_of.items():
            if (t, p) not in x:
                return None
            values[x[(t, p)]] = 1.0
        for (i, p), column in y.items():
            source, consumers, _ = items[i]
            values[column] = float(processor_of[source] != p and any(processor_of[c] == p for c in consumers))
        return values

    starts = [(transfer_words(items, task_processors(s)), v) for s in seeds if (v := encode(s)) is not None]
    start = min(starts, key=lambda wv: wv[0])[1] if starts else None
    result = model.solve(time_limit=limits.seconds_left(), start=start, verbose=verbose,
                         node_limit=budgets.scaled(budgets.transfer_nodes), absolute_gap=0.5 / word_scale,
                         tolerance=TOLERANCE, options=TRANSFER_OPTIONS)
    limits.record(result.stopped_by)
    if result.values is None:
        return None
    assignment = [[] for _ in range(processors)]
    for (t, p), column in x.items():
        if result.values[column] > 0.5:
            assignment[p].append(t)
    return assignment
