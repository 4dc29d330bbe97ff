"""`sequential`: every task on one processor, the reference for speedups."""

from __future__ import annotations

from layerpipe.core.costs import CostModel
from layerpipe.core.network import Network
from layerpipe.core.tasks import training_tasks
from layerpipe.sched.placement import Assignment


def assign(network: Network, processors: int, cost: CostModel) -> Assignment:
    del processors, cost  # one processor whatever is available
    return [training_tasks(network)]
