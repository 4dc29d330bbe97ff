"""Retiming and timing analysis of a placed periodic schedule (docs/semantics.md).

A *placement* gives every task a processor and a start offset in [0, period) such that
it ends by the end of the period. Retiming then gives each task its iteration lag
r(τ) (in period n it works on sample n − r(τ)): the smallest lags for which every
same-sample dependency τ1 → τ2 satisfies

    (r(τ2) − r(τ1))·T + s(τ2) ≥ s(τ1) + d(τ1) + link(τ1 → τ2)

where link is 0 on one processor and ``CostModel.transfer_cycles(words)`` across
processors, and every edge that crosses processors carries at least one delay
(r(τ2) > r(τ1)): the cutset retiming of LayerPipe2 (arXiv 2512.08160), one register per processor boundary
and direction, so a processor never waits within a period for another one. For a chain
of M stages this yields the paper's Delay(l) = 2·S(l).

Retiming a graph whose edges carry no delays never needs a negative edge delay, so
these lags are always legal. The weight feedback loops (G_l → F_l) then need the
delayed-gradient delays that the timing implies; they are derived here, not assumed:
the staleness of F_l is the number of most recent updates of W_l not yet written when
F_l starts (a task reads at its start, an update lands at the end of its G task).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from layerpipe.core.costs import CostModel
from layerpipe.core.errors import LayerPipeError
from layerpipe.core.layer_kinds import LAYER_KINDS
from layerpipe.core.network import Network
from layerpipe.core.tasks import INPUT, DataItem, Task, data_items, dependencies, training_tasks
from layerpipe.core.weight_policies import WEIGHT_POLICIES

__all__ = ["PlacedTask", "Analysis", "analyse", "bank_usage", "bank_overuse", "bank_conflicts", "lockstep_groups",
           "shared_bank_layers", "lower_bound", "ceil_div"]

BANK_PORTS = 2


def ceil_div(a: int, b: int) -> int:
    return -((-a) // b)


@dataclass(frozen=True)
class PlacedTask:
    task: Task
    processor: int
    start: int
    cycles: int
    lag: int = 0

    @property
    def end(self) -> int:
        return self.start + self.cycles

    def absolute_start(self, period: int) -> int:
        """Cycle at which this task starts for sample 0 (periods count from 0)."""
        return self.lag * period + self.start

    def absolute_end(self, period: int) -> int:
        return self.absolute_start(period) + self.cycles


@dataclass
class Analysis:
    """Everything the ScheduleTable reports that follows from the placement."""

    period: int
    tasks: dict[Task, PlacedTask]
    staleness_forward: dict[int, int]
    staleness_backward_latest: dict[int, int]
    buffers: list[dict]
    transfers: list[dict]
    lockstep: dict[Task, int]
    bank_ports: dict[int, list[dict]]
    weight_versions: dict[str, dict[int, int]]
    iteration_bound: float
    loops: list[dict]
    latency: int
    violations: list[str] = field(default_factory=list)


def lower_bound(cycles: list[int], processors: int) -> int:
    return max(ceil_div(sum(cycles), processors), max(cycles))


def _retime(network: Network, cost: CostModel, period: int,
            placed: dict[Task, PlacedTask]) -> dict[Task, PlacedTask]:
    lags: dict[Task, int] = {}
    preds = defaultdict(list)
    for producer, consumer, item in dependencies(network, cost.word_bits):
        preds[consumer].append((producer, item.words, False))
    first = placed[Task("F", 1)]
    for item in data_items(network, cost.word_bits):
        if item.producer is INPUT:  # the sample arrives at F_1's processor as F_1 starts
            for consumer in item.consumers:
                if placed[consumer].processor != first.processor:
                    preds[consumer].append((first.task, item.words, True))
    for layer in range(2, network.depth + 1):
        # B_l and G_l on one processor form one backward pass over one sample, as PipeDream's
        # indivisible backward does: G works on the sample B worked on.
        backward, update = placed[Task("B", layer)], placed[Task("G", layer)]
        if backward.processor == update.processor and backward.start < update.start:
            preds[update.task].append((backward.task, 0, False))
    for task in training_tasks(network):
        here = placed[task]
        lag = 0
        for producer, words, from_start in preds[task]:
            there = placed[producer]
            ready = there.start if from_start else there.end
            if there.processor == here.processor:
                step = ceil_div(ready - here.start, period)
            else:  # a registered processor boundary: consumed in a later period than produced
                step = max(1, ceil_div(ready + cost.transfer_cycles(words) - here.start, period))
            lag = max(lag, lags[producer] + step)
        lags[task] = lag
    return {task: PlacedTask(p.task, p.processor, p.start, p.cycles, lags[task]) for task, p in placed.items()}


def _visible_staleness(reader: PlacedTask, update: PlacedTask, period: int) -> int:
    """Number of most recent updates not visible to the reader (updates land at the G task's end)."""
    slack = reader.absolute_start(period) - update.absolute_end(period)
    return -1 - slack // period


def shared_bank_layers(network: Network) -> frozenset[int]:
    """Layers whose processors share one dual-port weight bank (core/layer_kinds.py ``shared_bank``).

    The other layers (conv) give every processor that reads them a double-buffered copy of
    their weights, which G writes while the readers read the version of their start: they
    have no port to share and no lockstep.
    """
    return frozenset(layer.index for layer in network.layers if LAYER_KINDS[layer.kind].shared_bank)


def bank_conflicts(network: Network, placed) -> list[str]:
    """The dual-port rule's violations among ``placed`` (PlacedTasks) on the shared banks."""
    shared = shared_bank_layers(network)
    by_task = {p.task: p for p in placed if p.task.layer in shared}
    return bank_overuse(bank_usage(by_task, lockstep_groups(by_task)))


def lockstep_groups(tasks: dict[Task, PlacedTask]) -> dict[Task, int]:
    by_key = defaultdict(list)
    for placed in tasks.values():
        by_key[(placed.task.layer, placed.start, placed.cycles)].append(placed.task)
    groups, next_id = {}, 0
    for key in sorted(by_key):
        members = by_key[key]
        if len(members) > 1:
            for task in members:
                groups[task] = next_id
            next_id += 1
    return groups


def bank_usage(tasks: dict[Task, PlacedTask], lockstep: dict[Task, int]) -> dict[int, list[dict]]:
    """Per layer: the access groups on its weight bank within one period and the ports each needs.

    F and B read every weight once (one port); G reads and writes every weight (two
    ports). Tasks in one lockstep group share one read: the group needs one port, plus
    one for the write if G is in it.
    """
    groups = defaultdict(list)
    for placed in tasks.values():
        key = ("lockstep", lockstep[placed.task]) if placed.task in lockstep else ("alone", placed.task)
        groups[(placed.task.layer, key)].append(placed)
    usage = defaultdict(list)
    for (layer, _), members in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[1][0].start)):
        writes = any(m.task.kind == "G" for m in members)
        usage[layer].append({"tasks": sorted(m.task.name for m in members), "start": members[0].start,
                             "end": members[0].end, "ports": 1 + int(writes)})
    return dict(usage)


def bank_overuse(usage: dict[int, list[dict]]) -> list[str]:
    problems = []
    for layer, accesses in usage.items():
        events = sorted({a["start"] for a in accesses})
        for cycle in events:
            active = [a for a in accesses if a["start"] <= cycle < a["end"]]
            ports = sum(a["ports"] for a in active)
            if ports > BANK_PORTS:
                names = "+".join("/".join(a["tasks"]) for a in active)
                problems.append(f"weight bank of layer {layer} serves {ports} accesses at cycle {cycle} "
                                f"of the period ({names}); at most {BANK_PORTS} ports")
                break
    return problems


def _buffer(item: DataItem, tasks: dict[Task, PlacedTask], period: int) -> dict:
    producer = tasks[item.producer] if item.producer is not INPUT else tasks[Task("F", 1)]
    written = producer.absolute_start(period)
    released = max(tasks[c].absolute_end(period) for c in item.consumers)
    return {"item": item.name, "words": item.words, "depth": ceil_div(released - written, period),
            "consumers": [c.name for c in item.consumers]}


def analyse(network: Network, cost: CostModel, period: int, placed: list[PlacedTask],
            retime: bool = True) -> Analysis:
    """Retime a placement and derive staleness, buffers, transfers, bank use and checks.

    Structural errors (a task missing or placed twice, an offset outside the period,
    overlapping tasks on one processor) raise :class:`LayerPipeError`; bank overuse under
    the dual-port model is listed in ``violations``. With ``retime=False`` the lags of
    ``placed`` are kept (to analyse a table as written).
    """
    expected = training_tasks(network)
    by_task: dict[Task, PlacedTask] = {}
    for p in placed:
        if p.task in by_task:
            raise LayerPipeError(f"task {p.task} is placed twice")
        by_task[p.task] = p
    missing = [t.name for t in expected if t not in by_task]
    if missing:
        raise LayerPipeError(f"tasks {', '.join(missing)} are not placed")
    for p in placed:
        if p.start < 0 or p.end > period:
            raise LayerPipeError(f"task {p.task} runs over [{p.start}, {p.end}) outside the period "
                                 f"[0, {period})")
    per_processor = defaultdict(list)
    for p in placed:
        per_processor[p.processor].append(p)
    for processor, items in per_processor.items():
        items.sort(key=lambda p: p.start)
        for a, b in zip(items, items[1:], strict=False):
            if b.start < a.end:
                raise LayerPipeError(f"processor {processor} runs {a.task} and {b.task} at once "
                                     f"(cycle {b.start} of the period)")

    tasks = _retime(network, cost, period, by_task) if retime else by_task
    depth = network.depth
    forward, backward = {}, {}
    for layer in range(1, depth + 1):
        update = tasks[Task("G", layer)]
        forward[layer] = _visible_staleness(tasks[Task("F", layer)], update, period)
        if layer > 1:
            backward[layer] = _visible_staleness(tasks[Task("B", layer)], update, period)

    items = data_items(network, cost.word_bits)
    buffers = [_buffer(item, tasks, period) for item in items]
    transfers = []
    for item in items:
        source = tasks[item.producer if item.producer is not INPUT else Task("F", 1)].processor
        for destination in sorted({tasks[c].processor for c in item.consumers} - {source}):
            transfers.append({"item": item.name, "from": source, "to": destination, "words": item.words,
                              "cycles": cost.transfer_cycles(item.words)})

    shared = shared_bank_layers(network)
    banked = {task: placed for task, placed in tasks.items() if task.layer in shared}
    lockstep = lockstep_groups(banked)
    usage = bank_usage(banked, lockstep)
    violations = bank_overuse(usage) if cost.memory == "dual-port" else []

    versions = {name: {} for name in WEIGHT_POLICIES}
    for layer in range(1, depth + 1):
        span = 0 if layer == 1 else ceil_div(
            tasks[Task("B", layer)].absolute_end(period) - tasks[Task("F", layer)].absolute_start(period), period)
        for name, policy in WEIGHT_POLICIES.items():
            versions[name][layer] = policy.versions(layer, forward[layer], backward.get(layer), span)

    loops, bound = [], 0.0
    for layer in range(1, depth + 1):
        path = ([Task("F", k) for k in range(layer, depth + 1)]
                + [Task("B", k) for k in range(depth, layer, -1)] + [Task("G", layer)])
        compute = sum(tasks[t].cycles for t in path)
        links = 0
        for a, b in zip(path, path[1:], strict=False):
            if tasks[a].processor != tasks[b].processor:
                item = _item_between(items, a, b)
                links += cost.transfer_cycles(item.words)
        delays = 1 + forward[layer]
        loops.append({"layer": layer, "cycles": compute + links, "delays": delays})
        bound = max(bound, (compute + links) / delays)

    latency = max(p.absolute_end(period) for p in tasks.values())
    return Analysis(period, tasks, forward, backward, buffers, transfers, lockstep, usage, versions, bound,
                    loops, latency, violations)


def _item_between(items: list[DataItem], producer: Task, consumer: Task) -> DataItem:
    for item in items:
        if item.producer == producer and consumer in item.consumers:
            return item
    raise AssertionError(f"no data from {producer} to {consumer}")
