"""Placement: from an assignment (ordered task list per processor) to start offsets.

Back to back in the given order is optimal for the period (the busiest processor's
load) and always valid under the ``ideal`` memory model. Under ``dual-port`` it may
ask a weight bank for more than two accesses at once, when tasks of one layer sit on
different processors; then the offsets are solved exactly (:mod:`.placement_milp`).
"""

from __future__ import annotations

from layerpipe.core.costs import CostModel
from layerpipe.core.network import Network
from layerpipe.core.tasks import Task
from layerpipe.sched.timing import PlacedTask, bank_conflicts

__all__ = ["Assignment", "place", "back_to_back"]

Assignment = list[list[Task]]


def back_to_back(network: Network, cost: CostModel, assignment: Assignment) -> tuple[int, list[PlacedTask]]:
    placed = []
    for processor, tasks in enumerate(assignment):
        start = 0
        for task in tasks:
            cycles = cost.cycles(network, task)
            placed.append(PlacedTask(task, processor, start, cycles))
            start += cycles
    period = max(p.end for p in placed)
    return period, placed


def place(network: Network, cost: CostModel, assignment: Assignment) -> tuple[int, list[PlacedTask]]:
    """Start offsets and period for an assignment, valid under the cost model's memory model."""
    period, placed = back_to_back(network, cost, assignment)
    if cost.memory == "dual-port" and bank_conflicts(network, placed):
        from layerpipe.sched.placement_milp import place_dual_port

        return place_dual_port(network, cost, assignment)
    return period, placed
