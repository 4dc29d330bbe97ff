"""`optimal` (ours, beyond the paper): the best assignment and timing the constraints allow.

Same-sample dependencies never constrain the period (retiming gives them lags), so
the period is the busiest processor's load, plus, under ``dual-port``, whatever the
bank rule adds (:mod:`..placement_milp`). The policy optimises lexicographically:

1. **Period** (ILP, HiGHS). Tasks of equal cycles are interchangeable for the load, so
   the model only counts how many tasks of each length each processor runs (P||Cmax
   with multiplicities; processors sorted by load to break their symmetry), started
   from the best of the baselines, MULTIFIT and a load-balancing exchange. Its LP bound
   is the lower bound max(Σ cycles / P, longest task); the solver proves its period
   least or reports the best bound it proved.
2. **Transfers** at that period: which task goes where, minimising the words per
   sample that cross processors (each data item counted once per processor that
   consumes it without producing it, as :func:`..timing.analyse` counts). A local
   search (relocations and swaps within the period) and an exchange search (for each
   pair of processors that trade data, the best re-split of their tasks, a small ILP)
   do the work; on small instances a whole-assignment ILP then proves the optimum.
3. **Delay lines**: per-processor orders forward-first (``stage_order``), then adjacent
   swaps that shrink Σ words × depth without changing period, transfers or bank use.

Under ``dual-port`` an assignment is placed by :func:`..placement_milp.solve_dual_port`,
which puts split layers in lockstep where it can (F_l ∥ B_l ∥ G_l on three processors
stream W_l once). Besides the fewest-transfer assignment, one repaired into the
*anchored* layout (each processor touching at most two split layers, at opposite ends
of the period) is searched: its placement always reaches its load, so the period is
kept whenever the repair succeeds.

The `layerpipe` and `pipedream` schedules seed the solves and stay as fall-backs:
optimal ≤ layerpipe ≤ pipedream holds by construction. Budgets count work, never
seconds: branch-and-bound nodes, priced moves, evaluations (one solver thread and seed,
fixed scan orders, seeded kicks), so the same input gives the same schedule on a quiet
and on a loaded machine. ``time_limit`` is a safety net for the whole policy, far above
what the budgets take on the zoo; only when it cuts the search can the result depend on
the machine, and then ``OptimalResult.stopped_by`` (the table's ``optimal`` entry) is
``"time"``.
"""

from __future__ import annotations

import math
import random
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from layerpipe.core.costs import CostModel
from layerpipe.core.network import Network
from layerpipe.core.tasks import INPUT, Task, data_items
from layerpipe.sched.milp import Milp, combined_stop
from layerpipe.sched.placement import Assignment, back_to_back, place
from layerpipe.sched.placement_constructions import anchor_sides
from layerpipe.sched.placement_milp import solve_dual_port
from layerpipe.sched.policies import layerpipe, pipedream
from layerpipe.sched.policies.partition import stage_order
from layerpipe.sched.table import PlacedTasks
from layerpipe.sched.timing import PlacedTask, analyse, bank_overuse, bank_usage, lockstep_groups, lower_bound

__all__ = ["OptimalResult", "solve", "schedule"]

# The budgets below count work and alone decide the result. The time limit is a safety net
# for the whole policy, several times what the budgets take on the zoo even on a loaded machine.
DEFAULT_TIME_LIMIT = 120.0  # seconds
PERIOD_NODES = 3_000  # branch-and-bound nodes for the period ILP …
PERIOD_WORK = 200_000  # … at most this many per column of the model
TRANSFER_NODES = 300  # … and for the transfer ILP (the local search has done most of the work)
PLACEMENT_NODES = 1_000  # … and for each dual-port placement MILP
PLACEMENT_TRIES = 2  # assignments (fewest transfers first) the dual-port placement is tried on
SEARCH_EVALUATIONS = 1_000_000  # candidate moves the transfer local search may price
SEARCH_PATIENCE = 200  # kicks without improvement before the local search stops
EXCHANGE_ROUNDS = 2  # passes over the processor pairs of the exchange search
EXCHANGE_NODES = 100  # nodes per exchange ILP (they are small: two processors' tasks)
EXCHANGE_PAIRS = 24  # pairs per pass, those trading the most words first
FULL_TRANSFER_ILP = 120  # the whole-assignment transfer ILP runs when it has at most this many binaries
REPAIR_EVALUATIONS = 20_000  # assignments the anchored-layout repair may try
POLISH_WORK = 5_000  # timing analyses the delay-line search may spend, times the task count
EFFORT = 1.0  # scales every budget above (property tests may lower it; results stay reproducible)
TOLERANCE = 1e-9  # solver feasibility tolerance in units of the longest task: below one cycle
TRANSFER_OPTIONS = {"mip_pscost_minreliable": 0}  # no strong branching: the root is costly, the bound weak anyway

Items = list[tuple[Task, tuple[Task, ...], int]]  # (source task, consumers, words) per data item


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
             verbose: bool = False) -> tuple[int, PlacedTasks]:
    result = solve(network, processors, cost, time_limit=time_limit, verbose=verbose)
    return result.period, PlacedTasks(result.placed, result.table_entry)


def _scaled(budget: int) -> int:
    return max(1, round(budget * EFFORT))


class _Limits:
    """The time safety net of one solve, and what cut its search short (:data:`..placement_milp.STOPS`)."""

    def __init__(self, time_limit: float):
        self.deadline = time.perf_counter() + time_limit
        self.stopped_by: str | None = None

    def seconds_left(self) -> float:
        """A solver's time limit: what is left of the safety net (:meth:`Milp.solve` still grants a moment)."""
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


def _chain(network: Network) -> list[Task]:
    """F1 G1 F2 B2 G2 …: the order stages are cut from, and the symmetry-breaking order."""
    return [t for layer in network.layers for t in pipedream.layer_tasks(layer.index)]


def _load(assignment: Assignment, cycles: dict[Task, int]) -> int:
    return max(sum(cycles[t] for t in tasks) for tasks in assignment)


def _items(network: Network, cost: CostModel) -> Items:
    """Input data enters at F_1's processor, as :func:`..timing.analyse` counts it."""
    return [(item.producer if item.producer is not INPUT else Task("F", 1), item.consumers, item.words)
            for item in data_items(network, cost.word_bits)]


def _transfer_words(items: Items, processor_of: dict[Task, int]) -> int:
    return sum(words * len({processor_of[c] for c in consumers} - {processor_of[source]})
               for source, consumers, words in items)


def _processor_of(assignment: Assignment) -> dict[Task, int]:
    return {t: p for p, tasks in enumerate(assignment) for t in tasks}


def _canonical(assignment: Assignment, index: dict[Task, int], processors: int) -> Assignment:
    """Processors ordered by their first task in chain order, empty ones last, tasks forward-first."""
    used = sorted((tasks for tasks in assignment if tasks), key=lambda ts: min(index[t] for t in ts))
    return [stage_order(tasks) for tasks in used] + [[] for _ in range(processors - len(used))]


# -- step 1: the period ------------------------------------------------------------------------


def _multifit(cycles: dict[Task, int], processors: int) -> Assignment:
    """Coffman's MULTIFIT: first-fit decreasing into P bins, least capacity found by bisection.

    A strong start for the period ILP (within 22 % of optimal, usually at it), and the
    ILP stops at once when it reaches the lower bound.
    """
    tasks = sorted(cycles, key=lambda t: (-cycles[t], Task.sort_key(t)))

    def first_fit(capacity: int) -> Assignment | None:
        bins, loads = [[] for _ in range(processors)], [0] * processors
        for t in tasks:
            for p in range(processors):
                if loads[p] + cycles[t] <= capacity:
                    bins[p].append(t)
                    loads[p] += cycles[t]
                    break
            else:
                return None
        return bins

    low, high = lower_bound(list(cycles.values()), processors), sum(cycles.values())
    best = first_fit(high)
    while low < high:
        middle = (low + high) // 2
        packed = first_fit(middle)
        if packed is None:
            low = middle + 1
        else:
            best, high = packed, middle
    return best


def _balance(cycles: dict[Task, int], assignment: Assignment) -> Assignment:
    """Pairwise exchanges that move load from a busier to a less busy processor (relocate
    one task, or swap two) while they shrink Σ load², which evens loads out and often lowers
    the busiest one. Cheap; it improves the period ILP's start."""
    assignment = [list(tasks) for tasks in assignment]
    load = [sum(cycles[t] for t in tasks) for tasks in assignment]
    improved = True
    while improved:
        improved = False
        for p in sorted(range(len(assignment)), key=lambda q: (-load[q], q)):
            for q in range(len(assignment)):
                room = load[p] - load[q]  # a move of delta cycles from p to q helps when 0 < delta < room
                if room <= 1:
                    continue
                move = next(((t, None) for t in assignment[p] if cycles[t] < room), None)
                if move is None:
                    move = next(((t, u) for t in assignment[p] for u in assignment[q]
                                 if 0 < cycles[t] - cycles[u] < room), None)
                if move is None:
                    continue
                t, u = move
                assignment[p].remove(t)
                assignment[q].append(t)
                delta = cycles[t]
                if u is not None:
                    assignment[q].remove(u)
                    assignment[p].append(u)
                    delta -= cycles[u]
                load[p] -= delta
                load[q] += delta
                improved = True
                break
            if improved:
                break
    return assignment


def _min_period(cycles: dict[Task, int], processors: int, seed: Assignment, limits: _Limits,
                verbose: bool) -> tuple[Assignment | None, int]:
    """Least busiest-processor load: (an assignment reaching the best found, proven lower bound)."""
    lengths = sorted(set(cycles.values()), reverse=True)
    of_length = {d: [t for t in cycles if cycles[t] == d] for d in lengths}
    bound = lower_bound(list(cycles.values()), processors)
    scale = float(lengths[0])
    model = Milp()
    period = model.var(bound / scale, math.inf, cost=1.0)
    count = {(d, p): model.var(0, len(of_length[d]), integer=True) for d in lengths for p in range(processors)}
    for d in lengths:
        model.row({count[(d, p)]: 1.0 for p in range(processors)}, len(of_length[d]), len(of_length[d]))
    for p in range(processors):
        load = [(count[(d, p)], d / scale) for d in lengths]
        model.row(load + [(period, -1.0)], upper=0.0)
        if p + 1 < processors:  # processors sorted by load
            model.row(load + [(count[(d, p + 1)], -d / scale) for d in lengths], lower=0.0)
    start = [0.0] * model.size
    start[period] = _load(seed, cycles) / scale
    for p, tasks in enumerate(sorted(seed, key=lambda ts: -sum(cycles[t] for t in ts))):
        for t in tasks:
            start[count[(cycles[t], p)]] += 1
    nodes = _scaled(max(100, min(PERIOD_NODES, PERIOD_WORK // model.size)))  # larger models, costlier nodes
    result = model.solve(time_limit=limits.seconds_left(), start=start, verbose=verbose, node_limit=nodes,
                         absolute_gap=0.5 / scale, tolerance=TOLERANCE)
    limits.record(result.stopped_by)
    proven = bound
    if result.bound is not None and math.isfinite(result.bound):
        proven = max(bound, math.ceil(result.bound * scale - 0.5))  # half a cycle for the tolerance
    if result.values is None:
        return None, proven
    assignment = [[] for _ in range(processors)]
    for d in lengths:  # same-length tasks in chain order, handed out processor by processor
        queue = list(of_length[d])
        for p in range(processors):
            for _ in range(round(result.values[count[(d, p)]])):
                if not queue:
                    return None, proven  # counts off by the solver's tolerance: keep the seeds
                assignment[p].append(queue.pop(0))
        if queue:
            return None, proven
    load = _load(assignment, cycles)
    return assignment, min(proven, load)


# -- step 2: transfers ---------------------------------------------------------------------------


def _search_transfers(cycles: dict[Task, int], items: Items, assignment: Assignment, period: int, limits: _Limits,
                      keep: Callable[[dict[Task, int]], bool] | None = None) -> Assignment:
    """Relocations and swaps that keep every load ≤ period (and ``keep``); random swaps to leave local minima.

    ``gain[t][q]`` (words saved by moving t alone to q) is kept up to date for the
    tasks sharing data with a moved one, so a swap is priced in O(1) unless its two
    tasks share data. First-improvement descent in a fixed scan order, then kicks from
    a seeded generator until the budget of priced moves is spent: deterministic.
    """
    processors = len(assignment)
    where = _processor_of(assignment)
    tasks = sorted(where, key=Task.sort_key)
    load = [sum(cycles[t] for t in ts) for ts in assignment]
    touching = defaultdict(list)
    for i, (source, consumers, _) in enumerate(items):
        for t in {source, *consumers}:
            touching[t].append(i)
    sharing = {t: {u for i in touching[t] for u in (items[i][0], *items[i][1])} for t in tasks}
    budget = [_scaled(SEARCH_EVALUATIONS)]

    def words(indices) -> int:
        total = 0
        for i in indices:
            source, consumers, size = items[i]
            home = where[source]
            total += size * len({where[c] for c in consumers if where[c] != home})
        return total

    def exact_gain(moves: dict[Task, int]) -> int:
        indices = {i for t in moves for i in touching[t]}
        before = words(indices)
        old = {t: where[t] for t in moves}
        where.update(moves)
        after = words(indices)
        where.update(old)
        return before - after

    gain = {t: [0] * processors for t in tasks}

    def allowed(moves: dict[Task, int]) -> bool:
        if keep is None:
            return True
        old = {t: where[t] for t in moves}
        where.update(moves)
        verdict = keep(where)
        where.update(old)
        return verdict

    def refresh(t: Task) -> None:
        row = gain[t]
        for q in range(processors):
            row[q] = exact_gain({t: q}) if q != where[t] else 0

    def apply(moves: dict[Task, int]) -> None:
        for t, q in moves.items():
            load[where[t]] -= cycles[t]
            load[q] += cycles[t]
            where[t] = q
        for u in {u for t in moves for u in sharing[t]}:
            refresh(u)

    for t in tasks:
        refresh(t)

    def descend() -> None:
        improved = True
        while improved and budget[0] > 0:
            improved = False
            for t in tasks:
                budget[0] -= processors + len(tasks)
                for q in range(processors):
                    if gain[t][q] > 0 and load[q] + cycles[t] <= period and allowed({t: q}):
                        apply({t: q})
                        improved = True
                p = where[t]
                for u in tasks:
                    q = where[u]
                    if q == p or load[p] - cycles[t] + cycles[u] > period or load[q] - cycles[u] + cycles[t] > period:
                        continue
                    swap = {t: q, u: p}
                    value = exact_gain(swap) if u in sharing[t] else gain[t][q] + gain[u][p]
                    if value > 0 and allowed(swap):
                        apply(swap)
                        improved = True
                        p = where[t]
                if budget[0] <= 0:
                    return

    descend()
    best, best_words = dict(where), words(range(len(items)))
    generator = random.Random(0)
    idle = 0  # kicks since the last improvement
    while budget[0] > 0 and len(tasks) > 1 and idle < _scaled(SEARCH_PATIENCE) and not limits.expired():
        idle += 1
        for _ in range(3):
            t, u = generator.sample(tasks, 2)
            p, q = where[t], where[u]
            swap = {t: q, u: p}
            if (p != q and load[p] - cycles[t] + cycles[u] <= period and load[q] - cycles[u] + cycles[t] <= period
                    and allowed(swap)):
                apply(swap)
        descend()
        found = words(range(len(items)))
        if found < best_words:
            best, best_words, idle = dict(where), found, 0
        else:
            apply({t: best[t] for t in tasks if where[t] != best[t]})
    if budget[0] <= 0:
        limits.record("work")
    result = [[] for _ in range(processors)]
    for t in tasks:
        result[best[t]].append(t)
    return result


def _exchange_transfers(cycles: dict[Task, int], items: Items, assignment: Assignment, period: int,
                        limits: _Limits, keep: Callable[[dict[Task, int]], bool] | None = None) -> Assignment:
    """Large-neighbourhood search: for each pair of processors that exchange data, re-split
    their tasks between them optimally (:func:`_split_pair`), everything else fixed, until
    no pair improves. Finds the multi-task exchanges the local search cannot."""
    processors = len(assignment)
    where = _processor_of(assignment)
    touching = defaultdict(list)
    for i, (source, consumers, _) in enumerate(items):
        for t in {source, *consumers}:
            touching[t].append(i)
    for _ in range(EXCHANGE_ROUNDS):
        improved = False
        crossing = defaultdict(int)  # words each pair of processors trades
        for source, consumers, words in items:
            for r in {where[c] for c in consumers} - {where[source]}:
                crossing[tuple(sorted((where[source], r)))] += words
        if len(crossing) > _scaled(EXCHANGE_PAIRS):
            limits.record("work")
        for p, q in sorted(crossing, key=lambda pair: (-crossing[pair], pair))[:_scaled(EXCHANGE_PAIRS)]:
            if limits.expired():
                return _grouped(where, processors)
            local = [items[i] for i in sorted({i for t in where if where[t] in (p, q) for i in touching[t]})]
            trial = _split_pair(cycles, local, where, p, q, period, limits)
            if (trial is not None and _transfer_words(local, trial) < _transfer_words(local, where)
                    and (keep is None or keep(trial))):
                where, improved = trial, True
        if not improved:
            break
    else:  # the last round still improved
        limits.record("work")
    return _grouped(where, processors)


def _split_pair(cycles: dict[Task, int], items: Items, where: dict[Task, int], p: int, q: int, period: int,
                limits: _Limits) -> dict[Task, int] | None:
    """The split of p's and q's tasks between p and q with the fewest transfer words (ILP)."""
    free = sorted((t for t in where if where[t] in (p, q)), key=Task.sort_key)
    model = Milp()
    on_q = {t: model.binary() for t in free}  # 1: the task goes to q, 0: to p

    def on(t: Task, r: int) -> tuple[float, dict[int, float]]:
        """[t runs on r] as a constant plus linear terms."""
        if t not in on_q:
            return float(where[t] == r), {}
        return (0.0, {on_q[t]: 1.0}) if r == q else (1.0, {on_q[t]: -1.0})

    model.row({on_q[t]: cycles[t] for t in free}, upper=period)
    model.row({on_q[t]: -cycles[t] for t in free}, upper=period - sum(cycles[t] for t in free))
    for source, consumers, words in items:  # deliveries to other processors do not depend on the split
        for r in (p, q):
            delivered = model.var(0.0, 1.0, cost=words)
            source_constant, source_terms = on(source, r)
            for c in consumers:
                constant, terms = on(c, r)
                row = defaultdict(float, {delivered: 1.0})
                for column, value in terms.items():
                    row[column] -= value
                for column, value in source_terms.items():
                    row[column] += value
                model.row(dict(row), lower=constant - source_constant)
    start = [0.0] * model.size
    for t, column in on_q.items():
        start[column] = float(where[t] == q)
    result = model.solve(time_limit=limits.seconds_left(), start=start, node_limit=_scaled(EXCHANGE_NODES),
                         absolute_gap=0.5)
    limits.record(result.stopped_by)
    if result.values is None:
        return None
    trial = dict(where)
    for t, column in on_q.items():
        trial[t] = q if result.values[column] > 0.5 else p
    if max(sum(cycles[t] for t in free if trial[t] == r) for r in (p, q)) > period:
        return None  # within the solver's tolerance only
    return trial


def _grouped(where: dict[Task, int], processors: int) -> Assignment:
    result = [[] for _ in range(processors)]
    for t in sorted(where, key=Task.sort_key):
        result[where[t]].append(t)
    return result


def _min_transfers(chain: list[Task], cycles: dict[Task, int], items: Items, processors: int, period: int,
                   seeds: list[Assignment], limits: _Limits, verbose: bool) -> Assignment | None:
    """ILP: assignment of load ≤ period with the fewest transfer words (None if none found).

    Processor p may only hold tasks from index p of the chain on, and opens after
    processor p-1 does: every assignment has exactly one such labelling.
    """
    index = {t: i for i, t in enumerate(chain)}
    scale = float(max(cycles.values()))
    word_scale = float(max(words for _, _, words in items))
    model = Milp()
    x: dict[tuple[Task, int], int] = {}
    for t in chain:
        for p in range(min(index[t] + 1, processors)):  # processor p opens with a task of index >= p
            x[(t, p)] = model.binary()
        model.row({x[(t, p)]: 1.0 for p in range(min(index[t] + 1, processors))}, 1.0, 1.0)
    for p in range(processors):
        model.row({x[(t, p)]: cycles[t] / scale for t in chain if (t, p) in x}, upper=period / scale)
        if p:  # processor p's first task comes after processor p-1's first task
            for t in chain:
                if (t, p) in x:
                    terms = {x[(u, p - 1)]: -1.0 for u in chain[:index[t]] if (u, p - 1) in x}
                    terms[x[(t, p)]] = 1.0
                    model.row(terms, upper=0.0)
    y = {}  # item i must be delivered to processor p
    for i, (source, consumers, words) in enumerate(items):
        for p in range(processors):
            if any((c, p) in x for c in consumers):
                y[(i, p)] = model.var(0.0, 1.0, cost=words / word_scale)
                for c in consumers:
                    if (c, p) in x:
                        terms = {y[(i, p)]: 1.0, x[(c, p)]: -1.0}
                        if (source, p) in x:
                            terms[x[(source, p)]] = 1.0
                        model.row(terms, lower=0.0)
    def encode(assignment: Assignment) -> list[float] | None:
        if _load(assignment, cycles) > period:
            return None
        values = [0.0] * model.size
        processor_of = _processor_of(assignment)
        for t, p in processor_of.items():
            if (t, p) not in x:
                return None
            values[x[(t, p)]] = 1.0
        for (i, p), column in y.items():
            source, consumers, _ = items[i]
            values[column] = float(processor_of[source] != p and any(processor_of[c] == p for c in consumers))
        return values

    starts = [(_transfer_words(items, _processor_of(s)), v) for s in seeds if (v := encode(s)) is not None]
    start = min(starts, key=lambda wv: wv[0])[1] if starts else None
    result = model.solve(time_limit=limits.seconds_left(), start=start, verbose=verbose,
                         node_limit=_scaled(TRANSFER_NODES), absolute_gap=0.5 / word_scale, tolerance=TOLERANCE,
                         options=TRANSFER_OPTIONS)
    limits.record(result.stopped_by)
    if result.values is None:
        return None
    assignment = [[] for _ in range(processors)]
    for (t, p), column in x.items():
        if result.values[column] > 0.5:
            assignment[p].append(t)
    return assignment


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
        excess = int(anchor_sides(_grouped(where, max(where.values()) + 1)) is None)
    return excess, spread


def _anchorable(where: dict[Task, int]) -> bool:
    return _anchoring_excess(where)[0] == 0


def _repair_anchoring(cycles: dict[Task, int], assignment: Assignment, period: int,
                      limits: _Limits) -> Assignment | None:
    """Relocations and swaps within the period that bring the assignment to the anchored
    layout (None if a local minimum remains): its dual-port placement then reaches its load."""
    where = _processor_of(assignment)
    tasks = sorted(where, key=Task.sort_key)
    processors = len(assignment)
    load = [sum(cycles[t] for t in ts) for ts in assignment]
    if max(load) > period:
        return None
    excess = _anchoring_excess(where)
    evaluations = _scaled(REPAIR_EVALUATIONS)

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
    return _grouped(where, processors) if excess[0] == 0 else None


# -- step 3: placement and delay lines -------------------------------------------------------------


@dataclass
class _Schedule:
    period: int
    placed: list[PlacedTask]
    transfers: int
    delay_words: int

    def key(self) -> tuple[int, int, int]:
        return self.period, self.transfers, self.delay_words


def _evaluate(network: Network, cost: CostModel, period: int, placed: list[PlacedTask]) -> _Schedule | None:
    result = analyse(network, cost, period, placed)
    if result.violations:
        return None
    return _Schedule(period, placed, sum(t["words"] for t in result.transfers),
                     sum(b["words"] * b["depth"] for b in result.buffers))


def _placed(network: Network, cost: CostModel, assignment: Assignment, limits: _Limits,
            verbose: bool) -> _Schedule | None:
    assignment = [stage_order(tasks) for tasks in assignment if tasks]
    if cost.memory == "dual-port":
        result = solve_dual_port(network, cost, assignment, time_limit=limits.seconds_left(), verbose=verbose,
                                 node_limit=_scaled(PLACEMENT_NODES))
        limits.record(result.stopped_by)
        period, placed = result.period, result.placed
    else:
        period, placed = back_to_back(network, cost, assignment)
    return _evaluate(network, cost, period, placed)


def _polish(network: Network, cost: CostModel, best: _Schedule, limits: _Limits) -> _Schedule:
    """Swap adjacent tasks of a processor while that shrinks the delay lines (period, bank rule kept)."""
    evaluations = 0
    limit = _scaled(max(20, POLISH_WORK // len(best.placed)))  # an analysis costs time linear in the tasks
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
                if cost.memory == "dual-port":
                    by_task = {p.task: p for p in placed}
                    if bank_overuse(bank_usage(by_task, lockstep_groups(by_task))):
                        continue
                evaluations += 1
                candidate = _evaluate(network, cost, best.period, placed)
                if candidate is not None and candidate.key() < best.key():
                    best, improved = candidate, True
                    break
            if improved:
                break
    if evaluations >= limit:
        limits.record("work")
    return best


# -- the policy ------------------------------------------------------------------------------------


def solve(network: Network, processors: int, cost: CostModel, *, time_limit: float = DEFAULT_TIME_LIMIT,
          verbose: bool = False) -> OptimalResult:
    clock = time.perf_counter()
    limits = _Limits(time_limit)

    def say(message: str) -> None:
        if verbose:
            print(f"optimal [{time.perf_counter() - clock:6.2f}s] {message}", file=sys.stderr)

    chain = _chain(network)
    index = {t: i for i, t in enumerate(chain)}
    cycles = {t: cost.task_cycles(network.layer(t.layer)) for t in chain}
    items = _items(network, cost)
    bound = lower_bound(list(cycles.values()), processors)
    used = min(processors, len(chain))
    notes = []

    baselines = {}
    for name, policy in (("layerpipe", layerpipe), ("pipedream", pipedream)):
        assignment = policy.assign(network, processors, cost)
        period, placed = place(network, cost, assignment)
        baselines[name] = (_canonical(assignment, index, used), _evaluate(network, cost, period, placed))
    best_name = min(baselines, key=lambda n: baselines[n][1].key())
    best = baselines[best_name][1]
    say(f"lower bound {bound:,}; {best_name} gives period {best.period:,}")
    period_bound = bound

    if used > 1:
        seeds = [assignment for assignment, _ in baselines.values()]
        seeds.append(_canonical(_multifit(cycles, used), index, used))
        start = _canonical(_balance(cycles, min(seeds, key=lambda s: _load(s, cycles))), index, used)
        seeds.append(start)
        counts, period_bound = _min_period(cycles, used, start, limits, verbose)
        if counts is not None:
            seeds.insert(0, _canonical(counts, index, used))
        target = min(_load(s, cycles) for s in seeds)
        seeds = sorted((s for s in seeds if _load(s, cycles) <= target),
                       key=lambda s: _transfer_words(items, _processor_of(s)))
        say(f"least load {target:,} (proven bound {period_bound:,}); seeds move "
            f"{_transfer_words(items, _processor_of(seeds[0])):,} words")
        searched = _search_transfers(cycles, items, seeds[0], target, limits)
        say(f"local search: {_transfer_words(items, _processor_of(searched)):,} words")
        searched = _canonical(_exchange_transfers(cycles, items, searched, target, limits), index, used)
        say(f"exchange search: {_transfer_words(items, _processor_of(searched)):,} words")
        found = [searched] + seeds
        small = sum(min(index[t] + 1, used) for t in chain) <= FULL_TRANSFER_ILP
        if small:
            solved = _min_transfers(chain, cycles, items, used, target, found, limits, verbose)
            if solved is not None:
                found.insert(0, solved)
                say(f"transfer ILP: {_transfer_words(items, _processor_of(solved)):,} words")
        tried = sorted({tuple(map(tuple, _canonical(a, index, used))): a for a in found}.values(),
                       key=lambda a: _transfer_words(items, _processor_of(a)))
        candidates = []
        if cost.memory == "dual-port":  # an assignment the anchored layout places at its load
            repaired = _repair_anchoring(cycles, tried[0], target, limits)
            if repaired is not None:
                anchored = _search_transfers(cycles, items, repaired, target, limits, keep=_anchorable)
                anchored = _exchange_transfers(cycles, items, anchored, target, limits, keep=_anchorable)
                candidate = _placed(network, cost, _canonical(anchored, index, used), limits, verbose)
                if candidate is not None:
                    candidates.append(candidate)
                    say(f"anchored layout: period {candidate.period:,}, {candidate.transfers:,} words")
        for assignment in tried[:PLACEMENT_TRIES]:
            if any(c.period <= target and c.transfers <= _transfer_words(items, _processor_of(assignment))
                   for c in candidates):
                break  # nothing left to gain
            candidate = _placed(network, cost, assignment, limits, verbose)
            if candidate is not None:
                candidates.append(candidate)
                say(f"placed: period {candidate.period:,}, {candidate.transfers:,} words")
                if candidate.period <= target:
                    break
        for candidate in candidates:
            if candidate.key() < best.key():
                best = candidate
    best = _polish(network, cost, best, limits)
    say(f"period {best.period:,}, transfers {best.transfers:,} words, delay lines {best.delay_words:,} words")
    period_bound = min(period_bound, best.period)
    if best.period > period_bound:
        notes.append(f"period {best.period} not proven optimal; proven bound {period_bound}")
    placed = [PlacedTask(p.task, p.processor, p.start, p.cycles) for p in best.placed]
    return OptimalResult(best.period, placed, bound, period_bound, best.transfers, best.delay_words,
                         time.perf_counter() - clock, limits.stopped_by, notes)
