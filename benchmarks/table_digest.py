"""Digest of every ScheduleTable of the zoo × P = 1..9 × every policy × both memory models.

Run it before and after a change that must not change behaviour and compare the outputs
(``--save FILE`` writes one digest per table as JSON; ``--compare FILE`` prints the tables
whose digest differs and exits 1 if any does: benchmarks/digests.py). A table's digest is
the SHA-256 of its JSON text, so any changed field, number or order shows.
"""

import sys

from digests import main, sha256

from layerpipe.core.costs import MEMORY_MODELS, CostModel
from layerpipe.sched.scheduler import POLICIES, schedule
from layerpipe.sched.zoo import ZOO, zoo_network

PROCESSORS = range(1, 10)


def digests() -> dict[str, str]:
    result = {}
    for name in ZOO:
        network = zoo_network(name)
        for policy in POLICIES:
            for memory in MEMORY_MODELS:
                for processors in PROCESSORS:
                    table = schedule(network, processors, policy, CostModel(memory=memory))
                    key = f"{name}/{policy}/{memory}/P{processors}"
                    result[key] = sha256(table.to_json())
                print(f"{name} {policy} {memory}: done", file=sys.stderr, flush=True)
    return result


if __name__ == "__main__":
    sys.exit(main(__doc__.splitlines()[0], "tables", digests))
