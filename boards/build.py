"""Build a design for one target in named steps, with a JSON report.

Steps: ``elaborate`` → ``synthesize`` → ``place&route`` → ``pack`` → ``report``
(:mod:`layerpipe.boards.build_steps`), each recorded as it ends in ``DIR/report.json`` with
a progress line (:mod:`layerpipe.boards.build_record`).

A bare ``wiring.Component`` is put on the board through :class:`~layerpipe.boards.harness.PinHarness`
(its cost is in the report); an Elaboratable with ``board_top = True`` (the self-checking
:class:`~layerpipe.boards.board_top.BoardTop`) requests its own pins (the target's status LEDs).

A design that does not fit is a result (``status: "does-not-fit"``, ``fits: false`` and the
numbers), not an exception; a tool failure is ``status: "failed"`` with the step's log named.
"""

from __future__ import annotations

import sys
from pathlib import Path

from layerpipe.boards import toolchain
from layerpipe.boards.build_record import BuildRecord, write_json_atomic
from layerpipe.boards.build_steps import build_board, build_verilog
from layerpipe.boards.targets import Target, get_target

__all__ = ["REPORT_SCHEMA", "build", "throughput"]

REPORT_SCHEMA = "layerpipe.build-report/1"


def throughput(fmax_mhz: float | None, period_cycles: int | None) -> float | None:
    """Training samples per second: one sample every ``period_cycles`` at ``fmax_mhz``."""
    if not fmax_mhz or not period_cycles:
        return None
    return fmax_mhz * 1e6 / period_cycles


def build(design, target: Target | str, out_dir, *, name: str = "top", table=None, clock_mhz: float | None = None,
          seed: int = 1, harness: bool = True, design_info: dict | None = None, progress=True,
          progress_interval: float = 30.0) -> dict:
    """Build ``design`` (a ``wiring.Component``, or with ``harness=False`` an Elaboratable that
    requests its own pins) for ``target`` in ``out_dir``; returns the report (also in ``report.json``).

    ``table``: the ScheduleTable the design implements; gives the training throughput.
    ``progress``: a text stream for step lines, None for none, True for the current ``sys.stderr``.
    ``progress_interval``: seconds between the lines that say a tool is still running.
    """
    progress = sys.stderr if progress is True else progress
    target = get_target(target) if isinstance(target, str) else target
    if target.is_board:
        target.platform_class()  # without amaranth-boards: the one-line install hint, before any work
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    _remove_products(out_dir, name)  # a failed rebuild must not report a previous build's results
    versions = toolchain.installed_versions()
    report = {
        "schema": REPORT_SCHEMA,
        "board": target.name,
        "description": target.description,
        "device": target.device,
        "family": target.family,
        "design": {"name": name, "class": type(design).__name__, **(design_info or {})},
        "clock_constraint_mhz": (clock_mhz or target.clock_mhz) if target.is_board else None,
        "seed": seed if target.is_board else None,
        "tools": versions,
        "version_mismatches": toolchain.version_mismatches(versions),
        "status": "running",
        "steps": [],
        "total_seconds": 0.0,
    }
    estimate = _estimate(design, target)
    if estimate:
        report["estimate"] = estimate
    if table is not None:
        report["schedule"] = {"network": table.data.get("network", {}).get("name"), "policy": table.policy,
                              "processors": table.processors, "period_cycles": table.period_cycles}
    record = BuildRecord(out_dir, report, progress, progress_interval)
    record.progress.say(f"building {report['design']['class']} for {target.name} ({target.description}) in {out_dir}")
    if report["version_mismatches"]:
        record.progress.say("warning: tool versions differ from the pinned ones (baselines may not match): "
                            + "; ".join(report["version_mismatches"]))
    env = toolchain.toolchain_env(tools=target.tools)
    if target.is_board:
        build_board(record, design, target, name, clock_mhz, seed, harness, env)
    else:
        build_verilog(record, design, name, env)

    if report["status"] == "running":
        report["status"] = "ok"
    if table is not None and report.get("fmax_mhz"):
        report["throughput"] = {"period_cycles": table.period_cycles,
                                "samples_per_second": round(throughput(report["fmax_mhz"], table.period_cycles), 1)}
    write_json_atomic(out_dir / "report.json", report)
    return report


def _remove_products(out_dir: Path, name: str) -> None:
    if not (out_dir / "report.json").is_file():  # only a previous build's folder is cleaned
        return
    for file in ("report.json", f"{name}.pnr.json", f"{name}.pack.json", "stat.json", "stat_rtl.json",
                 f"{name}.bin", f"{name}.bit", f"{name}.svf", f"{name}.asc", f"{name}.config", f"{name}.v"):
        (out_dir / file).unlink(missing_ok=True)
    for step in (out_dir / "steps").glob("*.json"):
        step.unlink()


def _estimate(design, target: Target) -> dict | None:
    """The design's own analytic estimate (hw/estimate.py: ``estimate(family)``), to set beside the build's."""
    design = getattr(design, "accelerator", design)  # the board top: its accelerator's
    fn = getattr(design, "estimate", None)
    if not callable(fn):
        return None
    try:
        result = fn(target.family or "ecp5")
        if isinstance(result, dict):
            result = sum(result.values())
        return {k: int(v) for k, v in result.as_dict().items()}
    except Exception as exc:  # an estimate bug must not stop a build
        return {"error": f"{type(exc).__name__}: {exc}"}
