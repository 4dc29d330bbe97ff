"""``layerpipe generate``: schedule a network (or load a table) and write its accelerator's Verilog.

Writes ``DIR/<top>.v`` (one module), ``DIR/<top>.json`` (the sidecar for testbenches:
ports, formats, initial weights, predicted cycles) and ``DIR/table.json`` (the schedule
it was built from), then prints the design summary and the resource estimate per PE.
"""

from __future__ import annotations

from layerpipe import options

_FORMAT_FIELDS = ("data_bits", "frac_bits", "acc_bits", "lr_shift")


def register(subparsers) -> None:
    from layerpipe.core.numerics import FixedFormat
    from layerpipe.hw.estimate import FAMILIES
    from layerpipe.hw.generate import DEFAULT_TOP

    parser = subparsers.add_parser("generate", help="generate the accelerator's Verilog for a schedule",
                                   description="Schedule a network (or load a ScheduleTable) and generate its "
                                               "pipelined training accelerator as Verilog plus a sidecar JSON.",
                                   formatter_class=options.HELP_FORMATTER)
    options.add_schedule(parser, table=True)
    options.add_weights(parser, "rtl", "built in RTL")
    defaults = FixedFormat()
    group = parser.add_argument_group("numeric format")
    for name in _FORMAT_FIELDS:
        group.add_argument(f"--{name.replace('_', '-')}", type=int, default=getattr(defaults, name),
                           dest=name, help=f"FixedFormat.{name}")
    parser.add_argument("--seed", type=int, default=0, help="seed of the initial weights")
    parser.add_argument("--top", default=DEFAULT_TOP, help="name of the Verilog top module")
    parser.add_argument("--family", default="ecp5", choices=sorted(FAMILIES),
                        help="FPGA family of the resource estimate")
    parser.add_argument("-o", "--output", required=True, metavar="DIR", help="output folder")
    parser.set_defaults(func=run)


def run(args) -> int:
    from layerpipe.core.numerics import FixedFormat
    from layerpipe.hw.generate import generate

    options.weights(args, "rtl")
    fmt = FixedFormat(**{name: getattr(args, name) for name in _FORMAT_FIELDS})
    table = options.table(args, word_bits=fmt.data_bits)  # the links and masks count words of the format
    result = generate(table, args.output, fmt=fmt, weights=args.weights, seed=args.seed, top=args.top)
    table.save(result.verilog.parent / "table.json")
    print(f"{table.network.name}: {table.policy} on {table.processors} processor(s), lanes {table.cost.lanes}, "
          f"weights {args.weights}; period {table.period_cycles} cycles, latency {table.latency_cycles}, "
          f"total(N) = (N-1)*{table.period_cycles} + {table.latency_cycles}")
    _print_estimates(result.accelerator, args.family)
    print(f"verilog: {result.verilog}  (top module {result.top})")
    print(f"sidecar: {result.sidecar}")
    return 0


def _print_estimates(accelerator, family: str) -> None:
    """The resource estimate per PE (hw/estimate.py's formulas) and its sum."""
    rows = accelerator.estimate(family)
    print(f"estimate ({family}):")
    for name, resources in rows.items():
        print(f"  {name:>8}: {resources}")
    print(f"  {'total':>8}: {sum(rows.values())}")
