"""One entry point: network + policy + processors + cost model → ScheduleTable."""

from __future__ import annotations

import importlib

from layerpipe.core.costs import CostModel
from layerpipe.core.errors import LayerPipeError
from layerpipe.core.network import Network
from layerpipe.core.table import ScheduleTable
from layerpipe.sched.placement import place
from layerpipe.sched.table import build_table

__all__ = ["POLICIES", "schedule"]

POLICIES = ("sequential", "pipedream", "layerpipe", "optimal")


def schedule(network: Network, processors: int, policy: str = "layerpipe",
             cost: CostModel | None = None) -> ScheduleTable:
    cost = cost or CostModel()
    if isinstance(processors, bool) or not isinstance(processors, int) or processors < 1:
        raise LayerPipeError(f"processors is {processors!r}; give at least 1")
    if policy not in POLICIES:
        raise LayerPipeError(f"unknown policy '{policy}'; use one of {', '.join(POLICIES)}")
    module = importlib.import_module(f"layerpipe.sched.policies.{policy}")
    if hasattr(module, "schedule"):  # policies that choose offsets themselves
        period, placed = module.schedule(network, processors, cost)
    else:
        period, placed = place(network, cost, module.assign(network, processors, cost))
    used = 1 if policy == "sequential" else processors
    return build_table(network, cost, policy, used, period, placed)
