"""Plain-text reports of schedules: one table's summary and the policy comparison."""

from __future__ import annotations

from dataclasses import dataclass

from layerpipe.core.table import ScheduleTable
from layerpipe.core.text import format_rows

__all__ = ["describe_table", "time_limit_note", "ComparisonRow", "compare_rows"]


def time_limit_note(table: ScheduleTable) -> str | None:
    """One line when the policy's time safety net cut its search: only then can the same input
    give another table on another machine, or on this one under another load."""
    search = table.search
    if search is None or search["stopped_by"] != "time":
        return None
    return (f"note: the time limit cut {table.policy}'s search (its work budgets did not finish): "
            "a faster or less loaded machine may give a different table")


def describe_table(table: ScheduleTable) -> str:
    lines = [f"network {table.network.name} ({table.network.depth} layers, "
             f"{table.network.forward_macs:,} forward MACs)  policy {table.policy}  "
             f"processors {table.processors}",
             f"cost model: {table.cost.describe()}",
             f"period {table.period_cycles:,} cycles  lower bound {table.lower_bound_cycles:,}  "
             f"ratio {table.period_cycles / table.lower_bound_cycles:.3f}  "
             f"iteration bound {table.iteration_bound_cycles:,}",
             f"latency {table.latency_cycles:,} cycles  total(N) = {table.total_cycles_formula}  "
             f"utilisation {table.utilisation:.3f}",
             f"transfers {table.transfer_words_per_sample:,} words/sample  "
             f"delay lines {table.delay_line_words:,} words  "
             + "  ".join(f"{k} weights +{v.memory_words:,} words" for k, v in table.weight_versions.items()),
             "staleness (samples) per layer: "
             + " ".join(f"L{layer}={stale}" for layer, stale in table.staleness["forward"].items()),
             *([] if "dataflow" not in table.data else [
                 "lanes per layer (share doing a MAC, F/B/G): " + "  ".join(
                     f"L{row['layer']} {row['lanes_over']} "
                     + "/".join(f"{100 * row['lane_use'][k]:.0f}%" if k in row["lane_use"] else "-"
                                for k in ("F", "B", "G"))
                     for row in table.data["dataflow"])]),
             ""]
    rows = []
    for tasks in table.processor_tasks:
        for t in tasks:
            rows.append([t.processor, t.name, t.start, t.end, t.lag, "" if t.lockstep is None else t.lockstep])
    lines.append(format_rows(["proc", "task", "start", "end", "lag", "lockstep"], rows))
    note = time_limit_note(table)
    if note is not None:
        lines.append(note)
    return "\n".join(lines)


@dataclass
class ComparisonRow:
    processors: int
    policy: str
    table: ScheduleTable
    speedup_vs_pipedream: float | None
    speedup_vs_sequential: float

    def cells(self) -> list:
        t = self.table
        return [self.processors, self.policy, t.period_cycles, t.lower_bound_cycles,
                t.period_cycles / t.lower_bound_cycles,
                "-" if self.speedup_vs_pipedream is None else self.speedup_vs_pipedream,
                self.speedup_vs_sequential, t.utilisation, t.transfer_words_per_sample,
                t.delay_line_words, t.weight_versions["stash"].memory_words,
                max(t.staleness["forward"].values())]


COMPARISON_HEADER = ["P", "policy", "period", "lower_bound", "period/LB", "vs_pipedream", "vs_sequential",
                     "utilisation", "xfer_words", "delay_words", "stash_words", "max_stale"]


def compare_rows(tables: dict[tuple[int, str], ScheduleTable], sequential: ScheduleTable) -> list[ComparisonRow]:
    rows = []
    for (processors, policy), table in tables.items():
        reference = tables.get((processors, "pipedream"))
        rows.append(ComparisonRow(
            processors, policy, table,
            None if reference is None else reference.period_cycles / table.period_cycles,
            sequential.period_cycles / table.period_cycles))
    return rows
