"""A sweep's results: its rows, ``results.csv`` and ``results.json``, the plots and the printed table."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from layerpipe.core.files import write_text_atomic
from layerpipe.core.table import ScheduleTable
from layerpipe.core.text import format_rows
from layerpipe.sched.report import COMPARISON_HEADER, compare_rows
from layerpipe.sweep.points import Point, file_slug

__all__ = ["SCHEMA", "result_columns", "assemble_rows", "write_results", "write_plots", "format_table"]

SCHEMA = "layerpipe.sweep/1"
BOARD_COLUMNS = ["build_status", "fits", "LUT", "FF", "DSP", "BRAM", "fmax_mhz", "samples_per_s", "build_s",
                 "build_dir"]


def result_columns(boards: Sequence[str]) -> list[str]:
    compared = [c for c in COMPARISON_HEADER if c not in ("P", "policy")]
    return (["network", "P", "policy"] + (["board"] if boards else []) + ["status", "error", "period", "latency"]
            + [c for c in compared if c != "period"] + ["schedule_s", "worker", "table"]
            + (BOARD_COLUMNS if boards else []))


def _number(value):
    if isinstance(value, float):
        return float(f"{value:.6g}")
    return value


def assemble_rows(results: dict[Point, dict], wanted: Sequence[Point], boards: Sequence[str],
                  out_dir: Path) -> tuple[list[dict], list[dict]]:
    """One row per wanted point (× board), finished or not, and the error details (tracebacks)."""
    columns = result_columns(boards)
    compared: dict[Point, dict] = {}
    for name in dict.fromkeys(p.network for p in wanted):
        tables = {(p.processors, p.policy): ScheduleTable(r["table"]) for p, r in results.items()
                  if p.network == name and p.board is None and "table" in r}
        if not tables:
            continue
        sequential = tables.get((1, "sequential"))  # always scheduled, as the reference
        for row in compare_rows(tables, sequential or next(iter(tables.values()))):
            if sequential is None:  # its reference failed: no speedup over sequential
                row.speedup_vs_sequential = None
            cells = dict(zip(COMPARISON_HEADER, row.cells(), strict=True))
            compared[Point(name, row.processors, row.policy)] = {
                k: (None if v == "-" else _number(v)) for k, v in cells.items() if k not in ("P", "policy")}
    rows, errors = [], []
    for point in wanted:
        result = results.get(point)
        for board in boards or [None]:
            row = {"network": point.network, "P": point.processors, "policy": point.policy}
            if boards:
                row["board"] = board
            if result is None:
                row.update(status="pending", error="not finished")
            elif "error" in result:
                row.update(status="error", error=result["error"])
                errors.append({"point": point.label(), "error": result["error"],
                               "traceback": result.get("traceback")})
            else:
                table = ScheduleTable(result["table"])
                row.update(status="ok", error=None, latency=table.latency_cycles, **compared.get(point, {}))
                row["table"] = str(Path("tables") / f"{point.slug()}.json")
            if result is not None:
                row["schedule_s"] = _number(round(result.get("seconds", 0.0), 3)) if "seconds" in result else None
                row["worker"] = result.get("worker")
            if board is not None:
                build = results.get(Point(point.network, point.processors, point.policy, board))
                if build is None:
                    row.update(status="pending", error=row["error"] or "build not finished")
                else:
                    row.update({k: _number(v) for k, v in (build.get("build") or {}).items()})
                    if build.get("build_dir") and not row.get("build_dir"):
                        row["build_dir"] = build["build_dir"]
                    if "error" in build and row["status"] == "ok":
                        row.update(status="error", error=build["error"])
                        errors.append({"point": f"{point.label()} on {board}", "error": build["error"],
                                       "traceback": build.get("traceback")})
                if row.get("build_dir"):
                    row["build_dir"] = os.path.relpath(row["build_dir"], out_dir)
            rows.append({column: row.get(column) for column in columns})
    return rows, errors


# -- outputs ---------------------------------------------------------------------------------------------------


def write_results(out_dir: Path, document: dict, rows: list[dict], columns: list[str]) -> None:
    """``results.json`` (the document with ``columns`` and ``rows``) and ``results.csv`` (the same rows)."""
    import json

    write_text_atomic(out_dir / "results.json",
                      json.dumps({**document, "columns": columns, "rows": rows}, indent=1, default=str) + "\n")
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    write_text_atomic(out_dir / "results.csv", buffer.getvalue())


def _series(rows: Iterable[dict], network: str, column: str) -> dict[str, list[tuple[int, float]]]:
    points: dict[str, list[tuple[int, float]]] = {}
    seen = set()
    for row in rows:
        key = (row["P"], row["policy"])
        if row["network"] == network and row.get(column) is not None and key not in seen:
            seen.add(key)
            points.setdefault(row["policy"], []).append((row["P"], row[column]))
    return points


def write_plots(rows: list[dict], out_dir: Path) -> list[Path]:
    """Per network: speedup over sequential vs P and period vs P, one line per policy."""
    from layerpipe.plots import plot_speedup, pyplot, save_figure

    pyplot()  # selects the headless backend before any other matplotlib import
    from matplotlib.ticker import MaxNLocator

    written = []
    for network in dict.fromkeys(r["network"] for r in rows):
        slug = file_slug(network)
        speedups = _series(rows, network, "vs_sequential")
        if speedups:
            path = out_dir / f"speedup-{slug}.png"
            plot_speedup(speedups, f"{network}: throughput speedup", path)
            written.append(path)
        periods = _series(rows, network, "period")
        if periods:
            plt = pyplot()
            figure, axes = plt.subplots(figsize=(6, 4))
            for policy, series in periods.items():
                series = sorted(series)
                axes.plot([p for p, _ in series], [t for _, t in series], marker="o", label=policy)
            axes.set_xlabel("processors P")
            axes.set_ylabel("period (cycles per sample)")
            axes.set_yscale("log")
            axes.xaxis.set_major_locator(MaxNLocator(integer=True))
            axes.set_title(f"{network}: period")
            axes.legend()
            axes.grid(alpha=0.3, which="both")
            path = out_dir / f"period-{slug}.png"
            save_figure(figure, path)
            written.append(path)
    return written


def format_table(rows: list[dict], boards: bool = False) -> str:
    header = ["network", "P", "policy"] + (["board"] if boards else []) + \
        ["period", "period/LB", "vs_pipedream", "vs_sequential", "utilisation", "schedule_s"] + \
        (["build_status", "LUT", "DSP", "fmax_mhz", "samples_per_s"] if boards else []) + ["status"]
    cells = []
    for row in rows:
        line = []
        for column in header:
            value = row.get(column)
            if column == "period" and value is not None:
                value = f"{value:,}"
            elif column == "samples_per_s" and value is not None:
                value = f"{value:,.0f}"
            elif column == "schedule_s" and value is not None:
                value = f"{value:.2f}"
            line.append("-" if value is None else value)
        cells.append(line)
    return format_rows(header, cells)

