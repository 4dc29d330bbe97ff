"""Cycle simulator: executes a ScheduleTable run by run, in cycle order (docs/semantics.md).

It does not evaluate the table's formulas. It generates every task run of samples
0..N−1 in the order of their start cycles (period by period, tasks by start offset:
offsets lie in [0, T) and no task wraps, so this order is the cycle order), and for
each run it works the resources the hardware has:

* the processor: one task at a time (busy until the run's end);
* the data it reads: produced by the producer's run of the same sample, arrived over
  the link (latency + ⌈words / width⌉ cycles) when crossing processors, and across
  processors consumed in a later period than produced (registered boundary);
* the delay lines: an entry per sample from its producer's start (F_1 for the input
  stream) to its last consumer's end, never more entries than the table's depth;
* the weight bank of its layer: ports per cycle, runs of one layer with the same start
  and duration sharing a read (lockstep), at most two under ``dual-port`` (a shared fc bank; a
  conv layer's readers each have their own copy, sched/timing.py ``shared_bank_layers``); updates of G
  land at its end, before any read at that cycle, and every read sees exactly the
  version the table's staleness promises;
* the links: words, streaming cycles and concurrent transfers per processor pair.

Resources keep their own event queues (:mod:`.resources`) and settle them lazily up to
the current cycle (an end at t lands before a start at t: intervals are half open), so
the cost is per run, never per cycle: a VGG-16 period of 10⁹ cycles costs no more than
a short one.

The first violated rule stops the run with a :class:`.resources.SimulationError`
naming the task, the sample, the data item or resource and the cycle. An optional
*datapath* (:mod:`layerpipe.sim.functional`) computes the numerics in the same order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from layerpipe.core.errors import LayerPipeError
from layerpipe.core.table import ScheduleTable
from layerpipe.core.tasks import INPUT, Task, data_items, training_tasks
from layerpipe.sched.timing import BANK_PORTS, shared_bank_layers
from layerpipe.sim.resources import DelayLine, SimulationError, WeightBank

__all__ = ["SimResult", "Run", "simulate", "prediction_mismatches"]


@dataclass(frozen=True)
class Run:
    """One executed task run: ``task`` of ``sample`` on ``processor`` over [start, end)."""

    processor: int
    task: str
    sample: int
    start: int
    end: int


@dataclass
class SimResult:
    """What the execution measured. Keys of per-layer dicts are layer numbers (1-based)."""

    samples: int
    processors: int
    period_cycles: int
    tasks_run: int
    total_cycles: int  # end of the last run
    first_sample_latency: int  # end of sample 0's last run
    sample_interval_cycles: float | None  # mean cycles between consecutive samples' completion
    busy_cycles: list[int]  # per processor, whole run
    utilisation_overall: list[float]  # busy / total_cycles, fill and drain included
    steady_window: tuple[int, int] | None  # [first, end) cycles of the periods in which every task runs
    steady_busy_cycles: list[int] | None  # per processor, inside the steady window
    utilisation: list[float] | None  # per processor, steady_busy / window: the table's busy / T
    utilisation_mean: float | None  # Σ steady_busy / (P · window): the table's utilisation_mean
    link_words: dict[tuple[int, int], int]  # (from, to) → words sent over the run
    # (from, to) → cycles the pair's link spends streaming words (⌈words / width⌉ per transfer; the
    # latency is pipelined) and the most transfers streaming at once: above 1, one link of the cost
    # model's width cannot carry them in the time the table assumes (it times each transfer alone)
    link_busy_cycles: dict[tuple[int, int], int]
    link_peak_streams: dict[tuple[int, int], int]
    delay_line_peak: dict[str, int]  # item → most entries occupied at once
    bank_peak_ports: dict[int, int]  # layer → most ports used in one cycle (lockstep shared)
    staleness: dict[str, dict[int, int | None]]  # measured, as the table's staleness (None: never seen)
    runs: list[Run] | None = None
    functional: object | None = None  # the datapath's result in functional mode

    @property
    def transfer_words(self) -> int:
        return sum(self.link_words.values())


# -- the table compiled into flat per-task records (the inner loop reads only these) ----------

@dataclass
class _Edge:
    line: int  # delay line of the item
    item: str
    producer: int  # task index
    at_end: bool  # data ready at the producer's end (task output) or start (input stream at F_1)
    link: int  # transfer cycles, 0 on one processor
    crossing: bool


@dataclass
class _Task:
    index: int
    name: str
    kind: str
    layer: int
    processor: int
    start: int
    cycles: int
    lag: int
    inputs: list[_Edge] = field(default_factory=list)
    streams: list[int] = field(default_factory=list)  # input-stream lines it writes at its start (F_1)
    produces: list[int] = field(default_factory=list)  # delay lines of its outputs
    consumes: list[int] = field(default_factory=list)  # delay lines whose entry it reads
    sends: list[tuple[int, int, int, int]] = field(default_factory=list)  # (link, words, stream cycles, leaves at)


def _compile(table: ScheduleTable) -> tuple[list[_Task], list[DelayLine], list[tuple[int, int]]]:
    network, cost, period = table.network, table.cost, table.period_cycles
    placed = {}
    for tasks in table.processor_tasks:
        for t in tasks:
            if t.task in placed:
                raise SimulationError(f"task {t.name} is in the table twice (processors "
                                      f"{placed[t.task].processor} and {t.processor})")
            if t.start < 0 or t.end > period:
                raise SimulationError(f"task {t.name} on processor {t.processor} runs over [{t.start}, {t.end}) "
                                      f"of the period, outside [0, {period}): no task wraps the period end")
            placed[t.task] = t
    order = training_tasks(network)
    missing = [t.name for t in order if t not in placed]
    if missing:
        raise SimulationError(f"tasks {', '.join(missing)} are not in the table")
    index = {task: i for i, task in enumerate(order)}
    records = [_Task(i, task.name, task.kind, task.layer, placed[task].processor, placed[task].start,
                     placed[task].cycles, placed[task].lag) for i, task in enumerate(order)]

    depths = {line.item: line.depth for line in table.delay_lines}
    lines, links = [], []
    first = Task("F", 1)
    for item in data_items(network, cost.word_bits):
        producer = item.producer if item.producer is not INPUT else first
        if item.name not in depths:
            raise SimulationError(f"delay line {item.name} is missing from the table's delay_lines")
        line = len(lines)
        lines.append(DelayLine(item.name, producer.name if item.producer is not INPUT else f"input at {first}",
                                depths[item.name], len(item.consumers)))
        source = records[index[producer]]
        (source.produces if item.producer is not INPUT else source.streams).append(line)
        for consumer in item.consumers:
            target = records[index[consumer]]
            crossing = target.processor != source.processor
            target.inputs.append(_Edge(line, item.name, source.index, item.producer is not INPUT,
                                       cost.transfer_cycles(item.words) if crossing else 0, crossing))
            target.consumes.append(line)
        for destination in sorted({records[index[c]].processor for c in item.consumers} - {source.processor}):
            if (source.processor, destination) not in links:
                links.append((source.processor, destination))
            leaves = source.cycles if item.producer is not INPUT else 0  # offset from the run's start
            streaming = cost.transfer_cycles(item.words) - cost.link_latency_cycles
            source.sends.append((links.index((source.processor, destination)), item.words, streaming, leaves))
    return records, lines, links


def simulate(table: ScheduleTable, samples: int, datapath=None, record_runs: bool = False) -> SimResult:
    """Execute ``samples`` samples of ``table``; ``datapath`` adds the numerics (functional mode)."""
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise LayerPipeError(f"samples is {samples!r}; give at least 1")
    tasks, lines, links = _compile(table)
    period, processors, n_samples = table.period_cycles, table.processors, samples
    # the dual-port rule binds the shared (fc) banks; a conv layer's readers each have their own copy
    shared = shared_bank_layers(table.network) if table.memory_model == "dual-port" else frozenset()
    limits = {layer: BANK_PORTS if layer in shared else None for layer in range(1, table.network.depth + 1)}
    promised_staleness = {"F": table.staleness["forward"], "B": table.staleness["backward_latest"]}
    measured_staleness: dict[str, dict[int, set]] = {"F": {}, "B": {}}
    banks = {layer: WeightBank(layer) for layer in range(1, table.network.depth + 1)}

    max_lag = max(t.lag for t in tasks)
    # start cycle of each task's recent runs, by sample modulo `ring`: a consumer's producer ran at most
    # max_lag + 1 samples ago, so memory stays bounded however many samples run
    ring = max_lag + 2
    started = [[-1] * ring for _ in tasks]
    started_sample = [[-1] * ring for _ in tasks]
    first_done = last_done = 0  # ends of sample 0's and sample N-1's last runs
    free_at = [0] * processors  # end of the processor's current run
    holder: list[tuple[str, int, int] | None] = [None] * processors
    busy, steady = [0] * processors, [0] * processors
    window = (max_lag * period, n_samples * period) if n_samples > max_lag else None
    first, last = window if window else (0, 0)
    sent = [0] * len(links)
    streams: list[list[tuple[int, int]]] = [[] for _ in links]  # per link: [start, end) of streaming
    runs: list[Run] | None = [] if record_runs else None
    run_count, last_end = 0, 0
    # one period's runs in cycle order; offsets lie in [0, T) and no run wraps, so period after
    # period this is the cycle order of the whole execution
    in_period = [(t, t.lag, t.start, t.cycles, t.processor, banks[t.layer],
                  promised_staleness.get(t.kind, {}).get(t.layer), limits[t.layer])
                 for t in sorted(tasks, key=lambda t: t.start)]

    for k in range(n_samples + max_lag):
        base = k * period
        for task, lag, offset, cycles, p, bank, stale, limit in in_period:
            n = k - lag
            if n < 0 or n >= n_samples:
                continue  # pipeline fill or drain: this task's sample is outside the run
            t = base + offset
            end = t + cycles
            # the processor: one run at a time
            if t < free_at[p]:
                raise _overlap(p, holder[p], free_at[p], task, n, t)
            free_at[p], holder[p] = end, (task.name, n, t)
            busy[p] += cycles
            if t < last and end > first:
                steady[p] += min(end, last) - max(t, first)
            slot = n % ring
            started[task.index][slot], started_sample[task.index][slot] = t, n
            if task.streams:  # the sample enters: its input and target arrive as F_1 starts
                stream = datapath.sample_inputs(n) if datapath is not None else {}
                for line in task.streams:
                    lines[line].write(n, t, stream.get(lines[line].item))
            # the data it reads: produced, across processors in an earlier period, arrived
            for edge in task.inputs:
                produced = started[edge.producer][slot] if started_sample[edge.producer][slot] == n else -1
                source = tasks[edge.producer]
                if (produced < 0 or (edge.crossing and k <= n + source.lag)
                        or t < produced + (source.cycles if edge.at_end else 0) + edge.link):
                    raise _read_too_early(task, n, t, edge, source, produced, k)
            # the weights: updates landed by t are visible (writes first), as many as the table says
            if bank.pending and bank.pending[0][0] <= t:
                bank.land(t, datapath)
            if task.kind == "G":
                bank.pending.append((end, n))
            else:
                version = bank.applied - 1  # W^(version): the updates of samples 0..version have landed
                if stale is not None and version != _promised_version(n, stale, n_samples):
                    raise _stale_read(task, n, t, version, stale, _promised_version(n, stale, n_samples))
                if 0 <= version < n_samples - 1:  # clipped neither by the fill nor by the drain
                    measured_staleness[task.kind].setdefault(task.layer, set()).add(n - 1 - version)
            bank.access(task.name, task.kind, n, t, cycles, limit)
            # the delay lines: read its inputs' entries, write its outputs' (with values in functional mode)
            if datapath is None:
                for line in task.consumes:
                    lines[line].read(n, end)
                for line in task.produces:
                    lines[line].write(n, t)
            else:
                values = {lines[line].item: lines[line].read(n, end) for line in task.consumes}
                outputs = datapath.run(task.kind, task.layer, n, values)
                for line in task.produces:
                    lines[line].write(n, t, outputs[lines[line].item])
            # the links: data leaves when the run ends (the input stream when F_1 starts)
            for link, words, streaming, leaves in task.sends:
                sent[link] += words
                streams[link].append((t + leaves, t + leaves + streaming))
            if runs is not None:
                runs.append(Run(p, task.name, n, t, end))
            run_count += 1
            if end > last_end:
                last_end = end
            if n == 0 and end > first_done:
                first_done = end
            if n == n_samples - 1 and end > last_done:
                last_done = end

    for bank in banks.values():
        bank.land(last_end, datapath)
    window_cycles = last - first
    return SimResult(
        samples=n_samples, processors=processors, period_cycles=period, tasks_run=run_count,
        total_cycles=last_end, first_sample_latency=first_done,
        sample_interval_cycles=(last_done - first_done) / (n_samples - 1) if n_samples > 1 else None,
        busy_cycles=busy, utilisation_overall=[b / last_end for b in busy],
        steady_window=window, steady_busy_cycles=steady if window else None,
        utilisation=[b / window_cycles for b in steady] if window else None,
        utilisation_mean=(sum(steady) / (processors * window_cycles)) if window else None,
        link_words=dict(zip(links, sent)),
        link_busy_cycles={key: sum(b - a for a, b in streams[i]) for i, key in enumerate(links)},
        link_peak_streams={key: _peak_overlap(streams[i]) for i, key in enumerate(links)},
        delay_line_peak={line.item: line.peak for line in lines},
        bank_peak_ports={layer: bank.peak for layer, bank in banks.items()},
        staleness={"forward": _single(measured_staleness["F"], banks),
                   "backward_latest": _single(measured_staleness["B"], banks, skip_first=True)},
        runs=runs, functional=datapath.result() if datapath is not None else None)


def _promised_version(sample: int, stale: int, samples: int) -> int:
    """The version W^(k) the table's staleness promises, clipped to the updates that exist: none before
    sample 0 (fill), none after sample N-1 (drain; a B that starts more than a period after its G ends
    has staleness <= -2 and would see the next sample's update)."""
    return min(samples - 1, max(-1, sample - 1 - stale))


# -- the messages of the checks (built only when a check fails) ------------------------------

def _overlap(processor: int, holder: tuple[str, int, int], busy_until: int, task: _Task, sample: int,
             cycle: int) -> SimulationError:
    name, other, since = holder
    return SimulationError(f"processor {processor} runs {name} of sample {other} over [{since}, {busy_until}) and "
                           f"{task.name} of sample {sample} from cycle {cycle}: two tasks at once")


def _read_too_early(task: _Task, n: int, t: int, edge: _Edge, source: _Task, produced: int,
                    period: int) -> SimulationError:
    where = f"{task.name} of sample {n} (processor {task.processor})"
    if produced < 0:
        return SimulationError(f"{where} starts at cycle {t} and reads {edge.item} from {source.name} of sample {n}, "
                               "which has not run yet: read before produced")
    if edge.crossing and period <= n + source.lag:
        return SimulationError(
            f"{edge.item} crosses from {source.name} (processor {source.processor}, period {n + source.lag}) to "
            f"{task.name} (processor {task.processor}, period {period}) for sample {n} at cycle {t}: data crossing "
            "processors must be consumed in a later period than produced (registered boundary)")
    made = produced + (source.cycles if edge.at_end else 0)
    return SimulationError(f"{where} starts at cycle {t} but {edge.item} from {source.name} (processor "
                           f"{source.processor}) is ready only at cycle {made + edge.link} (produced {made}, link "
                           f"{edge.link} cycles): read before produced")


def _stale_read(task: _Task, n: int, t: int, version: int, stale: int, promised: int) -> SimulationError:
    return SimulationError(f"{task.name} of sample {n} reads W{task.layer} at cycle {t} with the updates of "
                           f"{version + 1} samples landed; the table's staleness {stale} promises {promised + 1}")


def _single(seen: dict[int, set], banks: dict, skip_first: bool = False) -> dict[int, int | None]:
    """The staleness each layer showed: one value, as the visibility check holds every read to the table's."""
    return {layer: (max(seen[layer]) if layer in seen else None)
            for layer in banks if not (skip_first and layer == 1)}


def _peak_overlap(intervals: list[tuple[int, int]]) -> int:
    """Most half-open intervals covering one cycle (an interval sweep, ends before starts)."""
    if not intervals:
        return 0
    bounds = np.array(intervals, dtype=np.int64)
    times = np.concatenate([bounds[:, 0], bounds[:, 1]])
    steps = np.concatenate([np.ones(len(bounds), np.int64), -np.ones(len(bounds), np.int64)])
    order = np.lexsort((steps, times))  # at one cycle, -1 (an end) sorts before +1 (a start)
    return int(np.cumsum(steps[order]).max())


def prediction_mismatches(result: SimResult, table: ScheduleTable) -> list[str]:
    """Where the execution disagrees with what the table predicts (empty when they agree)."""
    n, problems = result.samples, []
    if result.total_cycles != table.total_cycles(n):
        problems.append(f"total cycles: table {table.total_cycles(n)}, simulated {result.total_cycles}")
    if result.first_sample_latency != table.latency_cycles:
        problems.append(f"first-sample latency: table {table.latency_cycles}, simulated {result.first_sample_latency}")
    busy = table.busy_cycles
    if result.busy_cycles != [n * b for b in busy]:
        problems.append(f"busy cycles: table {busy} per sample, simulated {result.busy_cycles} for {n} samples")
    if result.utilisation is not None:
        for p, (predicted, measured) in enumerate(zip(table.processor_utilisation, result.utilisation,
                                                      strict=True)):
            if abs(predicted - measured) > 1e-6:  # the table rounds to 6 digits
                problems.append(f"utilisation of processor {p}: table {predicted}, simulated {measured:.6f}")
    if result.transfer_words != n * table.transfer_words_per_sample:
        problems.append(f"transfer words: table {table.transfer_words_per_sample}/sample, simulated "
                        f"{result.transfer_words} for {n} samples")
    for line in table.delay_lines:
        peak, expected = result.delay_line_peak.get(line.item), min(n, line.depth)
        if peak != expected:
            problems.append(f"delay line {line.item}: table depth {line.depth} (so {expected} entries for "
                            f"{n} samples), simulated peak {peak}")
    for kind, layers in table.staleness.items():
        for layer, stale in layers.items():
            seen = result.staleness[kind].get(layer)
            if seen is not None and seen != stale:
                problems.append(f"staleness {kind} of layer {layer}: table {stale}, simulated {seen}")
    return problems
