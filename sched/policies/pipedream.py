"""`pipedream`: contiguous stages of whole layers, F and an indivisible backward per layer.

PipeDream's planner without replication: the per-layer cost (F + B + G, one B-less
layer first) is split into contiguous stages by min-max dynamic programming. B_l and G_l
stay together on F_l's processor, back to back (the indivisible backward).
"""

from __future__ import annotations

from layerpipe.core.costs import CostModel
from layerpipe.core.network import Network
from layerpipe.core.tasks import Task
from layerpipe.sched.placement import Assignment
from layerpipe.sched.policies.partition import min_max_partition, stage_order


def layer_tasks(layer: int) -> list[Task]:
    return [Task("F", layer)] + ([Task("B", layer)] if layer > 1 else []) + [Task("G", layer)]


def assign(network: Network, processors: int, cost: CostModel) -> Assignment:
    weights = [sum(cost.cycles(network, t) for t in layer_tasks(layer.index)) for layer in network.layers]
    starts = min_max_partition(weights, processors) + [network.depth]
    return [stage_order([t for layer in range(a + 1, b + 1) for t in layer_tasks(layer)])
            for a, b in zip(starts, starts[1:], strict=False)]
