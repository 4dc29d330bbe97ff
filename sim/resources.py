"""The cycle simulator's stateful resources (:mod:`.cyclesim` drives them run by run), and the
error a broken rule raises.

Each resource checks its own rule as it goes: a delay line never holds more entries
than its depth, a weight bank never serves more ports than it has. :mod:`.cyclesim`
checks the rest (processors, reads, staleness) and raises the same :class:`SimulationError`.
"""

from __future__ import annotations

from collections import deque

from layerpipe.core.errors import LayerPipeError

__all__ = ["SimulationError", "DelayLine", "WeightBank"]


class SimulationError(LayerPipeError):
    """A table broke a rule of the semantics while it was executed (one line: task, sample, item, cycle)."""


class DelayLine:
    """A FIFO of per-sample entries; entries leave once every consumer has ended.

    Entries are released in sample order: every sample's entry is written and released
    at the same offsets, one period apart, so the oldest entry is always the first to go.
    """

    __slots__ = ("item", "producer", "depth", "consumers", "entries", "order", "peak")

    def __init__(self, item: str, producer: str, depth: int, consumers: int):
        self.item, self.producer, self.depth, self.consumers = item, producer, depth, consumers
        self.entries: dict[int, list] = {}  # sample → [consumers left, release cycle, value]
        self.order: deque[int] = deque()
        self.peak = 0

    def write(self, sample: int, cycle: int, value=None) -> None:
        entries, order = self.entries, self.order
        while order:
            oldest = entries[order[0]]
            if oldest[0] or oldest[1] > cycle:
                break
            del entries[order.popleft()]
        occupied = len(order) + 1
        if occupied > self.depth:
            raise SimulationError(
                f"delay line {self.item} (depth {self.depth}) overflows at cycle {cycle}: {self.producer} of "
                f"sample {sample} writes entry {occupied} while samples {', '.join(map(str, order))} "
                "still occupy it")
        self.peak = max(self.peak, occupied)
        entries[sample] = [self.consumers, cycle, value]
        order.append(sample)

    def read(self, sample: int, end: int):
        entry = self.entries[sample]
        entry[0] -= 1
        if end > entry[1]:
            entry[1] = end
        return entry[2]


class WeightBank:
    """Port use of one layer's bank and the order in which G's updates land."""

    __slots__ = ("layer", "groups", "peak", "pending", "applied")

    def __init__(self, layer: int):
        self.layer = layer
        self.groups: list[list] = []  # active access groups: [start, cycles, end, ports, member names]
        self.peak = 0
        self.pending: deque[tuple[int, int]] = deque()  # (landing cycle, sample) of issued updates
        self.applied = 0  # updates landed so far: samples 0..applied-1

    def access(self, name: str, kind: str, sample: int, start: int, cycles: int, limit: int | None) -> None:
        live, ports, shared = [], 0, None
        for group in self.groups:
            if group[2] > start:  # still streaming at this cycle
                live.append(group)
                ports += group[3]
                if group[0] == start and group[1] == cycles:
                    shared = group  # lockstep: same start and duration, one shared read
        member = (name, sample)
        if shared is None:
            ports += 2 if kind == "G" else 1
            live.append([start, cycles, start + cycles, 2 if kind == "G" else 1, [member]])
        else:
            shared[4].append(member)
            if kind == "G" and shared[3] == 1:  # the group now also writes
                shared[3] = 2
                ports += 1
        self.groups = live
        if ports > self.peak:
            self.peak = ports
        if limit is not None and ports > limit:
            detail = " + ".join("/".join(f"{task}(sample {n})" for task, n in g[4]) + f" [{g[3]}]" for g in live)
            raise SimulationError(f"weight bank of layer {self.layer} serves {ports} ports at cycle {start}: "
                                  f"{detail}; a dual-port bank has {limit}")

    def land(self, cycle: int, datapath) -> None:
        """Every update that has landed by ``cycle`` becomes visible (writes before reads)."""
        pending = self.pending
        while pending and pending[0][0] <= cycle:
            _, sample = pending.popleft()
            self.applied += 1
            if datapath is not None:
                datapath.land(self.layer, sample)
