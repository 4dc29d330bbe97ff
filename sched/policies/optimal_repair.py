"""`optimal` under ``dual-port``: an assignment repaired into the anchored layout.

The anchored layout (each processor touching at most two split layers, at opposite
ends of the period; :func:`..placement_constructions.anchor_sides`) is placed at its
load, so whenever the repair succeeds the period is kept.
"""

from __future__ import annotations

from collections import defaultdict

from layerpipe.core.tasks import Task
from layerpipe.sched.placement import Assignment
from layerpipe.sched.placement_constructions import anchor_sides
from layerpipe.sched.policies.optimal_search import SearchBudgets, SearchLimits, grouped, task_processors

__all__ = ["anchorable", "repair_anchoring"]


def _anchoring_excess(where: dict[Task, int]) -> tuple[int, int]:
    """How far an assignment is from the anchored layout: (split layers beyond two per
    processor, or 1 if there are none but their anchors cannot alternate; how many
    processors the layers are spread over beyond one). The first is 0 when it fits; the
    second guides the repair, which must gather a layer's tasks one move at a time."""
    processors_of_layer = defaultdict(set)
    for t, p in where.items():
        processors_of_layer[t.layer].add(p)
    touching = defaultdict(int)
    spread = 0
    for processors in processors_of_layer.values():
        if len(processors) > 1:
            spread += len(processors) - 1
            for p in processors:
                touching[p] += 1
    excess = sum(max(0, count - 2) for count in touching.values())
    if not excess:
        excess = int(anchor_sides(grouped(where, max(where.values()) + 1)) is None)
    return excess, spread


def anchorable(where: dict[Task, int]) -> bool:
    return _anchoring_excess(where)[0] == 0


def repair_anchoring(cycles: dict[Task, int], assignment: Assignment, period: int, budgets: SearchBudgets,
                     limits: SearchLimits) -> Assignment | None:
    """Relocations and swaps within the period that bring the assignment to the anchored
    layout (None if a local minimum remains): its dual-port placement then reaches its load."""
    where = task_processors(assignment)
    tasks = sorted(where, key=Task.sort_key)
    processors = len(assignment)
    load = [sum(cycles[t] for t in ts) for ts in assignment]
    if max(load) > period:
        return None
    excess = _anchoring_excess(where)
    evaluations = budgets.scaled(budgets.repair_evaluations)

    def try_moves(moves: dict[Task, int]) -> bool:
        nonlocal excess, evaluations
        evaluations -= 1
        old = {t: where[t] for t in moves}
        where.update(moves)
        value = _anchoring_excess(where)
        if value < excess:
            excess = value
            for t, q in moves.items():
                load[old[t]] -= cycles[t]
                load[q] += cycles[t]
            return True
        where.update(old)
        return False

    improved = True
    while excess[0] and improved and evaluations > 0 and not limits.expired():
        improved = False
        for t in tasks:
            if evaluations <= 0 or not excess[0]:
                break
            p = where[t]
            if any(q != p and load[q] + cycles[t] <= period and try_moves({t: q}) for q in range(processors)):
                improved = True
                continue
            for u in tasks:
                q = where[u]
                if (q != p and load[p] - cycles[t] + cycles[u] <= period and load[q] - cycles[u] + cycles[t] <= period
                        and try_moves({t: q, u: p})):
                    improved = True
                    break
    if excess[0] and evaluations <= 0:
        limits.record("work")
    return grouped(where, processors) if excess[0] == 0 else None
