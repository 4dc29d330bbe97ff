"""Step 3 of `optimal`: an assignment placed and scored, then its delay lines polished.

A schedule is ranked by (period, transfer words, Σ words × depth of its delay lines).
Per-processor orders start forward-first (``stage_order``); adjacent swaps then shrink
the delay lines without changing period, transfers or bank use.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from layerpipe.core.costs import CostModel
from layerpipe.core.network import Network
from layerpipe.sched.placement import Assignment, back_to_back
from layerpipe.sched.placement_milp import solve_dual_port
from layerpipe.sched.policies.optimal_search import SearchBudgets, SearchLimits
from layerpipe.sched.policies.partition import stage_order
from layerpipe.sched.timing import PlacedTask, analyse, bank_conflicts

__all__ = ["ScoredSchedule", "evaluate", "placed_schedule", "polish"]


@dataclass
class ScoredSchedule:
    period: int
    placed: list[PlacedTask]
    transfers: int
    delay_words: int

    def key(self) -> tuple[int, int, int]:
        return self.period, self.transfers, self.delay_words


def evaluate(network: Network, cost: CostModel, period: int, placed: list[PlacedTask]) -> ScoredSchedule | None:
    result = analyse(network, cost, period, placed)
    if result.violations:
        return None
    return ScoredSchedule(period, placed, sum(t["words"] for t in result.transfers),
                          sum(b["words"] * b["depth"] for b in result.buffers))


def placed_schedule(network: Network, cost: CostModel, assignment: Assignment, budgets: SearchBudgets,
                    limits: SearchLimits, verbose: bool) -> ScoredSchedule | None:
    assignment = [stage_order(tasks) for tasks in assignment if tasks]
    if cost.memory == "dual-port":
        result = solve_dual_port(network, cost, assignment, time_limit=limits.seconds_left(), verbose=verbose,
                                 node_limit=budgets.scaled(budgets.placement_nodes))
        limits.record(result.stopped_by)
        period, placed = result.period, result.placed
    else:
        period, placed = back_to_back(network, cost, assignment)
    return evaluate(network, cost, period, placed)


def polish(network: Network, cost: CostModel, best: ScoredSchedule, budgets: SearchBudgets,
           limits: SearchLimits) -> ScoredSchedule:
    """Swap adjacent tasks of a processor while that shrinks the delay lines (period, bank rule kept)."""
    evaluations = 0
    limit = budgets.scaled(max(20, budgets.polish_work // len(best.placed)))  # an analysis is linear in the tasks
    improved = True
    while improved and evaluations < limit and not limits.expired():
        improved = False
        by_processor = defaultdict(list)
        for p in best.placed:
            by_processor[p.processor].append(p)
        for processor in sorted(by_processor):
            ordered = sorted(by_processor[processor], key=lambda p: p.start)
            for a, b in zip(ordered, ordered[1:]):
                if a.end != b.start or evaluations >= limit:
                    continue
                moved = {a.task: PlacedTask(a.task, processor, a.start + b.cycles, a.cycles),
                         b.task: PlacedTask(b.task, processor, a.start, b.cycles)}
                placed = [moved.get(p.task, p) for p in best.placed]
                if cost.memory == "dual-port" and bank_conflicts(network, placed):
                    continue
                evaluations += 1
                candidate = evaluate(network, cost, best.period, placed)
                if candidate is not None and candidate.key() < best.key():
                    best, improved = candidate, True
                    break
            if improved:
                break
    if evaluations >= limit:
        limits.record("work")
    return best
