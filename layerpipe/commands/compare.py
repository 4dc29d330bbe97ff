"""``layerpipe compare``: period, speedup, utilisation, transfers and memory per policy and P."""

from __future__ import annotations

import json
import sys

from layerpipe import options
from layerpipe.core.errors import LayerPipeError
from layerpipe.core.text import format_rows
from layerpipe.plots import figure_format, plot_speedup
from layerpipe.sched.report import COMPARISON_HEADER, compare_rows
from layerpipe.sched.scheduler import POLICIES, schedule

DEFAULT_POLICIES = ("sequential", "pipedream", "layerpipe", "optimal")


def register(subparsers) -> None:
    parser = subparsers.add_parser("compare", help="compare policies over processor counts",
                                   description="Schedule one network with several policies and processor "
                                               "counts and compare them.",
                                   formatter_class=options.HELP_FORMATTER)
    options.add_network(parser)
    parser.add_argument("--processors", default="2-9", help="counts: 4, 2-9 or 1,2,4")
    parser.add_argument("--policies", nargs="+", default=list(DEFAULT_POLICIES), metavar="POLICY",
                        help=f"policies to compare ({', '.join(POLICIES)})")
    options.add_cost_model(parser)
    parser.add_argument("--plot", metavar="out.png",
                        help="draw speedup over sequential vs P into this file (default: no plot)")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    parser.set_defaults(func=run)


def run(args) -> int:
    counts = options.parse_processors(args.processors)
    if args.plot:
        figure_format(args.plot, "--plot")
    unknown = [p for p in args.policies if p not in POLICIES]
    if unknown:
        raise LayerPipeError(f"unknown policy '{unknown[0]}'; use one of {', '.join(POLICIES)}")
    network, cost = options.network(args), options.cost_model(args)
    sequential = schedule(network, 1, "sequential", cost)
    tables = {}
    for processors in counts:
        for policy in args.policies:
            print(f"scheduling {policy} on {processors} processors", file=sys.stderr)
            tables[(processors, policy)] = schedule(network, processors, policy, cost)
    rows = compare_rows(tables, sequential)
    if args.json:
        print(json.dumps([dict(zip(COMPARISON_HEADER, row.cells(), strict=True)) for row in rows], indent=1))
    else:
        print(f"network {network.name}: {network.depth} layers, {network.forward_macs:,} forward MACs")
        print(f"cost model: {cost.describe()}")
        print(format_rows(COMPARISON_HEADER, [row.cells() for row in rows]))
    if args.plot:
        points = {}
        for row in rows:
            points.setdefault(row.policy, []).append((row.processors, row.speedup_vs_sequential))
        plot_speedup(points, f"{network.name}: throughput speedup", args.plot)
        print(f"plot written to {args.plot}", file=sys.stderr)
    return 0

