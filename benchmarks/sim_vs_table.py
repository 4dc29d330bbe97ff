"""Cycle simulator vs the table's predictions over the whole matrix: zoo × P = 1..9 × policy × memory model.

Prints one row per network and policy with the number of tables checked and mismatches;
the tests run the same check on a subset (the `optimal` ILP takes seconds per table).
"""

import sys
import time

from layerpipe.core.costs import CostModel
from layerpipe.core.table import SAMPLE_COUNTS
from layerpipe.core.text import format_rows
from layerpipe.sched.scheduler import POLICIES, schedule
from layerpipe.sched.zoo import ZOO, zoo_network
from layerpipe.sim.cyclesim import prediction_mismatches, simulate


def main() -> int:
    rows, failures = [], 0
    for name in ZOO:
        network = zoo_network(name)
        for policy in POLICIES:
            checked, wrong, began = 0, 0, time.perf_counter()
            for memory in ("dual-port", "ideal"):
                for processors in range(1, 10):
                    table = schedule(network, processors, policy, CostModel(memory=memory))
                    for samples in SAMPLE_COUNTS:
                        result = simulate(table, samples)
                        checked += 1
                        if result.total_cycles != table.total_cycles(samples) or prediction_mismatches(result, table):
                            wrong += 1
            failures += wrong
            rows.append([name, policy, checked, wrong, round(time.perf_counter() - began, 1)])
            print(f"{name} {policy}: {checked} runs, {wrong} mismatches", file=sys.stderr)
    print(format_rows(["network", "policy", "runs", "mismatches", "wall_s"], rows))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
