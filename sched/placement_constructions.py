"""Dual-port placements without a solver: start offsets built directly for an assignment.

Each returns start offsets (not yet normalised; :mod:`.placement_milp` passes them
through its exact timing and keeps the valid ones): the given order back to back; the
*anchored* layout, which reaches the busiest processor's load whenever every processor
touches at most two split layers that can be given opposite ends of the period, as
contiguous stages do; list scheduling, in order or filling bank waits with other
tasks, which is always valid.
"""

from __future__ import annotations

from collections import defaultdict

from layerpipe.core.tasks import Task
from layerpipe.sched.placement import Assignment

__all__ = ["back_to_back_starts", "anchor_sides", "anchored_starts", "greedy_starts"]


def back_to_back_starts(assignment: Assignment, cycles: dict[Task, int]) -> dict[Task, int]:
    starts = {}
    for tasks in assignment:
        clock = 0
        for t in tasks:
            starts[t] = clock
            clock += cycles[t]
    return starts


def anchor_sides(assignment: Assignment) -> dict[int, int] | None:
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


def anchored_starts(assignment: Assignment, cycles: dict[Task, int]) -> dict[Task, int] | None:
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


def greedy_starts(assignment: Assignment, cycles: dict[Task, int], pairs: list[tuple[Task, Task]],
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
