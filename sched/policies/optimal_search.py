"""What the stages of the `optimal` search share: the work budgets, the time safety net, and
what a transfer costs.

The budgets count work and alone decide the result: branch-and-bound nodes, priced
moves, evaluations. The time limit is a safety net for the whole policy, several times
what the budgets take on the zoo even on a loaded machine; :class:`SearchLimits` records
which of the two cut a search short (:data:`..milp.STOPS`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from layerpipe.core.costs import CostModel
from layerpipe.core.network import Network
from layerpipe.core.tasks import INPUT, Task, data_items
from layerpipe.sched.milp import combined_stop
from layerpipe.sched.placement import Assignment

__all__ = ["SearchBudgets", "DEFAULT_BUDGETS", "SearchLimits", "Items", "TOLERANCE", "max_load", "items_of",
           "transfer_words", "task_processors", "grouped"]

TOLERANCE = 1e-9  # solver feasibility tolerance in units of the longest task: below one cycle

Items = list[tuple[Task, tuple[Task, ...], int]]  # (source task, consumers, words) per data item


@dataclass(frozen=True)
class SearchBudgets:
    """How much work each stage may do. ``effort`` scales the counted work (nodes, moves,
    evaluations, pairs) for a cheaper or deeper search; results stay reproducible at any effort."""

    period_nodes: int = 3_000  # branch-and-bound nodes for the period ILP …
    period_work: int = 200_000  # … at most this many per column of the model
    transfer_nodes: int = 300  # … and for the transfer ILP (the local search has done most of the work)
    placement_nodes: int = 1_000  # … and for each dual-port placement MILP
    placement_tries: int = 2  # assignments (fewest transfers first) the dual-port placement is tried on
    local_search_evaluations: int = 1_000_000  # candidate moves the transfer local search may price
    local_search_patience: int = 200  # kicks without improvement before the local search stops
    exchange_rounds: int = 2  # passes over the processor pairs of the exchange search
    exchange_nodes: int = 100  # nodes per exchange ILP (they are small: two processors' tasks)
    exchange_pairs: int = 24  # pairs per pass, those trading the most words first
    transfer_ilp_binaries: int = 120  # the whole-assignment transfer ILP runs when it has at most this many
    repair_evaluations: int = 20_000  # assignments the anchored-layout repair may try
    polish_work: int = 5_000  # timing analyses the delay-line search may spend, times the task count
    effort: float = 1.0

    def scaled(self, budget: int) -> int:
        return max(1, round(budget * self.effort))


DEFAULT_BUDGETS = SearchBudgets()


class SearchLimits:
    """The time safety net of one solve, and what cut its search short (:data:`..milp.STOPS`)."""

    def __init__(self, time_limit: float):
        self.deadline = time.perf_counter() + time_limit
        self.stopped_by: str | None = None

    def seconds_left(self) -> float:
        """A solver's time limit: what is left of the safety net (:meth:`..milp.Milp.solve` still grants a moment)."""
        return self.deadline - time.perf_counter()

    def expired(self) -> bool:
        """Whether the safety net is reached; a search that stops on it is recorded as cut by time."""
        if time.perf_counter() < self.deadline:
            return False
        self.stopped_by = "time"
        return True

    def record(self, stopped_by: str | None) -> None:
        """A part of the search ended, cut short by ``stopped_by`` ("time", "work") or not (None)."""
        self.stopped_by = combined_stop(self.stopped_by, stopped_by)


# -- what the objectives are made of ---------------------------------------------------------


def max_load(assignment: Assignment, cycles: dict[Task, int]) -> int:
    return max(sum(cycles[t] for t in tasks) for tasks in assignment)


def items_of(network: Network, cost: CostModel) -> Items:
    """Input data enters at F_1's processor, as :func:`..timing.analyse` counts it."""
    return [(item.producer if item.producer is not INPUT else Task("F", 1), item.consumers, item.words)
            for item in data_items(network, cost.word_bits)]


def transfer_words(items: Items, processor_of: dict[Task, int]) -> int:
    return sum(words * len({processor_of[c] for c in consumers} - {processor_of[source]})
               for source, consumers, words in items)


def task_processors(assignment: Assignment) -> dict[Task, int]:
    return {t: p for p, tasks in enumerate(assignment) for t in tasks}


def grouped(where: dict[Task, int], processors: int) -> Assignment:
    result = [[] for _ in range(processors)]
    for t in sorted(where, key=Task.sort_key):
        result[where[t]].append(t)
    return result
