"""The record of one build as it runs: each step in ``DIR/steps/NN-<step>.json``, ``DIR/report.json``,
and the step's progress lines.

``report.json`` is rewritten (atomically: temporary file, then rename) after every step, so an
interrupted build still leaves a consistent report. Progress: a line when a step starts and
ends, and while a tool (or Amaranth's elaboration) runs, a line every ``progress_interval``
seconds with the step's elapsed time and what is running (``place&route: 2 min 30 s
(nextpnr-ecp5 running)``), so a log shows a long place-and-route is alive and where it is.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from layerpipe.boards.report import format_duration
from layerpipe.core.files import write_text_atomic
from layerpipe.core.progress import Progress

__all__ = ["STEPS", "BuildRecord", "write_json_atomic"]

STEPS = ("elaborate", "synthesize", "place&route", "pack", "report")


def write_json_atomic(path: Path, data) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, default=str) + "\n")


class BuildRecord:
    """One build's folder, its report (the dict ``report.json`` holds) and its progress on ``stream``."""

    def __init__(self, out_dir: Path, report: dict, stream, progress_interval: float):
        self.out_dir, self.report, self.progress_interval = out_dir, report, progress_interval
        self.progress = Progress(stream, steps=STEPS, step_format="{step:<12} {text}")
        (out_dir / "steps").mkdir(parents=True, exist_ok=True)

    def record(self, name: str, status: str, seconds: float, **detail) -> dict:
        index = STEPS.index(name) + 1
        step = {"step": name, "status": status, "seconds": round(seconds, 2), **detail}
        self.report["steps"].append(step)
        write_json_atomic(self.out_dir / "steps" / f"{index:02d}-{name.replace('&', '-')}.json", step)
        self.report["total_seconds"] = round(sum(s["seconds"] for s in self.report["steps"]), 2)
        write_json_atomic(self.out_dir / "report.json", self.report)
        message = detail.get("message")
        self.progress.step(name, f"{status:<12} {seconds:7.1f} s" + (f"  {message}" if message else ""))
        return step

    def start(self, name: str, what: str) -> float:
        self.progress.step(name, f"... {what}")
        return time.monotonic()

    def running(self, step: str, what: str, started: float):
        """A context: while its body runs, a line every ``progress_interval`` seconds says how long
        ``step`` (begun at ``started``) has taken and that ``what`` is still running."""
        return self.progress.heartbeat(self.progress_interval, lambda: (
            f"      {step}: {format_duration(time.monotonic() - started)} ({what} running)"))
