"""``layerpipe build``: schedule a network, generate its accelerator and build it for an FPGA board.

Runs the named steps of :mod:`layerpipe.boards.build` (elaborate, synthesize, place&route,
pack, report) with progress on stderr, writes ``DIR/report.json`` and prints the resource
and timing table with the training throughput (Fmax / period samples per second) and the
seconds each step took. ``--program`` then puts the bitstream on the board
(:mod:`layerpipe.commands.program`); the board and the memory are checked before the build,
so a wrong combination fails in a second, not after a place-and-route. Exit status 0 when
the design was built and fits (and, with ``--program``, the board took it), 1 when it does
not fit, a tool failed (the report says which) or openFPGALoader failed, 2 for bad input.
"""

from __future__ import annotations

import json
import sys

from layerpipe import options
from layerpipe.commands import program


def register(subparsers) -> None:
    from layerpipe.boards.designs import DESIGNS
    from layerpipe.boards.targets import BOARD_NAMES

    parser = subparsers.add_parser("build", help="build the accelerator for an FPGA board (or Verilog only)",
                                   description="Schedule a network, generate its accelerator and build it with "
                                               "the YoWASP toolchain: utilisation, Fmax, training throughput.",
                                   formatter_class=options.HELP_FORMATTER)
    parser.add_argument("--board", required=True, metavar="BOARD",
                        help=f"target: {', '.join(BOARD_NAMES)}")
    options.add_schedule(parser)
    parser.add_argument("-o", "--output", metavar="DIR",
                        help="build folder (default: build-BOARD)")
    parser.add_argument("--design", default="accelerator", choices=DESIGNS,
                        help="what to build: the generated accelerator, or board-top: the accelerator trains on "
                             "--samples of --data from an on-chip ROM at start-up, LEDs show pass/fail against "
                             "the golden model's final weights")
    parser.add_argument("--samples", type=int, default=16, help="training samples in the board top's ROM")
    options.add_data(parser, "the board top's ROM holds the first --samples of its training split")
    parser.add_argument("--clock-mhz", type=float, default=None,
                        help="place-and-route timing constraint in MHz (default: 30 on iCE40, 100 on ECP5)")
    parser.add_argument("--seed", type=int, default=1, help="nextpnr placement seed")
    parser.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    parser.add_argument("--program", action="store_true",
                        help="after a successful build, put the bitstream on the board with openFPGALoader "
                             "(as layerpipe program DIR does)")
    program.add_options(parser, condition="with --program: ")
    parser.set_defaults(func=run)


def run(args) -> int:
    from layerpipe.boards.build import build
    from layerpipe.boards.designs import design_for_table
    from layerpipe.boards.program import loader_for, plan
    from layerpipe.boards.report import format_step_times, format_summary
    from layerpipe.boards.targets import get_target
    from layerpipe.core.errors import LayerPipeError
    from layerpipe.sched.scheduler import schedule
    from layerpipe.sim.datasets import DEFAULT_DATA

    target = get_target(args.board)
    if args.program:
        loader_for(target, args.flash)
    elif args.flash or args.dry_run:
        raise LayerPipeError(f"{'--flash' if args.flash else '--dry-run'} is an option of --program; add --program")
    if target.is_board:
        target.platform_class()  # amaranth-boards installed: else the install hint now, not after scheduling
    if args.processors < 1:
        raise LayerPipeError(f"--processors {args.processors}: use at least 1")
    if args.clock_mhz is not None and not args.clock_mhz > 0:
        raise LayerPipeError(f"--clock-mhz {args.clock_mhz}: use a positive frequency in MHz")
    if args.samples < 1:
        raise LayerPipeError(f"--samples {args.samples}: use at least 1")
    network = options.network(args)
    dataset = None
    if args.design == "board-top":
        dataset = options.data(args, network)  # before scheduling and generating: the cheaper mistake first
    elif args.data != DEFAULT_DATA:
        raise LayerPipeError(f"--data {args.data}: only the board top trains on data; add --design board-top")
    table = schedule(network, args.processors, args.policy, options.cost_model(args))
    if dataset is not None:
        print(dataset.describe(), file=sys.stderr)
    design, info = design_for_table(table, args.lanes, args.design, args.samples, dataset)
    print(f"design: {info['source']}" + (f" ({info['note']})" if info.get("note") else ""), file=sys.stderr)
    out_dir = args.output or f"build-{target.name}"
    report = build(design, target, out_dir, table=table, clock_mhz=args.clock_mhz, seed=args.seed,
                   design_info=info)
    if args.json:
        sys.stdout.write(json.dumps(report, indent=2, default=str) + "\n")
    else:
        print(f"{target.name}: {info['source']}, {table.network.name} P={table.processors} {table.policy} "
              f"K={info.get('lanes')}, period {table.period_cycles} cycles")
        print(format_summary(report))
        if report.get("throughput"):
            print(f"training throughput: {report['throughput']['samples_per_second']:,.0f} samples/s "
                  f"(Fmax / {table.period_cycles} cycles)")
        print(format_step_times(report))
        print(f"status: {report['status']}; report: {out_dir}/report.json")
    if report["status"] != "ok":
        if args.program:
            print(f"not programming {target.name}: the build's status is {report['status']}", file=sys.stderr)
        return 1
    return program.put_on_board(plan(out_dir, flash=args.flash), args.dry_run, args.command) if args.program else 0
