"""Digest of every ScheduleTable of the zoo × P = 1..9 × every policy × both memory models.

Run it before and after a change that must not change behaviour and compare the outputs
(``--save FILE`` writes one digest per table as JSON; ``--compare FILE`` prints the tables
whose digest differs and exits 1 if any does). A table's digest is the SHA-256 of its JSON
text, so any changed field, number or order shows.
"""

import argparse
import hashlib
import json
import sys

from layerpipe.core.costs import MEMORY_MODELS, CostModel
from layerpipe.core.text import format_rows
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
                    result[key] = hashlib.sha256(table.to_json().encode()).hexdigest()
                print(f"{name} {policy} {memory}: done", file=sys.stderr, flush=True)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--save", metavar="FILE", help="write the digests to FILE (JSON)")
    parser.add_argument("--compare", metavar="FILE", help="compare with digests saved earlier")
    args = parser.parse_args()
    current = digests()
    if args.save:
        with open(args.save, "w") as f:
            json.dump(current, f, indent=1)
    total = hashlib.sha256("".join(f"{k}={v}\n" for k, v in sorted(current.items())).encode()).hexdigest()
    print(f"{len(current)} tables, digest of all: {total}")
    if not args.compare:
        return 0
    with open(args.compare) as f:
        saved = json.load(f)
    changed = [[key, saved.get(key, "missing")[:12], current.get(key, "missing")[:12]]
               for key in sorted(set(saved) | set(current)) if saved.get(key) != current.get(key)]
    if changed:
        print(format_rows(["table", "saved", "now"], changed))
    print(f"{len(changed)} of {len(current)} tables differ from {args.compare}")
    return 1 if changed else 0


if __name__ == "__main__":
    sys.exit(main())
