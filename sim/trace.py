"""Per-processor task activity of a simulated run, for waveform and timeline viewers.

* Chrome/Perfetto trace JSON (``chrome://tracing``, https://ui.perfetto.dev): one thread
  per processor, one complete event ("ph": "X") per task run. Trace timestamps are
  microseconds; we write one clock cycle as one microsecond (``otherData`` says so), so
  the viewer's time axis reads directly in cycles.
* VCD (GTKWave, Surfer): per processor ``busy``, ``kind`` (0 idle, 1 F, 2 B, 3 G),
  ``layer`` and ``sample``, one VCD time unit per cycle, written with pyvcd (Amaranth's
  own VCD library), which streams the changes straight to the file.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from vcd import VCDWriter

from layerpipe.core.files import open_atomic, write_text_atomic
from layerpipe.sim.cyclesim import Run, SimResult

__all__ = ["chrome_trace", "write_chrome_trace", "write_vcd", "KIND_CODES"]

KIND_CODES = {"F": 1, "B": 2, "G": 3}  # VCD `kind` values; 0 is idle


def _runs(result: SimResult) -> list[Run]:
    if result.runs is None:
        raise ValueError("the result has no runs; simulate with record_runs=True")
    return result.runs


def chrome_trace(result: SimResult, title: str = "layerpipe") -> dict:
    events = [{"ph": "M", "pid": 0, "name": "process_name", "args": {"name": title}}]
    for p in range(result.processors):
        events.append({"ph": "M", "pid": 0, "tid": p, "name": "thread_name", "args": {"name": f"processor {p}"}})
        events.append({"ph": "M", "pid": 0, "tid": p, "name": "thread_sort_index", "args": {"sort_index": p}})
    for run in _runs(result):
        events.append({"ph": "X", "pid": 0, "tid": run.processor, "name": run.task, "cat": run.task[0],
                       "ts": run.start, "dur": run.end - run.start, "args": {"sample": run.sample}})
    return {"traceEvents": events, "displayTimeUnit": "ns",
            "otherData": {"time_unit": "1 us in the viewer = 1 clock cycle", "samples": result.samples,
                          "period_cycles": result.period_cycles, "total_cycles": result.total_cycles}}


def write_chrome_trace(result: SimResult, path: str | Path, title: str = "layerpipe") -> None:
    write_text_atomic(path, json.dumps(chrome_trace(result, title), separators=(",", ":")))


def _changes(runs: list[Run], processors: int) -> Iterable[tuple[int, list[tuple[int, tuple[int, int, int, int]]]]]:
    """(cycle, [(processor, (busy, kind, layer, sample))]) at every cycle where some processor changes."""
    events = []
    for run in runs:
        state = (1, KIND_CODES[run.task[0]], int(run.task[1:]), run.sample)
        events.append((run.end, 0, run.processor, (0, 0, 0, 0)))  # ends sort first: back-to-back runs
        events.append((run.start, 1, run.processor, state))
    events.sort(key=lambda e: (e[0], e[1]))
    current = [(0, 0, 0, 0)] * processors
    index = 0
    while index < len(events):
        cycle = events[index][0]
        now = {}
        while index < len(events) and events[index][0] == cycle:
            _, _, processor, state = events[index]
            now[processor] = state
            index += 1
        changed = [(p, s) for p, s in sorted(now.items()) if s != current[p]]
        for p, s in changed:
            current[p] = s
        if changed:
            yield cycle, changed


def write_vcd(result: SimResult, path: str | Path, module: str = "layerpipe") -> None:
    runs, processors = _runs(result), result.processors
    layer_bits = max(1, max((int(r.task[1:]) for r in runs), default=1).bit_length())
    sample_bits = max(1, (result.samples - 1).bit_length())
    signals = {"busy": 1, "kind": 2, "layer": layer_bits, "sample": sample_bits}
    with open_atomic(path) as out, VCDWriter(out, timescale="1 ns", comment="layerpipe cycle simulator: one time "
                                             "unit per clock cycle") as writer:
        variables = [[writer.register_var(f"{module}.processor{p}", name, "wire", size=width, init=0)
                      for name, width in signals.items()] for p in range(processors)]
        for cycle, changed in _changes(runs, processors):
            for p, state in changed:
                for variable, number in zip(variables[p], state, strict=True):
                    writer.change(variable, cycle, number)  # pyvcd writes only values that change
