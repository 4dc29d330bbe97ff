"""Dual-port placement: start offsets for a fixed assignment, least period first (docs/semantics.md).

Under the ``dual-port`` memory model a layer's weight bank serves two ports. Tasks of
one layer on one processor never overlap, so only tasks of a layer split across
processors can collide: G_l (two ports) must then be in lockstep with (same start
as) or time-disjoint from each of F_l and B_l on other processors; F_l and B_l may
overlap freely. These *bank pairs* are the only cross-processor constraints.

The period can never be below the busiest processor's load, so a placement reaching
it is optimal. Cheap constructions are tried first (the given order back to back; the
*anchored* layout, which reaches the load bound whenever every processor touches at
most two split layers that can be given opposite ends of the period, as contiguous
stages do; list scheduling, in order or filling bank waits with other tasks, which is
always valid). Only if none reaches the bound, a MILP (HiGHS) decides the
per-processor orders and the lockstep/before/after relation of each bank pair, started
from the best construction; it has order binaries only on processors with bank pairs,
and none between interchangeable tasks (equal cycles, no bank pair). It is exact when
it finishes; under a node limit ``DualPortPlacement.proven`` says whether the
least period was proven. Node limits decide the result, so it does not depend on the
machine's speed or load; the time limit is a safety net, and
``DualPortPlacement.stopped_by`` says when it (``"time"``) or a node limit (``"work"``)
cut a solve.

Offsets are never read from the solver: the decisions (orders and relations) are a
system of difference constraints whose earliest solution is integral and computed
exactly (:func:`timed`), so cycle counts of 10⁹ do not meet floating-point
tolerances. :func:`timed` also applies the secondary preference: forward tasks as
early and backward tasks as late as the period allows (smaller staleness and delay
lines).

:class:`Milp` is the small HiGHS model builder shared with the ``optimal`` policy.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field

import highspy
import numpy as np

from layerpipe.core.costs import CostModel
from layerpipe.core.errors import LayerPipeError
from layerpipe.core.network import Network
from layerpipe.core.tasks import Task
from layerpipe.sched.timing import PlacedTask, analyse, bank_overuse, bank_usage, lockstep_groups

__all__ = ["Milp", "MilpResult", "STOPS", "combined_stop", "DualPortPlacement", "bank_pairs", "anchor_sides",
           "greedy_starts", "timed", "solve_dual_port", "place_dual_port"]

DEFAULT_TIME_LIMIT = 10.0  # seconds, a safety net; the solver stops earlier when it proves the optimum
DEFAULT_NODE_LIMIT = 2_000  # branch-and-bound nodes (the deterministic budget)
PREFERENCE_SHARE = 5  # the preference solve gets 1/5 of the period solve's node limit
NODE_WORK = 40_000_000  # a node limit is cut to this many nodes per squared column count
PREFERENCE_COLUMNS = 250  # the preference solve runs on models up to this size (its root is slow)
STDERR = 2  # the file descriptor, not sys.stderr (which a test harness may replace)

Sequences = list[list[Task]]
Relation = str  # "lockstep" | "before" (G ends before the other starts) | "after"


# -- HiGHS model builder ----------------------------------------------------------------


STOPS = (None, "work", "time")  # what can cut a search short, each outranking the one before


def combined_stop(*stops: str | None) -> str | None:
    """What cut a search made of parts: the time limit if it cut any part, else a work limit if one did."""
    return max(stops, key=STOPS.index)


@dataclass
class MilpResult:
    status: str
    values: list[float] | None
    objective: float | None
    bound: float | None
    optimal: bool
    nodes: int = 0
    timed_out: bool = False

    @property
    def stopped_by(self) -> str | None:
        """"time" when the time limit cut the solve, "work" when a node limit did, else None."""
        if self.timed_out:
            return "time"
        return None if self.optimal or self.status == "Infeasible" else "work"


class Milp:
    """Columns and rows collected in Python, passed to HiGHS in one go (fast and deterministic)."""

    def __init__(self):
        self.lower: list[float] = []
        self.upper: list[float] = []
        self.cost: list[float] = []
        self.integer: list[bool] = []
        self.rows: list[tuple[float, float, list[int], list[float]]] = []

    @property
    def size(self) -> int:
        return len(self.lower)

    def var(self, lower: float = 0.0, upper: float = math.inf, cost: float = 0.0, integer: bool = False) -> int:
        self.lower.append(float(lower))
        self.upper.append(float(upper))
        self.cost.append(float(cost))
        self.integer.append(integer)
        return len(self.lower) - 1

    def binary(self, cost: float = 0.0) -> int:
        return self.var(0.0, 1.0, cost, integer=True)

    def row(self, terms: dict[int, float] | list[tuple[int, float]], lower: float = -math.inf,
            upper: float = math.inf) -> None:
        merged: dict[int, float] = defaultdict(float)
        for column, value in (terms.items() if isinstance(terms, dict) else terms):
            merged[column] += value
        columns = [c for c, v in merged.items() if v != 0.0]
        self.rows.append((float(lower), float(upper), columns, [merged[c] for c in columns]))

    def solve(self, *, time_limit: float, start: list[float] | None = None, verbose: bool = False,
              node_limit: int | None = None, absolute_gap: float = 0.0, tolerance: float | None = None,
              options: dict | None = None) -> MilpResult:
        highs = _new_highs(verbose)
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = self.size, len(self.rows)
        lp.col_cost_ = np.array(self.cost)
        lp.col_lower_ = np.array(self.lower)
        lp.col_upper_ = np.array(self.upper)
        lp.row_lower_ = np.array([r[0] for r in self.rows])
        lp.row_upper_ = np.array([r[1] for r in self.rows])
        starts, index, value = [0], [], []
        for _, _, columns, values in self.rows:
            index += columns
            value += values
            starts.append(len(index))
        lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
        lp.a_matrix_.start_ = np.array(starts, dtype=np.int32)
        lp.a_matrix_.index_ = np.array(index, dtype=np.int32)
        lp.a_matrix_.value_ = np.array(value, dtype=float)
        lp.integrality_ = [highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous
                           for i in self.integer]
        highs.passModel(lp)
        # One thread and one seed: with the time limit out of reach, the same model gives the
        # same search, whatever the machine's load.
        options = {"time_limit": max(0.05, float(time_limit)), "mip_rel_gap": 0.0, "mip_abs_gap": absolute_gap,
                   "random_seed": 0, "threads": 1, **(options or {})}
        if node_limit is not None:
            options["mip_max_nodes"] = int(node_limit)
        if tolerance is not None:
            options["mip_feasibility_tolerance"] = tolerance
            options["primal_feasibility_tolerance"] = tolerance
        for name, option in options.items():
            if highs.setOptionValue(name, option) != highspy.HighsStatus.kOk:
                raise AssertionError(f"HiGHS rejects option {name}={option}")
        if start is not None:
            solution = highspy.HighsSolution()
            solution.col_value = [float(v) for v in start]
            solution.value_valid = True
            highs.setSolution(solution)
        with _stdout_to(STDERR if verbose else None):
            highs.run()
        model_status = highs.getModelStatus()
        status = highs.modelStatusToString(model_status)
        info = highs.getInfo()
        has_solution = info.primal_solution_status == 2  # kSolutionStatusFeasible
        values = list(highs.getSolution().col_value) if has_solution else None
        return MilpResult(status, values, info.objective_function_value if has_solution else None,
                          info.mip_dual_bound, status == "Optimal", int(info.mip_node_count),
                          model_status == highspy.HighsModelStatus.kTimeLimit)


class _stdout_to:
    """Point file descriptor 1 elsewhere (or to /dev/null) while HiGHS's C++ code runs.

    HiGHS prints a banner on first construction and its log to the C stdout; the CLI's
    ``--json`` output is on stdout, so solver text goes to stderr (verbose) or nowhere.
    """

    def __init__(self, target_fd: int | None):
        self.target_fd = target_fd

    def __enter__(self):
        sys.stdout.flush()
        self.saved = os.dup(1)
        self.devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(self.target_fd if self.target_fd is not None else self.devnull, 1)

    def __exit__(self, *exc):
        os.dup2(self.saved, 1)
        os.close(self.saved)
        os.close(self.devnull)
        return False


def _new_highs(verbose: bool) -> highspy.Highs:
    with _stdout_to(STDERR if verbose else None):
        highs = highspy.Highs()
    highs.setOptionValue("output_flag", verbose)
    return highs


# -- bank pairs and exact timing of decisions --------------------------------------------


def bank_pairs(processor_of: dict[Task, int]) -> list[tuple[Task, Task]]:
    """(G_l, X) with X in {F_l, B_l} on another processor: the pairs the bank rule constrains."""
    pairs = []
    for task in sorted(processor_of, key=Task.sort_key):
        if task.kind != "G":
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


def conflicts(starts: dict[Task, int], processor_of: dict[Task, int], cycles: dict[Task, int]) -> list[str]:
    by_task = {t: PlacedTask(t, processor_of[t], s, cycles[t]) for t, s in starts.items()}
    return bank_overuse(bank_usage(by_task, lockstep_groups(by_task)))


# -- constructions -------------------------------------------------------------------------


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
    result = timed(sequences, relations, cycles)
    if result is None:
        return None
    period, normalised = result
    if conflicts(normalised, processor_of, cycles):
        return None
    return _Candidate(method, period, normalised, sequences, relations)


def _back_to_back(assignment: Sequences, cycles: dict[Task, int]) -> dict[Task, int]:
    starts = {}
    for tasks in assignment:
        clock = 0
        for t in tasks:
            starts[t] = clock
            clock += cycles[t]
    return starts


def anchor_sides(assignment: Sequences) -> dict[int, int] | None:
    """Anchor of each split layer (0: start of the period, 1: end) if the anchored layout applies.

    A processor touching two split layers needs opposite anchors for them, so this
    applies when every processor touches at most two split layers and their conflict
    graph is bipartite (always so for contiguous stages). Returns None otherwise.
    """
    processors_of_layer: dict[int, set[int]] = defaultdict(set)
    for p, tasks in enumerate(assignment):
        for t in tasks:
            processors_of_layer[t.layer].add(p)
    split = {layer for layer, procs in processors_of_layer.items() if len(procs) > 1}
    touching = [sorted({t.layer for t in tasks} & split) for tasks in assignment]
    if any(len(layers) > 2 for layers in touching):
        return None
    neighbours: dict[int, set[int]] = defaultdict(set)
    for layers in touching:
        if len(layers) == 2:
            neighbours[layers[0]].add(layers[1])
            neighbours[layers[1]].add(layers[0])
    side: dict[int, int] = {}
    for first in sorted(split):
        if first in side:
            continue
        side[first], queue = 0, [first]
        while queue:
            layer = queue.pop()
            for other in sorted(neighbours[layer]):
                if other not in side:
                    side[other] = 1 - side[layer]
                    queue.append(other)
                elif side[other] == side[layer]:
                    return None
    return side


def _anchored(assignment: Sequences, cycles: dict[Task, int]) -> dict[Task, int] | None:
    """Split layers at their anchor (:func:`anchor_sides`), in lockstep across processors.

    At its anchor slot a layer's tasks on different processors run in lockstep; a
    second task of the layer on one processor sits next to it, away from the anchor,
    so it is time-disjoint from the lockstep group. G takes the anchor slot when
    present, which keeps it aligned with every task on the other processors. The
    period is the busiest load: head block, the other tasks, tail block ending at it.
    """
    side = anchor_sides(assignment)
    if side is None:
        return None
    period = max(sum(cycles[t] for t in tasks) for tasks in assignment)
    starts = {}
    for tasks in assignment:
        head = [t for t in tasks if side.get(t.layer) == 0]
        tail = [t for t in tasks if side.get(t.layer) == 1]
        middle = [t for t in tasks if t.layer not in side]
        head.sort(key=lambda t: t.kind != "G")  # anchor slot first
        tail.sort(key=lambda t: t.kind == "G")  # anchor slot last
        clock = 0
        for t in head + middle:
            starts[t] = clock
            clock += cycles[t]
        clock = period - sum(cycles[t] for t in tail)
        for t in tail:
            starts[t] = clock
            clock += cycles[t]
    return starts


def greedy_starts(assignment: Sequences, cycles: dict[Task, int], pairs: list[tuple[Task, Task]],
            flexible: bool) -> dict[Task, int]:
    """List scheduling, always valid: the processor free earliest places a task at the first
    start the bank allows (aligned with a partner that starts later, or after the partners).

    In order, each processor keeps its given sequence; ``flexible``, it takes the first
    of its remaining tasks that can start without idling (else the one that can start
    soonest), so bank waits are filled with other work.
    """
    partners: dict[Task, list[Task]] = defaultdict(list)
    for g, x in pairs:
        partners[g].append(x)
        partners[x].append(g)
    starts: dict[Task, int] = {}
    ready = [0] * len(assignment)
    remaining = [list(tasks) for tasks in assignment]

    def earliest(task: Task, clock: int) -> int:
        placed = [x for x in partners[task] if x in starts]
        options = sorted({clock} | {v for x in placed for v in (starts[x], starts[x] + cycles[x]) if v >= clock})
        for option in options:  # the last option is after every partner, so one always fits
            if all(option == starts[x] or option + cycles[task] <= starts[x] or starts[x] + cycles[x] <= option
                   for x in placed):
                return option
        raise AssertionError("no start after the partners")

    while any(remaining):
        p = min((q for q in range(len(assignment)) if remaining[q]), key=lambda q: (ready[q], q))
        choice = None
        for task in remaining[p] if flexible else remaining[p][:1]:
            option = earliest(task, ready[p])
            if choice is None or option < choice[1]:
                choice = (task, option)
            if option == ready[p]:
                break
        task, option = choice
        remaining[p].remove(task)
        starts[task] = option
        ready[p] = option + cycles[task]
    return starts


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
        result = timed(sequences, relations, cycles)
        if result is None:
            return None
        length, starts = result
        if conflicts(starts, processor_of, cycles):
            return None
        return _Candidate("milp", length, starts, sequences, relations)

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
    cycles = {t: cost.task_cycles(network.layer(t.layer)) for tasks in assignment for t in tasks}
    processor_of = {t: p for p, tasks in enumerate(assignment) for t in tasks}
    if len(processor_of) != sum(len(tasks) for tasks in assignment):
        raise LayerPipeError("assignment places a task twice")
    lower = max(sum(cycles[t] for t in tasks) for tasks in assignment)
    pairs = bank_pairs(processor_of)
    processors = len(assignment)

    candidates = []
    for method, construct in (("back-to-back", lambda: _back_to_back(assignment, cycles)),
                              ("anchored", lambda: _anchored(assignment, cycles)),
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
