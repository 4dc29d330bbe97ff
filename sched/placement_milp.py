"""Dual-port placement: start offsets for a fixed assignment, least period first (docs/semantics.md).

Under the ``dual-port`` memory model a layer's weight bank serves two ports. Tasks of
one layer on one processor never overlap, so only tasks of a layer split across
processors can collide: G_l (two ports) must then be in lockstep with (same start
as) or time-disjoint from each of F_l and B_l on other processors; F_l and B_l may
overlap freely. These *bank pairs* are the only cross-processor constraints.

The period can never be below the busiest processor's load, so a placement reaching
it is optimal. Cheap constructions are tried first (:mod:`.placement_constructions`:
back to back, the anchored layout, list scheduling, which is always valid). Only if
none reaches the bound, a MILP (HiGHS, :mod:`.milp`) decides the per-processor orders
and the lockstep/before/after relation of each bank pair, started from the best
construction; it has order binaries only on processors with bank pairs, and none
between interchangeable tasks (equal cycles, no bank pair). It is exact when it
finishes; under a node limit ``DualPortPlacement.proven`` says whether the least
period was proven. Node limits decide the result, so it does not depend on the
machine's speed or load; the time limit is a safety net, and
``DualPortPlacement.stopped_by`` says when it (``"time"``) or a node limit (``"work"``)
cut a solve.

Offsets are never read from the solver: the decisions (orders and relations) are a
system of difference constraints whose earliest solution is integral and computed
exactly (:func:`timed`), so cycle counts of 10⁹ do not meet floating-point
tolerances. :func:`timed` also applies the secondary preference: forward tasks as
early and backward tasks as late as the period allows (smaller staleness and delay
lines).
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field

from layerpipe.core.costs import CostModel
from layerpipe.core.errors import LayerPipeError
from layerpipe.core.network import Network
from layerpipe.core.tasks import Task
from layerpipe.sched.milp import Milp, combined_stop
from layerpipe.sched.placement_constructions import anchored_starts, back_to_back_starts, greedy_starts
from layerpipe.sched.timing import PlacedTask, analyse, bank_overuse, bank_usage, lockstep_groups, shared_bank_layers

__all__ = ["DualPortPlacement", "bank_pairs", "timed", "solve_dual_port", "place_dual_port"]

DEFAULT_TIME_LIMIT = 10.0  # seconds, a safety net; the solver stops earlier when it proves the optimum
DEFAULT_NODE_LIMIT = 2_000  # branch-and-bound nodes (the deterministic budget)
PREFERENCE_SHARE = 5  # the preference solve gets 1/5 of the period solve's node limit
NODE_WORK = 40_000_000  # a node limit is cut to this many nodes per squared column count
PREFERENCE_COLUMNS = 250  # the preference solve runs on models up to this size (its root is slow)

Sequences = list[list[Task]]
Relation = str  # "lockstep" | "before" (G ends before the other starts) | "after"


# -- bank pairs and exact timing of decisions --------------------------------------------


def bank_pairs(network: Network, processor_of: dict[Task, int]) -> list[tuple[Task, Task]]:
    """(G_l, X) with X in {F_l, B_l} on another processor, l a layer with a shared bank: the pairs
    the bank rule constrains."""
    shared = shared_bank_layers(network)
    pairs = []
    for task in sorted(processor_of, key=Task.sort_key):
        if task.kind != "G" or task.layer not in shared:
            continue
        for kind in ("F", "B"):
            other = Task(kind, task.layer)
            if other in processor_of and processor_of[other] != processor_of[task]:
                pairs.append((task, other))
    return pairs


def relations_of(starts: dict[Task, int], cycles: dict[Task, int],
                 pairs: list[tuple[Task, Task]]) -> dict[tuple[Task, Task], Relation] | None:
    """The relation each bank pair has in a timed placement, or None if one pair collides."""
    relations = {}
    for g, x in pairs:
        if starts[g] == starts[x]:
            relations[(g, x)] = "lockstep"
        elif starts[g] + cycles[g] <= starts[x]:
            relations[(g, x)] = "before"
        elif starts[x] + cycles[x] <= starts[g]:
            relations[(g, x)] = "after"
        else:
            return None
    return relations


def timed(sequences: Sequences, relations: dict[tuple[Task, Task], Relation],
          cycles: dict[Task, int]) -> tuple[int, dict[Task, int]] | None:
    """Least period and integer offsets realising the decisions: per-processor order and
    bank-pair relations (a system of difference constraints, solved by longest paths).

    Forward tasks start as early as possible; then, within that period, tasks whose
    lockstep group holds only backward tasks are pushed as late as the decisions allow.
    Returns None when the decisions are contradictory (a cycle of precedences).
    """
    parent: dict[Task, Task] = {t: t for seq in sequences for t in seq}

    def root(t: Task) -> Task:
        while parent[t] != t:
            parent[t] = parent[parent[t]]
            t = parent[t]
        return t

    for (g, x), relation in relations.items():
        if relation == "lockstep":
            parent[root(g)] = root(x)
    edges: dict[Task, list[tuple[Task, int]]] = defaultdict(list)  # u -> (v, w): s_v >= s_u + w
    indegree: dict[Task, int] = {root(t): 0 for t in parent}

    def precede(a: Task, b: Task) -> bool:
        ra, rb = root(a), root(b)
        if ra == rb:
            return False
        edges[ra].append((rb, cycles[a]))
        indegree[rb] += 1
        return True

    for seq in sequences:
        for a, b in zip(seq, seq[1:]):
            if not precede(a, b):
                return None
    for (g, x), relation in relations.items():
        if relation == "before" and not precede(g, x):
            return None
        if relation == "after" and not precede(x, g):
            return None

    order, ready = [], sorted((n for n, k in indegree.items() if k == 0), key=Task.sort_key)
    while ready:
        node = ready.pop()
        order.append(node)
        for succ, _ in edges[node]:
            indegree[succ] -= 1
            if indegree[succ] == 0:
                ready.append(succ)
    if len(order) != len(indegree):
        return None  # a precedence cycle
    start = dict.fromkeys(order, 0)
    for node in order:
        for succ, weight in edges[node]:
            start[succ] = max(start[succ], start[node] + weight)
    length = {root(t): cycles[t] for t in parent}  # lockstep members share one layer, hence cycles
    period = max(start[n] + length[n] for n in order)
    members: dict[Task, list[Task]] = defaultdict(list)
    for t in parent:
        members[root(t)].append(t)
    for node in reversed(order):  # successors are final when a node is reached
        if all(t.kind != "F" for t in members[node]):
            latest = min([period - length[node]] + [start[s] - w for s, w in edges[node]])
            start[node] = max(start[node], latest)
    return period, {t: start[root(t)] for t in parent}


def conflicts(starts: dict[Task, int], processor_of: dict[Task, int], cycles: dict[Task, int],
              layers: set[int]) -> list[str]:
    """Bank conflicts on ``layers`` (those of the bank pairs: a shared bank used by two processors)."""
    by_task = {t: PlacedTask(t, processor_of[t], s, cycles[t]) for t, s in starts.items() if t.layer in layers}
    return bank_overuse(bank_usage(by_task, lockstep_groups(by_task)))


# -- constructions, normalised -------------------------------------------------------------


@dataclass
class _Candidate:
    method: str
    period: int
    starts: dict[Task, int]
    sequences: Sequences
    relations: dict[tuple[Task, Task], Relation]


def _candidate(method: str, starts: dict[Task, int], processor_of: dict[Task, int], cycles: dict[Task, int],
               pairs: list[tuple[Task, Task]], processors: int) -> _Candidate | None:
    """Normalise a timed placement through :func:`timed` (preference) and keep it if valid."""
    relations = relations_of(starts, cycles, pairs)
    if relations is None:
        return None
    sequences = [sorted((t for t in starts if processor_of[t] == p), key=lambda t: starts[t])
                 for p in range(processors)]
    return _timed_candidate(method, sequences, relations, cycles, processor_of)


def _timed_candidate(method: str, sequences, relations, cycles, processor_of) -> _Candidate | None:
    """The candidate that :func:`timed` makes of sequences and relations, if it has no bank conflict."""
    result = timed(sequences, relations, cycles)
    if result is None:
        return None
    period, starts = result
    if conflicts(starts, processor_of, cycles, {g.layer for g, _ in relations}):
        return None
    return _Candidate(method, period, starts, sequences, relations)


# -- the exact model ----------------------------------------------------------------------


def _milp(assignment: Sequences, processor_of: dict[Task, int], cycles: dict[Task, int],
          pairs: list[tuple[Task, Task]], incumbent: _Candidate, lower: int, time_limit: float,
          node_limit: int | None, verbose: bool) -> tuple[_Candidate, bool, str | None]:
    """Least period by MILP, then the preference at that period.

    Returns (candidate, proven, stopped_by): ``stopped_by`` is "time" when ``time_limit``
    (the safety net of both solves together) cut a solve, "work" when a node limit did.
    """
    scale = float(incumbent.period)  # times in units of the incumbent period: big-M = 1
    in_pair = {t for pair in pairs for t in pair}
    involved = sorted({processor_of[t] for t in in_pair})
    model = Milp()
    period = model.var(lower / scale, 1.0, cost=1.0)
    start = {}
    for p in involved:
        for t in assignment[p]:
            start[t] = model.var(0.0, 1.0 - cycles[t] / scale)
            model.row({period: 1.0, start[t]: -1.0}, lower=cycles[t] / scale)
    order: dict[tuple[Task, Task], int | None] = {}  # binary: 1 when the first task runs first
    for p in involved:
        tasks = assignment[p]
        for i, a in enumerate(tasks):
            for b in tasks[i + 1:]:
                da, db = cycles[a] / scale, cycles[b] / scale
                if a not in in_pair and b not in in_pair and cycles[a] == cycles[b]:
                    # interchangeable: keep the incumbent's order (it is then a valid start)
                    first, second = (a, b) if incumbent.starts[a] < incumbent.starts[b] else (b, a)
                    order[(first, second)] = None
                    model.row({start[second]: 1.0, start[first]: -1.0}, lower=da)
                    continue
                o = model.binary()
                order[(a, b)] = o
                model.row({start[a]: 1.0, start[b]: -1.0, o: 1.0}, upper=1.0 - da)  # o=1: a then b
                model.row({start[b]: 1.0, start[a]: -1.0, o: -1.0}, upper=-db)  # o=0: b then a
    relation_vars = {}
    for g, x in pairs:
        before, after = model.binary(), model.binary()
        relation_vars[(g, x)] = (before, after)
        d = cycles[g] / scale
        model.row({before: 1.0, after: 1.0}, upper=1.0)
        model.row({start[g]: 1.0, start[x]: -1.0, before: 1.0}, upper=1.0 - d)
        model.row({start[x]: 1.0, start[g]: -1.0, after: 1.0}, upper=1.0 - d)
        model.row({start[g]: 1.0, start[x]: -1.0, before: -1.0, after: -1.0}, upper=0.0)
        model.row({start[x]: 1.0, start[g]: -1.0, before: -1.0, after: -1.0}, upper=0.0)

    def encode(candidate: _Candidate) -> list[float]:
        values = [0.0] * model.size
        values[period] = candidate.period / scale
        for t, column in start.items():
            values[column] = candidate.starts[t] / scale
        for (a, b), column in order.items():
            if column is not None:
                values[column] = float(candidate.starts[a] < candidate.starts[b])
        for pair, (before, after) in relation_vars.items():
            relation = candidate.relations[pair]
            values[before], values[after] = float(relation == "before"), float(relation == "after")
        return values

    def decode(values: list[float]) -> _Candidate | None:
        sequences = []
        for p in range(len(assignment)):
            tasks = assignment[p]
            if p not in involved:
                sequences.append(list(tasks))
                continue
            earlier = dict.fromkeys(tasks, 0)  # how many tasks run before each one
            for (a, b), column in order.items():
                if processor_of[a] != p:
                    continue
                first, second = (a, b) if column is None or values[column] > 0.5 else (b, a)
                earlier[second] += 1
            sequences.append(sorted(tasks, key=lambda t: earlier[t]))
        relations = {}
        for pair, (before, after) in relation_vars.items():
            relations[pair] = ("before" if values[before] > 0.5 else "after" if values[after] > 0.5
                               else "lockstep")
        return _timed_candidate("milp", sequences, relations, cycles, processor_of)

    deadline = time.perf_counter() + time_limit
    if node_limit is not None:  # larger models, costlier nodes (about quadratically here)
        node_limit = max(50, min(node_limit, NODE_WORK // model.size ** 2))
    # Phase A: least period. The objective is in units of the incumbent period; a gap
    # below one cycle is all an integral period can close.
    result = model.solve(time_limit=time_limit, start=encode(incumbent), verbose=verbose,
                         node_limit=node_limit, absolute_gap=0.5 / scale)
    stopped_by = result.stopped_by
    best = incumbent
    if result.values is not None:
        found = decode(result.values)
        if found is not None and found.period < best.period:
            best = found
    proven = result.optimal or best.period <= lower
    if best is incumbent or best.period <= lower:
        return best, proven, stopped_by
    # Phase B: at that period, forward tasks early and backward tasks late.
    model.upper[period] = best.period / scale
    for column in range(model.size):
        model.cost[column] = 0.0
    for t, column in start.items():
        model.cost[column] = 1.0 if t.kind == "F" else -1.0
    if model.size <= PREFERENCE_COLUMNS:  # a preference only: a fraction of the nodes
        result = model.solve(time_limit=deadline - time.perf_counter(), start=encode(best), verbose=verbose,
                             node_limit=None if node_limit is None else max(1, node_limit // PREFERENCE_SHARE))
        stopped_by = combined_stop(stopped_by, result.stopped_by)
        if result.values is not None:
            found = decode(result.values)
            if found is not None and found.period <= best.period:
                best = found
    return best, proven, stopped_by


# -- entry points --------------------------------------------------------------------------


@dataclass
class DualPortPlacement:
    period: int
    placed: list[PlacedTask]
    lower_bound: int  # the busiest processor's load: no placement of this assignment is shorter
    proven: bool  # the period is the least for this assignment
    method: str  # which construction won: back-to-back, anchored, greedy or milp
    notes: list[str] = field(default_factory=list)
    stopped_by: str | None = None  # "time" or "work" when the time or a node limit cut the MILP


def solve_dual_port(network: Network, cost: CostModel, assignment: Sequences, *,
                    time_limit: float = DEFAULT_TIME_LIMIT, node_limit: int | None = DEFAULT_NODE_LIMIT,
                    verbose: bool = False) -> DualPortPlacement:
    assignment = [list(tasks) for tasks in assignment]
    cycles = {t: cost.cycles(network, t) for tasks in assignment for t in tasks}
    processor_of = {t: p for p, tasks in enumerate(assignment) for t in tasks}
    if len(processor_of) != sum(len(tasks) for tasks in assignment):
        raise LayerPipeError("assignment places a task twice")
    lower = max(sum(cycles[t] for t in tasks) for tasks in assignment)
    pairs = bank_pairs(network, processor_of)
    processors = len(assignment)

    candidates = []
    for method, construct in (("back-to-back", lambda: back_to_back_starts(assignment, cycles)),
                              ("anchored", lambda: anchored_starts(assignment, cycles)),
                              ("flexible greedy", lambda: greedy_starts(assignment, cycles, pairs, flexible=True)),
                              ("greedy", lambda: greedy_starts(assignment, cycles, pairs, flexible=False))):
        starts = construct()
        if starts is not None:
            candidate = _candidate(method, starts, processor_of, cycles, pairs, processors)
            if candidate is not None:
                candidates.append(candidate)
                if candidate.period <= lower:
                    break
    best = min(candidates, key=lambda c: c.period)  # greedy is always valid
    proven = best.period <= lower
    stopped_by = None
    if not proven:
        if verbose:
            print(f"dual-port placement: {best.method} gives {best.period}, load bound {lower}; solving the MILP",
                  file=sys.stderr)
        best, proven, stopped_by = _milp(assignment, processor_of, cycles, pairs, best, lower, time_limit,
                                         node_limit, verbose)
    placed = [PlacedTask(t, processor_of[t], best.starts[t], cycles[t]) for tasks in assignment for t in tasks]
    violations = analyse(network, cost, best.period, placed).violations
    if violations:  # the constructions are checked as they go; this would be a bug here
        raise AssertionError(f"dual-port placement is invalid: {violations[0]}")
    return DualPortPlacement(best.period, placed, lower, proven, best.method, stopped_by=stopped_by)


def place_dual_port(network: Network, cost: CostModel, assignment: Sequences, *,
                    time_limit: float = DEFAULT_TIME_LIMIT, node_limit: int | None = DEFAULT_NODE_LIMIT,
                    verbose: bool = False) -> tuple[int, list[PlacedTask]]:
    """Least-period offsets for ``assignment`` valid under the dual-port bank rule (see module doc)."""
    result = solve_dual_port(network, cost, assignment, time_limit=time_limit, node_limit=node_limit,
                             verbose=verbose)
    return result.period, result.placed
