"""Step 2 of `optimal`, the large neighbourhood: re-split the tasks of two processors at a time.

For each pair of processors that trade data, the best split of their tasks between
them is a small ILP; everything else stays fixed. It finds the multi-task exchanges the
local search of :mod:`.optimal_transfers` cannot.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

from layerpipe.core.tasks import Task
from layerpipe.sched.milp import Milp
from layerpipe.sched.placement import Assignment
from layerpipe.sched.policies.optimal_search import (
    Items,
    SearchBudgets,
    SearchLimits,
    grouped,
    task_processors,
    transfer_words,
)

__all__ = ["exchange_transfers"]


def exchange_transfers(cycles: dict[Task, int], items: Items, assignment: Assignment, period: int,
                       budgets: SearchBudgets, limits: SearchLimits,
                       keep: Callable[[dict[Task, int]], bool] | None = None) -> Assignment:
    """Large-neighbourhood search: for each pair of processors that exchange data, re-split
    their tasks between them optimally (:func:`_split_pair`), everything else fixed, until
    no pair improves. Finds the multi-task exchanges the local search cannot."""
    processors = len(assignment)
    where = task_processors(assignment)
    touching = defaultdict(list)
    for i, (source, consumers, _) in enumerate(items):
        for t in {source, *consumers}:
            touching[t].append(i)
    pairs_per_round = budgets.scaled(budgets.exchange_pairs)
    for _ in range(budgets.exchange_rounds):
        improved = False
        crossing = defaultdict(int)  # words each pair of processors trades
        for source, consumers, words in items:
            for r in {where[c] for c in consumers} - {where[source]}:
                crossing[tuple(sorted((where[source], r)))] += words
        if len(crossing) > pairs_per_round:
            limits.record("work")
        for p, q in sorted(crossing, key=lambda pair: (-crossing[pair], pair))[:pairs_per_round]:
            if limits.expired():
                return grouped(where, processors)
            local = [items[i] for i in sorted({i for t in where if where[t] in (p, q) for i in touching[t]})]
            trial = _split_pair(cycles, local, where, p, q, period, budgets, limits)
            if (trial is not None and transfer_words(local, trial) < transfer_words(local, where)
                    and (keep is None or keep(trial))):
                where, improved = trial, True
        if not improved:
            break
    else:  # the last round still improved
        limits.record("work")
    return grouped(where, processors)


def _split_pair(cycles: dict[Task, int], items: Items, where: dict[Task, int], p: int, q: int, period: int,
                budgets: SearchBudgets, limits: SearchLimits) -> dict[Task, int] | None:
    """The split of p's and q's tasks between p and q with the fewest transfer words (ILP)."""
    free = sorted((t for t in where if where[t] in (p, q)), key=Task.sort_key)
    model = Milp()
    on_q = {t: model.binary() for t in free}  # 1: the task goes to q, 0: to p

    def on(t: Task, r: int) -> tuple[float, dict[int, float]]:
        """[t runs on r] as a constant plus linear terms."""
        if t not in on_q:
            return float(where[t] == r), {}
        return (0.0, {on_q[t]: 1.0}) if r == q else (1.0, {on_q[t]: -1.0})

    model.row({on_q[t]: cycles[t] for t in free}, upper=period)
    model.row({on_q[t]: -cycles[t] for t in free}, upper=period - sum(cycles[t] for t in free))
    for source, consumers, words in items:  # deliveries to other processors do not depend on the split
        for r in (p, q):
            delivered = model.var(0.0, 1.0, cost=words)
            source_constant, source_terms = on(source, r)
            for c in consumers:
                constant, terms = on(c, r)
                row = defaultdict(float, {delivered: 1.0})
                for column, value in terms.items():
                    row[column] -= value
                for column, value in source_terms.items():
                    row[column] += value
                model.row(dict(row), lower=constant - source_constant)
    start = [0.0] * model.size
    for t, column in on_q.items():
        start[column] = float(where[t] == q)
    result = model.solve(time_limit=limits.seconds_left(), start=start,
                         node_limit=budgets.scaled(budgets.exchange_nodes), absolute_gap=0.5)
    limits.record(result.stopped_by)
    if result.values is None:
        return None
    trial = dict(where)
    for t, column in on_q.items():
        trial[t] = q if result.values[column] > 0.5 else p
    if max(sum(cycles[t] for t in free if trial[t] == r) for r in (p, q)) > period:
        return None  # within the solver's tolerance only
    return trial
