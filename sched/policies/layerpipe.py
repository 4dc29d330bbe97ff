"""`layerpipe`: the paper's scheme (LayerPipe, arXiv 2108.06629, as docs/semantics.md models it).

Intra-layer: B_l and G_l are independent tasks. Inter-layer: the σ' product moves to
the previous layer, so every layer is three equal matrix tasks. Balanced stages: the
task sequence F_1 G_1 F_2 B_2 G_2 … is split into contiguous stages by min-max dynamic
programming, so a stage boundary may fall inside a layer.
"""

from __future__ import annotations

from layerpipe.core.costs import CostModel
from layerpipe.core.network import Network
from layerpipe.sched.placement import Assignment
from layerpipe.sched.policies.partition import split
from layerpipe.sched.policies.pipedream import layer_tasks


def assign(network: Network, processors: int, cost: CostModel) -> Assignment:
    sequence = [t for layer in network.layers for t in layer_tasks(layer.index)]
    weights = [cost.cycles(network, t) for t in sequence]
    return split(sequence, weights, processors)
