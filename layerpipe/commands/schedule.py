"""``layerpipe schedule``: one ScheduleTable, printed as a summary, saved or emitted as JSON."""

from __future__ import annotations

import sys

from layerpipe import options
from layerpipe.sched.report import describe_table, time_limit_note
from layerpipe.sched.scheduler import schedule


def register(subparsers) -> None:
    parser = subparsers.add_parser("schedule", help="schedule one network on P processors",
                                   description="Schedule one network and write its ScheduleTable.",
                                   formatter_class=options.HELP_FORMATTER)
    options.add_schedule(parser)
    parser.add_argument("-o", "--output", metavar="table.json",
                        help="write the table to this file (default: print only)")
    parser.add_argument("--json", action="store_true", help="print the table as JSON on stdout")
    parser.set_defaults(func=run)


def run(args) -> int:
    table = schedule(options.network(args), args.processors, args.policy, options.cost_model(args))
    if args.output:
        table.save(args.output)
    if args.json:
        sys.stdout.write(table.to_json() + "\n")
        note = time_limit_note(table)
        if note is not None:  # stdout holds the JSON alone
            print(note, file=sys.stderr)
    else:
        print(describe_table(table))
        if args.output:
            print(f"table written to {args.output}")
    return 0
