"""The tasks a sweep runs on its workers: a point's schedule, and its board build. Errors come back as data."""

from __future__ import annotations

import time
import traceback

from layerpipe.core.costs import CostModel
from layerpipe.core.errors import LayerPipeError
from layerpipe.core.network import Network
from layerpipe.core.table import ScheduleTable
from layerpipe.sched.scheduler import schedule

__all__ = ["schedule_point", "build_point", "error_message"]


def error_message(exc: BaseException) -> str:
    """The first line of ``exc``, after its type unless it is a LayerPipeError (a sentence for a person)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, LayerPipeError):
        return text or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _where() -> str | None:
    try:
        from distributed import get_worker

        return get_worker().address
    except Exception:  # not on a worker (called directly)
        return None


def schedule_point(network: Network, processors: int, policy: str, cost: CostModel) -> dict:
    """Worker task: ``{"table": <ScheduleTable JSON>, "seconds": …}`` or ``{"error": …, "traceback": …}``."""
    worker = _where()
    clock = time.perf_counter()
    try:
        table = schedule(network, processors, policy, cost)  # looked up at call time (tests patch it)
    except Exception as exc:
        return {"error": error_message(exc), "traceback": traceback.format_exc(), "worker": worker,
                "seconds": time.perf_counter() - clock}
    return {"table": table.data, "seconds": time.perf_counter() - clock, "worker": worker}


def build_point(scheduled: dict, board: str, out_dir: str, design: str = "accelerator",
                clock_mhz: float | None = None, seed: int = 1, data: str | None = None) -> dict:
    """Worker task: the board build of a scheduled point, summarised; errors come back as data.
    ``data``: what the board top's ROM holds (sim/datasets.py; None: digits)."""
    worker = _where()
    clock = time.perf_counter()
    if "error" in scheduled:
        return {"error": "not built: the schedule failed", "worker": worker, "seconds": 0.0}
    try:
        from layerpipe.boards.build import build
        from layerpipe.boards.designs import design_for_table

        table = ScheduleTable(scheduled["table"])
        top, info = design_for_table(table, table.cost.lanes, design, data=data)
        report = build(top, board, out_dir, table=table, clock_mhz=clock_mhz, seed=seed, design_info=info,
                       progress=None, harness=not getattr(top, "board_top", False))
    except Exception as exc:
        return {"error": error_message(exc), "traceback": traceback.format_exc(), "worker": worker,
                "seconds": time.perf_counter() - clock, "build_dir": out_dir}
    resources = report.get("resources") or {}
    summary = {
        "build_status": report.get("status"), "fits": report.get("fits"),
        **{kind: (resources.get(kind) or {}).get("used") for kind in ("LUT", "FF", "DSP", "BRAM")},
        "fmax_mhz": report.get("fmax_mhz"),
        "samples_per_s": (report.get("throughput") or {}).get("samples_per_second"),
        "build_s": round(time.perf_counter() - clock, 2), "build_dir": out_dir,
    }
    result = {"build": summary, "worker": worker, "seconds": time.perf_counter() - clock,
              "design": info.get("source")}
    if report.get("status") == "failed":
        failed = [s for s in report.get("steps", []) if s.get("status") == "failed"]
        step = failed[-1] if failed else {}
        result["error"] = f"build {step.get('step', '?')} failed: {step.get('message', 'see report.json')}"
    return result
