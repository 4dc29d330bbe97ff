"""Sequencer: one processing element's task ROM and its period counter.

The ROM is the processor's task list from the ScheduleTable (start offset and lag of
each task). The sequencer counts the cycle within the period (``offset``, 0..T−1) and
the period index ``k``; in the cycle where ``offset`` equals a task's start it launches
that task for sample ``k − lag``, when ``0 ≤ k − lag < samples`` (docs/semantics.md:
samples outside 0..N−1 do not run). ``launch``, ``task`` and ``sample`` are
registers holding the current cycle's launch (the task's first issue happens in its start
cycle); ``next_launch``/``next_task``/``next_sample`` say what launches in the *next*
schedule cycle. For timing, everything is computed one cycle ahead: a second pair of
counters runs one schedule cycle in front of ``offset``/``period_index``, its launch
decode feeds the ``next_*`` outputs, and those are registered into ``launch``/``task``/
``sample``; per task, whether the next cycle is its start offset and whether the next
cycle's period runs one of its samples are registers too, so ``next_launch`` is one AND per
task. Register reset values describe cycles 0 and 1 for N ≥ 1 (the accelerator enables the
schedule only then); ``launch`` is masked with N ≠ 0, so a sequencer left with 0 samples
launches nothing. A consumer can use ``next_launch``/``next_hits`` to keep registered
copies of its own.

The sequencer also knows when its processor is through: ``finished`` is high from the
schedule cycle in which the processor's last task run (the run of sample N − 1 that ends
last, each task at its own lag) executes its last cycle, until the next reset. It follows
the runs themselves (each launch loads the task's duration into a down-counter; a task's
launch of sample N − 1 clears its pending bit), never a formula of period and latency, so
the end of a run that the accelerator reports is an event of the executed schedule.

The sequencer advances one schedule cycle per clock cycle in which its domain is
enabled. The accelerator wraps the schedule in ``EnableInserter`` (global stall) and
``ResetInserter`` (``start``), so the sequencer itself has neither input: after reset it
stands at cycle 0 of period 0.
"""

from __future__ import annotations

from collections.abc import Sequence

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import bits_for

from layerpipe.core.errors import LayerPipeError
from layerpipe.hw.checked import CheckedFirst

__all__ = ["SAMPLE_BITS", "Sequencer"]

# Width of sample numbers and of the sample count of one run (up to 2**24 − 1 samples).
SAMPLE_BITS = 24


class Sequencer(CheckedFirst, wiring.Component):
    """Task launcher for one processor.

    Parameters
    ----------
    period : int
        T, the period in cycles (``table.period_cycles``).
    entries : sequence of (start, lag, cycles)
        The processor's tasks in ROM order (``table.processor_tasks[p]``): start offset,
        iteration lag and duration.

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
    next_launch, next_task, next_sample : Out
        The same for the next schedule cycle (one AND per task from registers).
    next_hits : Out(len(entries))
        Bit k: task k launches in the next schedule cycle.
    finished : Out(1)
        This schedule cycle is the processor's last of the run, or later (a register).

    The registers' reset values describe cycles 0 and 1 for N ≥ 1 (the accelerator enables
    the schedule only then); ``launch`` itself is masked with N ≠ 0.
    """

    @staticmethod
    def check(period: int, entries: Sequence[tuple[int, int, int]]) -> None:
        if period < 2:
            raise LayerPipeError(f"sequencer: period is {period}; it must be at least 2 cycles")
        starts = [int(start) for start, _, _ in entries]
        if len(set(starts)) != len(starts):
            raise LayerPipeError("sequencer: two tasks of one processor start at the same offset")
        for start, lag, cycles in entries:
            if not 0 <= int(start) < period or int(lag) < 0:
                raise LayerPipeError(f"sequencer: task start {start} / lag {lag} outside the period {period}")
            if not 1 <= int(cycles) <= period:
                raise LayerPipeError(f"sequencer: task duration {cycles} outside 1..{period} (the period)")

    def __init__(self, period: int, entries: Sequence[tuple[int, int, int]]):
        self.period = period
        self.entries = [(int(start), int(lag)) for start, lag, _ in entries]
        self.durations = [int(cycles) for _, _, cycles in entries]
        max_lag = max((lag for _, lag in self.entries), default=0)
        self.index_bits = max(SAMPLE_BITS, bits_for(max_lag)) + 1
        super().__init__({
            "samples": In(SAMPLE_BITS),
            "offset": Out(range(max(2, period))),
            "period_index": Out(self.index_bits),
            "launch": Out(1),
            "task": Out(range(max(2, len(self.entries)))),  # never 0 bits wide
            "sample": Out(SAMPLE_BITS),
            "next_launch": Out(1),
            "next_task": Out(range(max(2, len(self.entries)))),
            "next_sample": Out(SAMPLE_BITS),
            "next_hits": Out(max(1, len(self.entries))),
            "finished": Out(1),
        })

    def first_launch(self):
        """ROM index of the task launched in cycle 0 (start 0, lag 0, N ≥ 1), or None."""
        for number, (start, lag) in enumerate(self.entries):
            if start == 0 and lag == 0:
                return number
        return None

    def elaborate(self, platform):
        m = Module()
        period = self.period

        def offset_counter(name, init):
            """The cycle within the period, and whether it is the period's last."""
            offset = Signal(range(max(2, period)), name=f"{name}offset", init=init)
            wrap = offset == period - 1
            m.d.sync += offset.eq(Mux(wrap, 0, offset + 1))
            return offset, wrap

        offset, wrap = offset_counter("", 0)  # the current schedule cycle
        index = Signal(self.index_bits, name="index")
        with m.If(wrap):
            m.d.sync += index.eq(index + 1)
        m.d.comb += [self.offset.eq(offset), self.period_index.eq(index)]
        # the next schedule cycle (its period index is each task's own sample counter, below)
        ahead_offset, ahead_wrap = offset_counter("ahead_", 1 % period)

        # Per task, registered one cycle ahead of their use: ``hit`` (the next cycle is the task's
        # start offset) and ``live`` (the next cycle's period runs a sample of 0..N−1 for it),
        # from the task's own sample counter (period index − lag). The next cycle's launch is
        # then one AND per task.
        # Both outcomes of the period wrap are compared on registers, in parallel with the wrap
        # test, and then selected: no compare waits on a freshly incremented counter.
        for number, (start, lag) in enumerate(self.entries):
            first_sample = 1 // period - lag  # the task's sample number in cycle 1
            ahead_sample = Signal(signed(self.index_bits + 1), name=f"t{number}_sample", init=first_sample)
            live = Signal(name=f"t{number}_live", init=int(first_sample == 0))  # N ≥ 1 at reset
            hit = Signal(name=f"t{number}_hit", init=int(start == 1 % period))
            live_now = (ahead_sample >= 0) & (ahead_sample < self.samples)
            live_after_wrap = (ahead_sample >= -1) & (ahead_sample + 1 < self.samples)
            with m.If(ahead_wrap):
                m.d.sync += ahead_sample.eq(ahead_sample + 1)
            m.d.sync += [live.eq(Mux(ahead_wrap, live_after_wrap, live_now)),
                         hit.eq(Mux(ahead_wrap, start == 0, ahead_offset == start - 1))]
            m.d.comb += self.next_hits[number].eq(hit & live)
            with m.If(hit & live):
                m.d.comb += [
                    self.next_launch.eq(1),
                    self.next_task.eq(number),
                    self.next_sample.eq(ahead_sample[:SAMPLE_BITS]),
                ]

        first = self.first_launch()
        launch = Signal(name="launch_r", init=int(first is not None))
        task = Signal.like(self.task, name="task_r", init=first or 0)
        sample = Signal.like(self.sample, name="sample_r")
        m.d.sync += [launch.eq(self.next_launch), task.eq(self.next_task), sample.eq(self.next_sample)]
        m.d.comb += [self.launch.eq(launch & self.samples.any()), self.task.eq(task), self.sample.eq(sample)]
        self._finish(m, first, sample)
        return m

    def _finish(self, m, first, sample):
        """``finished``, registered from the next cycle's values of the run's state.

        ``remaining``: cycles of the current task run left, this cycle included (0: idle);
        ``pending`` bit k: task k has not launched sample N − 1 before this cycle. The
        processor's last cycle is the one with nothing pending and one cycle remaining.
        """
        count = len(self.entries)
        if not count:
            m.d.comb += self.finished.eq(1)
            return
        remaining = Signal(range(max(self.durations) + 1), name="remaining",
                           init=self.durations[first] if first is not None else 0)
        pending = Signal(count, name="final_pending", init=(1 << count) - 1)
        launched = Signal(count, name="launched", init=int(first is not None) << (first or 0))
        m.d.sync += launched.eq(self.next_hits)
        is_final = sample + 1 == self.samples  # the launch of this cycle runs sample N − 1
        pending_next = pending & ~Mux(is_final, launched, 0)
        duration_next = 0
        for number, cycles in enumerate(self.durations):
            duration_next = duration_next | Mux(self.next_hits[number], cycles, 0)
        remaining_next = Mux(self.next_launch, duration_next, Mux(remaining == 0, 0, remaining - 1))
        finished = Signal(name="finished_r")
        m.d.sync += [pending.eq(pending_next), remaining.eq(remaining_next),
                     finished.eq((pending_next == 0) & (remaining_next <= 1))]
        m.d.comb += self.finished.eq(finished)
