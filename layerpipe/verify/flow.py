"""One verification run: schedule → golden model → cycle simulator → Verilog → Verilator or Icarus → verdict.

Shared by the pytest accelerator benches and ``layerpipe verify``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from layerpipe.core.costs import CostModel
from layerpipe.core.errors import LayerPipeError
from layerpipe.core.network import Network
from layerpipe.core.numerics import FixedFormat
from layerpipe.core.progress import Progress
from layerpipe.core.table import ScheduleTable
from layerpipe.hw.accelerator import check_initial_biases, check_initial_weights
from layerpipe.hw.conv_layout import layer_bank_words, layer_bias, layer_weights
from layerpipe.hw.generate import generate, initial_biases, initial_weights
from layerpipe.hw.plan import hardware_plan
from layerpipe.hw.weight_bank import unpack_chunk
from layerpipe.sched.scheduler import schedule
from layerpipe.sim import golden
from layerpipe.sim.cyclesim import simulate
from layerpipe.sim.datasets import DEFAULT_DATA, load_data
from layerpipe.verify.packing import pack_fields
from layerpipe.verify.runner import run_bench, simulator_available

__all__ = ["Verdict", "verify_table", "verify"]


@dataclass
class Verdict:
    network: str
    policy: str
    processors: int
    weights: str
    simulator: str
    samples: int
    period_cycles: int
    predicted_cycles: int
    simulated_cycles: int
    rtl_cycles: int  # the bench's observation from outside the design (bank writes, result offers)
    rtl_counter_cycles: int  # the design's own ``cycles`` counter
    rtl_stall_cycles: int
    rtl_edges_start_to_done: int
    result_mismatches: list[str]
    weight_mismatches: list[str]
    wall_seconds: float
    # where the time went: the Verilator build (0 when cached), the cocotb run (simulator start to
    # exit) and the clock cycles it simulated (training, stalls and weight read-back)
    build_seconds: float = 0.0
    build_cached: bool = False
    sim_seconds: float = 0.0
    sim_shared: bool = False  # the run was an identical one's, earlier in this process (verify/runner.py)
    sim_clock_cycles: int = 0
    # the bench's timestamps, in clock cycles from the one in which start was taken
    rtl_events: dict = field(default_factory=dict)
    # what the bench read back through wread_* after the run, decoded: per layer W and its bias (None
    # without one), as data words; empty when the bench did not finish
    rtl_weights: list = field(default_factory=list)
    rtl_biases: list = field(default_factory=list)

    @property
    def bit_exact(self) -> bool:
        return not self.result_mismatches and not self.weight_mismatches

    @property
    def cycle_exact(self) -> bool:
        return self.predicted_cycles == self.simulated_cycles == self.rtl_cycles == self.rtl_counter_cycles

    def to_dict(self) -> dict:
        """The verdict for a report: everything but the read-back arrays."""
        record = {key: value for key, value in asdict(self).items() if key not in ("rtl_weights", "rtl_biases")}
        return {**record, "bit_exact": self.bit_exact, "cycle_exact": self.cycle_exact}


def verify_table(table: ScheduleTable, samples: int, build_dir: Path | None = None, weights: str = "stash",
                 fmt: FixedFormat | None = None, idle: float = 0.0, backpressure: float = 0.0, seed: int = 0,
                 corrupt_golden_bit: bool = False, quiet: bool = True, cache_dir: Path | None = None,
                 simulator: str = "verilator", data: str = DEFAULT_DATA, load=None) -> Verdict:
    """Run ``samples`` training samples of ``data`` (sim/datasets.py) through the RTL of ``table`` in
    ``simulator`` and compare with the models.

    The Verilog holds the seeded Glorot weights (zero biases) of the table's shapes, whatever the
    network's file gives; the bench loads the weights the run starts from through the weight load
    port (``wwrite_*``) before it starts: ``load`` = (weights, biases) in data words, default the
    network's initial parameters (its file's, else the seeded ones). So one build trains any weights.
    ``build_dir``: where the Verilog and the bench's files go (default: a temporary folder,
    removed afterwards). ``cache_dir``: where Verilator builds are kept and shared by
    identical designs (see :mod:`layerpipe.verify.runner`).
    Every input is checked before anything is written.
    """
    if samples < 1:
        raise LayerPipeError(f"samples is {samples}; give at least 1")
    missing = simulator_available(simulator)
    if missing:
        raise LayerPipeError(missing)
    fmt = fmt or FixedFormat()
    plan = hardware_plan(table, fmt, weights)  # the RTL's checks, once, before anything is written
    dataset = load_data(data, table.network, seed)
    if load is None:
        load = (initial_weights(table.network, fmt, seed), initial_biases(table.network, fmt))
    load = (check_initial_weights(plan, load[0]), check_initial_biases(plan, load[1]))
    if samples > len(dataset.train):
        raise LayerPipeError(f"samples is {samples}; the {dataset.name} training split has {len(dataset.train)}")
    began = time.perf_counter()
    temporary = tempfile.TemporaryDirectory(prefix="layerpipe-verify-") if build_dir is None else None
    with temporary or contextlib.nullcontext(build_dir) as folder:
        return _verify(plan, samples, Path(folder), dataset, began, load, idle=idle,
                       backpressure=backpressure, seed=seed, corrupt_golden_bit=corrupt_golden_bit, quiet=quiet,
                       cache_dir=cache_dir, simulator=simulator)


def _verify(plan, samples, build_dir, dataset, began, load, *, idle, backpressure, seed, corrupt_golden_bit,
            quiet, cache_dir, simulator) -> Verdict:
    table, fmt, weights = plan.table, plan.fmt, plan.weights
    split = dataset.train
    inputs = split.inputs("fixed", fmt)[:samples]
    targets = split.targets("fixed", fmt)[:samples]
    progress = Progress(None if quiet else sys.stderr)
    progress.say(dataset.describe())
    progress.say(f"generating Verilog in {build_dir}")
    # the Verilog of the shapes alone: the seeded weights, whatever the file gives (the bench loads those)
    shapes = dataclasses.replace(table.network, initial=None)
    generated = generate(plan, Path(build_dir) / "rtl", initial=initial_weights(shapes, fmt, seed),
                         biases=initial_biases(shapes, fmt))
    info = generated.info
    lanes = info["lanes"]
    progress.say("golden model and cycle simulator")
    images = split.inputs("fixed", fmt, network=table.network)[:samples]  # the golden model's input shape
    start_weights, start_biases = load
    reference = golden.train(table.network, images, targets, staleness=table, weights=weights, numerics="fixed",
                             fmt=fmt, init=[w.copy() for w in start_weights], biases=start_biases)
    simulated = simulate(table, samples).total_cycles
    sample_fields = info["streams"]["sample_in"]["fields"]
    result_fields = info["streams"]["result_out"]["fields"]
    expected_results = [pack_fields(result_fields, [y, err])
                        for y, err in zip(reference.outputs, reference.squared_errors, strict=True)]
    if corrupt_golden_bit:  # a deliberately wrong model: the bench must notice one flipped bit
        expected_results[samples // 2] ^= 1
    config = {
        "samples": [pack_fields(sample_fields, [x, t]) for x, t in zip(inputs, targets, strict=True)],
        "expected_results": expected_results,
        "load_weights": [layer_bank_words(layer, w, fmt, lanes, b)
                         for layer, w, b in zip(table.network.layers, start_weights, start_biases, strict=True)],
        "expected_weights": [layer_bank_words(layer, w, fmt, lanes, b)
                             for layer, w, b in zip(table.network.layers, reference.weights, reference.biases,
                                                    strict=True)],
        "idle": idle, "backpressure": backpressure, "seed": seed, "observe": info["observe"],
        "max_cycles": 4 * table.total_cycles(samples) + 1000 * samples + 10_000,
    }
    progress.say(f"{simulator} build and cocotb run ({samples} samples)")
    measured = run_bench(generated.verilog, generated.top, "accelerator", Path(build_dir) / simulator, config,
                         public_ports=[port["name"] for port in info["ports"]]
                         + [entry["signal"] for entry in info["observe"]["bank_writes"]], cache_dir=cache_dir,
                         simulator=simulator)
    runner = measured["runner"]
    return Verdict(table.network.name, table.policy, table.processors, weights, simulator, samples,
                   table.period_cycles,
                   table.total_cycles(samples), simulated, measured["observed_cycles"], measured["counter_cycles"],
                   measured["stall_cycles"],
                   measured["edges_start_to_done"], measured["result_mismatches"], measured["weight_mismatches"],
                   round(time.perf_counter() - began, 2), runner["build_seconds"], runner["build_cached"],
                   runner["run_seconds"], runner["shared_run"], measured["clock_cycles"], measured["events"],
                   *_read_back(table.network, measured.get("read_back", []), fmt, lanes))


def _read_back(network, words, fmt, lanes: int) -> tuple[list, list]:
    """The bench's read-back rows (packed words per layer) as weights and biases (empty if it has none)."""
    if len(words) != network.depth:
        return [], []
    rows = [[unpack_chunk(word, fmt, lanes) for word in layer_words] for layer_words in words]
    return ([layer_weights(layer, r, lanes) for layer, r in zip(network.layers, rows)],
            [layer_bias(layer, r, lanes) for layer, r in zip(network.layers, rows)])


def verify(network: Network, processors: int, policy: str, samples: int, build_dir: Path | None = None,
           cost: CostModel | None = None, **kwargs) -> Verdict:
    return verify_table(schedule(network, processors, policy, cost or CostModel()), samples, build_dir, **kwargs)
