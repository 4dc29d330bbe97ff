"""Gantt chart of a table's steady-state period: one row per processor, one bar per task."""

from __future__ import annotations

from pathlib import Path

from layerpipe.plots import pyplot, save_figure
from layerpipe.sched.table import ScheduleTable

__all__ = ["draw_gantt"]

_KIND_COLOURS = {"F": "#4c78a8", "B": "#f58518", "G": "#54a24b"}


def draw_gantt(table: ScheduleTable, path: str | Path) -> None:
    plt = pyplot()
    period = table.period_cycles
    figure, axes = plt.subplots(figsize=(10, 0.5 + 0.45 * table.processors))
    for tasks in table.processor_tasks:
        for t in tasks:
            axes.barh(t.processor, t.cycles, left=t.start, color=_KIND_COLOURS[t.kind], edgecolor="black",
                      linewidth=0.5, hatch="//" if t.lockstep is not None else None)
            axes.text(t.start + t.cycles / 2, t.processor, f"{t.name}\nlag {t.lag}", ha="center",
                      va="center", fontsize=7, color="white")
    axes.set_xlim(0, period)
    axes.set_yticks(range(table.processors), [f"PE{p}" for p in range(table.processors)])
    axes.invert_yaxis()
    axes.set_xlabel(f"cycle within the period (T = {period:,} cycles)")
    axes.set_title(f"{table.network.name}: {table.policy}, {table.processors} processors, {table.memory_model} "
                   f"(hatched: lockstep)")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in _KIND_COLOURS.values()]
    axes.legend(handles, ["F forward", "B activation gradient", "G weight update"], loc="upper center",
                bbox_to_anchor=(0.5, -0.25), ncol=3, fontsize=8)
    save_figure(figure, path)
