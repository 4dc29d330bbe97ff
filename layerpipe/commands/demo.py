"""``layerpipe demo``: every policy on one network, from schedule to verified RTL cycle counts."""

from __future__ import annotations

import json

from layerpipe import options
from layerpipe.commands.cache import add_cache_dir
from layerpipe.demo import DEMO_POLICIES, DemoConfig, format_summary, run_demo


def register(subparsers) -> None:
    defaults = DemoConfig()
    parser = subparsers.add_parser(
        "demo", help="the whole flow on one network: schedules, training, Verilog, Verilator, summary",
        description="Schedule a network with every policy, train the fixed-point golden model with each "
                    "schedule's delayed gradients, generate the Verilog, run it in Verilator on training samples "
                    "and print one summary table (predicted / simulated / RTL cycles, speedups, bit-exact "
                    "verdict, test accuracy). Writes a report folder; a second run reuses the results and Verilator "
                    "builds kept in the user cache (see `layerpipe cache`).",
        formatter_class=options.HELP_FORMATTER)
    options.add_network(parser)
    options.add_data(parser)
    parser.add_argument("--processors", type=int, default=defaults.processors, help="number of processing elements")
    parser.add_argument("--policies", nargs="+", default=list(DEMO_POLICIES), metavar="POLICY",
                        help="policies to compare")
    parser.add_argument("--samples", type=int, default=defaults.samples,
                        help="training samples of --data run in Verilator")
    parser.add_argument("--epochs", type=int, default=defaults.epochs,
                        help="golden-model epochs for the test accuracy (0: skip training)")
    parser.add_argument("--weights", default=defaults.weights, help="weights B reads: stash or latest")
    parser.add_argument("--max-processors", type=int, default=defaults.max_processors,
                        help="the speedup-vs-P plot spans P = 1..this")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="initial weights and sample order")
    parser.add_argument("--no-rtl", action="store_true", help="write the Verilog but do not run Verilator")
    parser.add_argument("--fresh", action="store_true",
                        help="recompute every result (identical Verilog still reuses its cached Verilator build)")
    add_cache_dir(parser)
    parser.add_argument("--keep-build", action="store_true",
                        help="keep each policy's generated files and bench logs in DIR/build (otherwise a "
                             "temporary folder, removed at the end)")
    options.add_cost_model(parser)
    parser.add_argument("-o", "--output", default="layerpipe-demo", metavar="DIR", help="report folder")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.set_defaults(func=run)


def run(args) -> int:
    config = DemoConfig(network=args.network, data=args.data, processors=args.processors, policies=tuple(args.policies),
                        samples=args.samples, epochs=args.epochs, weights=args.weights,
                        max_processors=args.max_processors, seed=args.seed, rtl=not args.no_rtl,
                        cost=options.cost_model(args))
    summary = run_demo(config, args.output, use_cache=not args.fresh, cache_dir=args.cache_dir,
                       keep_build=args.keep_build)
    if args.json:
        print(json.dumps(summary, indent=1))
    else:
        print(format_summary(summary))
        kept = f"; builds kept in {args.output}/build" if args.keep_build else ""
        print(f"report folder: {args.output} (summary.json, summary.txt, tables/, gantt/, verilog/, "
              f"speedup_vs_p.png, learning_curves.png){kept}")
    return 0 if args.no_rtl or summary["all_verified"] else 1
