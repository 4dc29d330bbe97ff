"""`optimal` gives the same table on a quiet and on a loaded machine.

    python benchmarks/optimal_determinism.py            # the zoo and 10 random chains, P = 2..9, both memory models
    python benchmarks/optimal_determinism.py --quick    # 3 chains, P = 2, 5, 9, dual-port only

Each point (network, memory model, P) is scheduled with `optimal` twice: once alone,
once while CPU-bound workers spin on every core (started and stopped here, each
ending by itself after ``--max-load-seconds`` at the latest). The two tables' JSON
must be identical: the policy's budgets count work, not seconds. A point whose time
safety net fired (the table's ``optimal.stopped_by`` is "time") shows in the `time
cut` column; it may differ, and counts as a difference like any other. Exits 1 when
any point differs.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import statistics
import sys
import time

from layerpipe.core.costs import CostModel
from layerpipe.core.network import Network, network_from_dict
from layerpipe.core.text import format_rows
from layerpipe.options import parse_processors
from layerpipe.sched.scheduler import schedule
from layerpipe.sched.zoo import ZOO, zoo_network

CHAINS = 10
QUICK_CHAINS = 3
QUICK_PROCESSORS = "2,5,9"
SPIN_CHUNK = 200_000  # additions between looks at the events: a few milliseconds


def random_chain(seed: int) -> Network:
    """A fully connected chain of the kind the property tests draw: 2 to 16 layers of 1 to 300 neurons."""
    rng = random.Random(seed)
    sizes = [rng.randint(1, 300) for _ in range(rng.randint(2, 16) + 1)]
    return network_from_dict({"name": f"chain{seed}", "input": sizes[0],
                              "layers": [{"kind": "fc", "out": n} for n in sizes[1:]]})


def _spin(loaded, stop, seconds: float) -> None:
    """Burn CPU while ``loaded`` is set, until ``stop`` is set or ``seconds`` have passed."""
    until = time.monotonic() + seconds
    while not stop.is_set() and time.monotonic() < until:
        if loaded.wait(timeout=0.1):
            total = 0
            for i in range(SPIN_CHUNK):
                total += i


class Load:
    """CPU-bound workers, one per core, that spin while the load is on."""

    def __init__(self, seconds: float):
        context = multiprocessing.get_context("spawn")  # no fork of a process that has run the solver's threads
        self.loaded, self.stop = context.Event(), context.Event()
        self.workers = [context.Process(target=_spin, args=(self.loaded, self.stop, seconds), daemon=True)
                        for _ in range(os.cpu_count() or 1)]

    def __enter__(self):
        for worker in self.workers:
            worker.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for worker in self.workers:
            worker.join(timeout=5)
            if worker.is_alive():
                worker.terminate()
        return False


def timed_table(network: Network, processors: int, cost: CostModel):
    clock = time.perf_counter()
    table = schedule(network, processors, "optimal", cost)
    return table, time.perf_counter() - clock


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_CHAINS} chains, P = {QUICK_PROCESSORS}, dual-port only")
    parser.add_argument("--chains", type=int, help=f"random chains (default {CHAINS}, {QUICK_CHAINS} with --quick)")
    parser.add_argument("--processors", help=f"range like 2-9 or a list (default 2-9, {QUICK_PROCESSORS} with --quick)")
    parser.add_argument("--memory", choices=("dual-port", "ideal", "both"),
                        help="memory models (default both, dual-port with --quick)")
    parser.add_argument("--max-load-seconds", type=float, default=3600.0,
                        help="a load worker ends by itself after this long, whatever happens to this script")
    args = parser.parse_args()

    chains = args.chains if args.chains is not None else QUICK_CHAINS if args.quick else CHAINS
    counts = parse_processors(args.processors or (QUICK_PROCESSORS if args.quick else "2-9"))
    memory = args.memory or ("dual-port" if args.quick else "both")
    memories = ("dual-port", "ideal") if memory == "both" else (memory,)
    networks = [zoo_network(name) for name in ZOO] + [random_chain(seed) for seed in range(chains)]

    rows, differing = [], []
    with Load(args.max_load_seconds) as load:
        for memory_model in memories:
            cost = CostModel(memory=memory_model)
            for network in networks:
                identical, time_cut, alone_seconds, loaded_seconds = 0, 0, [], []
                for processors in counts:
                    load.loaded.clear()
                    alone, seconds = timed_table(network, processors, cost)
                    alone_seconds.append(seconds)
                    load.loaded.set()
                    try:
                        loaded, seconds = timed_table(network, processors, cost)
                    finally:
                        load.loaded.clear()
                    loaded_seconds.append(seconds)
                    time_cut += "time" in (alone.data["optimal"]["stopped_by"], loaded.data["optimal"]["stopped_by"])
                    if alone.to_json() == loaded.to_json():
                        identical += 1
                    else:
                        differing.append(f"{network.name} {memory_model} P={processors}: periods "
                                         f"{alone.period_cycles:,} alone, {loaded.period_cycles:,} loaded")
                rows.append([network.name, memory_model, len(counts), identical, time_cut,
                             f"{sum(alone_seconds):.1f}", f"{sum(loaded_seconds):.1f}",
                             f"{statistics.mean(b / a for a, b in zip(alone_seconds, loaded_seconds)):.2f}"])
                print(f"{network.name} {memory_model}: {identical}/{len(counts)} identical", file=sys.stderr,
                      flush=True)
    print(format_rows(["network", "memory", "points", "identical", "time cut", "alone s", "loaded s", "slowdown"],
                      rows))
    points = sum(row[2] for row in rows)
    print(f"{points - len(differing)}/{points} points identical alone and under load "
          f"({len(load.workers)} spinning workers on {os.cpu_count()} cores)")
    for line in differing:
        print(f"DIFFERS: {line}")
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
