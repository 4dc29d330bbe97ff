"""The end-to-end demo: one network, every policy, from schedule to verified RTL numbers.

Named steps, each reported on stderr with its time:

``schedule``  every policy at P (tables as JSON, a Gantt chart each) and at P = 1..max
              for the speedup-vs-P plot;
``train``     the fixed-point golden model on digits with each table's staleness
              (learning curves, test accuracy);
``rtl``       Verilog per policy, trained on digits samples in Verilator (cocotb), against
              the golden model, the cycle simulator and the table's prediction;
``summary``   one table and ``summary.json``.

The report folder holds the report only (summary, tables, Gantt charts, Verilog, plots:
about 3 MB for the default network). What is kept to save time lives in the user cache
(:mod:`layerpipe.core.cache`): results of ``train`` and ``rtl`` (with the Verilog) under a key
made of their inputs and a digest of the installed layerpipe sources, so a second run with
the same settings reuses them and any change to the code or the inputs recomputes; and the
Verilator builds, shared with ``layerpipe verify``. The bench's own files go to a temporary
folder, removed at the end unless ``keep_build`` keeps them in ``DIR/build``.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import layerpipe
from layerpipe.core import cache as user_cache
from layerpipe.core.costs import CostModel
from layerpipe.core.errors import LayerPipeError
from layerpipe.core.files import write_text_atomic
from layerpipe.core.onnx_model import messages
from layerpipe.core.progress import Progress
from layerpipe.core.weight_policies import WEIGHT_POLICIES
from layerpipe.sched.zoo import DEFAULT_NETWORK, load_network

__all__ = ["DemoConfig", "run_demo", "SUMMARY_HEADER", "format_summary"]

DEMO_POLICIES = ("sequential", "pipedream", "layerpipe", "optimal")
SUMMARY_HEADER = ["policy", "P", "period", "predicted", "simulated", "rtl", "counter", "vs_pipedream",
                  "vs_sequential", "utilisation", "bit_exact", "cycle_exact", "test_acc_%"]


@dataclass
class DemoConfig:
    network: str = DEFAULT_NETWORK
    data: str = "digits"       # what it trains on (sim/datasets.py)
    processors: int = 4
    policies: tuple[str, ...] = DEMO_POLICIES
    samples: int = 64          # digits samples trained in Verilator per policy
    epochs: int = 10           # golden-model epochs for the test accuracy
    weights: str = "stash"     # weights B reads, in the golden model and the RTL
    max_processors: int = 8    # the speedup-vs-P plot spans P = 1..max_processors
    seed: int = 0
    rtl: bool = True           # False: generate Verilog, skip Verilator
    cost: CostModel = field(default_factory=CostModel)

    def check(self) -> None:
        from layerpipe.sched.scheduler import POLICIES

        if self.processors < 1:
            raise LayerPipeError(f"--processors {self.processors}: use at least 1")
        if self.samples < 1:
            raise LayerPipeError(f"--samples {self.samples}: use at least 1")
        if self.epochs < 0:
            raise LayerPipeError(f"--epochs {self.epochs}: use 0 or more")
        if self.max_processors < 1:
            raise LayerPipeError(f"--max-processors {self.max_processors}: use at least 1")
        unknown = [p for p in self.policies if p not in POLICIES]
        if unknown or not self.policies:
            raise LayerPipeError(f"--policies: '{(unknown or [''])[0]}' is not a policy; use some of "
                                 f"{', '.join(POLICIES)}")
        WEIGHT_POLICIES.supported(self.weights, "rtl", "--weights")


class _Cache:
    """JSON results keyed by a digest of their inputs and of the layerpipe sources."""

    def __init__(self, folder: Path, enabled: bool):
        self.folder, self.enabled = folder, enabled
        self.source_digest = _source_digest()

    def _path(self, step: str, key: dict) -> Path:
        text = json.dumps({"key": key, "sources": self.source_digest}, sort_keys=True, default=str)
        return self.folder / f"{step}-{hashlib.sha256(text.encode()).hexdigest()[:16]}.json"

    def get(self, step: str, key: dict):
        path = self._path(step, key)
        if not self.enabled or not path.is_file():
            return None
        try:
            return json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):  # a damaged entry is recomputed, not trusted
            return None

    def put(self, step: str, key: dict, value) -> None:
        write_text_atomic(self._path(step, key), json.dumps(value, indent=1, default=str) + "\n")


# The packages that are folders of their own beside layerpipe/ (pyproject's package-dir).
_SOURCE_PACKAGES = ("core", "sched", "sim", "hw", "boards")


def source_roots() -> set[Path]:
    """The folders of every installed layerpipe module."""
    roots = {Path(importlib.import_module(f"layerpipe.{name}").__file__).parent for name in _SOURCE_PACKAGES}
    return roots | {Path(layerpipe.__file__).parent}


def _source_digest() -> str:
    """Digest of every installed layerpipe module: a code change invalidates cached results."""
    digest = hashlib.sha256(layerpipe.__version__.encode())
    for root in sorted(source_roots()):
        for path in sorted(root.rglob("*.py")):
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def run_demo(config: DemoConfig, out_dir: str | Path, use_cache: bool = True, stream=None,
             cache_dir: str | Path | None = None, keep_build: bool = False) -> dict:
    """Run every step into ``out_dir``; returns the summary (also in ``out_dir/summary.json``).

    ``cache_dir``: the cache folder (default: :func:`layerpipe.core.cache.cache_root`); ``use_cache``
    False recomputes the results (Verilator builds are still reused: they are the same builds).
    """
    config.check()
    network = load_network(config.network)
    for line in messages(network):  # what an ONNX import dropped, and parameters outside the format's range
        print(line, file=stream or sys.stderr)
    dataset = None
    if config.rtl or config.epochs:
        from layerpipe.sim.datasets import load_data

        dataset = load_data(config.data, network, config.seed)  # checked against the network, in one line
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # sys.stderr looked up per run: tests swap it
    progress = Progress(stream or sys.stderr, steps=("schedule", "train", "rtl", "summary"))
    cache = _Cache(user_cache.cache_dir("demo", cache_dir), use_cache)
    began = time.perf_counter()
    timings = {}

    t0 = time.perf_counter()
    tables, sweep, sequential_period = _schedule(network, config, out, progress)
    timings["schedule"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    curves = _train(network, tables, config, cache, progress, dataset)
    if curves and dataset.classes:  # a set without classes (synthetic) has no accuracy to plot
        from layerpipe.plots import plot_learning_curves

        plot_learning_curves({p: [(e["epoch"], e["test_accuracy"]) for e in c] for p, c in curves.items()},
                             f"{network.name}, P = {config.processors}: {config.weights} weights, fixed point",
                             out / "learning_curves.png")
    timings["train"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    with (contextlib.nullcontext(out / "build") if keep_build
          else tempfile.TemporaryDirectory(prefix="layerpipe-demo-")) as build:
        verdicts = _rtl(tables, config, out, Path(build), user_cache.cache_dir("verilator", cache_dir), cache,
                        progress)
    timings["rtl"] = time.perf_counter() - t0

    summary = _summary(network, config, tables, sweep, sequential_period, curves, verdicts, out)
    summary["seconds"] = {step: round(s, 2) for step, s in timings.items()}
    summary["seconds"]["total"] = round(time.perf_counter() - began, 2)
    write_text_atomic(out / "summary.json", json.dumps(summary, indent=1) + "\n")
    write_text_atomic(out / "summary.txt", format_summary(summary) + "\n")
    progress.step("summary", f"written to {out / 'summary.json'}")
    size = sum(entry.bytes for entry in user_cache.usage(cache_dir))
    option = f" --cache-dir {cache_dir}" if cache_dir else ""
    progress.step("summary", f"the cache holds {user_cache.format_size(size)} of builds and results "
                            f"(`layerpipe cache{option}` shows where, `layerpipe cache{option} --clear` empties it)")
    return summary


def _schedule(network, config: DemoConfig, out: Path, progress: Progress):
    from layerpipe.plots import draw_gantt, plot_speedup
    from layerpipe.sched.scheduler import schedule

    tables = {}
    for policy in config.policies:
        progress.step("schedule", f"{policy} on {config.processors} processors")
        table = tables[policy] = schedule(network, config.processors, policy, config.cost)
        table.save(out / "tables" / f"{policy}.json")
        draw_gantt(table, out / "gantt" / f"{policy}.png")
    progress.step("schedule", f"speedup vs P for P = 1..{config.max_processors}")
    sequential = schedule(network, 1, "sequential", config.cost).period_cycles
    sweep = {policy: [(p, sequential / (tables[policy] if p == config.processors else
                                        schedule(network, p, policy, config.cost)).period_cycles)
                      for p in range(1, config.max_processors + 1)]
             for policy in config.policies}
    plot_speedup(sweep, f"{network.name}: throughput speedup", out / "speedup_vs_p.png")
    return tables, sweep, sequential


def _train(network, tables, config: DemoConfig, cache: _Cache, progress: Progress, dataset) -> dict:
    from layerpipe.sim.golden import staleness_from_table
    from layerpipe.sim.learning import learning_curve

    if not config.epochs:
        return {}
    curves = {}
    for policy, table in tables.items():
        staleness = staleness_from_table(table)
        key = {"network": network.to_dict(), "initial": _initial_digest(network), "data": _data_key(config.data),
               "forward": staleness.forward, "backward": staleness.backward_latest,
               "weights": config.weights, "epochs": config.epochs, "seed": config.seed}
        curve = cache.get("train", key)
        if curve is not None:
            progress.step("train", f"{policy}: cached, {_measure(curve[-1])}")
        else:
            progress.step("train", f"{policy}: {config.epochs} epochs of {config.data}, fixed point, "
                                   f"{config.weights} weights")
            result = learning_curve(network, staleness, config.weights, "fixed", epochs=config.epochs,
                                    seed=config.seed, dataset=dataset)
            curve = [{"epoch": r.epoch, "train_accuracy": r.train_accuracy, "test_accuracy": r.test_accuracy,
                      "mean_squared_error": r.mean_squared_error}
                     for r in result.epochs]
            cache.put("train", key, curve)
            progress.step("train", f"{policy}: {_measure(curve[-1])}")
        curves[policy] = curve
    return curves


def _data_key(data: str) -> str:
    """``--data`` as a cache key: a data set's name, or a file's contents (an edited file is new data)."""
    path = Path(data)
    return f"{path.name}:{hashlib.sha256(path.read_bytes()).hexdigest()}" if path.is_file() else data


def _initial_digest(network) -> str | None:
    """The initial parameters a network's file gives (ONNX), which the table and to_dict do not carry."""
    return None if network.initial is None else network.initial.digest()


def _measure(epoch: dict) -> str:
    if epoch["test_accuracy"] is None:
        return f"mean squared error {epoch.get('mean_squared_error') or 0:.4f} (no classes)"
    return f"test accuracy {100 * epoch['test_accuracy']:.1f} %"


def _rtl(tables, config: DemoConfig, out: Path, build_root: Path, verilator_cache: Path, cache: _Cache,
         progress: Progress) -> dict:
    from layerpipe.hw.generate import generate

    verdicts = {}
    for policy, table in tables.items():
        verilog = out / "verilog" / f"{policy}.v"
        build = build_root / policy
        if not config.rtl:
            progress.step("rtl", f"{policy}: Verilog only (--no-rtl)")
            generated = generate(table, build / "rtl", weights=config.weights, seed=config.seed)
            _report_verilog(verilog, generated.verilog.read_text(), generated.verilog.with_suffix(".json").read_text())
            continue
        key = {"table": hashlib.sha256(table.to_json().encode()).hexdigest(), "samples": config.samples,
               "initial": _initial_digest(table.network),
               "weights": config.weights, "seed": config.seed, "data": _data_key(config.data)}
        cached = cache.get("rtl", key)
        if cached is not None:
            progress.step("rtl", f"{policy}: cached, {cached['verdict']['rtl_cycles']:,} cycles, "
                                f"bit-exact {cached['verdict']['bit_exact']}")
        else:
            from layerpipe.verify.flow import verify_table

            progress.step("rtl", f"{policy}: Verilog, Verilator build, {config.samples} samples in cocotb")
            t0 = time.perf_counter()
            # one Verilator cache for every policy: identical Verilog (often layerpipe's and optimal's) builds once
            verdict = verify_table(table, config.samples, build, weights=config.weights, seed=config.seed,
                                   cache_dir=verilator_cache, data=config.data).to_dict()
            source = build / "rtl" / "layerpipe_top.v"
            # the Verilog is cached with its verdict: a new report folder gets it without a rebuild
            cached = {"verdict": verdict, "verilog": source.read_text(),
                      "sidecar": source.with_suffix(".json").read_text()}
            cache.put("rtl", key, cached)
            progress.step("rtl", f"{policy}: {verdict['rtl_cycles']:,} cycles (predicted "
                                f"{verdict['predicted_cycles']:,}), bit-exact {verdict['bit_exact']}, "
                                f"{time.perf_counter() - t0:.0f} s")
        _report_verilog(verilog, cached["verilog"], cached["sidecar"])
        verdicts[policy] = cached["verdict"]
    return verdicts


def _report_verilog(target: Path, verilog: str, sidecar: str) -> None:
    """The generated Verilog and its sidecar JSON (ports, streams, formats) into the report folder."""
    write_text_atomic(target, verilog)
    write_text_atomic(target.with_suffix(".json"), sidecar)


def _summary(network, config: DemoConfig, tables, sweep, sequential_period: int, curves, verdicts,
             out: Path) -> dict:
    from layerpipe.sim.cyclesim import simulate

    # Speedups from the cycles the RTL took for the same samples (the prediction when it did not run).
    cycles = {p: (verdicts[p]["rtl_cycles"] if p in verdicts else t.total_cycles(config.samples))
              for p, t in tables.items()}
    rows = []
    for policy, table in tables.items():
        verdict = verdicts.get(policy)

        def speedup(reference: str, policy=policy):
            return None if reference not in cycles else round(cycles[reference] / cycles[policy], 3)

        rows.append({
            "policy": policy,
            "processors_used": table.processors,
            "period_cycles": table.period_cycles,
            "predicted_cycles": table.total_cycles(config.samples),
            "simulated_cycles": simulate(table, config.samples).total_cycles,
            "rtl_cycles": verdict["rtl_cycles"] if verdict else None,  # the bench's observation
            "rtl_counter_cycles": verdict["rtl_counter_cycles"] if verdict else None,  # the design's counter
            "speedup_vs_pipedream": speedup("pipedream"),
            "speedup_vs_sequential": speedup("sequential"),
            # Steady state: one sample per period, against sequential training on one processor.
            "period_speedup_vs_sequential_p1": round(sequential_period / table.period_cycles, 3),
            "utilisation": round(table.utilisation, 4),
            "bit_exact": verdict["bit_exact"] if verdict else None,
            "cycle_exact": verdict["cycle_exact"] if verdict else None,
            "test_accuracy": curves[policy][-1]["test_accuracy"] if policy in curves else None,
            "table": f"tables/{policy}.json",
            "gantt": f"gantt/{policy}.png",
            "verilog": f"verilog/{policy}.v" if (out / "verilog" / f"{policy}.v").is_file() else None,
        })
    return {
        "schema": "layerpipe.demo-summary/1",
        "layerpipe": layerpipe.__version__,
        "network": network.name, "data": config.data,
        "sizes": network.sizes,
        "processors": config.processors,
        "samples": config.samples,
        "epochs": config.epochs,
        "weights": config.weights,
        "seed": config.seed,
        "cost_model": config.cost.to_dict(),
        "rows": rows,
        "speedup_vs_p": {policy: [{"processors": p, "speedup_vs_sequential": round(s, 4)} for p, s in points]
                         for policy, points in sweep.items()},
        "plots": {"speedup_vs_p": "speedup_vs_p.png",
                  "learning_curves": "learning_curves.png" if curves else None},
        "speedups_from": "rtl_cycles" if verdicts else "predicted_cycles",
        "all_verified": bool(verdicts) and all(v["bit_exact"] and v["cycle_exact"] for v in verdicts.values()),
    }


def format_summary(summary: dict) -> str:
    from layerpipe.core.text import format_rows

    def cell(value, digits=2):
        if value is None:
            return "-"
        return f"{value:.{digits}f}" if isinstance(value, float) else value

    rows = [[r["policy"], r["processors_used"], r["period_cycles"], r["predicted_cycles"], r["simulated_cycles"],
             cell(r["rtl_cycles"]), cell(r["rtl_counter_cycles"]), cell(r["speedup_vs_pipedream"]),
             cell(r["speedup_vs_sequential"]), cell(r["utilisation"]), cell(r["bit_exact"]), cell(r["cycle_exact"]),
             cell(None if r["test_accuracy"] is None else 100 * r["test_accuracy"], 1)]
            for r in summary["rows"]]
    return "\n".join([
        f"{summary['network']} ({'-'.join(map(str, summary['sizes']))}) on {summary['processors']} processors: "
        f"{summary['samples']} {summary.get('data', 'digits')} samples"
        + (" in Verilator" if summary["speedups_from"] == "rtl_cycles" else " (Verilator not run)")
        + f", {summary['epochs']} epochs of golden-model training",
        "cycles for all samples: predicted by the table, simulated by the cycle simulator, rtl as the bench observed "
        "it from outside the design (the last write of every weight bank), counter from the design's own cycle "
        f"counter; speedups from {summary['speedups_from'].replace('_', ' ')}",
        format_rows(SUMMARY_HEADER, rows),
    ])
