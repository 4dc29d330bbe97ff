"""Cycle simulator speed: simulated task runs per second and wall time for the zoo.

    python benchmarks/sim_speed.py [--samples 10000] [--processors 9] [--functional-samples 1000]

Targets (issue 4): timing mode of VGG-16 on 9 processors for 10,000 samples in under
5 s; functional mode of the digits MLP for 1,000 samples in under 30 s. Scheduling time
is not counted. A policy whose dual-port placement is not available falls back to the
``ideal`` memory model (said in the `memory` column).
"""

from __future__ import annotations

import argparse
import time

from layerpipe.core.costs import CostModel
from layerpipe.core.text import format_rows
from layerpipe.sched.scheduler import schedule
from layerpipe.sched.zoo import ZOO, zoo_network
from layerpipe.sim.cyclesim import prediction_mismatches, simulate

POLICIES = ("pipedream", "layerpipe")
TIMING_TARGET = ("vgg16", 9, 10_000, 5.0)  # network, processors, samples, seconds
FUNCTIONAL_TARGET = ("mlp-digits", 1_000, 30.0)


def _table(network: str, processors: int, policy: str):
    for memory in ("dual-port", "ideal"):
        try:
            return schedule(zoo_network(network), processors, policy, CostModel(memory=memory))
        except ModuleNotFoundError:
            continue  # that placement is not written yet
    return None


def _timed(function):
    """(value, wall seconds, CPU seconds): CPU time shows the simulator's own cost on a busy machine."""
    wall, cpu = time.perf_counter(), time.process_time()
    value = function()
    return value, time.perf_counter() - wall, time.process_time() - cpu


def timing_rows(samples: int, processors: int) -> list[list]:
    rows = []
    for network in ZOO:
        for policy in POLICIES:
            table = _table(network, processors, policy)
            if table is None:
                rows.append([network, policy, processors, "-", samples, "-", "-", "-", "-", "not schedulable yet"])
                continue
            result, seconds, cpu = _timed(lambda t=table: simulate(t, samples))
            agrees = "agrees" if not prediction_mismatches(result, table) else "DISAGREES"
            rows.append([network, policy, processors, table.memory_model, samples, f"{result.tasks_run:,}",
                         f"{seconds:.2f}", f"{cpu:.2f}", f"{result.tasks_run / seconds:,.0f}", agrees])
    return rows


def functional_rows(samples: int) -> list[list]:
    from layerpipe.sim.functional import run_functional, training_setup

    network = zoo_network(FUNCTIONAL_TARGET[0])
    inputs, targets, weights, fmt = training_setup(network, samples)
    rows = []
    for processors in (1, 4, 8):
        for policy in POLICIES:
            table = _table(network.name, processors, policy)
            for weight_policy in ("stash", "latest"):
                result, seconds, cpu = _timed(lambda t=table, w=weight_policy: run_functional(
                    t, inputs, targets, weights, fmt, w))
                rows.append([network.name, policy, processors, weight_policy, samples, f"{result.tasks_run:,}",
                             f"{seconds:.2f}", f"{cpu:.2f}", f"{result.tasks_run / seconds:,.0f}"])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=TIMING_TARGET[2], help="samples in timing mode")
    parser.add_argument("--processors", type=int, default=TIMING_TARGET[1])
    parser.add_argument("--functional-samples", type=int, default=FUNCTIONAL_TARGET[1])
    args = parser.parse_args()

    print(f"timing mode, {args.samples:,} samples on {args.processors} processors")
    rows = timing_rows(args.samples, args.processors)
    print(format_rows(["network", "policy", "P", "memory", "samples", "task runs", "wall s", "cpu s", "runs/s",
                       "vs table"], rows))
    print()
    print(f"functional mode (fixed point), {args.functional_samples:,} samples")
    frows = functional_rows(args.functional_samples)
    print(format_rows(["network", "policy", "P", "weights", "samples", "task runs", "wall s", "cpu s", "runs/s"],
                      frows))
    print()
    network, processors, samples, limit = TIMING_TARGET
    if (args.processors, args.samples) == (processors, samples):
        worst = max(float(r[6]) for r in rows if r[0] == network and r[6] != "-")
        print(f"target: {network} P={processors} N={samples:,} timing < {limit} s: worst {worst:.2f} s "
              f"{'met' if worst < limit else 'MISSED'}")
    _, samples, limit = FUNCTIONAL_TARGET
    if args.functional_samples == samples:
        worst = max(float(r[6]) for r in frows)
        print(f"target: {FUNCTIONAL_TARGET[0]} functional N={samples:,} < {limit} s: worst {worst:.2f} s "
              f"{'met' if worst < limit else 'MISSED'}")


if __name__ == "__main__":
    main()
