"""Building and checking ScheduleTables (the table itself is :mod:`layerpipe.core.table`).

:func:`build_table` turns a policy's placed tasks into a table; :func:`check` re-derives
every invariant of docs/semantics.md from a table, for tables edited by hand.
"""

from __future__ import annotations

from layerpipe.core.costs import CostModel
from layerpipe.core.errors import LayerPipeError
from layerpipe.core.layer_kinds import LAYER_KINDS
from layerpipe.core.network import Network
from layerpipe.core.table import SAMPLE_COUNTS, SCHEMA, SCHEMA_VERSION, ScheduleTable
from layerpipe.core.tasks import INPUT, Task, data_items, dependencies, training_tasks
from layerpipe.sched.timing import PlacedTask, analyse, lower_bound

__all__ = ["PlacedTasks", "build_table", "check"]


class PlacedTasks(list):
    """A policy's placed tasks with its account of the search that found them (``proven``: the
    period is the least possible; ``stopped_by``: "work", "time" or None), which
    :func:`build_table` stores under the policy's name (a plain list has none)."""

    def __init__(self, placed: list[PlacedTask], search: dict):
        super().__init__(placed)
        self.search = search


def dataflow(network: Network, cost: CostModel) -> list[dict]:
    """Per layer, what the lanes of a weight row run over and the share of lane-cycles that do a MAC,
    per task (below 1 where chunks are padded: core/conv_dataflow.py)."""
    rows = []
    for layer in network.layers:
        kinds = ("F", "B", "G") if layer.index > 1 else ("F", "G")
        rows.append({"layer": layer.index, "lanes_over": LAYER_KINDS[layer.kind].lanes_over(layer),
                     "lane_use": {kind: round(layer.macs / (cost.stream_cycles(layer, kind) * cost.lanes), 4)
                                  for kind in kinds}})
    return rows


def build_table(network: Network, cost: CostModel, policy: str, processors: int, period: int,
                placed: list[PlacedTask] | PlacedTasks) -> ScheduleTable:
    result = analyse(network, cost, period, placed)
    if result.violations:
        raise LayerPipeError(f"policy '{policy}' produced an unbuildable schedule: {result.violations[0]}")
    per_processor = [[] for _ in range(processors)]
    for placed_task in sorted(result.tasks.values(), key=lambda p: (p.processor, p.start)):
        per_processor[placed_task.processor].append({
            "kind": placed_task.task.kind, "layer": placed_task.task.layer, "start": placed_task.start,
            "cycles": placed_task.cycles, "lag": placed_task.lag,
            "lockstep": result.lockstep.get(placed_task.task)})
    cycles = [p.cycles for p in result.tasks.values()]
    busy = [sum(t["cycles"] for t in tasks) for tasks in per_processor]
    weights = {layer.index: layer.weights for layer in network.layers}
    data = {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "network": network.to_dict(),
        "policy": policy,
        "memory_model": cost.memory,
        "processors": processors,
        "cost_model": cost.to_dict(),
        "period_cycles": period,
        "lower_bound_cycles": lower_bound(cycles, processors),
        "processor_tasks": per_processor,
        "staleness": [{"layer": layer, "forward": result.staleness_forward[layer],
                       "backward_latest": result.staleness_backward_latest.get(layer)}
                      for layer in range(1, network.depth + 1)],
        "delay_lines": result.buffers,
        "transfers": result.transfers,
        "transfer_words_per_sample": sum(t["words"] for t in result.transfers),
        "bank_ports": [{"layer": layer, "accesses": accesses} for layer, accesses in sorted(result.bank_ports.items())],
        "weight_versions": {
            policy_name: {"versions": [counts[layer] for layer in sorted(counts)],
                          "memory_words": sum(counts[layer] * weights[layer] for layer in counts)}
            for policy_name, counts in result.weight_versions.items()},
        "delay_line_words": sum(b["words"] * b["depth"] for b in result.buffers),
        "dataflow": dataflow(network, cost),
        "retiming": {"loops": result.loops, "iteration_bound_cycles": round(result.iteration_bound, 3)},
        "predicted": {
            "latency_cycles": result.latency,
            "fill_drain_cycles": result.latency - period,
            "total_cycles_formula": "(samples - 1) * period_cycles + latency_cycles",
            "total_cycles": {str(n): (n - 1) * period + result.latency for n in SAMPLE_COUNTS},
            "busy_cycles": busy,
            "utilisation": [round(b / period, 6) for b in busy],
            "utilisation_mean": round(sum(busy) / (processors * period), 6),
        },
    }
    if isinstance(placed, PlacedTasks):
        data[policy] = dict(placed.search)
    table = ScheduleTable(data)
    table.network = network  # the same network, with the initial parameters its file gave (JSON keeps the shape)
    return table


def check(table: ScheduleTable) -> list[str]:
    """Every invariant of docs/semantics.md that a table must satisfy; returns the violations found."""
    problems = []
    expected = set(training_tasks(table.network))
    seen = [t.task for tasks in table.processor_tasks for t in tasks]
    if sorted(seen, key=Task.sort_key) != sorted(expected, key=Task.sort_key):
        problems.append("tasks are not each scheduled exactly once per period")
    period = table.period_cycles
    for tasks in table.processor_tasks:
        ordered = sorted(tasks, key=lambda t: t.start)
        for a, b in zip(ordered, ordered[1:], strict=False):
            if b.start < a.end:
                problems.append(f"processor {a.processor} runs {a.name} and {b.name} at once")
        for t in tasks:
            if t.end > period:
                problems.append(f"{t.name} ends at {t.end}, after the period {period}")
            if t.cycles != table.cost.cycles(table.network, t):
                problems.append(f"{t.name} lasts {t.cycles} cycles, the cost model says "
                                f"{table.cost.cycles(table.network, t)}")
    if problems:
        return problems
    tasks = table.tasks
    for producer, consumer, item in dependencies(table.network, table.cost.word_bits):
        a, b = tasks[producer], tasks[consumer]
        link = 0 if a.processor == b.processor else table.cost.transfer_cycles(item.words)
        if (b.lag - a.lag) * period + b.start < a.end + link:
            problems.append(f"dependency {a.name} -> {b.name} ({item.name}) is violated: "
                            f"({b.lag} - {a.lag})*{period} + {b.start} < {a.end} + {link}")
    first = tasks[Task("F", 1)]
    for item in data_items(table.network, table.cost.word_bits):
        if item.producer is not INPUT:
            continue
        for consumer in item.consumers:
            b = tasks[consumer]
            if b.processor != first.processor and (b.lag <= first.lag or (b.lag - first.lag) * period + b.start
                                                   < first.start + table.cost.transfer_cycles(item.words)):
                problems.append(f"input item {item.name} reaches {b.name} on processor {b.processor} too late")
    if period < table.lower_bound_cycles:
        problems.append(f"period {period} is below the lower bound {table.lower_bound_cycles}")
    placed = [PlacedTask(t.task, t.processor, t.start, t.cycles, t.lag) for t in tasks.values()]
    result = analyse(table.network, table.cost, period, placed, retime=False)
    problems += result.violations
    for layer, stale in result.staleness_forward.items():
        if table.staleness["forward"][layer] != stale:
            problems.append(f"staleness of layer {layer} is {table.staleness['forward'][layer]}, "
                            f"the timing gives {stale}")
    for loop in result.loops:
        if loop["cycles"] > loop["delays"] * period:
            problems.append(f"loop of layer {loop['layer']} needs {loop['cycles']} cycles but has "
                            f"{loop['delays']} delays of {period} cycles")
    return problems
