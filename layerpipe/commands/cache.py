"""``layerpipe cache``: where the build and result caches are, how large, and removing them."""

from __future__ import annotations

import json

from layerpipe import options
from layerpipe.core import cache


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "cache", help="show the cache folders and their sizes, or remove them (--clear)",
        description=f"Verilator builds and demo results are kept between runs in the user cache: "
                    f"${cache.CACHE_ENV}, else $XDG_CACHE_HOME/layerpipe, else ~/.cache/layerpipe (Verilator "
                    f"builds: ${cache.VERILATOR_CACHE_ENV} when set). Removing them costs time, never results.",
        formatter_class=options.HELP_FORMATTER)
    add_cache_dir(parser)
    parser.add_argument("--clear", action="store_true", help="remove the cache folders")
    parser.add_argument("--json", action="store_true", help="print the folders and sizes as JSON")
    parser.set_defaults(func=run)


def add_cache_dir(parser) -> None:
    parser.add_argument("--cache-dir", metavar="DIR",
                        help=f"cache folder (default: ${cache.CACHE_ENV}, else $XDG_CACHE_HOME/layerpipe, "
                             "else ~/.cache/layerpipe)")


def run(args) -> int:
    entries = cache.clear(args.cache_dir) if args.clear else cache.usage(args.cache_dir)
    if args.json:
        print(json.dumps({"root": str(cache.cache_root(args.cache_dir)), "cleared": args.clear,
                          "folders": [{"use": e.use, "path": str(e.path), "bytes": e.bytes} for e in entries]},
                         indent=1))
    elif args.clear:
        total = sum(e.bytes for e in entries)
        print(f"removed {cache.format_size(total)}: " + (", ".join(str(e.path) for e in entries) or "nothing cached"))
    else:
        print(f"cache: {cache.cache_root(args.cache_dir)}")
        sizes = [cache.format_size(e.bytes) for e in entries]
        width, size_width = max(len(e.use) for e in entries), max(map(len, sizes))
        for entry, size in zip(entries, sizes, strict=True):
            print(f"  {entry.use:<{width}}  {size:>{size_width}}  {entry.path}  ({cache.USES[entry.use]})")
        print(f"total {cache.format_size(sum(e.bytes for e in entries))}; `layerpipe cache --clear` removes it")
    return 0
