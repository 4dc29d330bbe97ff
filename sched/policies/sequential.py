"""`sequential`: every task on one processor, the reference for speedups."""

from __future__ import annotations

from layerpipe.sched.costs import CostModel
from layerpipe.sched.network import Network
from layerpipe.sched.placement import Assignment
from layerpipe.sched.tasks import training_tasks


def assign(network: Network, processors: int, cost: CostModel) -> Assignment:
    del processors, cost  # one processor whatever is available
    return [training_tasks(network)]
