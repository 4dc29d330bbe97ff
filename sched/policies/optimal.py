"""`optimal` (ours, beyond the paper): the best assignment and timing the constraints allow.

Same-sample dependencies never constrain the period (retiming gives them lags), so
the period is the busiest processor's load, plus, under ``dual-port``, whatever the
bank rule adds (:mod:`..placement_milp`). The policy optimises lexicographically, one
module per stage:

1. **Period** (:mod:`.optimal_period`): an ILP over how many tasks of each length each
   processor runs, started from the baselines, MULTIFIT and a load-balancing exchange;
   it proves its period least or reports the best bound it proved.
2. **Transfers** at that period: which task goes where, minimising the words per
   sample that cross processors: a local search (:mod:`.optimal_transfers`), an exchange
   search re-splitting pairs of processors (:mod:`.optimal_exchange`), and on small
   instances a whole-assignment ILP that proves the optimum.
3. **Delay lines** (:mod:`.optimal_polish`): per-processor orders forward-first, then
   adjacent swaps that shrink Σ words × depth without changing period, transfers or bank use.

Under ``dual-port`` an assignment is placed by :func:`..placement_milp.solve_dual_port`,
which puts split layers in lockstep where it can (F_l ∥ B_l ∥ G_l on three processors
stream W_l once). Besides the fewest-transfer assignment, one repaired into the
*anchored* layout (:mod:`.optimal_repair`) is searched: its placement always reaches its
load, so the period is kept whenever the repair succeeds.

The `layerpipe` and `pipedream` schedules seed the solves and stay as fall-backs:
optimal ≤ layerpipe ≤ pipedream holds by construction. Budgets count work, never
seconds (:class:`.optimal_search.SearchBudgets`: branch-and-bound nodes, priced moves,
evaluations; one solver thread and seed, fixed scan orders, seeded kicks), so the same
input gives the same schedule on a quiet and on a loaded machine. ``time_limit`` is a
safety net for the whole policy, far above what the budgets take on the zoo; only when
it cuts the search can the result depend on the machine, and then
``OptimalResult.stopped_by`` (the table's ``optimal`` entry) is ``"time"``.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

from layerpipe.core.costs import CostModel
from layerpipe.core.network import Network
from layerpipe.core.tasks import Task
from layerpipe.sched.placement import Assignment, place
from layerpipe.sched.policies import layerpipe, pipedream
from layerpipe.sched.policies.optimal_exchange import exchange_transfers
from layerpipe.sched.policies.optimal_period import balance, min_period, multifit
from layerpipe.sched.policies.optimal_polish import evaluate, placed_schedule, polish
from layerpipe.sched.policies.optimal_repair import anchorable, repair_anchoring
from layerpipe.sched.policies.optimal_search import (
    DEFAULT_BUDGETS,
    SearchBudgets,
    SearchLimits,
    items_of,
    max_load,
    task_processors,
    transfer_words,
)
from layerpipe.sched.policies.optimal_transfers import min_transfers, search_transfers
from layerpipe.sched.policies.partition import stage_order
from layerpipe.sched.table import PlacedTasks
from layerpipe.sched.timing import PlacedTask, lower_bound

__all__ = ["DEFAULT_TIME_LIMIT", "OptimalResult", "solve", "schedule"]

DEFAULT_TIME_LIMIT = 120.0  # seconds: the safety net, several times what the budgets take on the zoo


@dataclass
class OptimalResult:
    period: int
    placed: list[PlacedTask]
    lower_bound: int  # max(ceil(Σ cycles / P), longest task)
    period_bound: int  # proven: no schedule of this network on P processors has a shorter period
    transfer_words: int
    delay_line_words: int
    seconds: float
    stopped_by: str | None  # what cut the search short: "time" (the safety net), "work" (a budget), or None
    notes: list[str] = field(default_factory=list)

    @property
    def proven(self) -> bool:
        return self.period <= self.period_bound

    @property
    def table_entry(self) -> dict:
        """The table's ``optimal`` entry: a reader can tell a table the time limit cut from a reproducible one."""
        return {"proven": self.proven, "stopped_by": self.stopped_by}

    @property
    def gap(self) -> float:
        """Relative distance of the period to the lower bound."""
        return self.period / self.lower_bound - 1.0


def schedule(network: Network, processors: int, cost: CostModel, *, time_limit: float = DEFAULT_TIME_LIMIT,
             budgets: SearchBudgets = DEFAULT_BUDGETS, verbose: bool = False) -> tuple[int, PlacedTasks]:
    result = solve(network, processors, cost, time_limit=time_limit, budgets=budgets, verbose=verbose)
    return result.period, PlacedTasks(result.placed, result.table_entry)


def _chain(network: Network) -> list[Task]:
    """F1 G1 F2 B2 G2 …: the order stages are cut from, and the symmetry-breaking order."""
    return [t for layer in network.layers for t in pipedream.layer_tasks(layer.index)]


def _canonical(assignment: Assignment, index: dict[Task, int], processors: int) -> Assignment:
    """Processors ordered by their first task in chain order, empty ones last, tasks forward-first."""
    used = sorted((tasks for tasks in assignment if tasks), key=lambda ts: min(index[t] for t in ts))
    return [stage_order(tasks) for tasks in used] + [[] for _ in range(processors - len(used))]


def solve(network: Network, processors: int, cost: CostModel, *, time_limit: float = DEFAULT_TIME_LIMIT,
          budgets: SearchBudgets = DEFAULT_BUDGETS, verbose: bool = False) -> OptimalResult:
    clock = time.perf_counter()
    limits = SearchLimits(time_limit)

    def say(message: str) -> None:
        if verbose:
            print(f"optimal [{time.perf_counter() - clock:6.2f}s] {message}", file=sys.stderr)

    chain = _chain(network)
    index = {t: i for i, t in enumerate(chain)}
    cycles = {t: cost.cycles(network, t) for t in chain}
    items = items_of(network, cost)
    bound = lower_bound(list(cycles.values()), processors)
    used = min(processors, len(chain))
    notes = []

    baselines = {}
    for name, policy in (("layerpipe", layerpipe), ("pipedream", pipedream)):
        assignment = policy.assign(network, processors, cost)
        period, placed = place(network, cost, assignment)
        baselines[name] = (_canonical(assignment, index, used), evaluate(network, cost, period, placed))
    best_name = min(baselines, key=lambda n: baselines[n][1].key())
    best = baselines[best_name][1]
    say(f"lower bound {bound:,}; {best_name} gives period {best.period:,}")
    period_bound = bound

    if used > 1:
        seeds = [assignment for assignment, _ in baselines.values()]
        seeds.append(_canonical(multifit(cycles, used), index, used))
        start = _canonical(balance(cycles, min(seeds, key=lambda s: max_load(s, cycles))), index, used)
        seeds.append(start)
        counts, period_bound = min_period(cycles, used, start, budgets, limits, verbose)
        if counts is not None:
            seeds.insert(0, _canonical(counts, index, used))
        target = min(max_load(s, cycles) for s in seeds)
        seeds = sorted((s for s in seeds if max_load(s, cycles) <= target),
                       key=lambda s: transfer_words(items, task_processors(s)))
        say(f"least load {target:,} (proven bound {period_bound:,}); seeds move "
            f"{transfer_words(items, task_processors(seeds[0])):,} words")
        searched = search_transfers(cycles, items, seeds[0], target, budgets, limits)
        say(f"local search: {transfer_words(items, task_processors(searched)):,} words")
        searched = _canonical(exchange_transfers(cycles, items, searched, target, budgets, limits), index, used)
        say(f"exchange search: {transfer_words(items, task_processors(searched)):,} words")
        found = [searched] + seeds
        small = sum(min(index[t] + 1, used) for t in chain) <= budgets.transfer_ilp_binaries
        if small:
            solved = min_transfers(chain, cycles, items, used, target, found, budgets, limits, verbose)
            if solved is not None:
                found.insert(0, solved)
                say(f"transfer ILP: {transfer_words(items, task_processors(solved)):,} words")
        tried = sorted({tuple(map(tuple, _canonical(a, index, used))): a for a in found}.values(),
                       key=lambda a: transfer_words(items, task_processors(a)))
        candidates = []
        if cost.memory == "dual-port":  # an assignment the anchored layout places at its load
            repaired = repair_anchoring(cycles, tried[0], target, budgets, limits)
            if repaired is not None:
                anchored = search_transfers(cycles, items, repaired, target, budgets, limits, keep=anchorable)
                anchored = exchange_transfers(cycles, items, anchored, target, budgets, limits, keep=anchorable)
                candidate = placed_schedule(network, cost, _canonical(anchored, index, used), budgets, limits, verbose)
                if candidate is not None:
                    candidates.append(candidate)
                    say(f"anchored layout: period {candidate.period:,}, {candidate.transfers:,} words")
        for assignment in tried[:budgets.placement_tries]:
            if any(c.period <= target and c.transfers <= transfer_words(items, task_processors(assignment))
                   for c in candidates):
                break  # nothing left to gain
            candidate = placed_schedule(network, cost, assignment, budgets, limits, verbose)
            if candidate is not None:
                candidates.append(candidate)
                say(f"placed: period {candidate.period:,}, {candidate.transfers:,} words")
                if candidate.period <= target:
                    break
        for candidate in candidates:
            if candidate.key() < best.key():
                best = candidate
    best = polish(network, cost, best, budgets, limits)
    say(f"period {best.period:,}, transfers {best.transfers:,} words, delay lines {best.delay_words:,} words")
    period_bound = min(period_bound, best.period)
    if best.period > period_bound:
        notes.append(f"period {best.period} not proven optimal; proven bound {period_bound}")
    placed = [PlacedTask(p.task, p.processor, p.start, p.cycles) for p in best.placed]
    return OptimalResult(best.period, placed, bound, period_bound, best.transfers, best.delay_words,
                         time.perf_counter() - clock, limits.stopped_by, notes)
