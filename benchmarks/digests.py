"""Saving and comparing digests: the one ``--save FILE`` / ``--compare FILE`` main of the digest benchmarks.

A digest is the SHA-256 of an output's text, so any changed field, number or order shows.
Run a digest benchmark before and after a change that must not change behaviour: the
second run prints what differs and exits 1 if anything does.
"""

import argparse
import hashlib
import json
from collections.abc import Callable


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def main(description: str, what: str, digests: Callable[[], dict[str, str]]) -> int:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--save", metavar="FILE", help="write the digests to FILE (JSON)")
    parser.add_argument("--compare", metavar="FILE", help="compare with digests saved earlier")
    args = parser.parse_args()
    current = digests()
    if args.save:
        with open(args.save, "w") as f:
            json.dump(current, f, indent=1)
    total = sha256("".join(f"{k}={v}\n" for k, v in sorted(current.items())))
    print(f"{len(current)} {what}, digest of all: {total}")
    if not args.compare:
        return 0
    with open(args.compare) as f:
        saved = json.load(f)
    changed = [[key, saved.get(key, "missing")[:12], current.get(key, "missing")[:12]]
               for key in sorted(set(saved) | set(current)) if saved.get(key) != current.get(key)]
    width = max((len(row[0]) for row in changed), default=0)
    for key, before, now in changed:
        print(f"{key:<{width}}  saved {before}  now {now}")
    print(f"{len(changed)} of {len(current)} {what} differ from {args.compare}")
    return 1 if changed else 0
