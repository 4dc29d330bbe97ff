"""Sequencer: one processing element's task ROM and its period counter.

The ROM is the processor's task list from the ScheduleTable (start offset and lag of
each task). The sequencer counts the cycle within the period (``offset``, 0..T−1) and
the period index ``k``; in the cycle where ``offset`` equals a task's start it launches
that task for sample ``k − lag``, when ``0 ≤ k − lag < samples`` (docs/semantics.md:
samples outside 0..N−1 do not run). ``launch``, ``task`` and ``sample`` are
combinational outputs of the current cycle: the task's first issue happens in its start
cycle.

The sequencer advances one schedule cycle per clock cycle in which its domain is
enabled. The accelerator wraps the schedule in ``EnableInserter`` (global stall) and
``ResetInserter`` (``start``), so the sequencer itself has neither input: after reset it
stands at cycle 0 of period 0.
"""

from __future__ import annotations

from collections.abc import Sequence

from amaranth.hdl import Const, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import bits_for

from layerpipe.errors import LayerPipeError

__all__ = ["SAMPLE_BITS", "Sequencer"]

# Width of sample numbers and of the sample count of one run (up to 2**24 − 1 samples).
SAMPLE_BITS = 24


class Sequencer(wiring.Component):
    """Task launcher for one processor.

    Parameters
    ----------
    period : int
        T, the period in cycles (``table.period_cycles``).
    entries : sequence of (start, lag)
        The processor's tasks in ROM order (``table.processor_tasks[p]``).

    Members
    -------
    samples : In(SAMPLE_BITS)
        N, the number of samples of this run (held stable while running).
    offset : Out(range(T))
        Cycle within the current period.
    period_index : Out
        Index k of the current period.
    launch : Out(1)
        A task starts in this cycle.
    task : Out
        ROM index of the task that starts (valid with ``launch``).
    sample : Out(SAMPLE_BITS)
        Its sample number k − lag (valid with ``launch``).
    """

    def __init__(self, period: int, entries: Sequence[tuple[int, int]]):
        self._MustUse__silence = True  # a refused sequencer is not an unused one
        if period < 1:
            raise LayerPipeError(f"sequencer: period is {period}; it must be at least 1 cycle")
        self.period = period
        self.entries = [(int(start), int(lag)) for start, lag in entries]
        starts = [start for start, _ in self.entries]
        if len(set(starts)) != len(starts):
            raise LayerPipeError("sequencer: two tasks of one processor start at the same offset")
        for start, lag in self.entries:
            if not 0 <= start < period or lag < 0:
                raise LayerPipeError(f"sequencer: task start {start} / lag {lag} outside the period {period}")
        max_lag = max((lag for _, lag in self.entries), default=0)
        self.index_bits = max(SAMPLE_BITS, bits_for(max_lag)) + 1
        super().__init__({
            "samples": In(SAMPLE_BITS),
            "offset": Out(range(max(2, period))),
            "period_index": Out(self.index_bits),
            "launch": Out(1),
            "task": Out(range(max(2, len(self.entries)))),  # never 0 bits wide
            "sample": Out(SAMPLE_BITS),
        })
        self._MustUse__silence = False

    def elaborate(self, platform):
        m = Module()
        offset = Signal(range(max(2, self.period)))
        index = Signal(self.index_bits)
        m.d.comb += [self.offset.eq(offset), self.period_index.eq(index)]
        with m.If(offset == self.period - 1):
            m.d.sync += [offset.eq(0), index.eq(index + 1)]
        with m.Else():
            m.d.sync += offset.eq(offset + 1)

        for number, (start, lag) in enumerate(self.entries):
            in_range = index < self.samples + lag
            if lag:
                in_range &= index >= lag
            with m.If((offset == start) & in_range):
                m.d.comb += [
                    self.launch.eq(1),
                    self.task.eq(number),
                    self.sample.eq(index - Const(lag, self.index_bits)),
                ]
        return m
