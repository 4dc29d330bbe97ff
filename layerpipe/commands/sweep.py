"""``layerpipe sweep``: networks × processor counts × policies (× boards) on Dask workers.

With the defaults it is the paper's experiment: VGG-16, AlexNet and ResNet-18 at P = 2..9
with every policy, on a LocalCluster of this machine's cores. ``--cluster tcp://host:8786``
runs it on an existing Dask cluster instead. Writes results.csv, results.json, the schedule
tables and plots to the output folder and prints the table. Exit status 0 when every point
succeeded, 1 when some point is an error row (the rest are still written), 2 for bad input.
"""

from __future__ import annotations

import sys
from pathlib import Path

from layerpipe import options
from layerpipe.core.errors import LayerPipeError
from layerpipe.core.layer_kinds import LAYER_KINDS
from layerpipe.core.registry import or_list

DEFAULT_OUTPUT = "sweep-results"


def register(subparsers) -> None:
    from layerpipe.boards.designs import DESIGNS
    from layerpipe.boards.targets import BOARD_NAMES
    from layerpipe.sched.scheduler import POLICIES
    from layerpipe.sweep.cluster import default_workers
    from layerpipe.sweep.points import DEFAULT_POLICIES, DEFAULT_PROCESSORS, PAPER_NETWORKS

    rtl_layers = or_list(LAYER_KINDS[name].title for name in LAYER_KINDS.names("rtl"))

    parser = subparsers.add_parser(
        "sweep", help="sweep networks × processor counts × policies (× boards) on Dask workers",
        description="Schedule every combination of networks, processor counts and policies (and build each "
                    "for FPGA boards) on a Dask cluster: results.csv, results.json, plots and a table. "
                    "The defaults are the paper's experiment.",
        formatter_class=options.HELP_FORMATTER)
    parser.add_argument("--networks", default=",".join(PAPER_NETWORKS), metavar="NAMES",
                        help="comma-separated zoo names, .toml/.yaml/.json network files or .onnx models; 'zoo' "
                             "for every zoo network")
    parser.add_argument("--processors", default=DEFAULT_PROCESSORS, metavar="COUNTS",
                        help="processor counts: 4, a range like 2-9 or a list like 1,2,4")
    parser.add_argument("--policies", default=",".join(DEFAULT_POLICIES), metavar="POLICIES",
                        help=f"comma-separated, some of {', '.join(POLICIES)}")
    options.add_cost_model(parser)
    boards = parser.add_argument_group("board builds")
    boards.add_argument("--boards", default="", metavar="BOARDS",
                        help=f"also build every point for these comma-separated targets ({', '.join(BOARD_NAMES)}); "
                             f"the RTL builds {rtl_layers} layers only, other points become error rows "
                             "(default: none, schedules only)")
    boards.add_argument("--design", default="accelerator", choices=DESIGNS,
                        help="what to build: the generated accelerator, or the board top that trains on samples in ROM "
                             "and shows pass or fail on its LEDs")
    options.add_data(boards, "with --design board-top: its ROM holds the first 16 training samples, checked "
                             "against every network before the sweep starts (a file must be at the same path "
                             "on --cluster's workers)")
    boards.add_argument("--clock-mhz", type=float, default=None,
                        help="place-and-route timing constraint in MHz (default: the board's: 30 on iCE40, "
                             "100 on ECP5)")
    boards.add_argument("--seed", type=int, default=1, help="nextpnr placement seed")
    dask = parser.add_argument_group("where it runs")
    dask.add_argument("--cluster", default=None, metavar="ADDRESS",
                      help="Dask scheduler address (tcp://host:8786) of an existing cluster whose workers have "
                           "layerpipe installed (default: a LocalCluster on this machine)")
    dask.add_argument("--workers", type=int, default=default_workers(),
                      help="worker processes of the LocalCluster (this machine's cores); ignored with --cluster")
    dask.add_argument("--connect-timeout", type=float, default=10.0, metavar="SECONDS",
                      help="how long to wait for --cluster's scheduler and its first worker")
    out = parser.add_argument_group("output")
    out.add_argument("-o", "--output", default=DEFAULT_OUTPUT, metavar="DIR",
                     help="results folder: results.csv, results.json, tables/, builds/, plots")
    out.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    out.add_argument("--quiet", action="store_true", help="no progress bar on stderr")
    parser.set_defaults(func=run)


def _canonical(args, networks, counts, policies, boards) -> list[str]:
    """The options that reproduce this sweep, defaults spelled out."""
    argv = ["--networks", ",".join(networks), "--processors", ",".join(map(str, counts)),
            "--policies", ",".join(policies), "--memory", args.memory, "--lanes", str(args.lanes),
            "--overhead", str(args.overhead), "--link-latency", str(args.link_latency),
            "--link-width", str(args.link_width)]
    if boards:
        argv += ["--boards", ",".join(boards), "--design", args.design, "--seed", str(args.seed)]
        if args.design == "board-top":
            argv += ["--data", args.data]
        if args.clock_mhz is not None:
            argv += ["--clock-mhz", f"{args.clock_mhz:g}"]
    if args.cluster:
        argv += ["--cluster", args.cluster]
    return argv + ["-o", args.output] + (["--no-plots"] if args.no_plots else [])


def run(args) -> int:
    from layerpipe.sim.datasets import DEFAULT_DATA
    from layerpipe.sweep.cluster import connect, parse_cluster_address
    from layerpipe.sweep.points import command_line, parse_boards, parse_list, parse_networks, parse_policies
    from layerpipe.sweep.results import format_table
    from layerpipe.sweep.run import run_sweep

    networks = parse_networks(args.networks)
    counts = options.parse_processors(args.processors)
    policies = parse_policies(args.policies)
    boards = parse_boards(args.boards)
    cost = options.cost_model(args)
    if args.workers < 1:
        raise LayerPipeError(f"--workers {args.workers}: use at least 1 worker process")
    if not args.connect_timeout > 0:
        raise LayerPipeError(f"--connect-timeout {args.connect_timeout}: use a positive number of seconds")
    if args.clock_mhz is not None and not args.clock_mhz > 0:
        raise LayerPipeError(f"--clock-mhz {args.clock_mhz}: use a positive frequency in MHz")
    if args.cluster:
        parse_cluster_address(args.cluster)
    if Path(args.output).exists() and not Path(args.output).is_dir():
        raise LayerPipeError(f"-o {args.output}: exists and is not a folder; give a folder for the results")
    data = None
    if boards and args.design == "board-top":
        # every network against --data, before any worker starts (synthetic: one description per shape)
        for line in dict.fromkeys(options.data(args, network).describe() for network in networks):
            print(line, file=sys.stderr)
        data = args.data
    elif args.data != DEFAULT_DATA:
        raise LayerPipeError(f"--data {args.data}: only the board top trains on data; add --boards and "
                             "--design board-top")
    command = command_line(_canonical(args, parse_list(args.networks, "--networks"), counts, policies, boards))
    progress = None if args.quiet else sys.stderr
    points = len(networks) * len(counts) * len(policies)
    with connect(args.cluster, args.workers, args.connect_timeout) as cluster:
        where = (f"{cluster.address} ({cluster.workers()} workers)" if args.cluster
                 else f"a LocalCluster of {args.workers} worker processes")
        if progress:
            print(f"sweep: {points} points ({len(networks)} networks × {len(counts)} processor counts × "
                  f"{len(policies)} policies)" + (f" × {len(boards)} boards" if boards else "") + f" on {where}",
                  file=progress)
        result = run_sweep(networks, counts, policies, cost, args.output, boards=boards, cluster=cluster,
                           design=args.design, data=data, clock_mhz=args.clock_mhz, seed=args.seed, command=command,
                           progress=progress, plots=not args.no_plots)
    doc = result.document
    print(f"cost model: {cost.describe()}")
    print(format_table(result.rows, boards=bool(boards)))
    for error in result.errors:
        print(f"error: {error['network']} P={error['P']} {error['policy']}"
              + (f" on {error['board']}" if error.get("board") else "") + f": {error['error']}")
    print(f"{len(result.rows)} rows, {len(result.errors)} errors, {doc['wall_seconds']:.1f} s on "
          f"{doc['cluster']['workers']} workers ({doc['cluster']['kind']}); results in {result.out_dir}: "
          "results.csv, results.json" + (", " + ", ".join(p.name for p in result.plots) if result.plots else ""))
    return 1 if result.errors else 0

